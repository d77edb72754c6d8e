#!/usr/bin/env bash
# Failure injection (issue #10): `pgolf export` onto a full disk, by a file-size limit (ulimit -f:
# the write fails with EFBIG; pgolf ignores SIGXFSZ). It must end with exit code 1 and a message
# naming the file and the cause, leave the previous artifact at the path byte for byte, and leave
# no temporary file behind. fault_disk_full_tmpfs_test.sh checks the same on a full tmpfs (ENOSPC).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/fault_lib.sh"
source "$(dirname "$0")/disk_full_lib.sh"
disk_full_setup

# A file-size limit of half the artifact (ulimit -f counts 1024-byte blocks in bash).
mkdir "$OUT/lim"
printf 'old artifact' >"$OUT/old.ptz"
cp "$OUT/old.ptz" "$OUT/lim/a.ptz"
set +e
(ulimit -f $((size / 2048)); exec "$PGOLF_BIN" "${EXPORT[@]}" --out "$OUT/lim/a.ptz") >"$OUT/lim.out" 2>&1
rc=$?
set -e
check_failed_export $rc "$OUT/lim.out" "$OUT/lim" "File too large"
pass
