// Pure tensor rules of the frontier records' attention and blocks, shared by the PR #180 GPT
// (model/gpt.h, the March 2026 records 1.1271-1.1122) and the banked GPT (model/gpt_banked.h,
// the 1.0611 record): partial RoPE (ROPE_DIMS), XSA (XSA_LAST_N) and the LN scale (LN_SCALE).
#pragma once

#include <cstdint>

#include <torch/torch.h>

namespace pgolf::model {

// Rotate-half RoPE on the first `rope_dims` of x's last dim (all D when rope_dims is 0 or D):
// halves x1 = x[..., :r/2], x2 = x[..., r/2:r] -> (x1 cos + x2 sin, -x1 sin + x2 cos); the other
// dims pass unchanged. cos/sin broadcast against x[..., :r/2] ((1,T,1,r/2) for (B,T,H,D), (1,1,T,r/2)
// for (B,H,T,D)), in x's dtype.
torch::Tensor partial_rotary(const torch::Tensor& x, const torch::Tensor& cos,
                             const torch::Tensor& sin, int64_t rope_dims);

// XSA on y (B,T,H,D) with v (B,T,Hkv,D): query head h belongs to KV group h / (H/Hkv); the
// component of y_h along its group's normalised v_t (F.normalize, eps 1e-12) is removed.
torch::Tensor exclusive_self_attention(const torch::Tensor& y, const torch::Tensor& v);

// The records' LN scale factor of physical layer `layer`: 1/sqrt(layer+1), or 1 when off.
double ln_scale_factor(int64_t layer, bool ln_scale);

}  // namespace pgolf::model
