#!/usr/bin/env bash
# Code bytes of a pgolf submission, by the recipe documented in include/pgolf/quant/budget.h and
# README "Code bytes" (implemented by pgolf::quant::measure_code_bytes, which `pgolf train`/`export`
# use):
#   CMakeLists.txt + regular files under src/ include/ cmake/ (bytewise sorted) except the prefixes
#   listed in cmake/submission_excludes.txt, each with its comments stripped (scripts/code_strip.py),
#   then each config as config/<i>_<basename> in layering order (i = 1, 2, ...); ustar archive
#   (uid/gid 0, mode 0644, mtime 0); zstd -22 single-threaded.
# usage: scripts/code_bytes.sh [REPO_ROOT] [CONFIG.json ...]  -> prints the byte count.
# PGOLF_CODE_TAR=FILE keeps the uncompressed archive (a PGOLF_SUBMISSION=ON build of exactly the
# counted bytes starts from it: tests/e2e/code_bytes_build_test.sh).
set -euo pipefail
root=$(cd "${1:-$(dirname "$0")/..}" && pwd)
shift || true
configs=()
for cfg in "$@"; do configs+=("$(cd "$(dirname "$cfg")" && pwd)/$(basename "$cfg")"); done
stage=$(mktemp -d)
trap 'rm -rf "$stage" "$stage.all" "$stage.list" "$stage.tar"' EXIT

cd "$root"
if [ -n "$(find src include cmake ! -type f ! -type d 2>/dev/null)" ]; then
  echo "code_bytes: only regular files are allowed under src/ include/ cmake/" >&2
  exit 2
fi
strip="python3 $(cd "$(dirname "$0")" && pwd)/code_strip.py"
{ echo CMakeLists.txt; find src include cmake -type f 2>/dev/null; } | LC_ALL=C sort > "$stage.all"
if [ -f cmake/submission_excludes.txt ]; then
  $strip excluded cmake/submission_excludes.txt < "$stage.all" > "$stage.list"
else
  cp "$stage.all" "$stage.list"
fi
$strip strip "$stage" < "$stage.list"
i=0
for cfg in "${configs[@]+"${configs[@]}"}"; do
  i=$((i + 1))
  mkdir -p "$stage/config"
  name="config/${i}_$(basename "$cfg")"
  cp "$cfg" "$stage/$name"
  echo "$name" >> "$stage.list"
done
(cd "$stage" && tar --format=ustar --no-recursion --owner=0 --group=0 --numeric-owner \
  --mtime=@0 --mode=0644 -cf "$stage.tar" -T "$stage.list")
if [ -n "${PGOLF_CODE_TAR:-}" ]; then cp "$stage.tar" "$PGOLF_CODE_TAR"; fi
zstd -22 --ultra --single-thread --no-check -q -c "$stage.tar" | wc -c
