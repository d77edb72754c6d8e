// The quantisation policy (see policy.h): the naming, category and clip rules of the export and
// of late QAT, once.
#include "pgolf/quant/policy.h"

#include <algorithm>

#include "pgolf/config/resolve.h"

namespace pgolf::quant {

Category category_of(const std::string& name) {
  auto has = [&](const char* s) { return name.find(s) != std::string::npos; };
  if (has("tok_emb") || has("lm_head")) return Category::kEmbed;
  if (has(".mlp.")) return Category::kMlp;
  if (has("bigram")) return Category::kBigram;
  if (has(".attn.") || has(".proj.")) return Category::kAttn;  // ".mlp." names returned above
  return Category::kOther;
}

QuantPolicy::QuantPolicy(const config::QuantConfig& q)
    : scheme_(q.quant_scheme),
      passthrough_max_(q.passthrough_max_numel),
      small_fp32_(q.passthrough_dtype == config::PassthroughDtype::kFp32),
      ctrl_(config::split_list(q.control_tensor_name_patterns)),
      keep_(config::split_list(q.fp16_keep_name_patterns)) {
  for (const auto& name : config::split_list(q.int_cats))
    cats_.push_back(config::parse_choice_or_throw<Category>("int_cats", name));
}

bool QuantPolicy::in_int_cats(Category c) const {
  return std::find(cats_.begin(), cats_.end(), c) != cats_.end();
}

int64_t QuantPolicy::intn_clip(Category c) const {
  return scheme_ == config::QuantScheme::kMixed && c == Category::kMlp ? 15 : 31;
}

std::string QuantPolicy::kind(const std::string& name, const torch::Tensor& t) const {
  if (!t.is_floating_point()) return "passthrough";
  const bool small = t.numel() <= passthrough_max_;
  if (scheme_ == config::QuantScheme::kInt8) {  // baseline: control only decides small tensors
    if (small) return is_control(name) ? "passthrough_ctrl" : "passthrough";
    return is_fp16_keep(name) ? "passthrough_fp16" : "int8";
  }
  // Before the control check: control tensors end up fp16 (fp32 with PASSTHROUGH_DTYPE=fp32).
  if (small) return small_fp32_ ? "passthrough_ctrl" : "passthrough";
  if (is_control(name)) return "passthrough_ctrl";
  if (is_fp16_keep(name)) return "passthrough_fp16";
  const Category cat = category_of(name);
  if (t.dim() >= 1 && in_int_cats(cat)) {
    if (scheme_ == config::QuantScheme::kInt6Clip31 && t.dim() != 2) return "int8";
    return intn_clip(cat) == 15 ? "int5" : "int6";
  }
  return "int8";
}

int64_t QuantPolicy::qat_clip(const std::string& weight_name) const {
  const Category cat = category_of(weight_name);
  const bool trained = cat == Category::kMlp || cat == Category::kAttn || cat == Category::kBigram;
  if (!trained) return 0;
  if (scheme_ == config::QuantScheme::kInt8) return 127;
  return in_int_cats(cat) ? intn_clip(cat) : 0;
}

}  // namespace pgolf::quant
