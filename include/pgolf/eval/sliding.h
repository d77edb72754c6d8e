// Sliding-window validation (reference-spec §8.2): windows of seq_len every `stride` targets, each
// scoring only its last `stride` positions (all of them for the first window). Two modes:
// `reference` keeps the record's window filter and re-scores the final targets once per tail window
// (the §17 double counting); `exact` uses the corrected filter so every target is scored once.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

#include "pgolf/config/config.h"
#include "pgolf/eval/bpb.h"
#include "pgolf/eval/report.h"

namespace pgolf::eval {

using SlidingMode = config::SlidingMode;  // SLIDING_MODE (config/choices.h)
const char* to_string(SlidingMode mode);

// Window starts over `total_targets` targets. reference: ws = 0, stride, … < T with
// min(ws+L, T) - ws >= stride or ws = 0. exact: ws = 0 or ws + L - stride < T.
std::vector<int64_t> sliding_window_starts(int64_t total_targets, int64_t seq_len, int64_t stride,
                                           SlidingMode mode);
// First scored position inside a window of length wlen starting at ws (scored: [begin, wlen)).
// reference: 0 for ws = 0, else max(wlen - stride, 0). exact: 0 for ws = 0, else seq_len - stride.
int64_t sliding_scored_begin(int64_t ws, int64_t wlen, int64_t seq_len, int64_t stride,
                             SlidingMode mode);

struct SlidingEvalOptions {
  int64_t seq_len = 2048;   // TRAIN_SEQ_LEN: window length
  int64_t stride = 64;      // EVAL_STRIDE: 0 < stride < seq_len
  int64_t batch_seqs = 32;  // EVAL_BATCH_SEQS: windows per forward
  SlidingMode mode = SlidingMode::kReference;
  torch::Device device =
      torch::kCPU;  // where input ids are sent before calling the logits function
  ProgressOptions progress;
  torch::Tensor byte_sidecar;  // of val_tokens (CaseOps): bytes from it instead of the LUTs
};

// The reference runs the sliding eval only when 0 < EVAL_STRIDE < TRAIN_SEQ_LEN, else the standard
// one.
bool sliding_enabled(const config::EvalConfig& eval, int64_t seq_len);
// Options from the configuration (EVAL_STRIDE, EVAL_BATCH_SEQS, SLIDING_MODE) and TRAIN_SEQ_LEN.
SlidingEvalOptions sliding_options(const config::EvalConfig& eval, int64_t seq_len);

// `val_tokens`: 1-D integer stream of usable+1 tokens; windows are split contiguously across ranks
// and short windows are zero-padded on the right to seq_len.
EvalResult eval_sliding(const LogitsFn& logits_fn, const torch::Tensor& val_tokens,
                        const ByteLuts& luts, const SlidingEvalOptions& opts,
                        const DistContext& dist = {});

}  // namespace pgolf::eval
