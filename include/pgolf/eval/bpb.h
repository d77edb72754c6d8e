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

// Logits (1,N,V) of one packed row of ids (1,N) whose documents are the cu_seqlens segments
// (VARLEN_ATTN: attention never crosses a segment boundary).
using VarlenLogitsFn =
    std::function<torch::Tensor(const torch::Tensor& input_ids, const torch::Tensor& cu_seqlens)>;

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

// Where an evaluator's byte counts come from: the byte sidecar when one is given (CaseOps:
// sidecar[i] = the original UTF-8 bytes of stream token i, 0 for operators and BOS; it replaces the
// LUTs, as in the 1.0678-1.0611 records), else bytes(t) from the piece LUTs.
struct ByteSource {
  ByteLuts luts;         // used when `sidecar` is undefined
  torch::Tensor sidecar;  // (N) integer, one entry per token of the stream the evaluator reads
  bool has_sidecar() const { return sidecar.defined(); }
  // Checks the LUTs (no sidecar) or the sidecar's length against a stream of n tokens.
  void validate(int64_t n, const char* what) const;
  // Bytes of the scored targets: prev/tgt (B,T) ids, tgt_pos (B,T) int64 stream index of each
  // target (read only with a sidecar), scored (B,T) bool (undefined: all). CPU tensors.
  double sum(const torch::Tensor& prev, const torch::Tensor& tgt, const torch::Tensor& tgt_pos,
             const torch::Tensor& scored = {}) const;
};

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
