// Schedules and gradient clipping as pure functions (reference-spec §5.3-§5.5), in the style of
// llm.c's schedulers.h: the training loop asks for the value of a step, nothing is stored.
#pragma once

#include <cstdint>
#include <vector>

#include <torch/torch.h>

namespace pgolf::optim {

// The LR multiplier shared by every group (no LR warmup). `step` = optimizer steps completed.
// * warmdown_iters <= 0: 1.
// * max_wallclock_ms <= 0 (no cap): (iterations - step) / warmdown_iters over the last
//   warmdown_iters steps before `iterations`, else 1.
// * with a cap: warmdown_ms = warmdown_iters * elapsed_ms / max(step, 1); remaining =
//   max(cap - elapsed, 0); remaining / warmdown_ms when remaining <= warmdown_ms, else 1.
double lr_mul(int64_t step, double elapsed_ms, int64_t iterations, int64_t warmdown_iters,
              double max_wallclock_ms);

// The wallclock cap training runs under, in ms: max_wallclock_seconds minus gptq_reserve_seconds
// (GPTQ_RESERVE_SECONDS: the records keep GPTQ's calibration inside the 600 s); 0 = no cap
// (max_wallclock_seconds <= 0).
double train_cap_ms(double max_wallclock_seconds, double gptq_reserve_seconds);

// Training progress, the records' training_frac: elapsed_ms / cap_ms with a cap (cap_ms > 0),
// else step / max(iterations, 1) (`step` = optimizer steps completed).
double training_frac(int64_t step, double elapsed_ms, int64_t iterations, double cap_ms);

// WARMDOWN_FRAC (the records' lr_mul(frac)): 1 until frac >= 1 - warmdown_frac, then
// max((1 - frac) / warmdown_frac, min_lr). warmdown_frac <= 0: 1.
double lr_mul_frac(double frac, double warmdown_frac, double min_lr);

// The loop's LR multiplier: lr_mul_frac of training_frac when warmdown_frac > 0, else lr_mul
// (WARMDOWN_ITERS) floored at min_lr (min_lr 0 leaves it unchanged).
double lr_scale(int64_t step, double elapsed_ms, int64_t iterations, int64_t warmdown_iters,
                double warmdown_frac, double min_lr, double cap_ms);

// The Muon WD taper (PR #1729's wd_mul): 1 until frac > start_frac, then linear to final_mult
// at frac 1 (held after). start_frac >= 1: 1.
double wd_taper_mul(double frac, double start_frac, double final_mult);

// Muon momentum warmup: linear from `warmup_start` to `momentum` over `warmup_steps` steps
// (frac = min(step / warmup_steps, 1); warmup_steps <= 0 means `momentum` from the start).
double muon_momentum(int64_t step, double warmup_start, double momentum, int64_t warmup_steps);

// Late QAT (PR #286's QAT_START_FRAC, 0.85 there): true once the run's progress reaches
// `late_qat_frac` (> 0). Progress is elapsed_ms / max_wallclock_ms with a cap, else
// step / max(iterations, 1) (`step` = optimizer steps completed). late_qat_frac <= 0: never.
bool late_qat_due(int64_t step, double elapsed_ms, int64_t iterations, double late_qat_frac,
                  double max_wallclock_ms);

// torch.nn.utils.clip_grad_norm_ in two graph-safe halves (no host sync; the training step and
// CUDA_GRAPHS=1 use them): the pre-clip total = L2 norm of the per-tensor L2 norms of every
// defined gradient (fp32 and bf16 together) as a 0-d tensor on the gradients' device (0 without
// gradients; NaN/Inf when any gradient is), and the scaling of every gradient by
// min(max_norm / (total + 1e-6), 1) with max_norm a 0-d tensor there (+inf: no clipping).
torch::Tensor grad_total_norm(const std::vector<torch::Tensor>& params);
void clip_grads_with_norm(const std::vector<torch::Tensor>& params, const torch::Tensor& total,
                          const torch::Tensor& max_norm);
// The factor clip_grads_with_norm multiplies by, min(max_norm / (total + 1e-6), 1), 0-d.
torch::Tensor clip_coefficient(const torch::Tensor& total, const torch::Tensor& max_norm);
// Both halves at once, returning the pre-clip total on the host (max_norm <= 0 only measures).
double clip_grad_norm(const std::vector<torch::Tensor>& params, double max_norm);

}  // namespace pgolf::optim
