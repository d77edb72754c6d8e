// Parameter grouping for `pgolf info` (see params.h).
#include "pgolf/model/params.h"

#include "pgolf/config/names.h"

namespace pgolf::model {

std::string param_group(const std::string& name, const std::vector<std::string>& control_patterns) {
  const auto has = [&](const char* s) { return name.find(s) != std::string::npos; };
  if (has("tok_emb")) return "embeddings";
  if (has("lm_head")) return "head";
  if (config::matches_any(name, control_patterns)) return "control";  // as quant/policy.h
  if (has("bigram")) return "bigram";
  if (has(".attn.") || name == "qo_bank" || name == "kv_bank") return "attention";
  if (has(".mlp.") || name == "mlp_up_bank" || name == "mlp_down_bank") return "mlp";
  return "other";
}

std::vector<GroupCount> count_param_groups(const GPTImpl& model,
                                           const std::vector<std::string>& control_patterns) {
  return count_param_groups(model.state_dict(), control_patterns);
}

std::vector<GroupCount> count_param_groups(const core::NamedTensors& state,
                                           const std::vector<std::string>& control_patterns) {
  std::vector<GroupCount> groups;
  for (const char* g : {"embeddings", "bigram", "attention", "mlp", "control", "head", "other"})
    groups.push_back({g, 0, 0});
  for (const auto& [name, t] : state) {
    const std::string g = param_group(name, control_patterns);
    for (auto& gc : groups)
      if (gc.group == g) {
        gc.tensors += 1;
        gc.params += t.numel();
      }
  }
  std::vector<GroupCount> out;
  for (const auto& gc : groups)
    if (gc.tensors > 0) out.push_back(gc);
  return out;
}

int64_t count_params(const GPTImpl& model) {
  int64_t n = 0;
  for (const auto& p : model.parameters()) n += p.numel();
  return n;
}

}  // namespace pgolf::model
