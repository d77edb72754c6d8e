// Dispatch of the fused partial-rotary kernel (see fused_rotary.h; the kernel's autograd wrapper is
// src/model/cuda/partial_rotary_ops.cpp).
#include "pgolf/model/fused_rotary.h"

#include "pgolf/core/error.h"
#include "pgolf/cuda_kernels.h"  // generated: PGOLF_WITH_CUDA_KERNELS 0 | 1
#include "pgolf/model/attention_banked.h"  // partial_rotary (model/frontier_ops.h)
#include "pgolf/model/fused.h"

namespace pgolf::model::fused {

int64_t partial_rotary_width(int64_t rope_dims, int64_t head_dim) {
  return rope_dims > 0 && rope_dims < head_dim ? rope_dims : head_dim;
}

bool partial_rotary_suits(const torch::Tensor& x, const torch::Tensor& cos,
                          const torch::Tensor& sin, int64_t rope_dims) {
  if (!x.defined() || !x.is_cuda() || x.dim() != 4 || x.numel() == 0) return false;
  if (x.scalar_type() != torch::kFloat32 && x.scalar_type() != torch::kBFloat16) return false;
  const int64_t r = partial_rotary_width(rope_dims, x.size(3));
  return r % 2 == 0 && cos.defined() && sin.defined() && cos.scalar_type() == x.scalar_type() &&
         sin.scalar_type() == x.scalar_type() && cos.device() == x.device() &&
         sin.device() == x.device() && cos.numel() == x.size(1) * (r / 2) &&
         sin.numel() == cos.numel();
}

torch::Tensor partial_rotary(const torch::Tensor& x, const torch::Tensor& cos,
                             const torch::Tensor& sin, int64_t rope_dims) {
  if (compiled() && enabled() && partial_rotary_suits(x, cos, sin, rope_dims))
    return partial_rotary_cuda(x, cos, sin, rope_dims);
  return model::partial_rotary(x, cos, sin, rope_dims);
}

#if !PGOLF_WITH_CUDA_KERNELS
torch::Tensor partial_rotary_cuda(const torch::Tensor&, const torch::Tensor&, const torch::Tensor&,
                                  int64_t) {
  PGOLF_FAIL("partial_rotary_cuda: this pgolf was built without its CUDA kernels");
  return {};
}
#endif

}  // namespace pgolf::model::fused
