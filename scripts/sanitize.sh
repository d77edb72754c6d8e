#!/usr/bin/env bash
# Unit tests (and the fuzz replays) under AddressSanitizer + UndefinedBehaviorSanitizer, gcc
# (README "Reliability"). A separate full build in build-asan; not part of CI (too slow for it).
#   scripts/sanitize.sh [ctest args...]        default: ctest -L 'unit|fuzz'
#   PGOLF_ASAN_BUILD_DIR  build folder (default build-asan)
#   PGOLF_ASAN_JOBS       build jobs (default 1: the full build is heavy)
#   PGOLF_SANITIZE        sanitizers (default address,undefined)
# What is suppressed and why (LibTorch, SentencePiece and the other system libraries are not
# instrumented, so ASan sees only pgolf's own code and its calls into them):
#   detect_leaks=0           LibTorch keeps allocator caches, thread pools and registries until
#                            exit; LeakSanitizer reports them (nothing pgolf allocates).
#   alloc_dealloc_mismatch=0 memory allocated inside uninstrumented LibTorch and freed by inline
#                            header code in ours (and the reverse) looks mismatched to ASan.
#   detect_odr_violation=0   header-only code (fmt, spdlog, nlohmann) instantiated both in
#                            instrumented objects and in the system's shared libraries.
#   -fno-sanitize=vptr       UBSan's vptr check needs RTTI of LibTorch's classes from an
#                            instrumented build; it reports every dynamic type from libtorch.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BUILD=${PGOLF_ASAN_BUILD_DIR:-$ROOT/build-asan}
JOBS=${PGOLF_ASAN_JOBS:-1}
SAN=${PGOLF_SANITIZE:-address,undefined}
PY=${PGOLF_PYTHON:-python3}
if [[ ! -f "$BUILD/build.ninja" ]]; then
  cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPGOLF_SANITIZE="$SAN" \
    -DPGOLF_CUDA=OFF -DCMAKE_CXX_FLAGS="-fno-sanitize=vptr" \
    -DCMAKE_PREFIX_PATH="$("$PY" -c 'import torch;print(torch.utils.cmake_prefix_path)' 2>/dev/null)"
fi
TESTS=(core_test config_test data_test tokenizer_test model_test dist_test optim_test eval_test
       quant_test train_test train_loop_test report_test fused_kernels_test
       shard_fuzz artifact_fuzz checkpoint_fuzz config_fuzz tokenizer_fuzz)
targets=()
for t in "${TESTS[@]}"; do
  ninja -C "$BUILD" -t query "$t" >/dev/null 2>&1 && targets+=("$t")
done
cmake --build "$BUILD" -j"$JOBS" --target "${targets[@]}"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:alloc_dealloc_mismatch=0:detect_odr_violation=0:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
if (($#)); then
  ctest --test-dir "$BUILD" --output-on-failure "$@"
else
  ctest --test-dir "$BUILD" --output-on-failure -L 'unit|fuzz'
fi
