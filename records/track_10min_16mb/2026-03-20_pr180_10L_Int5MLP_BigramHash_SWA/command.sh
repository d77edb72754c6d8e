#!/usr/bin/env bash
# PR #180: 10L Int5-MLP + BigramHash(10240) + SWA(0.4) + WD 0.04 (reference val_bpb 1.14276, seeds 42/1337/2024).
# The record's training run on 8xH100 SXM with pgolf (see README.md beside this file).
# Run from anywhere; needs ./build/pgolf (scripts/setup.sh) and the FineWeb shards + tokenizer in
# ./data (scripts/download_fineweb.sh). Environment: SEED (default 42), RUN_ID (default pr180_seed$SEED),
# NPROC (GPUs, default 8; fewer GPUs accumulate gradients to the same global batch), and any config
# variable (e.g. MAX_WALLCLOCK_SECONDS=0 ITERATIONS=500 for a fixed-length run). Extra arguments go to
# `pgolf train`. The run lands in runs/$RUN_ID/ (train.log, final_model.int8.ptz, submission.json).
set -euo pipefail
cd "$(dirname "$0")/../../.."
REC=records/track_10min_16mb/2026-03-20_pr180_10L_Int5MLP_BigramHash_SWA
SEED=${SEED:-42}
export SEED RUN_ID=${RUN_ID:-pr180_seed$SEED}
torchrun --standalone --nproc_per_node="${NPROC:-8}" --no-python \
  ./build/pgolf train --config "$REC/config.json" "$@"
