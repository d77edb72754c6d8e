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
