#!/usr/bin/env bash
# `pgolf info` and `pgolf bench`: parameter counts of the PR #180 default config (25,517,137,
# reference-spec §4.7) and of its MLA variant, the artifact estimate's range, bench JSON on a tiny
# run, and exit codes for bad options.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

# One intra-op thread: these runs are small, and spinning OpenMP workers on a loaded 2-core box
# cost more than they save.
export THREADS=1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

"$PGOLF_BIN" info --json >"$tmp/info.json"
# MLA, 13 layers, kv_rank 128 (seed PR #354 shape): per block c_k + c_v (2 x 256 x 512) become
# kv_down 128 x 512 + k_up 256 x 128 + v_up 256 x 128, i.e. 2,361,352 - 131,072 per block;
# non-block tensors as PR #180 with 6 skip weights: 524,288 + 1,310,720 + 65,536 + 1 + 6 x 512 + 512.
ATTENTION=mla KV_RANK=128 "$PGOLF_BIN" info --json --num-layers 13 >"$tmp/mla.json"
"$PGOLF_BIN" info --config "$PGOLF_SOURCE_DIR/configs/smoke_cpu.json" >"$tmp/smoke.txt"
grep -q "^  total" "$tmp/smoke.txt" || fail "human info output lacks the total line"
# The baseline's int8 scales are floored at 1/127, so its estimate depends on the weights' scale.
"$PGOLF_BIN" info --config "$PGOLF_SOURCE_DIR/configs/baseline_9x512.json" >"$tmp/baseline.txt"
grep -q "note: " "$tmp/baseline.txt" ||
  fail "info does not flag the magnitude-dependent estimate of the int8 baseline"

"$PY" - "$tmp/info.json" "$tmp/mla.json" <<'PYEOF'
import json, sys
d = json.load(open(sys.argv[1]))
p = d["params"]
assert p["total"] == 25517137, p
groups = {g["group"]: g["params"] for g in p["groups"]}
want = {"embeddings": 524288, "bigram": 1376256, "attention": 7864320, "mlp": 15728640,
        "control": 23633}
assert groups == want, groups
assert sum(groups.values()) == p["total"]
a = d["artifact"]
kinds = {k["kind"]: k["tensors"] for k in a["kinds"]}
# reference-spec 7.2 table: 20 int5, 41 int6, 2 fp16 passthrough, 43 small passthrough
assert kinds == {"int5": 20, "int6": 41, "passthrough_fp16": 2, "passthrough": 43}, kinds
# the record's artifacts were 15.63-15.91 MB; the Gaussian-surrogate estimate must land near
assert 15.0e6 < a["model_bytes"] < 16.5e6, a["model_bytes"]
assert a["magnitude_dependent"] is False and d["weights_given"] is False, a
m = json.load(open(sys.argv[2]))
want_mla = 13 * (2361352 - 131072) + 524288 + 1310720 + 65536 + 1 + 6 * 512 + 512
assert m["params"]["total"] == want_mla == 30897769, (m["params"]["total"], want_mla)
assert "mla" in m["model"]
PYEOF

# 2 micro-batches of 2 x 32 tokens (the training run's step would accumulate 8).
"$PGOLF_BIN" bench --config "$PGOLF_SOURCE_DIR/configs/smoke_cpu.json" --seq-len 32 --batch-seqs 2 \
  --micro-batches 2 --steps 1 --warmup 0 --probe-size 128 --dtype fp32 --json >"$tmp/bench.json"
"$PY" - "$tmp/bench.json" <<'PYEOF'
import json, sys
d = json.load(open(sys.argv[1]))
assert d["micro_batch_tokens"] == 64 and d["tokens_per_step"] == 128 and d["dtype"] == "fp32", d
phases = {p["phase"]: p for p in d["phases"]}
assert set(phases) == {"forward", "fwd+bwd", "step"}, phases
ts = d["train_step"]  # the training step object itself (train::make_step), one rank
assert ts["step"] == "train_step:eager clip_norm:0.3 grad_sync:none", ts  # GRAD_CLIP_NORM 0.3
assert ts["world_size"] == 1 and ts["micro_batches"] == 2 and ts["rows_per_micro_batch"] == 2, ts
for k in ("forward_backward_seconds", "update_seconds", "step_seconds", "tflops_per_second",
          "mfu_vs_bf16_gemm"):
    assert ts[k] > 0, (k, ts)
assert abs(ts["sum_of_phases_seconds"] - (ts["forward_backward_seconds"] + ts["update_seconds"])) < 1e-9, ts
# the hot path's counts per step (issue 18): one gradient reset, one device read, no collective
assert ts["per_step"] == {"zero_grads": 1, "host_reads": 1, "collectives": 0, "batch_copies": 0}, ts
for p in phases.values():
    assert p["tokens_per_second"] > 0 and p["flops_per_second"] > 0 and p["ratio_to_probe"] > 0, p
f = d["flops_per_token"]
assert f["forward_backward"] == 3 * f["forward"], f
assert d["matmul_probe"]["ratio_dtype"] == "fp32"
PYEOF

expect_exit 2 "$PGOLF_BIN" bench --steps 0
expect_exit 2 "$PGOLF_BIN" info --attention nope
pass
