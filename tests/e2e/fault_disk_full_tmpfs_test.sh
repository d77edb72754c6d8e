#!/usr/bin/env bash
# Failure injection (issue #10): `pgolf export` onto a tmpfs with room for the old artifact but not
# for the new one beside it (ENOSPC), as fault_disk_full_test.sh with a file-size limit. Needs a
# user namespace that may mount a tmpfs: exit 77 (ctest: Skipped) where there is none.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/fault_lib.sh"
source "$(dirname "$0")/disk_full_lib.sh"
probe=$(mktemp -d)
if ! unshare -rm mount -t tmpfs -o size=64k tmpfs "$probe" 2>/dev/null; then
  rmdir "$probe"
  echo "SKIP: no user namespace that may mount a tmpfs here; the ENOSPC case was NOT run"
  exit 77
fi
rmdir "$probe"
disk_full_setup

mkdir "$OUT/mnt"
cp "$OUT/good.ptz" "$OUT/old.ptz"
set +e
unshare -rm bash -c '
  mount -t tmpfs -o size=$(( ($3 * 3 / 2) / 4096 * 4096 + 4096 )) tmpfs "$1/mnt" || exit 99
  cp "$1/old.ptz" "$1/mnt/a.ptz"
  "$2" "${@:4}" --out "$1/mnt/a.ptz" >"$1/tmpfs.out" 2>&1
  rc=$?
  cmp -s "$1/old.ptz" "$1/mnt/a.ptz" || echo "previous artifact changed" >>"$1/tmpfs.out"
  ls -a "$1/mnt" >"$1/tmpfs.ls"
  exit $rc' _ "$OUT" "$PGOLF_BIN" "$size" "${EXPORT[@]}"
rc=$?
set -e
((rc != 99)) || fail "the tmpfs mount failed although the probe mount worked"
! grep -q "previous artifact changed" "$OUT/tmpfs.out" || fail "the previous artifact was changed (tmpfs)"
! grep -q "\.tmp\." "$OUT/tmpfs.ls" || fail "a temporary file was left on the tmpfs"
[[ $rc -eq 1 ]] || { cat "$OUT/tmpfs.out" >&2; fail "expected exit 1 on a full tmpfs, got $rc"; }
grep -q "^error: $OUT/mnt/a.ptz: write failed after [0-9]* of [0-9]* bytes (No space left on device)" "$OUT/tmpfs.out" || {
  cat "$OUT/tmpfs.out" >&2; fail "no clear message for a full tmpfs"; }
pass
