#!/usr/bin/env bash
# `pgolf bench` times the step `pgolf train` runs (issue 18): for one config, the step train logs
# ("train_step:<kind> <options> micro_batches:N") is the step bench reports, with the same
# accumulation and tokens per step; with the NaN test hook both get the decorator. No timing is
# asserted (the README states the measured figures).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/fault_lib.sh"
fault_setup
tiny_data "$OUT/data" 1 40000
tiny_config "$OUT/tiny.json" "$OUT/data" 2
"$PGOLF_BIN" train --config "$OUT/tiny.json" --out-dir "$OUT" --run-id run --no-final \
  >"$OUT/train.out" 2>&1 || { cat "$OUT/train.out" >&2; fail "train failed"; }
"$PGOLF_BIN" bench --config "$OUT/tiny.json" --steps 1 --warmup 0 --probe-size 64 --json \
  >"$OUT/bench.json" 2>"$OUT/bench.err" || { cat "$OUT/bench.err" >&2; fail "bench failed"; }
PGOLF_INJECT_NAN_STEP=7 "$PGOLF_BIN" bench --config "$OUT/tiny.json" --steps 1 --warmup 0 \
  --probe-size 64 --json >"$OUT/bench_nan.json" 2>"$OUT/bench.err" || { cat "$OUT/bench.err" >&2; fail "bench failed"; }
"$PY" - "$OUT/run/train.log" "$OUT/bench.json" "$OUT/bench_nan.json" <<'PYEOF'
import json, sys
lines = [l.strip() for l in open(sys.argv[1]) if l.startswith("train_step:")]
assert len(lines) == 1, lines
b = json.load(open(sys.argv[2]))
ts = b["train_step"]
want = ts["step"] + " micro_batches:" + str(ts["micro_batches"])
assert lines[0] == want, (lines[0], want)
assert lines[0].startswith("train_step:eager clip_norm:0.3 grad_sync:none micro_batches:8"), lines[0]
# the training run's batch: TRAIN_BATCH_TOKENS 2048 = 8 micro-batches of 4 x 64
assert b["tokens_per_step"] == 2048 and ts["rows_per_micro_batch"] == 4 and b["seq_len"] == 64, b
assert ts["per_step"]["zero_grads"] == 1 and ts["per_step"]["host_reads"] == 1, ts
n = json.load(open(sys.argv[3]))["train_step"]["step"]
assert n == ts["step"] + " nan_injection_step:7", n
PYEOF
pass
