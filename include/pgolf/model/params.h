// Parameter groups for `pgolf info` and the byte-size estimate of an artifact.
#pragma once

#include <string>
#include <vector>

#include "pgolf/model/gpt.h"

namespace pgolf::model {

// "embeddings" (tok_emb), "head" (lm_head), "control" (names matching the control patterns, i.e.
// scales, gates, mixes, q_gain, skip weights, bigram.scale), "bigram" (bigram.embed/proj),
// "attention" (.attn. matrices), "mlp" (.mlp. matrices), else "other".
std::string param_group(const std::string& name, const std::vector<std::string>& control_patterns);

struct GroupCount {
  std::string group;
  int64_t tensors = 0;
  int64_t params = 0;
};
// Groups in the order embeddings, bigram, attention, mlp, control, head, other (empty ones
// omitted).
std::vector<GroupCount> count_param_groups(const GPTImpl& model,
                                           const std::vector<std::string>& control_patterns);
// The same over any state dict (the banked GPT: qo_bank/kv_bank count as attention, mlp_*_bank
// as mlp).
std::vector<GroupCount> count_param_groups(const core::NamedTensors& state,
                                           const std::vector<std::string>& control_patterns);
int64_t count_params(const GPTImpl& model);

}  // namespace pgolf::model
