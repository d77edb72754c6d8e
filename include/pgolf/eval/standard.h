// Standard validation (reference-spec §8.1): non-overlapping sequences of seq_len, split
// contiguously across ranks, batch-mean CE times token count summed in float64, all-reduced.
#pragma once

#include <torch/torch.h>

#include <cstdint>

#include "pgolf/config/config.h"
#include "pgolf/eval/bpb.h"
#include "pgolf/eval/report.h"

namespace pgolf::eval {

struct StandardEvalOptions {
  int64_t seq_len = 2048;           // TRAIN_SEQ_LEN
  int64_t val_batch_size = 524288;  // VAL_BATCH_SIZE: tokens per global batch
  int64_t grad_accum_steps = 1;     // the trainer's accumulation (8 / WORLD_SIZE in the reference)
  torch::Device device =
      torch::kCPU;  // where input ids are sent before calling the logits function
  ProgressOptions progress;
  // VARLEN_ATTN (the 1.0734-1.0611 records' eval_val): each rank batch is one packed row whose
  // documents (from BOS, cut at seq_len, cu_seqlens padded to a multiple of 64) attend only
  // within themselves; the logits function below replaces the dense one.
  VarlenLogitsFn varlen_logits;
  int64_t bos_id = 1;
  // Byte sidecar of val_tokens (CaseOps): bytes from it instead of the LUTs (which may be empty).
  torch::Tensor byte_sidecar;
};

// Sequences per forward on one rank: val_batch_size / (world * accum) / seq_len; an input error
// when that is below one sequence.
int64_t standard_local_batch_seqs(int64_t val_batch_size, int64_t world, int64_t grad_accum_steps,
                                  int64_t seq_len);

// Options from the configuration (TRAIN_SEQ_LEN, VAL_BATCH_SIZE) and the trainer's accumulation.
StandardEvalOptions standard_options(const config::TrainConfig& train, int64_t grad_accum_steps);

// `val_tokens`: 1-D integer stream of usable+1 tokens (already truncated); every id must index
// `luts`.
EvalResult eval_standard(const LogitsFn& logits_fn, const torch::Tensor& val_tokens,
                         const ByteLuts& luts, const StandardEvalOptions& opts,
                         const DistContext& dist = {});

}  // namespace pgolf::eval
