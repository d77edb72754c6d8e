#!/usr/bin/env bash
# Builds the two dependencies that the offline bundle carries as sources (SentencePiece, GoogleTest)
# and installs them into PREFIX, with no network: scripts/gpu_check.sh runs it; an air-gapped cluster
# can run it once and pass PREFIX and BUNDLE/prefix in CMAKE_PREFIX_PATH.
#   scripts/build_offline_deps.sh BUNDLE PREFIX [JOBS]
set -euo pipefail
BUNDLE=${1:?usage: build_offline_deps.sh BUNDLE PREFIX [JOBS]}
PREFIX=${2:?usage: build_offline_deps.sh BUNDLE PREFIX [JOBS]}
JOBS=${3:-$(nproc)}
GEN=(-G Ninja); command -v ninja >/dev/null || GEN=()
command -v ccache >/dev/null && GEN+=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
spm_tar=$(ls "$BUNDLE"/src/sentencepiece-*.tar.gz 2>/dev/null | head -1)
[[ -f $spm_tar ]] || { echo "build_offline_deps: no sentencepiece-*.tar.gz in $BUNDLE/src" >&2; exit 2; }
[[ -f $BUNDLE/src/googletest.tar.gz ]] || { echo "build_offline_deps: no googletest.tar.gz in $BUNDLE/src" >&2; exit 2; }
mkdir -p "$PREFIX"; PREFIX=$(cd "$PREFIX" && pwd)
WORK=$PREFIX/.src; rm -rf "$WORK"; mkdir -p "$WORK"
tar -C "$WORK" -xzf "$spm_tar"
tar -C "$WORK" -xzf "$BUNDLE/src/googletest.tar.gz"
spm=$(ls -d "$WORK"/sentencepiece-*/sentencepiece)
# Shared SentencePiece, as Debian's: pgolf links it before LibTorch (CMakeLists.txt says why).
cmake -S "$spm" -B "$WORK/spm-build" "${GEN[@]}" -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX="$PREFIX" \
  -DCMAKE_INSTALL_LIBDIR=lib -DSPM_ENABLE_SHARED=ON -DSPM_ENABLE_TCMALLOC=OFF
cmake --build "$WORK/spm-build" -j"$JOBS" --target install
cmake -S "$WORK/googletest" -B "$WORK/gtest-build" "${GEN[@]}" -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_INSTALL_PREFIX="$PREFIX" -DCMAKE_INSTALL_LIBDIR=lib -DBUILD_GMOCK=OFF
cmake --build "$WORK/gtest-build" -j"$JOBS" --target install
rm -rf "$WORK"
sha256sum "$BUNDLE"/src/* >"$PREFIX/.built_from"  # what gpu_check.sh compares before reusing
echo "build_offline_deps: SentencePiece and GoogleTest installed in $PREFIX"
