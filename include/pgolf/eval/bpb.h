// Shared pieces of every evaluator: the logits/all-reduce seams, LUT and token checks, per-token
// cross-entropy in fp32 and the float64 sums that become val_loss and val_bpb (reference-spec
// §3.3).
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <functional>

#include "pgolf/tokenizer/byte_luts.h"

namespace pgolf::eval {

// Softcapped logits (B,T,V), any float dtype, for int64 input ids (B,T). The ids arrive on the
// device named in the evaluator's options; the evaluator computes the cross-entropy in fp32.
using LogitsFn = std::function<torch::Tensor(const torch::Tensor& input_ids)>;

// In-place SUM all-reduce of a float64 tensor across ranks (identity when single process).
using AllReduceFn = std::function<void(torch::Tensor&)>;

struct DistContext {
  int rank = 0;
  int world = 1;
  AllReduceFn all_reduce_sum;  // empty: single process
};

// Per-token byte tables (reference-spec §3.2), kept on the CPU by the evaluators.
using ByteLuts = tokenizer::ByteLuts;

// A 1-D integer token stream as contiguous int64 on the CPU; `what` names the stream in errors.
torch::Tensor as_token_stream(const torch::Tensor& tokens, const char* what);

// Checks dtypes and equal 1-D lengths; `what` names the source in the error.
void validate_luts(const ByteLuts& luts, const char* what);
// Checks that every id in `tokens` indexes the LUTs (0 <= id < size); `what` names the stream.
void check_ids_in_luts(const torch::Tensor& tokens, const ByteLuts& luts, const char* what);

// Sum of bytes(t) (tokenizer::count_bytes, §3.3) over the positions where `scored` is true (bool,
// same shape; undefined = every position). prev = inputs x_t, tgt = targets y_t; CPU tensors.
double sum_bytes(const ByteLuts& luts, const torch::Tensor& prev, const torch::Tensor& tgt,
                 const torch::Tensor& scored = {});

// Natural-log cross-entropy per position, computed in fp32: logits (B,T,V), targets (B,T) -> (B,T).
torch::Tensor per_token_nll(const torch::Tensor& logits, const torch::Tensor& targets);

// The three float64 sums of an evaluation.
struct BpbSums {
  double nll = 0.0;     // sum of natural-log NLL over scored positions
  double tokens = 0.0;  // number of scored positions
  double bytes = 0.0;   // sum of bytes(t)

  // Sums across ranks through `dist` (one float64 tensor of 3 values, one call).
  void all_reduce(const DistContext& dist);
  double loss() const;  // nll / tokens
  // (loss / ln 2) * (tokens / bytes), as the reference evaluates it; 0 when nothing was scored.
  double bpb() const;
};

}  // namespace pgolf::eval
