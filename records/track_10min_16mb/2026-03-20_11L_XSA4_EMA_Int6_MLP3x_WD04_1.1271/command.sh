#!/usr/bin/env bash
# PR #287, 1.1271: 11L XSA4 + EMA + int6 MLP3x + WD 0.04; sliding s64 1.12707468 (seed 1337).
# The record's training run on 8xH100 SXM with pgolf (see README.md beside this file): train, export,
# reload and score with the preset's evaluation. Run from anywhere; needs ./build/pgolf
# (scripts/setup.sh) and the data in ./data (scripts/download_fineweb.sh --variant sp1024).
# Environment: SEED (default 1337), RUN_ID (default f1_1271_seed$SEED), NPROC (GPUs, default 8), and
# any config variable. Extra arguments go to `pgolf train`. The run lands in runs/$RUN_ID/.
set -euo pipefail
cd "$(dirname "$0")/../../.."
REC=records/track_10min_16mb/2026-03-20_11L_XSA4_EMA_Int6_MLP3x_WD04_1.1271
SEED=${SEED:-1337}
export SEED RUN_ID=${RUN_ID:-f1_1271_seed$SEED}
torchrun --standalone --nproc_per_node="${NPROC:-8}" --no-python \
  ./build/pgolf train --config "$REC/config.json" "$@"
