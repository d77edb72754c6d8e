#!/usr/bin/env bash
# scripts/prepare_dev_data.sh on a small corpus: long documents are cut at line boundaries into
# pieces of at most PGOLF_DEV_CHUNK_CHARS (a longer single line stays whole), short ones are kept,
# val gets the first PGOLF_DEV_VAL_DOCS shuffled pieces, the output replaces an old folder, and
# bad settings are refused before anything is written.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
smoke_data_or_fail
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
TOK="$PGOLF_SOURCE_DIR/data/smoke/tokenizer/smoke_sp1024.model"
"$PY" - "$OUT/corpus.txt" <<'PYEOF'
import sys
long_doc = "\n".join(f"line {i} of the long document about whales and ships" for i in range(200))
giant_line = "x" * 3000
short = [f"short document number {i}." for i in range(5)]
open(sys.argv[1], "w").write("\n\n".join([long_doc, giant_line] + short) + "\n")
PYEOF
# 200 lines of 49-51 chars (+1 newline) in pieces of <= 1000 chars: 19 lines per piece -> 11
# pieces; the 3,000-char line is one piece; 5 short documents: 17 in all.
mkdir -p "$OUT/dev" && echo stale > "$OUT/dev/stale"
run_prep() {
  PGOLF_DEV_CORPUS="$OUT/corpus.txt" PGOLF_DEV_TOKENIZER="$TOK" PGOLF_DEV_DIR="$OUT/dev" \
    PGOLF_DEV_VAL_DOCS=3 "$@" bash "$PGOLF_SOURCE_DIR/scripts/prepare_dev_data.sh"
}
run_prep env PGOLF_DEV_CHUNK_CHARS=1000 >"$OUT/log" 2>&1 || { cat "$OUT/log" >&2; fail "prepare_dev_data.sh failed"; }
grep -q "7 documents -> 17 pieces" "$OUT/log" || { cat "$OUT/log" >&2; fail "expected 7 documents -> 17 pieces"; }
grep -q "val 3, train 14" "$OUT/log" || { cat "$OUT/log" >&2; fail "expected 3 val and 14 train pieces"; }
[[ -s "$OUT/dev/fineweb_val_000000.bin" && -s "$OUT/dev/fineweb_train_000000.bin" ]] || fail "shards missing"
[[ ! -e "$OUT/dev/stale" ]] || fail "the old output folder was not replaced"
ls "$OUT" | grep -q '\.tmp\.' && fail "staging folder left behind"
run_prep env PGOLF_DEV_CHUNK_CHARS=0 >"$OUT/log" 2>&1 || { cat "$OUT/log" >&2; fail "chunk 0 failed"; }
grep -q "7 documents -> 7 pieces" "$OUT/log" || { cat "$OUT/log" >&2; fail "chunk 0 must keep documents whole"; }
set +e; run_prep env PGOLF_DEV_CHUNK_CHARS=abc >"$OUT/log" 2>&1; got=$?; set -e
[[ $got -ne 0 ]] && grep -q "PGOLF_DEV_CHUNK_CHARS: expected a number of characters, found 'abc'" "$OUT/log" \
  || { cat "$OUT/log" >&2; fail "a bad chunk size must be refused with a clear message"; }
[[ -s "$OUT/dev/fineweb_val_000000.bin" ]] || fail "a refused run must leave the previous output alone"
pass
