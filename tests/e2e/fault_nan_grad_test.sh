#!/usr/bin/env bash
# Failure injection (issue #10): a NaN injected into one gradient at step 3 (test hook
# PGOLF_INJECT_NAN_STEP, read by the training loop). The loss of that step is finite, so only the
# gradient check catches it: the step must not be applied, the run must stop with exit code 1 and
# "non-finite gradient at step 3", the checkpoint must hold the finite weights of step 2 and no
# artifact may be written; a resume without the hook then finishes the run.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/fault_lib.sh"
fault_setup
tiny_data "$OUT/data" 1 40000
tiny_config "$OUT/tiny.json" "$OUT/data" 5
set +e
PGOLF_INJECT_NAN_STEP=3 "$PGOLF_BIN" train --config "$OUT/tiny.json" --out-dir "$OUT" --run-id run \
  >"$OUT/train.out" 2>&1
rc=$?
set -e
[[ $rc -eq 1 ]] || { cat "$OUT/train.out" >&2; fail "expected exit 1 for a NaN gradient, got $rc"; }
grep -q "^error: non-finite gradient at step 3 .*weights are from step 2, checkpoint written to" "$OUT/train.out" || {
  cat "$OUT/train.out" >&2; fail "no clear non-finite gradient message"; }
[[ ! -e "$OUT/run/final_model.int8.ptz" && ! -e "$OUT/run/final_model.pt" ]] || fail "a model was exported after the NaN"
inspect_ok "$OUT/run/checkpoints/latest.pt"
grep -q "^checkpoint: step:2 .* non_finite_tensors:0$" <<<"$INSPECT_OUT" || {
  echo "$INSPECT_OUT" >&2; fail "the checkpoint is not step 2's finite state"; }
"$PGOLF_BIN" train --resume "$OUT/run" >"$OUT/resume.out" 2>&1 || { cat "$OUT/resume.out" >&2; fail "resume failed"; }
grep -q "^resume: step:2 " "$OUT/resume.out" || fail "resume did not start at step 2"
inspect_ok "$OUT/run/final_model.int8.ptz" "$OUT/run/checkpoints/latest.pt"
grep -q "^checkpoint: step:5 .* non_finite_tensors:0$" <<<"$INSPECT_OUT" || fail "resumed run did not finish"
pass
