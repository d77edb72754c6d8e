#!/usr/bin/env bash
# PR #1060, 1.1122: coprime loader + full-Hessian GPTQ + XSA-all + BigramHash 2816x112; sliding s64, 3-seed mean 1.1122.
# The record's training run on 8xH100 SXM with pgolf (see README.md beside this file): train, export,
# reload and score with the preset's evaluation. Run from anywhere; needs ./build/pgolf
# (scripts/setup.sh) and the data in ./data (scripts/download_fineweb.sh --variant sp1024).
# Environment: SEED (default 1337), RUN_ID (default f1_1122_seed$SEED), NPROC (GPUs, default 8), and
# any config variable. Extra arguments go to `pgolf train`. The run lands in runs/$RUN_ID/.
set -euo pipefail
cd "$(dirname "$0")/../../.."
REC=records/track_10min_16mb/2026-03-29_Loader_FullGPTQ_XSA11_BigramHash2816
SEED=${SEED:-1337}
export SEED RUN_ID=${RUN_ID:-f1_1122_seed$SEED}
torchrun --standalone --nproc_per_node="${NPROC:-8}" --no-python \
  ./build/pgolf train --config "$REC/config.json" "$@"
