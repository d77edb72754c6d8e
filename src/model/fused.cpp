// Dispatch between the fused CUDA kernels and the LibTorch reference (see fused.h).
#include "pgolf/model/fused.h"

#include <algorithm>
#include <atomic>
#include <vector>

#include "pgolf/core/error.h"
#include "pgolf/cuda_kernels.h"  // generated: PGOLF_WITH_CUDA_KERNELS 0 | 1
#include "pgolf/model/compat.h"
#include "pgolf/model/layers.h"

namespace pgolf::model::fused {
namespace {

std::atomic<bool> g_enabled{false};

bool suits(const torch::Tensor& t) {
  return t.is_cuda() && (t.scalar_type() == torch::kFloat32 || t.scalar_type() == torch::kBFloat16) &&
         t.numel() > 0 && t.dim() >= 1;
}

}  // namespace

void set_enabled(bool on) { g_enabled = on; }
bool enabled() { return g_enabled; }

bool compiled() {
#if PGOLF_WITH_CUDA_KERNELS
  return true;
#else
  return false;
#endif
}

torch::Tensor rms_norm_reference(const torch::Tensor& x) { return compat::rms_norm(x); }

torch::Tensor relu2_reference(const torch::Tensor& h, bool leaky) {
  return (leaky ? torch::leaky_relu(h, /*negative_slope=*/0.5) : torch::relu(h)).square();
}

torch::Tensor rotary_reference(const torch::Tensor& x, const torch::Tensor& cos,
                               const torch::Tensor& sin) {
  return apply_rotary(x, cos, sin);
}

torch::Tensor softcap_cross_entropy_reference(const torch::Tensor& z, const torch::Tensor& targets,
                                              double cap, bool mean) {
  // Exactly GPT's eager composition (bit for bit on CPU): softcap in z's dtype, fp32 upcast, then
  // LibTorch's cross-entropy.
  const auto logits = cap * torch::tanh(z / cap);
  const int64_t V = logits.size(-1);
  namespace F = torch::nn::functional;
  if (mean)
    return F::cross_entropy(logits.to(torch::kFloat32).reshape({-1, V}), targets.reshape({-1}));
  return F::cross_entropy(logits.to(torch::kFloat32).reshape({-1, V}), targets.reshape({-1}),
                          F::CrossEntropyFuncOptions().reduction(torch::kNone))
      .reshape(targets.sizes());
}

torch::Tensor resid_mix_reference(const torch::Tensor& x, const torch::Tensor& x0,
                                  const torch::Tensor& mix) {
  // Block's eager expression: (1, ..., 1, D) views of the mix rows (bit for bit the same ops).
  std::vector<int64_t> shape(static_cast<size_t>(std::max<int64_t>(x.dim(), 1)), 1);
  shape.back() = -1;
  return mix[0].view(shape) * x + mix[1].view(shape) * x0;
}

bool softcap_ce_suits(const torch::Tensor& z, const torch::Tensor& targets) {
  return suits(z) && z.size(-1) > 0 && targets.defined() && targets.scalar_type() == torch::kInt64 &&
         targets.device() == z.device() && targets.numel() * z.size(-1) == z.numel();
}

bool resid_mix_suits(const torch::Tensor& x, const torch::Tensor& x0, const torch::Tensor& mix) {
  return suits(x) && x0.defined() && x0.sizes() == x.sizes() && x0.scalar_type() == x.scalar_type() &&
         x0.device() == x.device() && mix.defined() && mix.is_floating_point() && mix.dim() == 2 &&
         mix.size(0) == 2 && mix.size(1) == x.size(-1) && mix.device() == x.device();
}

torch::Tensor softcap_cross_entropy(const torch::Tensor& z, const torch::Tensor& targets, double cap,
                                    bool mean) {
  if (compiled() && enabled() && softcap_ce_suits(z, targets))
    return softcap_cross_entropy_cuda(z, targets, cap, mean);
  return softcap_cross_entropy_reference(z, targets, cap, mean);
}

torch::Tensor resid_mix(const torch::Tensor& x, const torch::Tensor& x0, const torch::Tensor& mix) {
  if (compiled() && enabled() && resid_mix_suits(x, x0, mix)) return resid_mix_cuda(x, x0, mix);
  return resid_mix_reference(x, x0, mix);
}

bool rotary_suits(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin) {
  return suits(x) && x.dim() >= 2 && x.size(-1) % 2 == 0 && cos.defined() && sin.defined() &&
         cos.scalar_type() == x.scalar_type() && sin.scalar_type() == x.scalar_type() &&
         cos.device() == x.device() && sin.device() == x.device() &&
         cos.numel() == x.size(-2) * (x.size(-1) / 2) && sin.numel() == cos.numel();
}

torch::Tensor rotary(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin) {
  if (compiled() && enabled() && rotary_suits(x, cos, sin)) return rotary_cuda(x, cos, sin);
  return rotary_reference(x, cos, sin);
}

torch::Tensor rms_norm(const torch::Tensor& x) {
  if (compiled() && enabled() && suits(x)) return rms_norm_cuda(x);
  return rms_norm_reference(x);
}

torch::Tensor relu2(const torch::Tensor& h, bool leaky) {
  if (compiled() && enabled() && suits(h)) return relu2_cuda(h, leaky);
  return relu2_reference(h, leaky);
}

#if !PGOLF_WITH_CUDA_KERNELS
torch::Tensor rms_norm_cuda(const torch::Tensor&) {
  PGOLF_FAIL("rms_norm_cuda: this pgolf was built without its CUDA kernels");
  return {};
}
torch::Tensor relu2_cuda(const torch::Tensor&, bool) {
  PGOLF_FAIL("relu2_cuda: this pgolf was built without its CUDA kernels");
  return {};
}
torch::Tensor rotary_cuda(const torch::Tensor&, const torch::Tensor&, const torch::Tensor&) {
  PGOLF_FAIL("rotary_cuda: this pgolf was built without its CUDA kernels");
  return {};
}
torch::Tensor softcap_cross_entropy_cuda(const torch::Tensor&, const torch::Tensor&, double, bool) {
  PGOLF_FAIL("softcap_cross_entropy_cuda: this pgolf was built without its CUDA kernels");
  return {};
}
torch::Tensor resid_mix_cuda(const torch::Tensor&, const torch::Tensor&, const torch::Tensor&) {
  PGOLF_FAIL("resid_mix_cuda: this pgolf was built without its CUDA kernels");
  return {};
}
#endif

}  // namespace pgolf::model::fused
