#!/usr/bin/env bash
# PR #1493, 1.0810: sp8192, 3-layer recurrence, parallel residuals, QK 5.25, score-first chunk TTT; 3-seed mean 1.0810.
# The record's training run on 8xH100 SXM with pgolf (see README.md beside this file): train, export,
# reload and score with the preset's evaluation. Run from anywhere; needs ./build/pgolf
# (scripts/setup.sh) and the data in ./data (scripts/download_fineweb.sh --variant sp8192).
# Environment: SEED (default 42), RUN_ID (default f1_0810_seed$SEED), NPROC (GPUs, default 8), and
# any config variable. Extra arguments go to `pgolf train`. The run lands in runs/$RUN_ID/.
set -euo pipefail
cd "$(dirname "$0")/../../.."
REC=records/track_10min_16mb/2026-04-09_SP8192_3LayerRecur_ParResid_QK525_LegalTTT
SEED=${SEED:-42}
export SEED RUN_ID=${RUN_ID:-f1_0810_seed$SEED}
torchrun --standalone --nproc_per_node="${NPROC:-8}" --no-python \
  ./build/pgolf train --config "$REC/config.json" "$@"
