// Which optimiser owns which parameter (reference-spec §5.1), decided by name and rank alone:
//   tok    AdamW  tok_emb.weight, bigram.embed.weight      TIED_EMBED_LR (EMBED_LR when untied)
//                 (PR #354's bigram, BIGRAM_HASH=mult: bigram.table.weight and bigram.proj.weight),
//                 ve_shared.embed.weight (VE_ENABLED, the 1.1228 record)
//   head   Adam   lm_head.weight (untied only)              HEAD_LR
//   muon   Muon   2-D blocks.* params matching no control pattern, then bigram.proj.weight,
//                 ve_shared.proj.weight
//                 and the banked GPT's 3-D qo_bank, kv_bank, mlp_up_bank, mlp_down_bank
//   scalar AdamW  blocks.* params with ndim < 2 or a control name, then every other param
//                 (skip_weights, smear.gate, bigram.scale, ...)               SCALAR_LR
#pragma once

#include <string>
#include <vector>

#include "pgolf/config/config.h"
#include "pgolf/core/tensor_io.h"

namespace pgolf::optim {

struct GroupPlan {
  std::vector<std::string> tok, head, muon, scalar;  // names, in stepping/sharding order
  double tok_lr = 0, head_lr = 0, matrix_lr = 0, scalar_lr = 0;
  bool tied = true;  // no lm_head.weight among the params
};

// Control patterns match as substrings of a block parameter's name relative to `blocks`
// ("0.attn.q_gain"), exactly as the reference tests them. Every param lands in exactly one list.
GroupPlan build_param_groups(const core::NamedTensors& named_params,
                             const config::OptimConfig& cfg,
                             const std::vector<std::string>& control_patterns);

// "tok:2 head:0 muon:61 scalar:43", for the log.
std::string describe(const GroupPlan& plan);

}  // namespace pgolf::optim
