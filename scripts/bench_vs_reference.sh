#!/usr/bin/env bash
# CPU speed of pgolf against a reference train_gpt.py (PR #180's; the user points this at it, it is
# never part of pgolf), at the same model, shape and threads, in alternating runs:
#   scripts/bench_vs_reference.sh REF_TRAIN_GPT.py [--config C.json ...]
# 1. Training step: `pgolf bench --json` (its whole-step time without phase syncs: zero_grad,
#    forward, backward, the optimiser set) against the reference's model step built as its main()
#    builds it (bf16 embedding tables, CastedLinear, its AdamW(fused=True) x2 + Muon) and timed the
#    same way (scripts/reference_cpu.py bench), BENCH_PAIRS (5) pairs of BENCH_STEPS (10) steps
#    after one warm-up step, BENCH_BATCH_SEQS (8) x BENCH_SEQ_LEN (128) tokens.
# 2. Sliding-window evaluation of the same weights (the reference's initial model, saved by it
#    with torch.save and read by `pgolf eval`) over the first BENCH_VAL_TOKENS (16384) validation
#    tokens, at the config's TRAIN_SEQ_LEN, EVAL_STRIDE, EVAL_BATCH_SEQS; BENCH_EVAL_PAIRS (3) pairs
#    (0 skips it).
# Prints each pair and the median ratio pgolf/reference (< 1: pgolf faster), of wall time and of
# CPU time (process time; other jobs on a shared box move it less than wall time). DTYPE (bf16) is
# pgolf's policy; THREADS (1) both sides' threads. Default config: configs/smoke_cpu.json with
# data/dev (scripts/prepare_dev_data.sh). Needs Python torch, numpy, sentencepiece, zstandard.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
[[ $# -ge 1 && -f $1 ]] || { echo "usage: $0 REF_TRAIN_GPT.py [--config C.json ...]" >&2; exit 2; }
REF=$(realpath "$1"); shift
CONFIGS=("$@")
[[ ${#CONFIGS[@]} -gt 0 ]] || CONFIGS=(--config configs/smoke_cpu.json)
PGOLF_BIN=${PGOLF_BIN:-$ROOT/build/pgolf}
PY=${PGOLF_PYTHON:-python3}
export THREADS=${THREADS:-1} DTYPE=${DTYPE:-bf16}
export OMP_NUM_THREADS=$THREADS
PAIRS=${BENCH_PAIRS:-5} STEPS=${BENCH_STEPS:-10} B=${BENCH_BATCH_SEQS:-8} T=${BENCH_SEQ_LEN:-128}
EVAL_PAIRS=${BENCH_EVAL_PAIRS:-3} VAL_TOKENS=${BENCH_VAL_TOKENS:-16384}
DATA=${BENCH_DATA:-$ROOT/data/dev}
export DATA_PATH=${DATA_PATH:-$DATA} TOKENIZER_PATH=${TOKENIZER_PATH:-/work/shared/data/dev_sp1024.model}
ls "$DATA_PATH"/fineweb_val_*.bin > /dev/null 2>&1 || PGOLF_DEV_DIR=$DATA_PATH scripts/prepare_dev_data.sh
WORK=$(mktemp -d /tmp/pgolf_bench_ref.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
unset RANK WORLD_SIZE LOCAL_RANK

# The reference reads its knobs from the environment: export the resolved pgolf config's.
eval "$("$PGOLF_BIN" config --dump "${CONFIGS[@]}" | "$PY" -c '
import json, sys
d = json.load(sys.stdin)
flat = {k: v for s, sec in d.items() if isinstance(sec, dict) and not s.startswith("_")
        for k, v in sec.items()}
for k in ("num_layers", "model_dim", "num_heads", "num_kv_heads", "mlp_mult", "vocab_size",
          "bigram_vocab_size", "bigram_dim", "train_seq_len", "eval_stride", "eval_batch_seqs",
          "seed", "tie_embeddings", "logit_softcap", "rope_base", "qk_gain_init"):
    v = flat[k]
    v = int(v) if isinstance(v, bool) else v
    print(f"export {k.upper()}={v}")
')"

median() { "$PY" -c 'import statistics, sys; print(statistics.median(float(x) for x in sys.argv[1:]))' "$@"; }
field() { "$PY" -c "import json, sys; d = json.loads(sys.stdin.read().strip().splitlines()[-1]); print($1)"; }

echo "[bench] ${B}x${T} tokens, $STEPS steps per run, $PAIRS pairs, threads $THREADS, pgolf dtype $DTYPE"
ratios=() cpu_ratios=()
for i in $(seq "$PAIRS"); do
  read -r pg pgc < <("$PGOLF_BIN" bench "${CONFIGS[@]}" --json --batch-seqs "$B" --micro-batches 1 --seq-len "$T" \
       --steps "$STEPS" --warmup 1 --probe-size 256 |
       "$PY" -c 'import json,sys; t=json.load(sys.stdin)["train_step"]; print(t["step_seconds"], t["step_cpu_seconds"])')
  read -r rf rfc < <("$PY" scripts/reference_cpu.py bench "$REF" --batch-seqs "$B" --seq-len "$T" --steps "$STEPS" \
       --warmup 1 2>/dev/null | field 'd["step_seconds"], d["step_cpu_seconds"]' | tr -d '(),')
  r=$("$PY" -c "print($pg / $rf)") rc=$("$PY" -c "print($pgc / $rfc)")
  ratios+=("$r") cpu_ratios+=("$rc")
  printf '[bench] step pair %d: pgolf %.2f ms (CPU %.2f), reference %.2f ms (CPU %.2f), ratio %.3f (CPU %.3f)\n' \
    "$i" "$("$PY" -c "print(1000 * $pg)")" "$("$PY" -c "print(1000 * $pgc)")" "$("$PY" -c "print(1000 * $rf)")" \
    "$("$PY" -c "print(1000 * $rfc)")" "$r" "$rc"
done
echo "[bench] training step median ratio pgolf/reference: $(median "${ratios[@]}") (CPU time: $(median "${cpu_ratios[@]}"))"

# Sliding window: a val shard of VAL_TOKENS tokens, the reference's initial weights.
[[ $EVAL_PAIRS -gt 0 ]] || exit 0
mkdir -p "$WORK/data"
"$PY" - "$DATA_PATH/fineweb_val_000000.bin" "$WORK/data/fineweb_val_000000.bin" "$VAL_TOKENS" <<'EOF'
import struct, sys
src, dst, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
body = open(src, "rb").read()[1024:1024 + 2 * (n + 1)]
open(dst, "wb").write(struct.pack("<3i", 20240520, 1, len(body) // 2) + bytes(1012) + body)
EOF
export DATA_PATH=$WORK/data
ratios=()
for i in $(seq "$EVAL_PAIRS"); do
  rf=$("$PY" scripts/reference_cpu.py sliding "$REF" --save-weights "$WORK/init.pt" 2>/dev/null |
       field 'd["seconds"]')
  "$PGOLF_BIN" eval "$WORK/init.pt" "${CONFIGS[@]}" --method sliding \
    --out "$WORK/eval.json" > "$WORK/eval.out" 2>&1 || { cat "$WORK/eval.out" >&2; exit 1; }
  pg=$("$PY" -c "import json; print(json.load(open('$WORK/eval.json'))['results'][0]['seconds'])")
  r=$("$PY" -c "print($pg / $rf)")
  ratios+=("$r")
  printf '[bench] sliding pair %d: pgolf %.2f s, reference %.2f s, ratio %.3f\n' "$i" "$pg" "$rf" "$r"
done
echo "[bench] sliding-window eval median ratio pgolf/reference: $(median "${ratios[@]}")"
