#!/usr/bin/env bash
# The five frontier presets shrunk to CPU (configs/frontier_<score>_cpu.json layered after
# configs/frontier_<score>.json) for 3 steps each on the smoke data, scored on its first 8,193
# validation tokens: every stage the record has must complete and say so in train.log / the eval
# output: training, the GPTQ reserve and calibration (1.1122, 1.0810, 1.0611), the export with its
# bytes, the reload and round-trip score with the record's final method (sliding stride 64), and
# the record's TTT on the artifact (1.0810 chunk SGD, 1.0611 phased doc-LoRA) via `pgolf eval`.
# The longer runs of the same configs are in the record READMEs (scripts/frontier_cpu_runs.sh).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
smoke_data_or_fail
cd "$PGOLF_SOURCE_DIR"
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
mkdir -p "$OUT/val"
head_val_shard data/smoke/fineweb_val_000000.bin "$OUT/val/fineweb_val_000000.bin" 8193
# 3 steps under the 600 s cap (so the reserve is still taken), 2 calibration batches.
FAST=(--val-files "$OUT/val/fineweb_val_*.bin" --iterations 3 --warmup-steps 1 --val-loss-every 0
      --train-log-every 1 --max-wallclock-seconds 600 --gptq-calibration-batches 2)

need() {  # need RUN LOGFILE REGEX WHAT
  grep -Eq "$3" "$2" || { cat "$2"; fail "$1: no $4 line (/$3/)"; }
}

for s in 1_1271 1_1228 1_1122 1_0810 1_0611; do
  cfg=(-c "configs/frontier_$s.json" -c "configs/frontier_${s}_cpu.json")
  "$PGOLF_BIN" train "${cfg[@]}" "${FAST[@]}" --out-dir "$OUT" --run-id "$s" >"$OUT/$s.out" 2>&1 \
    || { cat "$OUT/$s.out"; fail "$s: train failed"; }
  log=$OUT/$s/train.log
  need "$s" "$log" '^step:3/3 train_loss:[0-9.]+ ' "training"
  need "$s" "$log" '^step:3/3 val_loss:[0-9.]+ val_bpb:[0-9.]+' "pre-quant val"
  need "$s" "$log" '^Serialized model (int6|quantized)\+[a-z]+: [0-9]+ bytes' "export bytes"
  need "$s" "$log" '^final_eval_mode:sliding_window stride:64' "sliding final method"
  need "$s" "$log" '^final_int8_zlib_roundtrip_exact val_loss:[0-9.]+ val_bpb:[0-9.]+' "round trip"
  case $s in
    1_1122|1_0810|1_0611)
      need "$s" "$log" '^gptq:reserving [0-9]+s, effective=' "GPTQ reserve"
      need "$s" "$log" '^GPTQ:collected [0-9]+ Hessians' "GPTQ calibration" ;;
  esac
  case $s in
    1_0810) ttt='^eval_ttt_chunk_sgd .*val_bpb:[0-9.]+' ;;
    1_0611) ttt='^eval_ttt_doc .*val_bpb:[0-9.]+' ;;
    *) continue ;;
  esac
  "$PGOLF_BIN" eval "${cfg[@]}" "${FAST[@]}" --method ttt --out "$OUT/$s.ttt.json" \
    "$OUT/$s/final_model.int8.ptz" >"$OUT/$s.ttt.out" 2>&1 || { cat "$OUT/$s.ttt.out"; fail "$s: TTT eval failed"; }
  need "$s" "$OUT/$s.ttt.out" "$ttt" "TTT score"
done

# The scores are finite and the TTT score is the artifact's (same tokens as the round trip).
"$PY" - "$OUT" <<'PYEOF'
import json, math, os, sys
out = sys.argv[1]
for s in ["1_1271", "1_1228", "1_1122", "1_0810", "1_0611"]:
    e = json.load(open(os.path.join(out, s, "eval.json")))
    r = e["results"][0]
    assert r["method"] == "sliding" and math.isfinite(r["val_bpb"]), (s, r)
    sub = json.load(open(os.path.join(out, s, "submission.json")))
    assert sub["bytes_model"] == os.path.getsize(os.path.join(out, s, "final_model.int8.ptz")), (s, sub)
    p = os.path.join(out, s + ".ttt.json")
    if os.path.exists(p):
        t = json.load(open(p))["results"][0]
        assert math.isfinite(t["val_bpb"]) and abs(t["val_bpb"] - r["val_bpb"]) < 0.5, (s, t["val_bpb"], r["val_bpb"])
    print(s, "bpb", round(r["val_bpb"], 4), "bytes", sub["bytes_model"])
PYEOF
pass
