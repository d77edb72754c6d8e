// GPTQ calibration Hessians (see hessians.h; the 1.0611 record's collect_hessians).
#include "pgolf/quant/hessians.h"

#include <c10/core/impl/LocalDispatchKeySet.h>

#include "pgolf/core/error.h"
#include "pgolf/quant/gptq_mixed.h"

namespace pgolf::quant {

std::vector<std::string> gptq_weight_names(const core::NamedTensors& flat,
                                           const config::QuantConfig& cfg) {
  std::vector<std::string> names;
  for (const auto& [name, t] : flat)
    if (gptq_route(name, t, cfg) == GptqRoute::kGptq) names.push_back(name);
  return names;
}

HessianCollector::HessianCollector(const torch::nn::Module& model,
                                   const core::NamedTensors& targets) {
  for (const auto& [name, w] : targets) {
    PGOLF_CHECK_INPUT(w.dim() == 2, "gptq calibration: '" << name << "' has shape " << w.sizes()
                                                          << "; only 2-D weights have a Hessian");
    wanted_.push_back(name);
    cols_[name] = w.size(1);
    is_embedding_[name] = false;
  }
  for (const auto& item : model.named_modules(/*name_prefix=*/"", /*include_self=*/false)) {
    const std::string weight = item.key() + ".weight";
    if (!cols_.count(weight)) continue;
    if (item.value()->as<torch::nn::EmbeddingImpl>()) is_embedding_[weight] = true;
    else linear_names_[item.value().get()] = weight;
  }
}

void HessianCollector::add(std::initializer_list<std::string> names, const torch::Tensor& x) {
  torch::Tensor xtx;  // computed once for all the names that share this input
  for (const auto& name : names) {
    const auto it = cols_.find(name);
    if (it == cols_.end()) continue;  // not GPTQ'd (passthrough size, gate rows)
    PGOLF_CHECK_INPUT(x.size(-1) == it->second,
                      "gptq calibration: the input of '" << name << "' has width " << x.size(-1)
                                                         << ", its weight has " << it->second
                                                         << " columns");
    if (!xtx.defined()) {
      // The taps fire inside the forward's autocast scope (ComputeScope, bf16 on CPU and CUDA),
      // where mm would round X^T X to bf16: an H that is no longer PSD (its errors exceed the 1%
      // damping) and fails GPTQ's Cholesky. The record's in-place addmm_ is not autocast; keep
      // ours in fp32 too.
      c10::impl::ExcludeDispatchKeyGuard no_autocast(c10::autocast_dispatch_keyset);
      const auto x2 = x.detach().to(torch::kFloat32).reshape({-1, x.size(-1)});
      xtx = torch::mm(x2.t(), x2);  // the record's addmm_(x.T, x) into a zero start
    }
    auto& h = h_[name];
    if (!h.defined()) h = torch::zeros_like(xtx);
    h.add_(xtx);
  }
}

void HessianCollector::add_module(const torch::nn::Module* module, const torch::Tensor& x) {
  const auto it = linear_names_.find(module);
  if (it != linear_names_.end()) add({it->second}, x);
}

core::NamedTensors HessianCollector::finish(int64_t n_forwards,
                                            std::vector<std::string>* identity) const {
  PGOLF_CHECK_INPUT(n_forwards >= 1, "gptq calibration: expected >= 1 forward, found "
                                         << n_forwards);
  core::NamedTensors out;
  for (const auto& name : wanted_) {
    const auto it = h_.find(name);
    if (it != h_.end()) {
      out.emplace_back(name, (it->second / static_cast<double>(n_forwards)).to(torch::kCPU));
      continue;
    }
    PGOLF_CHECK_INPUT(is_embedding_.at(name),
                      "gptq calibration: no forward reached the input of '"
                          << name << "' (is it used by the model's forward?)");
    out.emplace_back(name, torch::eye(cols_.at(name), torch::kFloat32));
    if (identity) identity->push_back(name);
  }
  return out;
}

core::NamedTensors collect_hessians(const torch::nn::Module& model,
                                    const std::function<void(const torch::Tensor&)>& forward,
                                    const std::function<torch::Tensor(int64_t)>& batch, int64_t n,
                                    const core::NamedTensors& targets,
                                    std::vector<std::string>* identity) {
  HessianCollector collector(model, targets);
  {
    torch::NoGradGuard no_grad;
    model::ScopedLinearTap tap(&collector);
    for (int64_t i = 0; i < n; ++i) forward(batch(i));
  }
  return collector.finish(n, identity);
}

}  // namespace pgolf::quant
