#!/usr/bin/env bash
# Prepares the smoke dataset in data/smoke/: public-domain English text from Debian packages
# (King James Bible chapters, Bierce's Devil's Dictionary and Jargon File entries, one document
# each), shuffled with a fixed seed, an sp1024 tokenizer trained on it with the reference settings
# (pgolf data train-tokenizer) and reference-format shards (pgolf data encode).
# Idempotent: does nothing when the outputs exist. Builds in a staging folder, then renames.
#   PGOLF_BIN              pgolf binary (default ./build/pgolf)
#   PGOLF_SMOKE_DIR        output folder (default data/smoke)
#   PGOLF_SMOKE_VAL_DOCS   documents in the val split (default 250)
#   PGOLF_SMOKE_TOK_DOCS   documents used to train the tokenizer (default 1500)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
PGOLF_BIN=${PGOLF_BIN:-$ROOT/build/pgolf}
OUT=${PGOLF_SMOKE_DIR:-$ROOT/data/smoke}
VAL_DOCS=${PGOLF_SMOKE_VAL_DOCS:-250}
TOK_DOCS=${PGOLF_SMOKE_TOK_DOCS:-1500}
MODEL_REL=tokenizer/smoke_sp1024.model

say() { echo "[smoke-data] $*"; }
die() { echo "[smoke-data] ERROR: $*" >&2; exit 1; }

if [[ -f "$OUT/$MODEL_REL" && -f "$OUT/fineweb_val_000000.bin" && -f "$OUT/fineweb_train_000000.bin" ]]; then
  say "already prepared: $OUT (delete it to rebuild)"
  exit 0
fi
[[ -x "$PGOLF_BIN" ]] || die "pgolf binary not found at $PGOLF_BIN (build first, or set PGOLF_BIN)"

# --- sources: Debian packages (bible-kjv provides the reader for bible-kjv-text's data) --------
BIBLE_DATA=/usr/lib/bible.data
DEVIL=/usr/share/dictd/devil.dict.dz
JARGON=/usr/share/doc/jargon-text/jargon.txt.gz
need=()
command -v bible >/dev/null 2>&1 || need+=(bible-kjv)
[[ -f $BIBLE_DATA ]] || need+=(bible-kjv-text)
[[ -f $DEVIL ]] || need+=(dict-devil)
[[ -f $JARGON ]] || need+=(jargon-text)
if ((${#need[@]})); then
  SUDO=""
  if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null || die "missing Debian packages ${need[*]} and no sudo to install them"
    SUDO=sudo
  fi
  say "installing Debian packages: ${need[*]}"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null 2>&1 \
    || { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq \
         --no-install-recommends "${need[@]}" >/dev/null; } \
    || die "apt-get install failed for: ${need[*]}"
fi
command -v bible >/dev/null 2>&1 && [[ -f $BIBLE_DATA && -f $DEVIL && -f $JARGON ]] \
  || die "source texts still missing after installing packages (need $BIBLE_DATA, $DEVIL, $JARGON, bible)"

STAGE="$OUT.staging.$$"
trap 'rm -rf "$STAGE"' EXIT
mkdir -p "$STAGE/tokenizer"
start=$(date +%s)

# --- documents: each source becomes NUL-terminated records (no blank lines inside) -------------
# KJV: one document per chapter ("Genesis 1" heading + numbered verses, one per line).
bible -l 100000 'gen1:1-rev22:21' | awk '
  /^[^ ].* [0-9]+$/ { if (doc != "") printf "%s%c", doc, 0; doc = $0; next }
  /^ +[0-9]+ / { sub(/^ +/, ""); doc = doc "\n" $0 }
  END { if (doc != "") printf "%s%c", doc, 0 }' > "$STAGE/bible.rec"
# Devil'"'"'s Dictionary: one document per entry ("WORD, n.  definition ..." up to the next entry).
zcat "$DEVIL" | awk '
  /^ *abcdefghijklmnopqrstuvwxyz *$/ { next }
  /^[A-Z][A-Z'"'"' .-]*, [a-z]/ { if (doc != "") printf "%s%c", doc, 0; doc = $0; started = 1; next }
  started && /[^ ]/ { doc = doc "\n" $0 }
  END { if (doc != "") printf "%s%c", doc, 0 }' > "$STAGE/devil.rec"
# Jargon File lexicon: one document per ":entry:" up to the next entry or letter heading.
zcat "$JARGON" | awk '
  /^Appendix A\./ { lex_end = 1 }
  lex_end { next }
  /^   :[^:]+:/ || /^  [^ ]/ { if (doc != "") printf "%s%c", doc, 0; doc = ""; in_entry = 0 }
  /^   :[^:]+:/ { in_entry = 1 }
  in_entry && /[^ ]/ { line = $0; sub(/^ +/, "", line); doc = (doc == "" ? line : doc "\n" line) }
  END { if (doc != "") printf "%s%c", doc, 0 }' > "$STAGE/jargon.rec"

count() { tr -cd '\0' < "$1" | wc -c; }
say "documents: bible $(count "$STAGE/bible.rec"), devil $(count "$STAGE/devil.rec"), jargon $(count "$STAGE/jargon.rec")"
# Fixed-seed shuffle (like the reference's frozen shuffled export), then blank-line separators.
cat "$STAGE/bible.rec" "$STAGE/devil.rec" "$STAGE/jargon.rec" \
  | shuf -z --random-source=<(yes pgolf-smoke-data) \
  | perl -0 -ne 'chomp; print "\n\n" if $. > 1; print; END { print "\n" }' \
  > "$STAGE/docs.txt"
rm -f "$STAGE"/*.rec
say "corpus: $(wc -c < "$STAGE/docs.txt") bytes"

# --- tokenizer and shards ----------------------------------------------------------------------
"$PGOLF_BIN" data train-tokenizer "$STAGE/docs.txt" --output "$STAGE/tokenizer/smoke_sp1024" \
  --vocab-size 1024 --max-docs "$TOK_DOCS" || die "tokenizer training failed"
"$PGOLF_BIN" data encode "$STAGE/docs.txt" --tokenizer "$STAGE/$MODEL_REL" --output "$STAGE" \
  --num-val-docs "$VAL_DOCS" --shard-size 500000 || die "encoding failed"
rm -f "$STAGE/docs.txt"

rm -rf "$OUT"
mkdir -p "$(dirname "$OUT")"
mv "$STAGE" "$OUT"
trap - EXIT
say "done in $(( $(date +%s) - start )) s: $(du -sh "$OUT" | cut -f1) in $OUT"
ls -l "$OUT" "$OUT/tokenizer" | sed 's/^/[smoke-data]   /'
