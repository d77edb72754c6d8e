#!/usr/bin/env bash
# PR #354 (non-record): 13L MLA kv_rank 128 + gated MLP + BigramHash + SWA (reference round-trip val_bpb 1.3559).
# The record's training run on 8xH100 SXM with pgolf (see README.md beside this file).
# Run from anywhere; needs ./build/pgolf (scripts/setup.sh) and the FineWeb shards + tokenizer in
# ./data (scripts/download_fineweb.sh). Environment: SEED (default 1337), RUN_ID (default pr354_seed$SEED),
# NPROC (GPUs, default 8; fewer GPUs accumulate gradients to the same global batch), and any config
# variable (e.g. MAX_WALLCLOCK_SECONDS=0 ITERATIONS=500 for a fixed-length run). Extra arguments go to
# `pgolf train`. The run lands in runs/$RUN_ID/ (train.log, final_model.int8.ptz, submission.json).
set -euo pipefail
cd "$(dirname "$0")/../../.."
REC=records/track_non_record_16mb/2026-03-21_pr354_13L_MLA
SEED=${SEED:-1337}
export SEED RUN_ID=${RUN_ID:-pr354_seed$SEED}
torchrun --standalone --nproc_per_node="${NPROC:-8}" --no-python \
  ./build/pgolf train --config "$REC/config.json" "$@"
