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

double train_cap_ms(double max_wallclock_seconds, double gptq_reserve_seconds) {
  if (max_wallclock_seconds <= 0) return 0.0;
  return 1000.0 * max_wallclock_seconds - 1000.0 * gptq_reserve_seconds;  // the record's order
}

double training_frac(int64_t step, double elapsed_ms, int64_t iterations, double cap_ms) {
  if (cap_ms <= 0)
    return static_cast<double>(step) / static_cast<double>(std::max<int64_t>(iterations, 1));
  return elapsed_ms / std::max(cap_ms, 1e-9);
}

double lr_mul_frac(double frac, double warmdown_frac, double min_lr) {
  if (warmdown_frac <= 0) return 1.0;
  if (frac >= 1.0 - warmdown_frac) return std::max((1.0 - frac) / warmdown_frac, min_lr);
  return 1.0;
}

double lr_scale(int64_t step, double elapsed_ms, int64_t iterations, int64_t warmdown_iters,
                double warmdown_frac, double min_lr, double cap_ms) {
  if (warmdown_frac > 0)
    return lr_mul_frac(training_frac(step, elapsed_ms, iterations, cap_ms), warmdown_frac, min_lr);
  return std::max(lr_mul(step, elapsed_ms, iterations, warmdown_iters, cap_ms), min_lr);
}

double wd_taper_mul(double frac, double start_frac, double final_mult) {
  const double start = std::clamp(start_frac, 0.0, 1.0);
  if (frac <= start || start >= 1.0) return 1.0;
  const double progress = std::clamp((frac - start) / std::max(1.0 - start, 1e-9), 0.0, 1.0);
  return 1.0 + (std::max(final_mult, 0.0) - 1.0) * progress;
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

// The one gradient-norm implementation (the step, the CUDA graph and the tests all use it).
torch::Tensor grad_total_norm(const std::vector<torch::Tensor>& params) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> grads;
  for (const auto& p : params)
    if (p.grad().defined()) grads.push_back(p.grad());
  if (grads.empty()) {
    const torch::Device device = params.empty() ? torch::kCPU : params[0].device();
    return torch::zeros({}, torch::TensorOptions().device(device));
  }
  // Per-tensor norms in each gradient's dtype (one multi-tensor kernel on CUDA, as torch's
  // clip_grad_norm_ with foreach; per tensor on CPU), then the norm of those norms on the first
  // gradient's device, promoted to fp32 when dtypes are mixed, as torch does.
  const torch::Device device = grads[0].device();
  std::vector<torch::Tensor> norms = at::_foreach_norm(grads, 2);
  for (auto& n : norms) n = n.to(device);
  return torch::linalg_vector_norm(torch::stack(norms), 2);
}

torch::Tensor clip_coefficient(const torch::Tensor& total, const torch::Tensor& max_norm) {
  // Python's `max_norm / t` is `t.reciprocal() * max_norm`; same rounding here.
  return torch::clamp_max((total + 1e-6).reciprocal() * max_norm, 1.0);
}

void clip_grads_with_norm(const std::vector<torch::Tensor>& params, const torch::Tensor& total,
                          const torch::Tensor& max_norm) {
  torch::NoGradGuard no_grad;
  const torch::Tensor coef = clip_coefficient(total, max_norm);
  for (const auto& p : params)
    if (p.grad().defined()) p.grad().mul_(coef.to(p.grad().device()));
}

double clip_grad_norm(const std::vector<torch::Tensor>& params, double max_norm) {
  const torch::Tensor total = grad_total_norm(params);
  if (max_norm > 0)
    clip_grads_with_norm(params, total, torch::full({}, max_norm, total.options()));
  return total.item<double>();
}

}  // namespace pgolf::optim
