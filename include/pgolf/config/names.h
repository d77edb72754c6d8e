// Tensor-name rules read by more than one component: the quantisation categories (the values of
// INT_CATS, one table as for the choice knobs) and the one substring match of the name-pattern
// knobs (CONTROL_TENSOR_NAME_PATTERNS, FP16_KEEP_NAME_PATTERNS, split by split_list). The rules
// built from them live with their owner: quant/policy.h (export, late QAT, `pgolf info`); the
// optimiser grouping and model/params.h match control names with the same matches_any.
#pragma once

#include <string>
#include <vector>

#include "pgolf/config/choice.h"

namespace pgolf::config {

enum class TensorCategory { kEmbed, kMlp, kAttn, kBigram, kOther };
template <>
struct Choice<TensorCategory> {
  static constexpr ChoiceValue<TensorCategory> values[] = {
      {TensorCategory::kEmbed, "embed", "tok_emb, lm_head"},
      {TensorCategory::kMlp, "mlp", ".mlp. matrices"},
      {TensorCategory::kAttn, "attn", ".attn. matrices (and any other .proj.)"},
      {TensorCategory::kBigram, "bigram", "bigram.embed / bigram.proj"},
      {TensorCategory::kOther, "other", ""}};
};

// True when some non-empty pattern is a substring of `name`.
bool matches_any(const std::string& name, const std::vector<std::string>& patterns);

}  // namespace pgolf::config
