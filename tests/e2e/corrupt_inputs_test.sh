#!/usr/bin/env bash
# The fuzz corpus (tests/fuzz/corpus) through the real pgolf binary: the libraries it links and
# their start-up matter too (the FLAGS_minloglevel clash between LibTorch and SentencePiece made
# every failed CAFFE_ENFORCE an abort; see README "Reliability"). Every seed must be accepted or
# rejected with exit code 2 and an "error:" line, never a crash:
#   artifacts and checkpoints: `pgolf export --inspect` (CRC-checked) and, for the torch.save
#   archives, `pgolf export --checkpoint` (LibTorch's reader without the CRC check);
#   configs: `pgolf config --dump`.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$PGOLF_SOURCE_DIR"
CORPUS=tests/fuzz/corpus
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
n=0
check() {  # check FILE cmd...: exit 0, or exit 2 with an error line
  local f=$1; shift
  set +e; "$@" >"$OUT/out" 2>&1; local rc=$?; set -e
  n=$((n + 1))
  if [[ $rc -eq 2 ]]; then
    grep -q "^error: " "$OUT/out" || { cat "$OUT/out" >&2; fail "$f: exit 2 without an error line"; }
  elif [[ $rc -ne 0 ]]; then
    cat "$OUT/out" >&2; fail "$f: exit $rc from $*"
  fi
}
for f in "$CORPUS"/artifact/* "$CORPUS"/checkpoint/*; do
  check "$f" "$PGOLF_BIN" export --inspect "$f"
done
for f in "$CORPUS"/checkpoint/* "$CORPUS"/artifact/*_raw.pt; do
  check "$f" "$PGOLF_BIN" export --checkpoint "$f" --out "$OUT/a.ptz" --code-bytes 0 --allow-over-budget
done
for f in "$CORPUS"/config/*; do
  check "$f" "$PGOLF_BIN" config --config "$f" --dump
done
echo "corrupt_inputs_test: $n invocations, none crashed"
pass
