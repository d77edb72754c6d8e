#!/usr/bin/env bash
# Issue 17 items 8-16 through the real binary: bombs and expanded tensors refused with exit 2, a
# config that cannot fit memory refused at validation, look-alike env names warned about (an
# error with --strict-env), "did you mean" for commands and options, bare `pgolf` exits 2,
# invalid UTF-8 in `data encode` named (or replaced on request), log links refused, progress.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/fault_lib.sh"
fault_setup
FUZZ="$PGOLF_SOURCE_DIR/tests/fuzz/corpus"

# 8, 9: every bomb and expanded-tensor seed is an input error, never bad_alloc or an OOM kill.
for f in "$FUZZ"/artifact/regress_zstd_* "$FUZZ"/artifact/regress_zlib_* \
         "$FUZZ"/artifact/regress_stride0_expanded.ptz; do
  expect_exit 2 "$PGOLF_BIN" export --inspect "$f"
  grep -q "^error: " /tmp/pgolf_e2e_out.$$ || fail "no error line for $f"
done
expect_exit 2 "$PGOLF_BIN" export --checkpoint "$FUZZ/checkpoint/regress_stride0_expanded.pt" \
  --out "$OUT/x.ptz"
grep -q "expanded (stride-0)" /tmp/pgolf_e2e_out.$$ || fail "stride-0 checkpoint not named"

# 10: a model that cannot fit this host's memory is a configuration error with the estimate (the
# record's defaults at width 8192 need ~300 GB: 6e9 parameters and a 98,304-token micro-batch).
for dim in 8192 1000000; do
  expect_exit 2 "$PGOLF_BIN" train --model-dim "$dim" --out-dir "$OUT" --run-id "mem$dim"
  grep -q "the model needs at least .* per rank but this host" /tmp/pgolf_e2e_out.$$ \
    || fail "no memory estimate for MODEL_DIM=$dim"
done
expect_exit 2 "$PGOLF_BIN" config --dump --model-dim 0
grep -q "model_dim: expected >= 1, found 0" /tmp/pgolf_e2e_out.$$ || fail "MODEL_DIM=0 accepted"

# 11: look-alike env names: a warning naming the knob; an error with --strict-env or the env.
out=$(NUM_LAYER=4 "$PGOLF_BIN" config --dump 2>&1 >/dev/null)
echo "$out" | grep -q "NUM_LAYER is not a pgolf knob and is ignored; did you mean NUM_LAYERS?" \
  || fail "no warning for NUM_LAYER: $out"
expect_exit 2 env NUM_LAYER=4 "$PGOLF_BIN" config --dump --strict-env
expect_exit 2 env NUM_LAYER=4 PGOLF_STRICT_ENV=1 "$PGOLF_BIN" config --dump
out=$("$PGOLF_BIN" config --dump 2>&1 >/dev/null)
[[ -z "$out" ]] || fail "warnings for this environment: $out"

# 13: suggestions; bare pgolf prints usage and fails.
expect_exit 2 "$PGOLF_BIN" trian
grep -q "did you mean 'train'?" /tmp/pgolf_e2e_out.$$ || fail "no suggestion for trian"
expect_exit 2 "$PGOLF_BIN" train --iteration 5
grep -q "did you mean --iterations?" /tmp/pgolf_e2e_out.$$ || fail "no suggestion for --iteration"
expect_exit 2 "$PGOLF_BIN"
grep -q "Subcommands:" /tmp/pgolf_e2e_out.$$ || fail "bare pgolf printed no usage"

# 14: invalid UTF-8 in data encode.
tok="$PGOLF_SOURCE_DIR/data/smoke/tokenizer/smoke_sp1024.model"
printf 'first doc\n\nsecond \xff doc\n' > "$OUT/bad.txt"
expect_exit 2 "$PGOLF_BIN" data encode "$OUT/bad.txt" --tokenizer "$tok" -o "$OUT/enc" --num-val-docs 1
grep -q "bad.txt:3: invalid UTF-8 at byte 8 of the line (file offset 18" /tmp/pgolf_e2e_out.$$ \
  || fail "invalid UTF-8 not named"
expect_exit 0 "$PGOLF_BIN" data encode "$OUT/bad.txt" --tokenizer "$tok" -o "$OUT/enc" \
  --num-val-docs 1 --replace-invalid-utf8
grep -q "1 invalid UTF-8 sequence(s) in .*bad.txt replaced with U+FFFD" /tmp/pgolf_e2e_out.$$ \
  || fail "replacement not counted"

# 15, 16: a symlink planted at a run's log is refused; a normal run prints progress with eta.
tiny_data "$OUT/data" 1 20000
tiny_config "$OUT/tiny.json" "$OUT/data" 3
mkdir -p "$OUT/linked"
echo keep > "$OUT/victim"
ln -s "$OUT/victim" "$OUT/linked/train.log"
expect_exit 2 "$PGOLF_BIN" train --config "$OUT/tiny.json" --out-dir "$OUT" --run-id linked --no-final
grep -q "is a symbolic link" /tmp/pgolf_e2e_out.$$ || fail "log symlink followed"
[[ "$(cat "$OUT/victim")" == keep ]] || fail "the link target was written"
expect_exit 0 "$PGOLF_BIN" train --config "$OUT/tiny.json" --out-dir "$OUT" --run-id ok --no-final
grep -q "^progress: step 3/3, .* tokens/s, eta 0s" /tmp/pgolf_e2e_out.$$ || fail "no progress line"
pass
