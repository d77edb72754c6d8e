#!/usr/bin/env bash
# `pgolf bench --features` (issue 19): at a tiny shape, one timed step per variant; every feature
# line is there (the PR #180 baseline, the banked GPT and each frontier feature), each with a
# positive ms/step, the baseline's ratio exactly 1, and the knobs the README's table names.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
export THREADS=1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
shape=(--num-layers 4 --model-dim 64 --num-heads 4 --num-kv-heads 2 --vocab-size 128)
"$PGOLF_BIN" bench --features "${shape[@]}" --seq-len 16 --batch-seqs 1 --micro-batches 1 \
  --steps 1 --warmup 0 --rounds 2 --dtype fp32 --json >"$tmp/f.json" 2>"$tmp/f.err" \
  || { cat "$tmp/f.err"; fail "bench --features failed"; }
"$PY" - "$tmp/f.json" <<'PYEOF'
import json, sys
d = json.load(open(sys.argv[1]))
assert d["seq_len"] == 16 and d["batch_seqs"] == 1 and d["micro_batches"] == 1 and d["steps"] == 1, d
assert d["rounds"] == 2, d
names = [f["feature"] for f in d["features"]]
want = ["pr180", "banked", "xsa", "partial_rope", "ln_scale", "skip_gates", "depth_recurrence",
        "parallel_gptj", "parallel_lane_merge", "parallel_routed", "smear_gate_v2", "attn_out_gate",
        "gated_attn", "sparse_attn_gate", "polar_express", "row_normalize", "ve"]
assert names == want, names
f = {x["feature"]: x for x in d["features"]}
assert all(x["step_seconds"] > 0 and x["cpu_seconds"] > 0 for x in d["features"]), d["features"]
assert d["ratio_basis"] == "cpu", d["ratio_basis"]  # CPU runs compare CPU time (robust to load)
assert f["pr180"]["ratio_to_pr180"] == 1.0 and f["banked"]["ms_over_banked"] == 0.0, f["pr180"]
# the shape scaled as bench_features.h says: 4 layers, head_dim 16
assert f["xsa"]["knobs"] == "XSA_LAST_N=4", f["xsa"]
assert f["partial_rope"]["knobs"] == "ROPE_DIMS=4", f["partial_rope"]
assert f["depth_recurrence"]["knobs"].startswith("NUM_LOOPS=2 LOOP_START=1 LOOP_END=3"), f["depth_recurrence"]
assert f["parallel_lane_merge"]["knobs"] == "PARALLEL_START_LAYER=1 PARALLEL_LANES=lane_merge"
assert f["ve"]["knobs"].startswith("VE_ENABLED=1 VE_LAYERS=2,3"), f["ve"]
PYEOF
# The human table: one line per feature.
"$PGOLF_BIN" bench --features "${shape[@]}" --seq-len 16 --batch-seqs 1 --micro-batches 1 \
  --steps 1 --warmup 0 --rounds 1 --dtype fp32 >"$tmp/f.txt" 2>/dev/null
for n in pr180 banked xsa partial_rope ln_scale skip_gates depth_recurrence parallel_gptj \
  parallel_lane_merge parallel_routed smear_gate_v2 attn_out_gate gated_attn sparse_attn_gate \
  polar_express row_normalize ve; do
  grep -q "^$n " "$tmp/f.txt" || { cat "$tmp/f.txt"; fail "bench --features lacks the $n line"; }
done
# The banked GPT cannot be its own baseline.
code=0
PARAM_BANKS=1 BIGRAM_VOCAB_SIZE=0 SMEAR_GATE=0 ACTIVATION=leaky_relu2 \
  "$PGOLF_BIN" bench --features "${shape[@]}" --steps 1 >/dev/null 2>"$tmp/bad.err" || code=$?
[[ $code -eq 2 ]] || { cat "$tmp/bad.err"; fail "bench --features on param_banks=1: exit $code, expected 2"; }
grep -q "PR #180" "$tmp/bad.err" || fail "the refusal does not name the PR #180 baseline"
echo "bench_features_test: OK"
