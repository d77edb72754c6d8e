// Fused CUDA kernels for memory-bound pieces of the model (issue #9 item 3): RMSNorm, the MLP's
// relu^2 / leaky-relu(0.5)^2, rotary, the softcapped cross-entropy of the loss and the blocks'
// residual mixing, each with forward and backward. They are OFF by default
// (FUSED_KERNELS=1 turns them on) and used only for CUDA tensors of dtype fp32 or bf16 when the
// build has the kernels (nvcc found: generated pgolf/cuda_kernels.h); everything else takes the plain LibTorch path,
// which is also the CPU reference the kernel test compares with. The kernels have been compiled
// and linked but never run: no GPU was available when they were written.
#pragma once

#include <torch/torch.h>

namespace pgolf::model::fused {

// Process-wide switch (set once per run from train.fused_kernels, before the first forward).
void set_enabled(bool on);
bool enabled();
// True when this binary contains the CUDA kernels.
bool compiled();

// What the model calls: the fused kernel when enabled() and `x` suits it, else the reference.
torch::Tensor rms_norm(const torch::Tensor& x);
torch::Tensor relu2(const torch::Tensor& h, bool leaky);
// model::apply_rotary (x (B,H,T,D), cos/sin (1,1,T,D/2) in x's dtype).
torch::Tensor rotary(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin);

// The loss on raw head outputs z (..., V) and int64 targets (...) (GPT::forward / per_token_loss):
// cross_entropy((cap * tanh(z / cap)).float(), targets). `mean`: the mean over all tokens (fp32
// 0-d); else per-token losses shaped like `targets` (fp32). The kernel never materialises the
// softcapped logits (the backward recomputes them from z); targets must lie in [0, V) (a NaN loss
// otherwise, where LibTorch would raise).
torch::Tensor softcap_cross_entropy(const torch::Tensor& z, const torch::Tensor& targets, double cap,
                                    bool mean);
// Block's residual mixing mix[0] * x + mix[1] * x0: x, x0 (..., D) of one dtype, mix (2, D) in x's
// dtype (Block casts resid_mix first, so its gradient flows back through that cast).
torch::Tensor resid_mix(const torch::Tensor& x, const torch::Tensor& x0, const torch::Tensor& mix);

// Plain LibTorch implementations (any device): compat::rms_norm (autocast's fp32 policy included)
// and relu(h)^2 / leaky_relu(h, 0.5)^2.
torch::Tensor rms_norm_reference(const torch::Tensor& x);
torch::Tensor relu2_reference(const torch::Tensor& h, bool leaky);
torch::Tensor rotary_reference(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin);
torch::Tensor softcap_cross_entropy_reference(const torch::Tensor& z, const torch::Tensor& targets,
                                              double cap, bool mean);
torch::Tensor resid_mix_reference(const torch::Tensor& x, const torch::Tensor& x0,
                                  const torch::Tensor& mix);
// Shapes/dtypes the rotary kernel takes: x CUDA fp32/bf16 with even last dim, cos/sin holding
// x.size(-2) * x.size(-1)/2 elements of x's dtype on x's device.
bool rotary_suits(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin);
// z CUDA fp32/bf16 (..., V), targets int64 on z's device with z.numel() / V elements.
bool softcap_ce_suits(const torch::Tensor& z, const torch::Tensor& targets);
// x CUDA fp32/bf16, x0 of x's shape, dtype and device, mix floating (2, x.size(-1)) on x's device.
bool resid_mix_suits(const torch::Tensor& x, const torch::Tensor& x0, const torch::Tensor& mix);

// The kernels behind torch::autograd::Functions, callable directly (tests). Throw when the build
// has no kernels or the tensor is not a CUDA fp32/bf16 tensor.
torch::Tensor rms_norm_cuda(const torch::Tensor& x);
torch::Tensor relu2_cuda(const torch::Tensor& h, bool leaky);
torch::Tensor rotary_cuda(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin);
torch::Tensor softcap_cross_entropy_cuda(const torch::Tensor& z, const torch::Tensor& targets,
                                         double cap, bool mean);
torch::Tensor resid_mix_cuda(const torch::Tensor& x, const torch::Tensor& x0, const torch::Tensor& mix);

}  // namespace pgolf::model::fused
