// Dispatch between the fused CUDA kernels and the LibTorch reference (see fused.h).
#include "pgolf/model/fused.h"

#include <atomic>

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
#endif

}  // namespace pgolf::model::fused
