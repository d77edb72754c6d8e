// The fused partial-rotary kernel (ROPE_DIMS, issue 19 "Also the fused rotary kernel"): the banked
// attention's q/k rotation in one CUDA pass instead of the eager narrow/multiply/cat chain of
// model::partial_rotary (frontier_ops.h), which stays the CPU reference. Like the other fused
// kernels (fused.h) it is used only when FUSED_KERNELS=1, the build has the kernels and the tensors
// suit it; everything else takes partial_rotary. Compiled and linked; never run (no GPU here).
#pragma once

#include <cstdint>

#include <torch/torch.h>

namespace pgolf::model::fused {

// What the banked attention calls: x (B,T,H,D), cos/sin (1,T,1,r/2) in x's dtype (r = rope_dims,
// 0 or D: all dims). The kernel when fused::enabled() and partial_rotary_suits, else partial_rotary.
torch::Tensor partial_rotary(const torch::Tensor& x, const torch::Tensor& cos,
                             const torch::Tensor& sin, int64_t rope_dims);

// The rotated width r, as partial_rotary reads rope_dims: 0 or >= head_dim is the whole head.
int64_t partial_rotary_width(int64_t rope_dims, int64_t head_dim);

// The shapes the kernel takes: x CUDA fp32/bf16 of 4 dims (B,T,H,D); r even with 0 < r <= D;
// cos/sin of x's dtype and device holding T * r/2 elements.
bool partial_rotary_suits(const torch::Tensor& x, const torch::Tensor& cos,
                          const torch::Tensor& sin, int64_t rope_dims);

// The kernel behind a torch::autograd::Function (backward: the inverse rotation of the upstream
// gradient; cos/sin get none). Throws when the build has no kernels or the inputs do not suit.
torch::Tensor partial_rotary_cuda(const torch::Tensor& x, const torch::Tensor& cos,
                                  const torch::Tensor& sin, int64_t rope_dims);

}  // namespace pgolf::model::fused
