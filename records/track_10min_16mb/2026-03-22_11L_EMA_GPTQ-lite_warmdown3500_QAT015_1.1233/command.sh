#!/usr/bin/env bash
# PR #414, 1.1228: 11L EMA + GPTQ-lite + warmdown 3500 + late QAT 0.15; sliding s64 1.12278022 (seed 1337).
# The record's training run on 8xH100 SXM with pgolf (see README.md beside this file): train, export,
# reload and score with the preset's evaluation. Run from anywhere; needs ./build/pgolf
# (scripts/setup.sh) and the data in ./data (scripts/download_fineweb.sh --variant sp1024).
# Environment: SEED (default 1337), RUN_ID (default f1_1228_seed$SEED), NPROC (GPUs, default 8), and
# any config variable. Extra arguments go to `pgolf train`. The run lands in runs/$RUN_ID/.
set -euo pipefail
cd "$(dirname "$0")/../../.."
REC=records/track_10min_16mb/2026-03-22_11L_EMA_GPTQ-lite_warmdown3500_QAT015_1.1233
SEED=${SEED:-1337}
export SEED RUN_ID=${RUN_ID:-f1_1228_seed$SEED}
torchrun --standalone --nproc_per_node="${NPROC:-8}" --no-python \
  ./build/pgolf train --config "$REC/config.json" "$@"
