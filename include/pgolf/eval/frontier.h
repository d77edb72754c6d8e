// The frontier's evaluation methods as `pgolf eval` runs them on the banked GPT (PARAM_BANKS=1):
// each preceded by a warm-up on random tokens (no validation data, outside the scoring timer, as
// the records' compile warm-up) whose time is reported apart from the scoring.
#pragma once

#include <string>
#include <vector>

#include "pgolf/config/config.h"
#include "pgolf/eval/bpb.h"
#include "pgolf/eval/report.h"
#include "pgolf/model/gpt_banked.h"

namespace pgolf::eval {

struct FrontierEvalContext {
  const config::Config* cfg = nullptr;
  torch::Device device = torch::kCPU;
  DistContext dist;
  ProgressOptions progress;
  std::string claim_file;  // doc_lora on several ranks of one host
  std::vector<std::string>* log = nullptr;  // the phase lines
};

// TTT_MODE=doc_lora or chunk_sgd on `stream` (the whole val split) with `bytes`; warmup_seconds
// filled. The model's weights change (the TTT updates them); reload before scoring again.
EvalResult run_frontier_ttt(model::BankedGPTImpl& m, const torch::Tensor& stream,
                            const ByteSource& bytes, const FrontierEvalContext& ctx);

// eval_standard with VARLEN_ATTN (packed rows, cu_seqlens from BOS) and the byte sidecar when
// `bytes` has one; warmup_seconds filled.
EvalResult run_frontier_standard(model::BankedGPTImpl& m, const torch::Tensor& val_tokens,
                                 const ByteSource& bytes, const FrontierEvalContext& ctx);

}  // namespace pgolf::eval
