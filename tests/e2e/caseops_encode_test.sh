#!/usr/bin/env bash
# `pgolf data train-tokenizer --caseops` and `pgolf data encode --caseops` on the in-repo sample:
# the operators are user-defined pieces 4..7, every document round-trips through the transform,
# the val split gets one fineweb_val_bytes_* sidecar per shard, 0 at BOS, summing to the val
# documents' UTF-8 bytes, and a tokenizer without the operators is refused (exit 2).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
SAMPLE="$PGOLF_SOURCE_DIR/tests/data/caseops_sample.txt"
"$PGOLF_BIN" data train-tokenizer "$SAMPLE" --caseops --vocab-size 400 --threads 1 -o "$OUT/tok" \
  >"$OUT/t.out" 2>&1 || { cat "$OUT/t.out"; fail "train-tokenizer --caseops failed"; }
"$PGOLF_BIN" data encode "$SAMPLE" --caseops --tokenizer "$OUT/tok.model" -o "$OUT/ds" \
  --num-val-docs 30 --shard-size 3000 --threads 1 >"$OUT/e.out" 2>&1 || { cat "$OUT/e.out"; fail "encode --caseops failed"; }
grep -q "caseops: 48 documents transformed, each decodes back to its exact bytes" "$OUT/e.out" \
  || { cat "$OUT/e.out"; fail "no round-trip line"; }
"$PY" - "$SAMPLE" "$OUT/ds" "$OUT/e.out" <<'PYEOF'
import glob, struct, sys
sample, ds, log = sys.argv[1:4]
docs, cur = [], []
for line in open(sample, encoding="utf-8").read().split("\n"):
    if line.strip() == "":
        if cur: docs.append("\n".join(cur)); cur = []
    else:
        cur.append(line)
if cur: docs.append("\n".join(cur))
want = sum(len(d.encode("utf-8")) for d in docs[:30])
def read(p):
    b = open(p, "rb").read()
    magic, ver, n = struct.unpack("<3i", b[:12])
    assert magic == 20240520 and ver == 1 and len(b) == 1024 + 2 * n, p
    return list(struct.unpack(f"<{n}H", b[1024:]))
vals = sorted(glob.glob(f"{ds}/fineweb_val_[0-9]*.bin"))
sides = sorted(glob.glob(f"{ds}/fineweb_val_bytes_*.bin"))
assert len(vals) >= 2 and len(sides) == len(vals), (vals, sides)
assert not glob.glob(f"{ds}/fineweb_train_bytes_*"), "train split got a sidecar"
toks, byts = [], []
for v, s in zip(vals, sides):
    t, b = read(v), read(s)
    assert len(t) == len(b), (v, s)
    toks += t; byts += b
assert sum(byts) == want, f"sidecar sums to {sum(byts)}, the val documents hold {want} bytes"
assert all(b == 0 for t, b in zip(toks, byts) if t == 1), "BOS with bytes"
assert all(b == 0 for t, b in zip(toks, byts) if 4 <= t <= 7), "operator with bytes"
assert toks.count(1) == 30, toks.count(1)
assert f"val text {want} bytes, sidecar sum {want} bytes" in open(log).read()
PYEOF
# The sp1024 dev tokenizer has no operator pieces: --caseops refuses it.
expect_exit 2 "$PGOLF_BIN" data encode "$SAMPLE" --caseops --tokenizer "$PGOLF_SOURCE_DIR/tests/data/dev_sp1024.model" -o "$OUT/ds2"
grep -q "no piece for the CaseOps operator U+E001" /tmp/pgolf_e2e_out.$$ || fail "no operator message"
pass
