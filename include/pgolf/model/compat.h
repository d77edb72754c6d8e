// LibTorch version shims for the model (design.md §4): RMSNorm with PyTorch's default eps and
// causal scaled-dot-product attention with grouped-query heads. Newer LibTorch has both natively;
// older versions get explicit fallbacks here and nowhere else.
#pragma once

#include <cfloat>

#include <ATen/autocast_mode.h>
#include <c10/core/impl/LocalDispatchKeySet.h>
#include <torch/torch.h>
#include <torch/version.h>

#define PGOLF_TORCH_AT_LEAST(major, minor) \
  (TORCH_VERSION_MAJOR > (major) ||        \
   (TORCH_VERSION_MAJOR == (major) && TORCH_VERSION_MINOR >= (minor)))

namespace pgolf::model::compat {

// F.rms_norm(x, (x.size(-1),), eps=None): computed in fp32 (bf16/fp16 inputs are upcast), eps =
// FLT_EPSILON = 1.1920929e-7, result in the input dtype (reference-spec §4.1, §15.5).
inline torch::Tensor rms_norm(const torch::Tensor& x) {
#if PGOLF_TORCH_AT_LEAST(2, 4)
  return at::rms_norm(x, {x.size(-1)}, /*weight=*/std::nullopt, /*eps=*/std::nullopt);
#else
  const auto xf = x.to(torch::kFloat32);
  return (xf * torch::rsqrt(xf.square().mean(-1, /*keepdim=*/true) + FLT_EPSILON)).to(x.scalar_type());
#endif
}

// Whether CPU attention on bf16/fp16 q, k, v runs LibTorch's fp32 flash kernel instead (inputs
// upcast, output rounded once to the input dtype). Up to 256 positions the bf16 CPU flash kernel's
// backward costs 1.2-4.8x the fp32 one's (torch 2.15, one thread; B x H x T x D = 8x4x128x32:
// forward + backward 18.6 vs 8.8 ms, 8x4x64x32: 11.5 vs 2.4 ms, 8x8x128x64: 43 vs 37 ms), while
// from 512 positions on fp32 is 5-10 % slower. fp32 softmax and products round less than the bf16
// kernel's, so the result is no further from the exact attention (max |err| vs fp64 7.5e-3 vs
// 8.2e-3 on unit-normal inputs, both the bf16 output rounding).
inline bool cpu_attention_in_fp32(bool on_cpu, torch::ScalarType dtype, int64_t seq_len) {
  return on_cpu && (dtype == torch::kBFloat16 || dtype == torch::kHalf) && seq_len <= 256;
}

// The dtype SDPA computes q in: CPU autocast (DTYPE=bf16) casts floating inputs to its dtype.
inline torch::ScalarType attention_compute_dtype(const torch::Tensor& q) {
  if (q.is_cpu() && q.is_floating_point() && at::autocast::is_autocast_enabled(at::kCPU))
    return at::autocast::get_autocast_dtype(at::kCPU);
  return q.scalar_type();
}

// Causal attention with scale 1/sqrt(D). q (B,H,T,D); k, v (B,Hkv,T,D) with H % Hkv == 0; query
// head h reads KV head h / (H/Hkv) (repeat-interleave semantics, as enable_gqa). Returns (B,H,T,D).
inline torch::Tensor causal_attention(const torch::Tensor& q, const torch::Tensor& k,
                                      const torch::Tensor& v) {
  const auto dtype = attention_compute_dtype(q);
  if (cpu_attention_in_fp32(q.is_cpu(), dtype, q.size(2))) {
    // Outside autocast, or it would cast the fp32 inputs straight back to bf16.
    c10::impl::ExcludeDispatchKeyGuard no_autocast(c10::DispatchKey::AutocastCPU);
    return causal_attention(q.to(torch::kFloat32), k.to(torch::kFloat32), v.to(torch::kFloat32))
        .to(dtype);
  }
  const bool gqa = q.size(1) != k.size(1);
#if PGOLF_TORCH_AT_LEAST(2, 5)
  return at::scaled_dot_product_attention(q, k, v, /*attn_mask=*/std::nullopt, /*dropout_p=*/0.0,
                                          /*is_causal=*/true, /*scale=*/std::nullopt,
                                          /*enable_gqa=*/gqa);
#else
  const int64_t rep = q.size(1) / k.size(1);
  const auto kk = gqa ? k.repeat_interleave(rep, /*dim=*/1) : k;  // (B,H,T,D)
  const auto vv = gqa ? v.repeat_interleave(rep, /*dim=*/1) : v;
#if PGOLF_TORCH_AT_LEAST(2, 0)
  return at::scaled_dot_product_attention(q, kk, vv, /*attn_mask=*/c10::nullopt, /*dropout_p=*/0.0,
                                          /*is_causal=*/true);
#else
  const int64_t T = q.size(2);
  auto att = torch::matmul(q, kk.transpose(-2, -1)) / std::sqrt(static_cast<double>(q.size(-1)));
  auto mask = torch::ones({T, T}, torch::dtype(torch::kBool).device(q.device())).triu(1);
  att = att.masked_fill(mask, -std::numeric_limits<float>::infinity()).softmax(-1);  // (B,H,T,T)
  return torch::matmul(att, vv);
#endif
#endif
}

}  // namespace pgolf::model::compat
