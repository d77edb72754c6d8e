#!/usr/bin/env bash
# Failure injection (issue #10): the train shards are truncated under a running `pgolf train`.
# The loader reads the open shard with pread and checks every read, so this must be exit code 2
# with a message naming the shard ("shrank while in use"), not a SIGBUS from a memory map (exit
# 135), and the checkpoint must stay valid.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/fault_lib.sh"
fault_setup
tiny_data "$OUT/data" 2 40000
tiny_config "$OUT/tiny.json" "$OUT/data" 30
train_until_step 2
# Keep the header, cut the tokens to 100 (a step reads 8 spans of 257 tokens).
for f in "$OUT"/data/fineweb_train_*.bin; do truncate -s $((1024 + 200)) "$f"; done
train_exit
[[ $rc -ne 135 ]] || { cat "$OUT/train.out" >&2; fail "SIGBUS: the loader read a truncated shard through mmap"; }
[[ $rc -eq 2 ]] || { cat "$OUT/train.out" >&2; fail "expected exit 2 for a shrunk shard, got $rc"; }
grep -q "^error: shard .*fineweb_train_00000[01].bin: file shrank while in use" "$OUT/train.out" || {
  cat "$OUT/train.out" >&2; fail "the error does not say which shard shrank"; }
[[ ! -e "$OUT/run/final_model.int8.ptz" ]] || fail "an artifact was written by a failed run"
inspect_ok "$OUT/run/checkpoints/latest.pt"
grep -q "non_finite_tensors:0" <<<"$INSPECT_OUT" || fail "checkpoint holds non-finite tensors"
pass
