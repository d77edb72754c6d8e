#!/usr/bin/env bash
# Proves an offline bundle on a CPU machine (issue #15): runs `scripts/gpu_check.sh --cpu-dry-run` in a
# new network namespace with no network (unshare -n) and a private mount namespace in which the
# system's copies of every bundled dependency (headers, libraries, CMake and pkg-config files) are
# hidden under empty mounts, so the build can only use the bundle and the installed torch (and
# gpu_check.sh checks that every library and header folder CMake found is the bundle's or torch's).
#   scripts/offline_dry_run.sh [--bundle DIR] [--out DIR]      (needs root or unprivileged user namespaces)
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ ${PGOLF_DRY_RUN_INSIDE:-0} != 1 ]]; then
  command -v unshare >/dev/null || { echo "offline_dry_run: unshare (util-linux) not found" >&2; exit 2; }
  flags=(-n -m)
  [[ $(id -u) -eq 0 ]] || flags=(-r -n -m)
  PGOLF_DRY_RUN_INSIDE=1 exec unshare "${flags[@]}" -- "$0" "$@"
fi
# Inside: nothing must reach the network.
if python3 -c 'import socket; socket.create_connection(("pypi.org", 443), timeout=3)' 2>/dev/null; then
  echo "offline_dry_run: the network is reachable inside the namespace; refusing" >&2; exit 1
fi
mount --make-rprivate / 2>/dev/null || true
EMPTY=$(mktemp -d)
hidden=0
# hide PATH...: an empty folder over folders, /dev/null over files. Symbolic links are left alone (a
# bind mount follows them to the runtime library they name, which the system still needs): the
# libraries the configure step picked are checked instead (gpu_check.sh --cpu-dry-run does).
hide() {
  local p
  for p in "$@"; do
    [[ -e $p && ! -L $p ]] || continue
    if [[ -d $p && ! -L $p ]]; then mount --bind "$EMPTY" "$p"; else mount --bind /dev/null "$p"; fi
    hidden=$((hidden + 1))
  done
}
A=/usr/lib/x86_64-linux-gnu
hide /usr/include/CLI /usr/include/nlohmann /usr/include/gloo /usr/include/gtest /usr/include/gmock \
  /usr/src/googletest /usr/include/sentencepiece_processor.h /usr/include/sentencepiece_trainer.h \
  /usr/include/zstd.h /usr/include/zstd_errors.h /usr/include/zdict.h /usr/include/zlib.h \
  /usr/share/cmake/CLI11 /usr/share/cmake/nlohmann_json /usr/share/cmake/Gloo $A/cmake/GTest \
  $A/cmake/zstd /usr/lib/libgloo.so /usr/lib/libgloo.a \
  $A/libsentencepiece*.so* $A/libsentencepiece*.a $A/libzstd.so $A/libzstd.a $A/libz.so $A/libz.a \
  $A/libgtest*.a $A/libgmock*.a $A/pkgconfig/sentencepiece.pc $A/pkgconfig/libzstd.pc \
  $A/pkgconfig/zlib.pc /usr/share/pkgconfig/CLI11.pc /usr/share/pkgconfig/nlohmann_json.pc \
  /usr/include/brotli /usr/include/lzma /usr/include/lzma.h $A/libbrotli*.so $A/libbrotli*.a \
  $A/liblzma.so $A/liblzma.a
echo "offline_dry_run: no network; $hidden system paths of bundled dependencies hidden"
export PGOLF_GPU_BUILD_DIR=${PGOLF_GPU_BUILD_DIR:-$PWD/build-offline}
exec scripts/gpu_check.sh --cpu-dry-run "$@"
