#!/usr/bin/env bash
# PR #1855, 1.0611: CaseOps sp8192, LQER, SparseAttnGate, BOS-fixed SmearGate, phased doc-LoRA TTT; 3-seed mean 1.06107587.
# The record's training run on 8xH100 SXM with pgolf (see README.md beside this file): train, export,
# reload and score with the preset's evaluation. Run from anywhere; needs ./build/pgolf
# (scripts/setup.sh) and the data in ./data (scripts/download_fineweb.sh --variant caseops).
# Environment: SEED (default 42), RUN_ID (default f1_0611_seed$SEED), NPROC (GPUs, default 8), and
# any config variable. Extra arguments go to `pgolf train`. The run lands in runs/$RUN_ID/.
set -euo pipefail
cd "$(dirname "$0")/../../.."
REC=records/track_10min_16mb/2026-04-27_SP8192_LQER_SparseGate_BOSSmearFix_9HpStack_1.0611
SEED=${SEED:-42}
export SEED RUN_ID=${RUN_ID:-f1_0611_seed$SEED}
torchrun --standalone --nproc_per_node="${NPROC:-8}" --no-python \
  ./build/pgolf train --config "$REC/config.json" "$@"
