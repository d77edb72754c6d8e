#!/usr/bin/env bash
# One command for the first machine with NVIDIA GPUs and a CUDA-enabled torch (issue #9):
#   scripts/gpu_check.sh DATA_PATH [TOKENIZER_PATH] [REPORT]
# builds pgolf against that torch (build-gpu/, architecture of the local GPU), runs the golden tests
# on CPU and on the GPU (fp32, bf16, then both with fused kernels and CUDA graphs), fused_kernels_test
# and train_loop_test's CUDA-graph-vs-eager case (each fails if its CUDA cases were skipped), two 2-minute training runs of the PR #180
# config (eager, then CUDA_GRAPHS=1 FUSED_KERNELS=1) on all local GPUs, and `pgolf bench` at the
# per-GPU batch of that config, writing everything to one report file (default gpu_check_report.txt).
#
# STATUS: written on a machine WITHOUT a GPU. This script has never been run; the CUDA paths it
# exercises (CUDA graphs, fused kernels, flash SDPA, NCCL, bench on CUDA) are compiled, never run.
# The golden tests' device option (tests/golden/golden_case.h): PGOLF_GOLDEN_DEVICE=cuda and
# PGOLF_GOLDEN_DTYPE=fp32|bf16 run model_forward, newton_schulz, eval_bpb and train_steps on the
# GPU (fp32 with the README's bounds, TF32 off; bf16 with the wider bounds stated in each test);
# PGOLF_GOLDEN_FUSED_KERNELS=1 / PGOLF_GOLDEN_CUDA_GRAPHS=1 add the fused kernels and the captured
# step (train_steps then fails if either graph fell back to eager). A GPU run that skipped says
# "NOT RUN on" and counts as a failure here.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
DATA_PATH=${1:?usage: scripts/gpu_check.sh DATA_PATH [TOKENIZER_PATH] [REPORT]}
TOKENIZER_PATH=${2:-$DATA_PATH/../../tokenizers/fineweb_1024_bpe.model}
REPORT=$(realpath -m "${3:-gpu_check_report.txt}")
BUILD=${PGOLF_GPU_BUILD_DIR:-build-gpu}
CONFIG=configs/pr180_10l_int5mlp_bigram_swa.json
PY=${PYTHON:-python3}
status=0

section() { printf '\n===== %s =====\n' "$*" >>"$REPORT"; }
note() { printf '%s\n' "$*" >>"$REPORT"; }
# run NAME CMD...: appends the command's tail and exit code to the report; returns its exit code.
run() {
  local name=$1; shift
  local log="$OUT/$name.log" t0=$SECONDS rc
  "$@" >"$log" 2>&1; rc=$?
  note "[$name] exit $rc after $((SECONDS - t0)) s; full log: $log"
  tail -n "${TAIL_LINES:-25}" "$log" >>"$REPORT"
  [ "$rc" -eq 0 ] || status=1
  return "$rc"
}

OUT="$ROOT/gpu_check_out"; mkdir -p "$OUT"
: >"$REPORT"
section "machine"
note "date: $(date -u +%FT%TZ)  git: $(git rev-parse --short=12 HEAD 2>/dev/null)"
nvidia-smi --query-gpu=index,name,memory.total,driver_version --format=csv >>"$REPORT" 2>&1 ||
  { note "nvidia-smi failed: no usable GPU; stopping"; exit 1; }
"$PY" -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda,
  "available", torch.cuda.is_available(), "devices", torch.cuda.device_count())' >>"$REPORT" 2>&1
NGPU=$("$PY" -c 'import torch; print(torch.cuda.device_count())' 2>/dev/null || echo 0)
ARCH=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -1 | tr -d '.')
ARCH=${ARCH:-90}
note "GPUs: $NGPU, kernel architecture: $ARCH"

section "build against this torch"
PREFIX=$("$PY" -c 'import torch; print(torch.utils.cmake_prefix_path)')
run configure cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DPGOLF_CUDA=ON \
  -DPGOLF_CUDA_ARCHITECTURES="$ARCH" -DCMAKE_PREFIX_PATH="$PREFIX" || exit 1
run build cmake --build "$BUILD" -j"$(nproc)" || exit 1
grep -h "CUDA kernels" "$OUT/configure.log" >>"$REPORT"

section "golden tests (ctest -L golden): CPU fp32, then on the GPU"
run golden_cpu ctest --test-dir "$BUILD" -L golden --output-on-failure
golden_gpu() {  # golden_gpu NAME ENV...: ctest -L golden on cuda:0 with ENV; a skip is a failure
  local name=$1; shift
  run "$name" env PGOLF_GOLDEN_DEVICE=cuda "$@" ctest --test-dir "$BUILD" -L golden -V
  if grep -q "NOT RUN on" "$OUT/$name.log"; then
    note "FAIL: $name skipped its GPU checks:"; grep "NOT RUN on" "$OUT/$name.log" | sort -u >>"$REPORT"
    status=1
  fi
}
golden_gpu golden_cuda_fp32 PGOLF_GOLDEN_DTYPE=fp32
golden_gpu golden_cuda_bf16 PGOLF_GOLDEN_DTYPE=bf16
golden_gpu golden_cuda_fp32_fused_graphs PGOLF_GOLDEN_DTYPE=fp32 PGOLF_GOLDEN_FUSED_KERNELS=1 \
  PGOLF_GOLDEN_CUDA_GRAPHS=1
golden_gpu golden_cuda_bf16_fused_graphs PGOLF_GOLDEN_DTYPE=bf16 PGOLF_GOLDEN_FUSED_KERNELS=1 \
  PGOLF_GOLDEN_CUDA_GRAPHS=1

section "CUDA graphs (forward/backward + clipping/optimisers) vs eager steps"
run cuda_graphs "$BUILD/tests/train_loop_test" --gtest_filter='*CudaGraph*'
if grep -q "NOT RUN" "$OUT/cuda_graphs.log"; then
  note "FAIL: train_loop_test skipped its CUDA graph case on a GPU machine"; status=1
fi

section "fused kernels vs CPU references"
run fused_kernels ctest --test-dir "$BUILD" -R '^fused_kernels_test(\.|$)' --output-on-failure -V
if grep -q "NOT RUN" "$OUT/fused_kernels.log"; then
  note "FAIL: fused_kernels_test skipped its CUDA cases on a GPU machine"; status=1
fi

PGOLF="$ROOT/$BUILD/pgolf"
LAUNCH=("$PGOLF")  # all local GPUs through pgolf launch (the torchrun environment)
[ "$NGPU" -gt 1 ] && LAUNCH=("$PGOLF" launch --nproc-per-node "$NGPU" --)
common=(DATA_PATH="$DATA_PATH" TOKENIZER_PATH="$TOKENIZER_PATH" MAX_WALLCLOCK_SECONDS=120 OUT_DIR="$OUT/runs")

section "2-minute training run, eager (PR #180 config, $NGPU GPU(s))"
TAIL_LINES=40 run train_eager env "${common[@]}" RUN_ID=gpu_check_eager "${LAUNCH[@]}" train --config "$CONFIG"
grep -E "step_avg|step:[0-9]+/|cuda:|fused_kernels|final_" "$OUT/train_eager.log" | tail -n 12 >>"$REPORT"

section "2-minute training run, CUDA_GRAPHS=1 FUSED_KERNELS=1"
TAIL_LINES=40 run train_fast env "${common[@]}" RUN_ID=gpu_check_fast CUDA_GRAPHS=1 FUSED_KERNELS=1 \
  "${LAUNCH[@]}" train --config "$CONFIG"
grep -E "cuda_graphs|fused_kernels|step:[0-9]+/|final_" "$OUT/train_fast.log" | tail -n 12 >>"$REPORT"

section "bench (one GPU, 48 x 2048 tokens = the per-GPU batch of PR #180 on 8 GPUs)"
bench=(bench --config "$CONFIG" --batch-seqs 48 --seq-len 2048 --steps 10 --warmup 3)
TAIL_LINES=20 run bench "$PGOLF" "${bench[@]}"
TAIL_LINES=20 run bench_fused env FUSED_KERNELS=1 "$PGOLF" "${bench[@]}"
if [ "$NGPU" -gt 1 ]; then
  section "bench on all $NGPU GPUs (real all-reduce phase; rank 0 prints)"
  TAIL_LINES=20 run bench_all "${LAUNCH[@]}" "${bench[@]}"
fi
note ""
note "Compare with docs/gpu_step_model.md: 208 MFLOP/token, 20.45 TFLOP per GPU per step,"
note "target <= 66 ms/step on 8xH100 with graphs + fused kernels (reference: 89.4 ms)."

section "result"
note "overall: $([ $status -eq 0 ] && echo PASS || echo FAIL)"
echo "report: $REPORT"
exit $status
