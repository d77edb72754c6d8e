#!/usr/bin/env bash
# PR #289: 11L SmearGate + BigramHash(2048) + int6 + SWA/200 + U-Net; sliding 1.15180589, TTT-LoRA 1.1535 (seed 1337).
# The record's training run on 8xH100 SXM with pgolf (see README.md beside this file).
# Run from anywhere; needs ./build/pgolf (scripts/setup.sh) and the FineWeb shards + tokenizer in
# ./data (scripts/download_fineweb.sh). Environment: SEED (default 1337), RUN_ID (default pr289_seed$SEED),
# NPROC (GPUs, default 8; fewer GPUs accumulate gradients to the same global batch), and any config
# variable (e.g. MAX_WALLCLOCK_SECONDS=0 ITERATIONS=500 for a fixed-length run). Extra arguments go to
# `pgolf train`. The run lands in runs/$RUN_ID/ (train.log, final_model.int8.ptz, submission.json).
set -euo pipefail
cd "$(dirname "$0")/../../.."
REC=records/track_10min_16mb/2026-03-20_pr289_11L_SmearBigram_Int6_SWA_TTT
SEED=${SEED:-1337}
export SEED RUN_ID=${RUN_ID:-pr289_seed$SEED}
torchrun --standalone --nproc_per_node="${NPROC:-8}" --no-python \
  ./build/pgolf train --config "$REC/config.json" "$@"
# The record also reports the non-overlapping int6 round trip and the TTT-LoRA score of the same
# artifact (final_int6_roundtrip / final_int6_ttt_lora lines): standard, sliding, ttt in eval_all.json.
torchrun --standalone --nproc_per_node="${NPROC:-8}" --no-python \
  ./build/pgolf eval "runs/$RUN_ID/final_model.int8.ptz" --config "$REC/config.json" \
  --method standard --method sliding --method ttt --out "runs/$RUN_ID/eval_all.json"
