#!/usr/bin/env bash
# Failure injection (issue #10): a train shard deleted while `pgolf train` runs. The stream opens
# the shard when it gets there: the run must stop with exit code 2 and a message naming the file,
# leave a valid checkpoint (resumable once the shard is back) and no final artifact.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/fault_lib.sh"
fault_setup
# 6 shards of 12,000 tokens; a step takes 2,056, so the last shard is needed from step ~30 on.
tiny_data "$OUT/data" 6 12000
tiny_config "$OUT/tiny.json" "$OUT/data" 60
train_until_step 1
mv "$OUT/data/fineweb_train_000005.bin" "$OUT/shard5.bin"
train_exit
[[ $rc -eq 2 ]] || { cat "$OUT/train.out" >&2; fail "expected exit 2 for a missing shard, got $rc"; }
grep -q "^error: shard .*fineweb_train_000005.bin: cannot open (No such file or directory)" "$OUT/train.out" || {
  cat "$OUT/train.out" >&2; fail "the error does not name the missing shard"; }
[[ ! -e "$OUT/run/final_model.int8.ptz" ]] || fail "an artifact was written by a failed run"
inspect_ok "$OUT/run/checkpoints/latest.pt"
step=$(sed -n 's/^checkpoint: step:\([0-9]*\) .*/\1/p' <<<"$INSPECT_OUT")
((step >= 25)) || fail "checkpoint at step $step, expected the last step before the shard was needed"
# With the shard back, the run resumes from that checkpoint.
mv "$OUT/shard5.bin" "$OUT/data/fineweb_train_000005.bin"
"$PGOLF_BIN" train --resume "$OUT/run" --iterations $((step + 2)) --no-final >"$OUT/resume.out" 2>&1 || {
  cat "$OUT/resume.out" >&2; fail "resume after the shard came back failed"; }
grep -q "^resume: step:$step " "$OUT/resume.out" || fail "resume did not start at step $step"
pass
