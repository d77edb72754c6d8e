// Schedules and clipping (see schedule.h), mirroring the reference's lr_mul, its momentum warmup
// and PyTorch's clip_grad_norm_.
#include "pgolf/optim/schedule.h"

#include <algorithm>

namespace pgolf::optim {

double lr_mul(int64_t step, double elapsed_ms, int64_t iterations, int64_t warmdown_iters,
              double max_wallclock_ms) {
  if (warmdown_iters <= 0) return 1.0;
  if (max_wallclock_ms <= 0) {
    const int64_t warmdown_start = std::max<int64_t>(iterations - warmdown_iters, 0);
    if (step < warmdown_start || step >= iterations) return 1.0;
    return std::max(static_cast<double>(iterations - step) / static_cast<double>(warmdown_iters),
                    0.0);
  }
  // Predicts the end of the budget from the average step time so far.
  const double step_ms = elapsed_ms / static_cast<double>(std::max<int64_t>(step, 1));
  const double warmdown_ms = static_cast<double>(warmdown_iters) * step_ms;
  const double remaining_ms = std::max(max_wallclock_ms - elapsed_ms, 0.0);
  return remaining_ms <= warmdown_ms ? remaining_ms / std::max(warmdown_ms, 1e-9) : 1.0;
}

double muon_momentum(int64_t step, double warmup_start, double momentum, int64_t warmup_steps) {
  const double frac =
      warmup_steps > 0
          ? std::min(static_cast<double>(step) / static_cast<double>(warmup_steps), 1.0)
          : 1.0;
  return (1.0 - frac) * warmup_start + frac * momentum;
}

bool late_qat_due(int64_t step, double elapsed_ms, int64_t iterations, double late_qat_frac,
                  double max_wallclock_ms) {
  if (late_qat_frac <= 0) return false;
  if (max_wallclock_ms > 0) return elapsed_ms / max_wallclock_ms >= late_qat_frac;
  return static_cast<double>(step) / static_cast<double>(std::max<int64_t>(iterations, 1)) >=
         late_qat_frac;
}

double clip_grad_norm(const std::vector<torch::Tensor>& params, double max_norm) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> grads, norms;
  for (const auto& p : params)
    if (p.grad().defined()) grads.push_back(p.grad());
  if (grads.empty()) return 0.0;
  const torch::Device device = grads[0].device();
  // Per-tensor norms in each gradient's dtype, then the norm of those norms (promoted to fp32
  // when dtypes are mixed), as torch does.
  for (const auto& g : grads) norms.push_back(torch::linalg_vector_norm(g, 2).to(device));
  const torch::Tensor total = torch::linalg_vector_norm(torch::stack(norms), 2);
  if (max_norm > 0) {
    // Python's `max_norm / t` is `t.reciprocal() * max_norm`; same rounding here.
    const torch::Tensor coef = torch::clamp_max((total + 1e-6).reciprocal() * max_norm, 1.0);
    for (auto& g : grads) g.mul_(coef.to(g.device()));
  }
  return total.item<double>();
}

torch::Tensor grad_total_norm(const std::vector<torch::Tensor>& params) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> norms;
  torch::Device device = torch::kCPU;
  for (const auto& p : params)
    if (p.grad().defined()) {
      if (norms.empty()) device = p.grad().device();
      norms.push_back(torch::linalg_vector_norm(p.grad(), 2).to(device));
    }
  if (norms.empty()) return torch::zeros({}, torch::TensorOptions().device(device));
  return torch::linalg_vector_norm(torch::stack(norms), 2);
}

void clip_grads_with_norm(const std::vector<torch::Tensor>& params, const torch::Tensor& total,
                          const torch::Tensor& max_norm) {
  torch::NoGradGuard no_grad;
  const torch::Tensor coef = torch::clamp_max((total + 1e-6).reciprocal() * max_norm, 1.0);
  for (const auto& p : params)
    if (p.grad().defined()) p.grad().mul_(coef.to(p.grad().device()));
}

}  // namespace pgolf::optim
