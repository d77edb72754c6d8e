// AdamW (see adamw.h). The op order follows torch's single-tensor AdamW (foreach=False), which
// produced the golden train_steps vectors; the fused CUDA kernel of the record rounds differently
// only in the last bits.
#include "pgolf/optim/adamw.h"

#include <cmath>

#include <ATen/ops/_fused_adamw.h>

#include "pgolf/core/error.h"

namespace pgolf::optim {

AdamW::AdamW(std::vector<ParamGroup> groups, const AdamWOptions& opts)
    : Optimizer(std::move(groups)), opts_(opts) {
  PGOLF_CHECK_INPUT(opts.beta1 >= 0 && opts.beta1 < 1 && opts.beta2 >= 0 && opts.beta2 < 1,
                    "BETA1/BETA2: expected values in [0, 1), found " << opts.beta1 << ", "
                                                                     << opts.beta2);
  PGOLF_CHECK_INPUT(opts.eps > 0, "ADAM_EPS: expected > 0, found " << opts.eps);
  PGOLF_CHECK_INPUT(opts.weight_decay >= 0,
                    "WEIGHT_DECAY: expected >= 0, found " << opts.weight_decay);
}

void AdamW::step() {
  torch::NoGradGuard no_grad;
  for (auto& group : groups_) {
    const double lr = group.lr;
    // bf16 parameters (DTYPE=reference's embedding tables) go through torch's fused AdamW, as the
    // record's AdamW(fused=True) updates them: fp32 arithmetic on the bf16 values, one rounding
    // per store of the weights and the bf16 moments.
    std::vector<torch::Tensor> bp, bg, bm, bv, bs;
    for (size_t i = 0; i < group.params.size(); ++i) {
      torch::Tensor p = group.params[i];
      const torch::Tensor& grad = p.grad();
      if (!grad.defined()) continue;
      State& s = state_[group.names[i]];
      if (!s.exp_avg.defined()) {
        s.exp_avg = torch::zeros_like(p, at::MemoryFormat::Preserve);
        s.exp_avg_sq = torch::zeros_like(p, at::MemoryFormat::Preserve);
      }
      s.step += 1;
      if (p.scalar_type() == torch::kBFloat16) {
        bp.push_back(p);
        bg.push_back(grad);
        bm.push_back(s.exp_avg);
        bv.push_back(s.exp_avg_sq);
        // torch keeps the count as an fp32 tensor and adds 1 before the kernel reads it.
        bs.push_back(
            torch::full({}, static_cast<double>(s.step), p.options().dtype(torch::kFloat)));
        continue;
      }
      // Decoupled decay first, on the weights the gradient was taken at.
      if (opts_.weight_decay != 0.0) p.mul_(1.0 - lr * opts_.weight_decay);
      s.exp_avg.mul_(opts_.beta1).add_(grad, 1.0 - opts_.beta1);
      s.exp_avg_sq.mul_(opts_.beta2).addcmul_(grad, grad, 1.0 - opts_.beta2);
      const double t = static_cast<double>(s.step);
      const double bias1 = 1.0 - std::pow(opts_.beta1, t);
      const double bias2_sqrt = std::sqrt(1.0 - std::pow(opts_.beta2, t));
      torch::Tensor denom = (s.exp_avg_sq.sqrt() / bias2_sqrt).add_(opts_.eps);
      p.addcdiv_(s.exp_avg, denom, -lr / bias1);
    }
    if (!bp.empty())
      at::_fused_adamw_(bp, bg, bm, bv, /*max_exp_avg_sqs=*/{}, bs, lr, opts_.beta1, opts_.beta2,
                        opts_.weight_decay, opts_.eps, /*amsgrad=*/false, /*maximize=*/false);
  }
}

int64_t AdamW::step_count(const std::string& name) const {
  auto it = state_.find(name);
  return it == state_.end() ? 0 : it->second.step;
}

core::NamedTensors AdamW::state_tensors() const {
  core::NamedTensors out;
  for (const auto& group : groups_) {
    for (const auto& name : group.names) {
      auto it = state_.find(name);
      if (it == state_.end() || it->second.step == 0) continue;
      out.emplace_back(name + ".exp_avg", it->second.exp_avg);
      out.emplace_back(name + ".exp_avg_sq", it->second.exp_avg_sq);
      out.emplace_back(name + ".step", torch::tensor(it->second.step, torch::kInt64));
    }
  }
  return out;
}

nlohmann::json AdamW::state_meta() const {
  return {{"type", "adamw"}, {"version", 1}, {"beta1", opts_.beta1}, {"beta2", opts_.beta2}};
}

void AdamW::load_state(const core::NamedTensors& tensors, const nlohmann::json& meta) {
  const std::string what = "AdamW state";
  PGOLF_CHECK_INPUT(meta.value("type", std::string()) == "adamw",
                    what << ": expected meta type 'adamw', found " << meta.dump());
  std::map<std::string, State> loaded;
  const std::string suffix = ".step";
  for (const auto& [key, value] : tensors) {
    if (key.size() <= suffix.size() || key.compare(key.size() - suffix.size(), suffix.size(),
                                                   suffix) != 0)
      continue;
    const std::string name = key.substr(0, key.size() - suffix.size());
    const torch::Tensor& p = param_named(name, what);
    State s;
    PGOLF_CHECK_INPUT(value.numel() == 1, what << ": '" << key << "' is not a scalar");
    s.step = value.item<int64_t>();
    PGOLF_CHECK_INPUT(s.step > 0, what << ": '" << key << "' = " << s.step << ", expected > 0");
    s.exp_avg = checked_state(tensors, name + ".exp_avg", p, what);
    s.exp_avg_sq = checked_state(tensors, name + ".exp_avg_sq", p, what);
    loaded[name] = std::move(s);
  }
  state_ = std::move(loaded);
}

}  // namespace pgolf::optim
