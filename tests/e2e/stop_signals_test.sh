#!/usr/bin/env bash
# Stop signals keep the run (issue #17, items 2, 3 and 7), with CHECKPOINT_EVERY=0 as every record
# preset has it:
#  a. SIGHUP (a dropped terminal) checkpoints and stops like SIGTERM: exit 129, a checkpoint;
#  b. `pgolf launch` forwards SIGHUP: both ranks checkpoint, launch exits 129;
#  c. --no-final keeps the trained weights: a checkpoint of the last step;
#  d. SIGINT during the final evaluation is not swallowed: exit 130, a message, no score written;
#     `--resume` then finishes the run.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/fault_lib.sh"
fault_setup
tiny_data "$OUT/data" 1 40000
tiny_config "$OUT/tiny.json" "$OUT/data" 3000
sed -i 's/"checkpoint_every": 1/"checkpoint_every": 0/' "$OUT/tiny.json"
grep -q '"checkpoint_every": 0' "$OUT/tiny.json" || fail "could not set checkpoint_every 0"
TRAIN=(train --config "$OUT/tiny.json" --out-dir "$OUT")
ckpt_step() {  # ckpt_step FILE: the step of a checkpoint (fails when it is not a valid one)
  inspect_ok "$1"
  sed -n 's/^checkpoint: step:\([0-9]*\) .*/\1/p' <<<"$INSPECT_OUT"
}

# a. SIGHUP to a single process.
train_until_step 2
kill -HUP "$pid"
train_exit
[[ $rc -eq 129 ]] || { cat "$OUT/train.out" >&2; fail "SIGHUP: expected exit 129, got $rc"; }
grep -q "^stopping: signal received at step:" "$OUT/train.out" || { cat "$OUT/train.out" >&2; fail "SIGHUP did not stop the run cleanly"; }
[[ -e "$OUT/run/checkpoints/latest.pt" ]] || fail "SIGHUP left no checkpoint"
(($(ckpt_step "$OUT/run/checkpoints/latest.pt") >= 2)) || fail "the SIGHUP checkpoint is before step 2"

# b. SIGHUP to `pgolf launch` with 2 ranks.
"$PGOLF_BIN" launch --nproc-per-node 2 -- "${TRAIN[@]}" --run-id launch >"$OUT/launch.out" 2>&1 &
pid=$!
wait_for_step "$OUT/launch/metrics.jsonl" 2 "$pid"
kill -HUP "$pid"
train_exit
[[ $rc -eq 129 ]] || { cat "$OUT/launch.out" >&2; fail "launch + SIGHUP: expected exit 129, got $rc"; }
grep -q "forwarding SIGHUP" "$OUT/launch.out" || fail "launch did not forward SIGHUP"
for f in latest.pt latest.pt.rank1; do
  [[ -e "$OUT/launch/checkpoints/$f" ]] || { cat "$OUT/launch.out" >&2; fail "launch + SIGHUP left no $f"; }
done

# c. --no-final: the last step's weights are kept.
expect_exit 0 timeout 120 "$PGOLF_BIN" "${TRAIN[@]}" --run-id nofinal --iterations 3 --no-final
[[ -e "$OUT/nofinal/checkpoints/latest.pt" ]] || fail "CHECKPOINT_EVERY=0 --no-final left no checkpoint"
(($(ckpt_step "$OUT/nofinal/checkpoints/latest.pt") == 3)) || fail "the end checkpoint is not step 3"

# d. SIGINT during the final evaluation (a sliding window of stride 1: thousands of windows).
"$PGOLF_BIN" "${TRAIN[@]}" --run-id final --iterations 2 --eval-stride 1 --eval-batch-seqs 4 >"$OUT/final.out" 2>&1 &
pid=$!
for _ in $(seq 1200); do
  [[ -e "$OUT/final/final_model.int8.ptz" ]] && break
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.05
done
[[ -e "$OUT/final/final_model.int8.ptz" ]] || { cat "$OUT/final.out" >&2; fail "the run never reached its final evaluation"; }
kill -INT "$pid"
train_exit
[[ $rc -eq 130 ]] || { cat "$OUT/final.out" >&2; fail "SIGINT in the final evaluation: expected exit 130, got $rc"; }
grep -q "^stopping: signal received during the final evaluation" "$OUT/final.out" || {
  cat "$OUT/final.out" >&2; fail "no message for the abandoned final evaluation"; }
[[ ! -e "$OUT/final/submission.json" && ! -e "$OUT/final/eval.json" ]] || fail "an interrupted final evaluation wrote a score"
(($(ckpt_step "$OUT/final/checkpoints/latest.pt") == 2)) || fail "no end-of-training checkpoint"
expect_exit 0 timeout 300 "$PGOLF_BIN" train --resume "$OUT/final" --eval-stride 0
[[ -e "$OUT/final/submission.json" ]] || fail "the resume did not finish the interrupted run"
pass
