// Dispatch between the fused CUDA kernels and the LibTorch reference (see fused.h).
#include "pgolf/model/fused.h"

#include <atomic>

#include "pgolf/core/error.h"
#include "pgolf/cuda_kernels.h"  // generated: PGOLF_WITH_CUDA_KERNELS 0 | 1
#include "pgolf/model/compat.h"

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
#endif

}  // namespace pgolf::model::fused
