#!/usr/bin/env bash
# Trains the same scaled-down run with a reference train_gpt.py (PR #180's: the records' own script,
# which the user points this at; it is never part of pgolf) on the CPU and with pgolf, then compares
# the artifacts (compressed model bytes, per-tensor zstd-22 sizes) and the round-trip val_bpb.
#   scripts/compare_reference.sh REF_TRAIN_GPT.py [reference|fp32]
# The run: the PR #180 architecture at 4x128 (KV 2, BigramHash 2048x32), PGOLF_COMPARE_STEPS (200)
# steps of 8,192 tokens at seq 128, warm-down 60, SWA every 10 steps (3 snapshots), the reference's
# export (3 % pruning, int5 MLP / int6 attention and bigram, fp16 tok_emb, zstd-22) and its
# sliding-window score (stride 64), on data/dev (scripts/prepare_dev_data.sh; made if absent).
# "reference" (default) runs the script as written next to pgolf DTYPE=reference (bf16 embedding
# tables); "fp32" drops its `.bfloat16()` next to DTYPE=fp32. THREADS (1) threads per side.
# PGOLF_COMPARE_OUT keeps the two run folders (default: a new /tmp folder); PGOLF_COMPARE_REUSE=1
# compares the runs already there. Needs Python torch,
# numpy, sentencepiece and zstandard (the reference imports them). Exit 1 when a bound fails:
# model bytes within 0.5 % (both payloads compressed by python-zstandard; each side's own artifact
# bytes are printed too), round-trip val_bpb within 0.1 %.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
[[ $# -ge 1 && -f $1 ]] || { echo "usage: $0 REF_TRAIN_GPT.py [reference|fp32]" >&2; exit 2; }
REF=$(realpath "$1")
MODE=${2:-reference}
[[ $MODE == reference || $MODE == fp32 ]] || { echo "mode: expected reference | fp32, found '$MODE'" >&2; exit 2; }
PGOLF_BIN=${PGOLF_BIN:-$ROOT/build/pgolf}
PY=${PGOLF_PYTHON:-python3}
DATA=${PGOLF_COMPARE_DATA:-$ROOT/data/dev}
OUT=${PGOLF_COMPARE_OUT:-$(mktemp -d /tmp/pgolf_compare.XXXXXX)}
mkdir -p "$OUT/reference" "$OUT/pgolf"
ls "$DATA"/fineweb_val_*.bin > /dev/null 2>&1 || PGOLF_DEV_DIR=$DATA scripts/prepare_dev_data.sh

export DATA_PATH=$DATA TOKENIZER_PATH=${PGOLF_COMPARE_TOKENIZER:-/work/shared/data/dev_sp1024.model}
export NUM_LAYERS=4 MODEL_DIM=128 NUM_HEADS=4 NUM_KV_HEADS=2 BIGRAM_VOCAB_SIZE=2048 BIGRAM_DIM=32
export ITERATIONS=${PGOLF_COMPARE_STEPS:-200} WARMDOWN_ITERS=60 WARMUP_STEPS=2
export TRAIN_BATCH_TOKENS=8192 TRAIN_SEQ_LEN=128 MAX_WALLCLOCK_SECONDS=0 VAL_LOSS_EVERY=100
export TRAIN_LOG_EVERY=50 VAL_BATCH_SIZE=65536 SWA_EVERY=10 MUON_MOMENTUM_WARMUP_STEPS=100
export EVAL_STRIDE=64 EVAL_BATCH_SEQS=32 SEED=${SEED:-1337} THREADS=${THREADS:-1}
export OMP_NUM_THREADS=$THREADS RUN_ID=compare
unset RANK WORLD_SIZE LOCAL_RANK

fp32_flag=()
[[ $MODE == fp32 ]] && fp32_flag=(--fp32)
t0=$SECONDS
if [[ -z ${PGOLF_COMPARE_REUSE:-} ]]; then  # PGOLF_COMPARE_REUSE=1: compare the runs in $OUT again
  (cd "$OUT/reference" && "$PY" "$ROOT/scripts/reference_cpu.py" train "$REF" "${fp32_flag[@]}" \
     > train.log 2>&1) || { tail -20 "$OUT/reference/train.log"; echo "reference run failed" >&2; exit 1; }
  t1=$SECONDS
  rm -rf "$OUT/pgolf/compare"
  DTYPE=$MODE OUT_DIR=$OUT/pgolf "$PGOLF_BIN" train > "$OUT/pgolf/train.stdout" 2>&1 ||
    { tail -20 "$OUT/pgolf/train.stdout"; echo "pgolf run failed" >&2; exit 1; }
  echo "[compare] reference $((t1 - t0)) s, pgolf $((SECONDS - t1)) s; runs in $OUT"
fi

"$PY" - "$OUT/reference" "$OUT/pgolf/compare" "$OUT/reference/train.log" "$OUT/pgolf/train.stdout" <<'EOF'
import io, re, sys
import torch, zstandard
ref_dir, pg_dir, ref_log, pg_log = sys.argv[1:5]

def figures(path):
    text = open(path, encoding="utf-8", errors="replace").read()
    size = re.findall(r"Serialized model int6\+zstd: (\d+) bytes", text)
    score = re.findall(r"final_int8_zlib_roundtrip_exact val_loss:([\d.]+) val_bpb:([\d.]+)", text)
    losses = re.findall(r"step:(\d+)/\d+ train_loss:([\d.]+)", text)
    if not size or not score:
        sys.exit(f"{path}: no 'Serialized model int6+zstd' or 'final_int8_zlib_roundtrip_exact' line")
    return int(size[-1]), float(score[-1][1]), dict(losses)

def tensor_sizes(path):
    """zstd-22 bytes of each stored tensor, and of the whole payload, by python-zstandard."""
    raw = zstandard.ZstdDecompressor().decompress(open(path, "rb").read(), max_output_size=1 << 31)
    w = torch.load(io.BytesIO(raw), map_location="cpu")["w"]
    z = zstandard.ZstdCompressor(level=22)
    sizes = {k: len(z.compress(v.contiguous().reshape(-1).view(torch.uint8).numpy().tobytes()))
             for k, v in w.items()}
    cat = b"".join(v.contiguous().reshape(-1).view(torch.uint8).numpy().tobytes() for v in w.values())
    return sizes, len(z.compress(raw)), len(z.compress(cat))

rb, rbpb, rl = figures(ref_log)
pb, pbpb, pl = figures(pg_log)
(rs, rsame, rcat), (ps, psame, pcat) = (tensor_sizes(f"{d}/final_model.int8.ptz") for d in (ref_dir, pg_dir))
print(f"{'tensor':34s} {'reference':>10s} {'pgolf':>10s} {'diff':>8s}")
for k in rs:
    if k in ps:
        print(f"{k:34s} {rs[k]:10d} {ps[k]:10d} {100 * (ps[k] - rs[k]) / max(rs[k], 1):+7.2f}%")
print("train_loss " + " ".join(f"{s}:{rl[s]}/{pl.get(s, '?')}" for s in sorted(rl, key=int)))
db, dsame, dbpb = (100 * (b - a) / a for a, b in ((rb, pb), (rsame, psame), (rbpb, pbpb)))
# Each side's artifact is compressed by its own libzstd (pgolf: the system's; the reference:
# python-zstandard's bundled one), and the versions differ in their output; the payloads are
# also compressed by the same python-zstandard, which is the like-for-like figure the bound uses.
print(f"model bytes, own compressors: reference {rb}, pgolf {pb} ({db:+.3f} %)")
print(f"model bytes, both payloads by python-zstandard {zstandard.ZSTD_VERSION} level 22: "
      f"reference {rsame}, pgolf {psame} ({dsame:+.3f} %)")
print(f"stored tensors alone, concatenated, same compressor: reference {rcat}, pgolf {pcat} "
      f"({100 * (pcat - rcat) / rcat:+.3f} %; the rest is the archive layout)")
print(f"round-trip val_bpb: reference {rbpb:.8f}, pgolf {pbpb:.8f} ({dbpb:+.4f} %)")
ok = abs(dsame) <= 0.5 and abs(dbpb) <= 0.1
print("PASS" if ok else "FAIL", "(bounds: same-compressor bytes 0.5 %, bpb 0.1 %)")
sys.exit(0 if ok else 1)
EOF
