// The one quantisation policy (issue 18 §3): from a tensor's name (and, for the export, its shape)
// to its category, whether it is a control or fp16-keep tensor, the export's kind and intN clip,
// and the clip late QAT fake-quantises it with. Built once from QuantConfig, with every list knob
// read through config::split_list; the export (quantize_state_dict), late QAT (late_qat_settings
// -> the model's set_qat) and `pgolf info` call it, so none of them holds a naming rule of its own.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "pgolf/config/config.h"
#include "pgolf/config/names.h"

namespace pgolf::quant {

using Category = config::TensorCategory;

// embed (tok_emb / lm_head), mlp (.mlp.), bigram, attn (.attn. or non-MLP .proj.), other; the
// first rule that matches wins, in that order.
Category category_of(const std::string& name);

class QuantPolicy {
 public:
  // Throws an input error for an INT_CATS entry that is not a category (validation reports it
  // first for configurations that went through resolve()).
  explicit QuantPolicy(const config::QuantConfig& q);

  bool is_control(const std::string& name) const { return config::matches_any(name, ctrl_); }
  bool is_fp16_keep(const std::string& name) const { return config::matches_any(name, keep_); }
  // In INT_CATS: stored int5/int6 by the intN schemes (not by int8).
  bool in_int_cats(Category c) const;
  // The intN clip of a category in INT_CATS: 15 (int5) for mlp under mixed, else 31 (int6).
  int64_t intn_clip(Category c) const;
  // The export's meta kind of one tensor: passthrough, passthrough_ctrl, passthrough_fp16, int5,
  // int6 or int8 (the rule order of quantize.h's header).
  std::string kind(const std::string& name, const torch::Tensor& t) const;
  // Late QAT's clip of the CastedLinear weight `weight_name`: 127 for mlp/attn/bigram under int8;
  // otherwise intn_clip for mlp/attn/bigram in INT_CATS; 0 (not fake-quantised) for the rest, the
  // embeddings and head included (PR #286).
  int64_t qat_clip(const std::string& weight_name) const;

  const std::vector<std::string>& control_patterns() const { return ctrl_; }
  config::QuantScheme scheme() const { return scheme_; }

 private:
  config::QuantScheme scheme_;
  int64_t passthrough_max_;
  bool small_fp32_;  // PASSTHROUGH_DTYPE=fp32
  std::vector<std::string> ctrl_, keep_;
  std::vector<Category> cats_;
};

}  // namespace pgolf::quant
