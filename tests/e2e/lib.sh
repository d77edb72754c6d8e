# Shared helpers for e2e scripts.
PY=${PGOLF_PYTHON:-python3}
[[ -x "$PY" ]] || PY=python3
fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "PASS: $(basename "$0")"; }
expect_exit() {  # expect_exit CODE cmd...
  local want=$1; shift
  set +e; "$@" >/tmp/pgolf_e2e_out.$$ 2>&1; local got=$?; set -e
  [[ $got -eq $want ]] || { cat /tmp/pgolf_e2e_out.$$ >&2; fail "expected exit $want, got $got: $*"; }
}
smoke_data_or_fail() {
  local d="$PGOLF_SOURCE_DIR/data/smoke"
  ls "$d"/fineweb_train_*.bin >/dev/null 2>&1 || fail "smoke dataset missing in $d: run scripts/setup.sh"
}
# head_val_shard SRC DST N: a shard of SRC's first N tokens (same header, token count N), so that a
# test scores a fraction of the validation tokens.
head_val_shard() {
  "${PY:-python3}" - "$1" "$2" "$3" <<'PYEOF'
import struct, sys
src, dst, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
with open(src, "rb") as f:
    hdr = list(struct.unpack("<256i", f.read(1024)))
    assert hdr[0] == 20240520 and hdr[1] == 1, hdr[:3]
    hdr[2] = min(n, hdr[2])
    toks = f.read(2 * hdr[2])
with open(dst, "wb") as f:
    f.write(struct.pack("<256i", *hdr) + toks)
PYEOF
}
