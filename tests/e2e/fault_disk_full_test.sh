#!/usr/bin/env bash
# Failure injection (issue #10): `pgolf export` onto a full disk. Two ways: a file-size limit
# (ulimit -f: the write fails with EFBIG; pgolf ignores SIGXFSZ) and, where user namespaces allow
# mounting, a tmpfs too small for the new artifact next to the old one (ENOSPC). Each must end
# with exit code 1 and a message naming the file and the cause, leave the previous artifact at the
# path byte for byte, and leave no temporary file behind.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/fault_lib.sh"
fault_setup
tiny_data "$OUT/data" 1 40000
tiny_config "$OUT/tiny.json" "$OUT/data" 2
"$PGOLF_BIN" train --config "$OUT/tiny.json" --out-dir "$OUT" --run-id run --no-final >"$OUT/train.out" 2>&1 || {
  cat "$OUT/train.out" >&2; fail "tiny training run failed"; }
EXPORT=(export --config "$OUT/tiny.json" --checkpoint "$OUT/run/checkpoints/latest.pt")
"$PGOLF_BIN" "${EXPORT[@]}" --out "$OUT/good.ptz" >/dev/null
size=$(stat -c %s "$OUT/good.ptz")
((size > 20000)) || fail "artifact of $size bytes is too small for this test"

check_failed_export() {  # check_failed_export RC OUTPUT_FILE DIR CAUSE
  [[ $1 -eq 1 ]] || { cat "$2" >&2; fail "expected exit 1 on a full disk, got $1"; }
  grep -q "^error: $3/a.ptz: write failed after [0-9]* of [0-9]* bytes ($4); the previous file, if any, is untouched" "$2" || {
    cat "$2" >&2; fail "no clear message for the failed write ($4)"; }
  cmp -s "$OUT/old.ptz" "$3/a.ptz" || fail "the previous artifact was changed"
  ! compgen -G "$3/a.ptz.tmp.*" >/dev/null || fail "a temporary file was left behind"
}

# 1. File-size limit of half the artifact (ulimit -f counts 1024-byte blocks in bash).
mkdir "$OUT/lim"
printf 'old artifact' >"$OUT/old.ptz"
cp "$OUT/old.ptz" "$OUT/lim/a.ptz"
set +e
(ulimit -f $((size / 2048)); exec "$PGOLF_BIN" "${EXPORT[@]}" --out "$OUT/lim/a.ptz") >"$OUT/lim.out" 2>&1
rc=$?
set -e
check_failed_export $rc "$OUT/lim.out" "$OUT/lim" "File too large"

# 2. A tmpfs with room for the old artifact but not for the new one beside it.
if unshare -rm true 2>/dev/null; then
  mkdir "$OUT/mnt"
  cp "$OUT/good.ptz" "$OUT/old.ptz"
  set +e
  unshare -rm bash -c '
    mount -t tmpfs -o size=$(( ($3 * 3 / 2) / 4096 * 4096 + 4096 )) tmpfs "$1/mnt" || exit 77
    cp "$1/old.ptz" "$1/mnt/a.ptz"
    "$2" "${@:4}" --out "$1/mnt/a.ptz" >"$1/tmpfs.out" 2>&1
    rc=$?
    cmp -s "$1/old.ptz" "$1/mnt/a.ptz" || echo "previous artifact changed" >>"$1/tmpfs.out"
    ls -a "$1/mnt" >"$1/tmpfs.ls"
    exit $rc' _ "$OUT" "$PGOLF_BIN" "$size" "${EXPORT[@]}"
  rc=$?
  set -e
  if [[ $rc -eq 77 ]]; then
    echo "tmpfs mount refused inside the user namespace: ENOSPC case skipped"
  else
    ! grep -q "previous artifact changed" "$OUT/tmpfs.out" || fail "the previous artifact was changed (tmpfs)"
    ! grep -q "\.tmp\." "$OUT/tmpfs.ls" || fail "a temporary file was left on the tmpfs"
    [[ $rc -eq 1 ]] || { cat "$OUT/tmpfs.out" >&2; fail "expected exit 1 on a full tmpfs, got $rc"; }
    grep -q "^error: $OUT/mnt/a.ptz: write failed after [0-9]* of [0-9]* bytes (No space left on device)" "$OUT/tmpfs.out" || {
      cat "$OUT/tmpfs.out" >&2; fail "no clear message for a full tmpfs"; }
    echo "tmpfs (ENOSPC) case checked"
  fi
else
  echo "user namespaces unavailable: ENOSPC case skipped, the ulimit case stands for it"
fi
pass
