#!/usr/bin/env bash
# End to end on the smoke dataset: train -> export -> round trip -> final score, then resume
# equality, a corrupt artifact, and `pgolf eval` of the artifact. Asserts on metrics.jsonl,
# eval.json and submission.json, never on printed columns.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
smoke_data_or_fail
cd "$PGOLF_SOURCE_DIR"
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
CFG=configs/smoke_cpu.json
COMMON=(--config "$CFG" --out-dir "$OUT" --iterations 16 --val-loss-every 8 --warmdown-iters 6
        --swa-every 2 --train-log-every 4 --checkpoint-every 8 --warmup-steps 0)

# 1. A full run.
"$PGOLF_BIN" train "${COMMON[@]}" --run-id full >"$OUT/full.out" 2>&1 || { cat "$OUT/full.out"; fail "train failed"; }
for f in train.log metrics.jsonl config.json command.sh final_model.int8.ptz eval.json submission.json checkpoints/latest.pt; do
  [[ -s "$OUT/full/$f" ]] || fail "run directory lacks $f"
done
"$PY" - "$OUT/full" <<'PYEOF'
import json, sys
d = sys.argv[1]
ev = [json.loads(l) for l in open(d + "/metrics.jsonl")]
train = [e for e in ev if e["event"] == "train"]
val = [e for e in ev if e["event"] == "val"]
assert len(train) == 16, len(train)
assert val[0]["step"] == 0 and val[-1]["step"] == 16, [v["step"] for v in val]
assert val[-1]["val_bpb"] < val[0]["val_bpb"] - 0.2, ("loss did not fall", val[0], val[-1])
e = json.load(open(d + "/eval.json"))
final = e["results"][0]
pre = e["pre_quant_val_bpb"]
assert abs(final["val_bpb"] - pre) < 0.1, ("round trip far from pre-quant", final["val_bpb"], pre)
s = json.load(open(d + "/submission.json"))
assert s["bytes_total"] < 16_000_000 and s["bytes_total"] == s["bytes_code"] + s["bytes_model"], s
assert abs(s["val_bpb"] - final["val_bpb"]) < 1e-12
print("final bpb", final["val_bpb"], "pre-quant", pre, "bytes", s["bytes_total"])
PYEOF

# 2. The same run killed (SIGKILL) after its step-8 checkpoint, then resumed: identical losses.
"$PGOLF_BIN" train "${COMMON[@]}" --run-id resumed --no-final >"$OUT/r1.out" 2>&1 &
pid=$!
for _ in $(seq 600); do
  grep -q '"step":8,' "$OUT/resumed/metrics.jsonl" 2>/dev/null && [[ -s "$OUT/resumed/checkpoints/latest.pt" ]] && break
  sleep 0.2
done
kill -KILL $pid 2>/dev/null || true
wait $pid 2>/dev/null || true
"$PGOLF_BIN" train --resume "$OUT/resumed" --no-final >"$OUT/r2.out" 2>&1 || { cat "$OUT/r2.out"; fail "resume failed"; }
# The resumed process must really start from the step-8 checkpoint (not from a later one, which
# would make the comparison below vacuous).
grep -q "^resume: step:8 " "$OUT/r2.out" || { cat "$OUT/r2.out"; fail "resume did not start at step 8"; }
"$PY" - "$OUT/full" "$OUT/resumed" <<'PYEOF'
import json, sys
def losses(d):
    out = {}
    for l in open(d + "/metrics.jsonl"):
        e = json.loads(l)
        if e["event"] == "train":
            out[e["step"]] = e["train_loss"]   # a resumed run re-logs steps after its checkpoint
    return out
a, b = losses(sys.argv[1]), losses(sys.argv[2])
assert sorted(a) == sorted(b) == list(range(1, 17)), (sorted(b))
diff = [s for s in a if a[s] != b[s]]
assert not diff, ("resumed losses differ at steps", diff[:5], [(a[s], b[s]) for s in diff[:5]])
PYEOF

# 3. pgolf eval of the artifact reproduces the final score; a corrupt artifact is exit code 2.
"$PGOLF_BIN" eval "$OUT/full/final_model.int8.ptz" --config "$CFG" --out "$OUT/eval2.json" >/dev/null
"$PY" - "$OUT/full/eval.json" "$OUT/eval2.json" <<'PYEOF'
import json, sys
a = json.load(open(sys.argv[1]))["results"][0]; b = json.load(open(sys.argv[2]))["results"][0]
assert abs(a["val_bpb"] - b["val_bpb"]) < 1e-9, (a["val_bpb"], b["val_bpb"])
PYEOF
head -c 1000 "$OUT/full/final_model.int8.ptz" > "$OUT/trunc.ptz"
expect_exit 2 "$PGOLF_BIN" eval "$OUT/trunc.ptz" --config "$CFG" --out "$OUT/x.json"
pass
