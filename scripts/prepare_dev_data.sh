#!/usr/bin/env bash
# Prepares the dev dataset in data/dev/ from the shared dev corpus (/work/shared/data, 29 MB of
# public-domain and free English in 11 sources, see its MANIFEST.tsv) for scaled-down runs such
# as the record curves (records/*/README.md "Curve on the dev corpus").
#
# FineWeb documents are web pages of a few KB, so any training batch mixes many of them. The dev
# corpus is not like that: a fifth of its text is in documents over 50 KB (a fortunes file, Python
# and Perl manuals, one whole book), and a scaled-down batch of 8,192 tokens sits inside one such
# document for several steps in a row; the model then drifts towards its style and the val bpb
# rises until the stream moves on. So documents are cut at line boundaries into pieces of at most
# PGOLF_DEV_CHUNK_CHARS characters (a line longer than that stays whole), the pieces are shuffled
# with a fixed seed, the first PGOLF_DEV_VAL_DOCS pieces form val and the rest train.
#   PGOLF_BIN              pgolf binary (default ./build/pgolf)
#   PGOLF_DEV_CORPUS       the corpus (default /work/shared/data/dev_corpus.txt.zst; .zst or text,
#                          documents separated by blank lines)
#   PGOLF_DEV_TOKENIZER    SentencePiece model (default dev_sp1024.model beside the corpus)
#   PGOLF_DEV_DIR          output folder (default data/dev; replaced atomically)
#   PGOLF_DEV_CHUNK_CHARS  piece size (default 4000, about 1,000 tokens; 0 keeps documents whole)
#   PGOLF_DEV_VAL_DOCS     pieces in val (default 250, about 100,000 tokens)
#   PGOLF_DEV_SEED         shuffle seed (default 1234)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
PGOLF_BIN=${PGOLF_BIN:-$ROOT/build/pgolf}
CORPUS=${PGOLF_DEV_CORPUS:-/work/shared/data/dev_corpus.txt.zst}
TOKENIZER=${PGOLF_DEV_TOKENIZER:-$(dirname "$CORPUS")/dev_sp1024.model}
OUT=${PGOLF_DEV_DIR:-$ROOT/data/dev}
CHUNK=${PGOLF_DEV_CHUNK_CHARS:-4000}
VAL_DOCS=${PGOLF_DEV_VAL_DOCS:-250}
SEED=${PGOLF_DEV_SEED:-1234}
PY=${PGOLF_PYTHON:-python3}

die() { echo "[dev-data] ERROR: $*" >&2; exit 1; }
[[ -x "$PGOLF_BIN" ]] || die "pgolf binary not found at $PGOLF_BIN (build first, or set PGOLF_BIN)"
[[ -f "$CORPUS" ]] || die "corpus not found: $CORPUS (set PGOLF_DEV_CORPUS)"
[[ -f "$TOKENIZER" ]] || die "tokenizer not found: $TOKENIZER (set PGOLF_DEV_TOKENIZER)"
[[ $CHUNK =~ ^[0-9]+$ ]] || die "PGOLF_DEV_CHUNK_CHARS: expected a number of characters, found '$CHUNK'"

STAGE=$(mktemp -d "${OUT%/}.tmp.XXXXXX")
trap 'rm -rf "$STAGE"' EXIT
case $CORPUS in *.zst) read_corpus=(zstd -dc "$CORPUS") ;; *) read_corpus=(cat "$CORPUS") ;; esac
"${read_corpus[@]}" | "$PY" -c '
import random, sys
chunk, seed = int(sys.argv[1]), int(sys.argv[2])
docs = [d.strip("\n") for d in sys.stdin.read().split("\n\n") if d.strip()]
pieces = []
for d in docs:
    if chunk == 0 or len(d) <= chunk:
        pieces.append(d)
        continue
    cur, n = [], 0
    for line in d.split("\n"):
        if cur and n + len(line) + 1 > chunk:
            pieces.append("\n".join(cur))
            cur, n = [], 0
        cur.append(line)
        n += len(line) + 1
    if cur:
        pieces.append("\n".join(cur))
pieces = [p for p in pieces if p.strip()]
random.Random(seed).shuffle(pieces)
sys.stdout.write("\n\n".join(pieces) + "\n")
print(f"[dev-data] {len(docs)} documents -> {len(pieces)} pieces", file=sys.stderr)
' "$CHUNK" "$SEED" > "$STAGE/dev.txt"
"$PGOLF_BIN" data encode "$STAGE/dev.txt" -o "$STAGE/shards" --tokenizer "$TOKENIZER" \
  --num-val-docs "$VAL_DOCS"
rm -rf "$OUT.old"
[[ -e "$OUT" ]] && mv "$OUT" "$OUT.old"
mv "$STAGE/shards" "$OUT"
rm -rf "$OUT.old"
echo "[dev-data] wrote $OUT"
