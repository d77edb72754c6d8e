#!/usr/bin/env bash
# The frontier export end to end on CPU (issue 20): the 1.0611 record's banked GPT shrunk
# (configs/frontier_cpu_smoke.json) trains a few steps with a GPTQ reserve, calibrates on training
# batches inside the cap, quantises (GPTQ + SDClip + LQER + gate rows), compresses per group with
# lrzip, reloads and scores; then `pgolf export` from the checkpoint with each other compressor,
# AR self-generated calibration and TARGET_MB pruning, each artifact scored by `pgolf eval`.
# Asserts on metrics.jsonl / eval.json / submission.json; skips (77) without lrzip.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
smoke_data_or_fail
command -v lrzip >/dev/null || { echo "SKIP: the lrzip program is absent (apt-get install lrzip)"; exit 77; }
cd "$PGOLF_SOURCE_DIR"
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
CFGS=(--config configs/frontier_1_0611_model.json --config configs/frontier_1_0611_export.json
      --config configs/frontier_cpu_smoke.json)

# 1. Train, calibrate, GPTQ, pergroup, reload, score.
"$PGOLF_BIN" train "${CFGS[@]}" --out-dir "$OUT" --run-id run --allow-over-budget >"$OUT/train.out" 2>&1 \
  || { cat "$OUT/train.out"; fail "train failed"; }
"$PY" - "$OUT/run" <<'PYEOF'
import json, sys
d = sys.argv[1]
ev = [json.loads(l) for l in open(d + "/metrics.jsonl")]
train = [e for e in ev if e["event"] == "train"]
val = [e for e in ev if e["event"] == "val"]
cal = [e for e in ev if e["event"] == "gptq_calibration"]
assert train and val[-1]["val_bpb"] < val[0]["val_bpb"], ("loss did not fall", val[0], val[-1])
assert len(cal) == 1 and cal[0]["source"] == "train" and cal[0]["forwards"] == 4, cal
# 4 layers x (c_q, proj, mlp.fc, mlp.proj) + tok_emb (c_k/c_v are fp16 passthrough at this size).
assert cal[0]["hessians"] == 17, cal
end_ms = cal[0]["train_time_ms"] + 1000 * cal[0]["collect_seconds"]
assert end_ms <= 300_000, ("calibration ended after the cap", end_ms)
e = json.load(open(d + "/eval.json"))
final, pre = e["results"][0]["val_bpb"], e["pre_quant_val_bpb"]
assert abs(final - pre) < 0.05, ("GPTQ round trip far from pre-quant", final, pre)
s = json.load(open(d + "/submission.json"))
assert s["bytes_model"] > 0 and s["bytes_total"] == s["bytes_code"] + s["bytes_model"], s
print(f"train: pre-quant bpb {pre:.4f} gptq+lqer pergroup bpb {final:.4f} "
      f"(+{final - pre:.4f}) model bytes {s['bytes_model']} calibration {cal[0]['collect_seconds']:.3f}s")
PYEOF
grep -q "^GPTQ:collected 17 Hessians in " "$OUT/run/train.log" || fail "no calibration line in train.log"
grep -q "gptq (int6)+lqer" "$OUT/run/train.log" || fail "no LQER tensor in the export report"

# 2. From the checkpoint: each other compressor, AR self-generated calibration, TARGET_MB.
CKPT="$OUT/run/checkpoints/latest.pt"
run_export() {  # NAME ENV... -- exports, scores, prints bpb and bytes
  local name=$1; shift
  env "$@" "$PGOLF_BIN" export "${CFGS[@]}" --checkpoint "$CKPT" --out "$OUT/$name.ptz" \
    --allow-over-budget >"$OUT/$name.out" 2>&1 || { cat "$OUT/$name.out"; fail "export $name failed"; }
  env "$@" "$PGOLF_BIN" eval "$OUT/$name.ptz" "${CFGS[@]}" --out "$OUT/$name.json" >"$OUT/$name.eval" 2>&1 \
    || { cat "$OUT/$name.eval"; fail "eval $name failed"; }
}
run_export lzma COMPRESSOR=lzma
run_export brotli COMPRESSOR=brotli BYTE_SHUFFLE=1
run_export zstd COMPRESSOR=zstd
run_export ar COMPRESSOR=brotli GPTQ_AR_SELFGEN=1 GPTQ_CALIB_SAMPLES=4 GPTQ_BATCH_SIZE=4
grep -q "source:ar_selfgen" "$OUT/ar.out" || { cat "$OUT/ar.out"; fail "AR calibration not used"; }
# A target just below the unpruned brotli artifact (in MiB, code bytes 0): some +-1 codes go.
BROTLI=$(stat -c %s "$OUT/brotli.ptz")
TMB=$("$PY" -c "print(($BROTLI - 2000) / 1048576)")
run_export target COMPRESSOR=brotli BYTE_SHUFFLE=1 CODE_BYTES=0 TARGET_MB="$TMB"
grep -q "^selective_prune: [1-9][0-9]* of " "$OUT/target.out" || { cat "$OUT/target.out"; fail "no selective prune"; }
"$PY" - "$OUT" "$BROTLI" "$TMB" <<'PYEOF'
import json, os, sys
d, brotli, tmb = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
pre = json.load(open(d + "/run/eval.json"))["pre_quant_val_bpb"]
for name in ["lzma", "brotli", "zstd", "ar", "target"]:
    bpb = json.load(open(f"{d}/{name}.json"))["results"][0]["val_bpb"]
    size = os.path.getsize(f"{d}/{name}.ptz")
    assert abs(bpb - pre) < 0.05, (name, bpb, pre)
    print(f"export {name}: bpb {bpb:.4f} (+{bpb - pre:.4f}) bytes {size}")
assert os.path.getsize(d + "/target.ptz") <= int(tmb * 1024 * 1024) < brotli
PYEOF
pass
