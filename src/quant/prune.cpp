// Magnitude pruning (see prune.h), mirroring PR #180's loop over named_parameters before export.
#include "pgolf/quant/prune.h"

#include "pgolf/core/error.h"
#include "pgolf/quant/quantize.h"

namespace pgolf::quant {

bool prune_eligible(const torch::Tensor& t, int64_t min_numel, double pct) {
  return pct > 0.0 && t.defined() && t.is_floating_point() && t.dim() == 2 &&
         t.numel() > min_numel;
}

PruneStat prune_tensor(torch::Tensor& w, double pct, const std::string& name) {
  PGOLF_CHECK(w.is_floating_point() && w.numel() > 0,
              "prune '" << name << "': expected a non-empty float tensor");
  torch::NoGradGuard no_grad;
  PruneStat st;
  st.name = name;
  const auto a = w.abs();  // in w's dtype, like param.abs()
  st.threshold = quantile_all(a, pct);
  // A 0-d fp32 threshold against a dimensioned bf16/fp16 tensor compares in that narrower dtype,
  // which is exactly the reference's `param.abs() < threshold`.
  const auto thr = torch::full({}, st.threshold, a.options().dtype(torch::kFloat));
  const auto mask = a < thr;
  st.count = mask.sum().item<int64_t>();
  st.ties = (a == thr).sum().item<int64_t>();
  w.masked_fill_(mask, 0.0);
  return st;
}

std::vector<PruneStat> prune_state_dict(core::NamedTensors& state_dict,
                                        const config::QuantConfig& cfg) {
  std::vector<PruneStat> stats;
  for (auto& [name, tensor] : state_dict) {
    if (!prune_eligible(tensor, cfg.prune_min_numel, cfg.prune_pct)) continue;
    auto pruned = tensor.detach().clone();  // never touch the caller's (model's) storage
    stats.push_back(prune_tensor(pruned, cfg.prune_pct, name));
    tensor = pruned;
  }
  return stats;
}

}  // namespace pgolf::quant
