#!/usr/bin/env bash
# Long fuzzing runs with libFuzzer + AddressSanitizer (README "Reliability").
#   scripts/fuzz.sh TARGET|all BUDGET [libFuzzer flags...]
#     TARGET  shard | artifact | checkpoint | config | tokenizer (tests/fuzz/<TARGET>_fuzz.cpp)
#     BUDGET  a number of executions (1000000) or seconds with an s suffix (600s)
# Configures build-fuzz once (clang, -DPGOLF_FUZZ=ON; only the reader sources are compiled,
# instrumented, and linked with LibTorch) and builds the targets with -j1. The seed corpus
# tests/fuzz/corpus/<TARGET> is read-only; inputs libFuzzer finds interesting go to
# build-fuzz/corpus/<TARGET>, crashes to build-fuzz/findings/. A finding becomes a regression seed:
# fix it, then copy the input to tests/fuzz/corpus/<TARGET>/regress_<name>.
#   PGOLF_FUZZ_BUILD_DIR  build folder (default build-fuzz)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BUILD=${PGOLF_FUZZ_BUILD_DIR:-$ROOT/build-fuzz}
ALL=(shard artifact checkpoint config tokenizer)
[[ $# -ge 2 ]] || { sed -n '2,12p' "$0" >&2; exit 2; }
target=$1 budget=$2
shift 2
if [[ $target == all ]]; then targets=("${ALL[@]}"); else targets=("$target"); fi
for t in "${targets[@]}"; do
  [[ " ${ALL[*]} " == *" $t "* ]] || { echo "unknown target '$t' (${ALL[*]})" >&2; exit 2; }
done
case $budget in
  *s) limit=(-max_total_time="${budget%s}") ;;
  *[!0-9]*|"") echo "budget must be N (executions) or Ns (seconds), found '$budget'" >&2; exit 2 ;;
  *) limit=(-runs="$budget") ;;
esac

command -v clang++ >/dev/null || { echo "clang++ not found (apt-get install clang)" >&2; exit 2; }
if [[ ! -f "$BUILD/build.ninja" ]]; then
  PY=${PGOLF_PYTHON:-python3}
  cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DPGOLF_FUZZ=ON -DPGOLF_CUDA=OFF \
    -DCMAKE_PREFIX_PATH="$("$PY" -c 'import torch;print(torch.utils.cmake_prefix_path)' 2>/dev/null)"
fi
cmake --build "$BUILD" -j1 --target "${targets[@]/%/_fuzz}"

# LibTorch and SentencePiece are not instrumented; their one-time caches look like leaks at exit.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:allocator_may_return_null=1}
export OMP_NUM_THREADS=1
mkdir -p "$BUILD/findings"
for t in "${targets[@]}"; do
  mkdir -p "$BUILD/corpus/$t"
  echo "== $t: ${limit[*]}"
  "$BUILD/tests/fuzz/${t}_fuzz" "${limit[@]}" -rss_limit_mb=4096 -timeout=20 -print_final_stats=1 \
    -artifact_prefix="$BUILD/findings/${t}-" "$@" "$BUILD/corpus/$t" "$ROOT/tests/fuzz/corpus/$t"
done
