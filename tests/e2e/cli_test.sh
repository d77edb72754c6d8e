#!/usr/bin/env bash
# CLI contract: --help, --version, exit codes for bad configuration, config dump with sources.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

"$PGOLF_BIN" --help | grep -q "train" || fail "--help does not list train"
for sub in train eval export data config info bench launch; do
  "$PGOLF_BIN" --help | grep -qw "$sub" || fail "--help does not list $sub"
done
"$PGOLF_BIN" --version | grep -q "LibTorch" || fail "--version lacks the LibTorch version"
"$PGOLF_BIN" --version | grep -q "CUDA" || fail "--version lacks CUDA availability"

expect_exit 2 env NUM_LAYERS=nine "$PGOLF_BIN" config --dump
out=$(NUM_LAYERS=nine "$PGOLF_BIN" config --dump --num-heads 7 2>&1 || true)
echo "$out" | grep -q "NUM_LAYERS='nine'" || fail "malformed env not reported: $out"
echo "$out" | grep -q "not divisible by num_heads 7" || fail "inconsistency not reported with parse errors: $out"

dump=$(NUM_LAYERS=11 "$PGOLF_BIN" config --dump --config "$PGOLF_SOURCE_DIR/configs/smoke_cpu.json" --seed 5)
"$PY" - "$dump" <<'PYEOF'
import json, sys
d = json.loads(sys.argv[1])
assert d["model"]["num_layers"] == 11, d["model"]
assert d["_sources"]["num_layers"] == "env NUM_LAYERS"
assert d["train"]["seed"] == 5 and d["_sources"]["seed"] == "flag --seed"
assert d["_sources"]["model_dim"].startswith("file "), d["_sources"]["model_dim"]
assert d["_sources"]["rope_base"] == "default"
PYEOF
pass
