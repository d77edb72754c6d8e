#!/usr/bin/env bash
# Regenerates the generated seeds of tests/fuzz/corpus/ with pgolf's own writers (gen_corpus.cpp)
# and the two tiny SentencePiece models the tokenizer seeds use. Regression seeds (files named
# regress_*) and files written by Python's torch.save (python_*, e.g. an OrderedDict state dict
# with _metadata, made once with torch 2.15) are kept.
# Usage: tests/fuzz/make_corpus.sh (PGOLF_BUILD_DIR, default build; set
# PGOLF_SKIP_BUILD=1 when fuzz_gen_corpus is already built there).
set -euo pipefail
cd "$(dirname "$0")"
HERE=$(pwd)
BUILD=${PGOLF_BUILD_DIR:-$HERE/../../build}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
printf '%s\n' "the quick brown fox jumps over the lazy dog" "hello world 123" \
  "parameter golf tiny model" "the cat sat on the mat" > "$TMP/text.txt"
for type in bpe unigram; do
  name=tiny_sp; [[ $type == unigram ]] && name=tiny_sp_unigram
  spm_train --input="$TMP/text.txt" --model_prefix="$TMP/$name" --vocab_size=48 \
    --model_type=$type --hard_vocab_limit=false --normalization_rule_name=identity --character_coverage=1.0 \
    --num_threads=1 --minloglevel=2 >/dev/null 2>&1
  cp "$TMP/$name.model" "$HERE/$name.model"
done
[[ -n "${PGOLF_SKIP_BUILD:-}" ]] || cmake --build "$BUILD" --target fuzz_gen_corpus
mkdir -p corpus
find corpus -type f ! -name 'regress_*' ! -name 'python_*' -delete
"$BUILD/tests/fuzz/fuzz_gen_corpus" "$HERE/corpus"
du -sh corpus/*
