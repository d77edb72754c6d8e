#!/usr/bin/env bash
# The GPU check (README "GPU check"): builds pgolf offline from the bundle of scripts/offline_bundle.sh
# against whatever torch is installed, then runs each GPU path with a time budget and writes one report.
#   scripts/gpu_check.sh [--bundle DIR] [--out DIR] [--cpu-dry-run]
# --bundle  the folder offline_bundle.sh made (default gpu_bundle)
# --out     where the report and logs go (default $OUT, else gpu_check_out): $OUT/gpu_check_report.txt
# --cpu-dry-run  no GPU needed: the same offline build, then the CPU parts (golden on CPU, the kernels'
#           and graphs' CPU tests, a short CPU training run, bench on CPU); the GPU stages are listed as
#           not run. Used on a CPU machine to prove the bundle (inside `unshare -n` it has no network).
# Stages, in order, each under `timeout` with its budget in seconds (the total fits 8 minutes on one
# H200 with 16 cores; README "GPU check" has the measured costs; PGOLF_GPU_CHECK_BUDGET_SCALE
# multiplies them, default 10 for --cpu-dry-run):
#   deps (SentencePiece, GoogleTest from source) · configure · build (pgolf + the tests below, sm_90 only)
#   · golden on CUDA fp32 · golden on CUDA bf16 · fused_kernels_test · CUDA graphs vs eager
#   · 60 s PR #180 run eager · 60 s with CUDA_GRAPHS=1 FUSED_KERNELS=1 · bench · the reference (if bundled)
# Fails (exit 1) on any failed stage, on any CUDA test that skipped ("NOT RUN", "[  SKIPPED ]") and on
# any CUDA-graph fallback to eager in the graphed run.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BUNDLE=gpu_bundle
OUTDIR=${OUT:-$ROOT/gpu_check_out}
DRY=0
while (($#)); do
  case $1 in
    --bundle) BUNDLE=${2:?--bundle needs a folder}; shift 2 ;;
    --out) OUTDIR=${2:?--out needs a folder}; shift 2 ;;
    --cpu-dry-run) DRY=1; shift ;;
    -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
    *) echo "gpu_check: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
[[ -f $BUNDLE/MANIFEST.txt ]] || {
  echo "gpu_check: $BUNDLE is not a bundle (no MANIFEST.txt): run scripts/offline_bundle.sh first" >&2; exit 2; }
BUNDLE=$(cd "$BUNDLE" && pwd)
mkdir -p "$OUTDIR"; OUTDIR=$(cd "$OUTDIR" && pwd)
REPORT=$OUTDIR/gpu_check_report.txt
BUILD=${PGOLF_GPU_BUILD_DIR:-$ROOT/build-gpu}
DEPS=$BUILD/deps
JOBS=$(nproc)
PY=${PYTHON:-python3}
CONFIG=configs/pr180_10l_int5mlp_bigram_swa.json
DATA=$BUNDLE/data/smoke
TOKENIZER=$(find "$DATA" -name "*.model" 2>/dev/null | sort | head -1)
GOLDEN_RE='^golden_(model_forward|newton_schulz|eval_bpb|train_steps|frontier_model_forward|frontier_muon)_test$'
TEST_TARGETS=(golden_model_forward_test golden_newton_schulz_test golden_eval_bpb_test
  golden_train_steps_test golden_frontier_model_forward_test golden_frontier_muon_test
  fused_kernels_test train_loop_test)
# The reference and pgolf's timed runs share the same two cores, so that their ms per step compare;
# the build meanwhile uses the rest of the machine.
PIN=""; BUILD_PIN=""
if ((JOBS >= 6)); then PIN="taskset -c 0,1"; BUILD_PIN="taskset -c 2-$((JOBS - 1))"; fi
# Budgets are the GPU machine's (16 cores); a CPU dry run on a small box gets them scaled.
BUDGET_SCALE=${PGOLF_GPU_CHECK_BUDGET_SCALE:-$( ((DRY)) && echo 10 || echo 1)}
status=0
declare -a SUMMARY=()

note() { printf '%s\n' "$*" >>"$REPORT"; }
section() { printf '\n===== %s =====\n' "$*" >>"$REPORT"; }
# stage NAME BUDGET CMD...: runs CMD under timeout, logs to $OUTDIR/NAME.log, appends its tail and a
# summary row; returns the command's exit code (124 when it ran past its budget).
stage() {
  local name=$1 budget=$2; shift 2
  local log=$OUTDIR/$name.log t0=$SECONDS rc
  budget=$((budget * BUDGET_SCALE))
  timeout --kill-after=10 "$budget" "$@" >"$log" 2>&1; rc=$?
  local took=$((SECONDS - t0)) verdict=ok
  ((rc == 124)) && verdict="TIMEOUT (budget ${budget} s)"
  ((rc != 0 && rc != 124)) && verdict="FAIL (exit $rc)"
  note "[$name] $verdict after $took s (budget $budget s); log: $log"
  tail -n "${TAIL_LINES:-15}" "$log" >>"$REPORT"
  SUMMARY+=("$(printf '%-22s %6s s %6s s  %s' "$name" "$took" "$budget" "$verdict")")
  ((rc == 0)) || status=1
  return "$rc"
}
not_run() { SUMMARY+=("$(printf '%-22s %6s   %6s    %s' "$1" - - "not run: $2")"); note "[$1] not run: $2"; }
# fail_if LOG REGEX WHY: a match in the stage's log fails the check (skipped CUDA tests, graph fallback).
fail_if() {
  if grep -E -q "$2" "$OUTDIR/$1.log"; then
    note "FAIL: $1: $3:"; grep -E "$2" "$OUTDIR/$1.log" | sort -u | head -20 >>"$REPORT"
    SUMMARY+=("$(printf '%-22s %6s   %6s    %s' "$1" - - "FAIL: $3")"); status=1
  fi
}
# step_ms LOG: the last step_avg of a reference-format training log (pgolf and the record print the same).
step_ms() { grep -o 'step_avg:[0-9.]*' "$1" 2>/dev/null | tail -1 | cut -d: -f2; }

rm -rf "$OUTDIR/runs" "$OUTDIR/ref_run"  # a re-run starts fresh run folders (finished ones are refused)
: >"$REPORT"
section "machine"
note "date: $(date -u +%FT%TZ)  pgolf: $(git rev-parse --short=12 HEAD 2>/dev/null || echo '(no git)')  mode: $( ((DRY)) && echo cpu-dry-run || echo gpu)"
note "bundle: $BUNDLE ($(du -sh "$BUNDLE" | cut -f1)); cores: $JOBS; cmake: $(cmake --version | head -1)"
"$PY" -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, "available",
  torch.cuda.is_available(), "devices", torch.cuda.device_count())' >>"$REPORT" 2>&1 ||
  { note "FAIL: $PY has no torch"; exit 1; }
if ((!DRY)); then
  nvidia-smi --query-gpu=name,memory.total,driver_version,compute_cap --format=csv >>"$REPORT" 2>&1 ||
    { note "FAIL: nvidia-smi failed: no usable GPU (use --cpu-dry-run on a CPU machine)"; exit 1; }
fi
TORCH_PREFIX=$("$PY" -c 'import torch; print(torch.utils.cmake_prefix_path)')
TORCH_ROOT=$(cd "$TORCH_PREFIX/../.." && pwd -P)  # the torch package (lib/, include/, share/)
GEN=(-G Ninja); command -v ninja >/dev/null || GEN=()

section "deps: SentencePiece and GoogleTest from the bundle's sources"
if [[ -f $DEPS/.built_from ]] && sha256sum --status -c "$DEPS/.built_from" 2>/dev/null; then
  note "[deps] already built from this bundle in $DEPS"
else
  stage deps 300 $BUILD_PIN scripts/build_offline_deps.sh "$BUNDLE" "$DEPS" "$JOBS" ||
    { note "overall: FAIL (deps)"; exit 1; }
fi

# The reference's 60 s run goes on (pinned to two cores) while pgolf builds on the others.
REF=$BUNDLE/reference/train_gpt.py
ref_pid=""
if ((!DRY)) && [[ -f $REF ]]; then
  mkdir -p "$BUILD/pydeps" "$OUTDIR/ref_run"
  missing=$("$PY" -c 'import importlib.util as u; print(" ".join(m for m in ("numpy","sentencepiece") if u.find_spec(m) is None))')
  [[ -n $missing ]] && "$PY" -m pip install -q --no-index --find-links "$BUNDLE/wheels" --target "$BUILD/pydeps" $missing \
    >"$OUTDIR/ref_pip.log" 2>&1
  ( cd "$OUTDIR/ref_run" && PYTHONPATH="$BUILD/pydeps${PYTHONPATH:+:$PYTHONPATH}" DATA_PATH="$DATA" \
      TOKENIZER_PATH="$TOKENIZER" VOCAB_SIZE=1024 MAX_WALLCLOCK_SECONDS=60 TRAIN_BATCH_TOKENS=786432 \
      TRAIN_SEQ_LEN=2048 VAL_LOSS_EVERY=0 TRAIN_LOG_EVERY=10 WARMUP_STEPS=3 RUN_ID=gpu_check_ref \
      timeout --kill-after=10 200 $PIN "$PY" "$REF" >"$OUTDIR/reference.log" 2>&1 ) &
  ref_pid=$!
fi

section "configure and build (sm_90 only, against torch $("$PY" -c 'import torch; print(torch.__version__)'))"
cuda_opt=(-DPGOLF_CUDA=ON -DPGOLF_CUDA_ARCHITECTURES=90)
((DRY)) && cuda_opt=(-DPGOLF_CUDA=AUTO -DPGOLF_CUDA_ARCHITECTURES=90)
stage configure 120 cmake -S . -B "$BUILD" "${GEN[@]}" -DCMAKE_BUILD_TYPE=Release "${cuda_opt[@]}" \
  -DCMAKE_PREFIX_PATH="$TORCH_PREFIX;$BUNDLE/prefix;$DEPS" -DPGOLF_PYTHON="$(command -v "$PY")" \
  -DPGOLF_GOLDEN_CASES="$BUNDLE/golden" || { note "overall: FAIL"; exit 1; }
grep -h "pgolf:" "$OUTDIR/configure.log" >>"$REPORT"
if ((DRY)); then
  # Proof that the build used only the bundle, its built deps and torch: every library file and
  # header folder CMake found lies under one of them (system runtime libraries are not looked up).
  foreign=$(grep -E '^[A-Za-z0-9_]+_(LIBRARY|LIBRARY_RELEASE|INCLUDE_DIR|DIR):(FILEPATH|PATH)=/' \
      "$BUILD/CMakeCache.txt" | grep -v -E '^(CMAKE|CUDA|CUDAToolkit)_[A-Za-z0-9_]*:' |
    grep -v -E "=($BUNDLE|$DEPS|$TORCH_ROOT|$(dirname "$TORCH_ROOT")/nvidia|/usr/local/cuda|.*-NOTFOUND)" || true)
  if [[ -n $foreign ]]; then
    note "FAIL: the offline build found dependencies outside the bundle:"; note "$foreign"; status=1
  else
    note "[offline] every dependency CMake found is in the bundle, its built deps or torch"
  fi
fi
targets=(pgolf)
known=$(cmake --build "$BUILD" --target help 2>/dev/null)
for t in "${TEST_TARGETS[@]}"; do grep -q "^$t:\|^$t\b\|: $t$" <<<"$known" && targets+=("$t"); done
note "targets: ${targets[*]}"
TAIL_LINES=5 stage build 420 $BUILD_PIN cmake --build "$BUILD" -j"$JOBS" --target "${targets[@]}" ||
  { note "overall: FAIL (build)"; exit 1; }
PGOLF=$BUILD/pgolf
SKIPS='NOT RUN|\[  SKIPPED \]'
# The reference must be done with the GPU before pgolf's GPU stages start: wait for the end of its
# timed training (its wallclock-cap line) or its exit, then stop it (its export and final score
# time nothing compared here).
if [[ -n $ref_pid ]]; then
  for ((i = 0; i < 240 * BUDGET_SCALE; i++)); do
    grep -q 'stopping_early' "$OUTDIR/reference.log" 2>/dev/null && break
    kill -0 "$ref_pid" 2>/dev/null || break
    sleep 1
  done
  pkill -TERM -f "$REF" 2>/dev/null; wait "$ref_pid" 2>/dev/null
  note "[reference] done with the GPU after $SECONDS s of the check"
fi

if ((DRY)); then
  section "golden cases on CPU (fp32)"
  stage golden_cpu 300 ctest --test-dir "$BUILD" -R "$GOLDEN_RE" -j2 --output-on-failure
  not_run golden_cuda_fp32 "dry run, no GPU"; not_run golden_cuda_bf16 "dry run, no GPU"
  section "fused kernels and CUDA graphs: the CPU parts"
  stage fused_kernels_cpu 120 ctest --test-dir "$BUILD" -R '^fused_kernels_test(\.|$)' -V
  stage train_loop_cpu 300 ctest --test-dir "$BUILD" -R '^train_loop_test$' --output-on-failure
  section "short CPU training run and bench on the bundle's smoke data"
  stage train_cpu 240 env DATA_PATH="$DATA" TOKENIZER_PATH="$TOKENIZER" MAX_WALLCLOCK_SECONDS=30 \
    ITERATIONS=20 VAL_LOSS_EVERY=0 RUN_ID=dry_run OUT_DIR="$OUTDIR/runs" THREADS=2 \
    "$PGOLF" train --config configs/smoke_cpu.json
  grep -E "step:[0-9]+/|final_" "$OUTDIR/train_cpu.log" | tail -n 4 >>"$REPORT"
  stage bench_cpu 120 env THREADS=2 "$PGOLF" bench --config configs/smoke_cpu.json --steps 2 --warmup 1
  for s in train_eager train_graphs_fused bench_gpu reference; do not_run "$s" "dry run, no GPU"; done
else
  section "golden cases on CUDA"
  stage golden_cuda_fp32 150 env PGOLF_GOLDEN_DEVICE=cuda PGOLF_GOLDEN_DTYPE=fp32 \
    ctest --test-dir "$BUILD" -R "$GOLDEN_RE" -j4 -V
  fail_if golden_cuda_fp32 "$SKIPS" "a golden case skipped on the GPU"
  stage golden_cuda_bf16 150 env PGOLF_GOLDEN_DEVICE=cuda PGOLF_GOLDEN_DTYPE=bf16 \
    ctest --test-dir "$BUILD" -R "$GOLDEN_RE" -j4 -V
  fail_if golden_cuda_bf16 "$SKIPS" "a golden case skipped on the GPU"
  section "fused kernels vs their CPU references"
  stage fused_kernels 90 ctest --test-dir "$BUILD" -R '^fused_kernels_test(\.|$)' -V
  fail_if fused_kernels "$SKIPS" "a fused-kernel comparison skipped on the GPU"
  section "CUDA graphs vs eager training steps"
  stage cuda_graphs 120 "$BUILD/tests/train_loop_test" --gtest_filter='*CudaGraph*'
  fail_if cuda_graphs "$SKIPS" "the CUDA-graph comparison skipped on the GPU"
  # 786,432 tokens per step on one GPU = 8 micro-steps of 48 x 2048, each the per-GPU batch on 8xH100.
  run_env=(DATA_PATH="$DATA" TOKENIZER_PATH="$TOKENIZER" MAX_WALLCLOCK_SECONDS=60 TRAIN_BATCH_TOKENS=786432
    TRAIN_SEQ_LEN=2048 VAL_LOSS_EVERY=0 TRAIN_LOG_EVERY=10 WARMUP_STEPS=3 THREADS=2 OUT_DIR="$OUTDIR/runs")
  section "60 s PR #180 run, eager (1 GPU, 8 x 48 x 2048 tokens per step)"
  TAIL_LINES=8 stage train_eager 150 env "${run_env[@]}" RUN_ID=eager $PIN "$PGOLF" train --config "$CONFIG" --no-final
  section "60 s PR #180 run, CUDA_GRAPHS=1 FUSED_KERNELS=1"
  TAIL_LINES=8 stage train_graphs_fused 150 env "${run_env[@]}" RUN_ID=graphs_fused CUDA_GRAPHS=1 \
    FUSED_KERNELS=1 $PIN "$PGOLF" train --config "$CONFIG" --no-final
  fail_if train_graphs_fused "cuda_graphs: (off|clipping and optimiser step eager)" "CUDA graphs fell back to eager"
  section "bench (the per-GPU batch of an 8-GPU run: one micro-batch of 48 x 2048)"
  bench=(bench --config "$CONFIG" --micro-batches 1 --batch-seqs 48 --seq-len 2048 --steps 10 --warmup 3)
  TAIL_LINES=12 stage bench_gpu 90 env THREADS=2 $PIN "$PGOLF" "${bench[@]}"
  TAIL_LINES=12 stage bench_gpu_fused 90 env THREADS=2 FUSED_KERNELS=1 $PIN "$PGOLF" "${bench[@]}"
  section "side by side with the reference (same shards, batch, cores)"
  if [[ -n $ref_pid ]]; then
    note "[reference] log: $OUTDIR/reference.log"
    grep -E "step:[0-9]+/|stopping_early|Traceback|Error" "$OUTDIR/reference.log" | tail -n 6 >>"$REPORT"
    ref=$(step_ms "$OUTDIR/reference.log"); eager=$(step_ms "$OUTDIR/train_eager.log")
    fast=$(step_ms "$OUTDIR/train_graphs_fused.log")
    if [[ -n $ref && -n $eager && -n $fast ]]; then
      note "$(awk -v r="$ref" -v e="$eager" -v f="$fast" 'BEGIN { printf "ms/step: reference %.1f, pgolf eager %.1f (%.3f x), pgolf graphs+fused %.1f (%.3f x)", r, e, e / r, f, f / r }')"
      SUMMARY+=("$(printf '%-22s %6s   %6s    %s' reference - - "ms/step ref $ref, eager $eager, graphs+fused $fast")")
    else
      note "FAIL: no step_avg in the reference's or pgolf's log"; status=1
      SUMMARY+=("$(printf '%-22s %6s   %6s    %s' reference - - "FAIL: no step_avg to compare")")
    fi
  else
    not_run reference "the bundle has no reference/train_gpt.py (offline_bundle.sh --reference PATH)"
  fi
fi

section "summary (stage, seconds, budget, result)"
printf '%s\n' "${SUMMARY[@]}" >>"$REPORT"
note "total: $SECONDS s"
note "overall: $( ((status == 0)) && echo PASS || echo FAIL)"
echo "gpu_check: $( ((status == 0)) && echo PASS || echo FAIL); report: $REPORT"
exit $status
