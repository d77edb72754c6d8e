# Set-up shared by the full-disk export tests (fault_disk_full_test.sh: ulimit -f, EFBIG;
# fault_disk_full_tmpfs_test.sh: a too-small tmpfs, ENOSPC). Source after lib.sh and fault_lib.sh.

# disk_full_setup: a tiny trained checkpoint; EXPORT (the export arguments) and size (the bytes of
# its artifact, $OUT/good.ptz).
disk_full_setup() {
  fault_setup
  tiny_data "$OUT/data" 1 40000
  tiny_config "$OUT/tiny.json" "$OUT/data" 2
  "$PGOLF_BIN" train --config "$OUT/tiny.json" --out-dir "$OUT" --run-id run --no-final >"$OUT/train.out" 2>&1 || {
    cat "$OUT/train.out" >&2; fail "tiny training run failed"; }
  EXPORT=(export --config "$OUT/tiny.json" --checkpoint "$OUT/run/checkpoints/latest.pt")
  "$PGOLF_BIN" "${EXPORT[@]}" --out "$OUT/good.ptz" >/dev/null
  size=$(stat -c %s "$OUT/good.ptz")
  ((size > 20000)) || fail "artifact of $size bytes is too small for this test"
}

check_failed_export() {  # check_failed_export RC OUTPUT_FILE DIR CAUSE
  [[ $1 -eq 1 ]] || { cat "$2" >&2; fail "expected exit 1 on a full disk, got $1"; }
  grep -q "^error: $3/a.ptz: write failed after [0-9]* of [0-9]* bytes ($4); the previous file, if any, is untouched" "$2" || {
    cat "$2" >&2; fail "no clear message for the failed write ($4)"; }
  cmp -s "$OUT/old.ptz" "$3/a.ptz" || fail "the previous artifact was changed"
  ! compgen -G "$3/a.ptz.tmp.*" >/dev/null || fail "a temporary file was left behind"
}
