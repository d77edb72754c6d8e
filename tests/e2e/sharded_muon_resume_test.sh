#!/usr/bin/env bash
# Sharded Muon (MUON_SHARDED=1, issue 19) on 2 Gloo ranks with the record's Muon form on the banked
# GPT: a run killed after a checkpoint and resumed gives the uninterrupted run's losses and, at the
# end, its weights and optimiser state bit for bit, on both ranks (each rank's checkpoint holds its
# own momentum shards of the banks). Sharded vs unsharded training is checked in dist_test.sh.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
smoke_data_or_fail
cd "$PGOLF_SOURCE_DIR"
OUT=$(mktemp -d)
pid=
trap '[[ -n $pid ]] && kill -KILL -- -"$pid" 2>/dev/null; rm -rf "$OUT"' EXIT
export MUON_SHARDED=1 PARAM_BANKS=1 MUON_FORM=banked MUON_NS_COEFFS=polar_express \
  MUON_ROW_NORMALIZE=1 BIGRAM_VOCAB_SIZE=0 SMEAR_GATE=0 ACTIVATION=leaky_relu2 ITERATIONS=12 \
  CHECKPOINT_EVERY=4
TRAIN=(train --config tests/data/dist_tiny.json --out-dir "$OUT" --no-final)
timeout 300 "$PGOLF_BIN" launch --nproc-per-node 2 -- "${TRAIN[@]}" --run-id full \
  >"$OUT/full.out" 2>&1 || { cat "$OUT/full.out"; fail "the full run failed"; }

# Killed (the launcher and both ranks, one process group) once a checkpoint of both ranks exists.
setsid "$PGOLF_BIN" launch --nproc-per-node 2 -- "${TRAIN[@]}" --run-id resumed >"$OUT/r1.out" 2>&1 &
pid=$!
for _ in $(seq 3000); do
  grep -q '"step":5,' "$OUT/resumed/metrics.jsonl" 2>/dev/null &&
    [[ -s "$OUT/resumed/checkpoints/latest.pt.rank1" ]] && break
  sleep 0.05
done
kill -KILL -- -"$pid" 2>/dev/null || true
wait "$pid" 2>/dev/null || true
pid=
timeout 300 "$PGOLF_BIN" launch --nproc-per-node 2 -- train --resume "$OUT/resumed" --no-final \
  >"$OUT/r2.out" 2>&1 || { cat "$OUT/r2.out"; fail "the resume failed"; }
grep -q "^resume: step:[48] " "$OUT/r2.out" || { cat "$OUT/r2.out"; fail "no resume from step 4 or 8"; }
"$PY" - "$OUT" <<'PYEOF'
import json, sys, torch
d = sys.argv[1]

def losses(run):
    return {e["step"]: e["train_loss"] for e in map(json.loads, open(f"{d}/{run}/metrics.jsonl"))
            if e["event"] == "train"}

a, b = losses("full"), losses("resumed")
assert sorted(a) == sorted(b) == list(range(1, 13)), (sorted(a), sorted(b))
assert all(a[s] == b[s] for s in a), [(s, a[s], b[s]) for s in a if a[s] != b[s]]
for f in ("latest.pt", "latest.pt.rank1"):
    x = torch.load(f"{d}/full/checkpoints/{f}", weights_only=False)
    y = torch.load(f"{d}/resumed/checkpoints/{f}", weights_only=False)
    keys = [k for k in x if k.startswith(("model/", "optim/"))]
    shards = [k for k in keys if k.endswith(".momentum_shard")]
    assert len(shards) == 4, (f, "expected the 4 banks' momentum shards", shards)
    differ = [k for k in keys if not torch.equal(x[k], y[k])]
    assert not differ, (f, "differs after the resume", differ)
print("resumed run: 12 losses and", len(keys), "tensors per rank identical")
PYEOF
pass
