// Parameter grouping (see param_groups.h), following the reference main()'s list building.
#include "pgolf/optim/param_groups.h"

#include <set>

#include "pgolf/config/names.h"
#include "pgolf/core/error.h"

namespace pgolf::optim {
namespace {

const std::string kBlocksPrefix = "blocks.";

bool starts_with(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

// The banked GPT's matrices (model/gpt_banked.h): Muon orthogonalises each matrix of a bank.
bool is_bank(const std::string& name, const torch::Tensor& t) {
  return t.dim() == 3 && (name == "qo_bank" || name == "kv_bank" || name == "mlp_up_bank" ||
                          name == "mlp_down_bank");
}

}  // namespace

GroupPlan build_param_groups(const core::NamedTensors& named_params,
                             const config::OptimConfig& cfg,
                             const std::vector<std::string>& control_patterns) {
  GroupPlan plan;
  std::set<std::string> seen;
  std::vector<std::string> extra_muon, extra_scalar;  // non-block params, appended after blocks'
  // PR #354's BigramHash (BIGRAM_HASH=mult, table "bigram.table") is wholly in the tok group.
  bool pr354_bigram = false;
  for (const auto& kv : named_params) pr354_bigram |= kv.first == "bigram.table.weight";
  for (const auto& [name, t] : named_params) {
    PGOLF_CHECK(seen.insert(name).second, "parameter " << name << " is listed twice");
    if (name == "tok_emb.weight" || name == "bigram.embed.weight" ||
        name == "bigram.table.weight" || (pr354_bigram && name == "bigram.proj.weight") ||
        name == "ve_shared.embed.weight") {
      plan.tok.push_back(name);
    } else if (name == "lm_head.weight") {
      plan.head.push_back(name);
    } else if (starts_with(name, kBlocksPrefix)) {
      const std::string local = name.substr(kBlocksPrefix.size());
      const bool control = config::matches_any(local, control_patterns);  // as quant/policy.h
      (t.dim() == 2 && !control ? plan.muon : plan.scalar).push_back(name);
    } else if (((name == "bigram.proj.weight" || name == "ve_shared.proj.weight") &&
                !cfg.aux_proj_adam) ||
               is_bank(name, t)) {
      extra_muon.push_back(name);
    } else {
      extra_scalar.push_back(name);
    }
  }
  plan.muon.insert(plan.muon.end(), extra_muon.begin(), extra_muon.end());
  plan.scalar.insert(plan.scalar.end(), extra_scalar.begin(), extra_scalar.end());
  plan.tied = plan.head.empty();
  plan.tok_lr = plan.tied ? cfg.tied_embed_lr : cfg.embed_lr;
  plan.head_lr = cfg.head_lr;
  plan.matrix_lr = cfg.matrix_lr;
  plan.scalar_lr = cfg.scalar_lr;
  return plan;
}

std::string describe(const GroupPlan& plan) {
  return "tok:" + std::to_string(plan.tok.size()) + " head:" + std::to_string(plan.head.size()) +
         " muon:" + std::to_string(plan.muon.size()) +
         " scalar:" + std::to_string(plan.scalar.size());
}

}  // namespace pgolf::optim
