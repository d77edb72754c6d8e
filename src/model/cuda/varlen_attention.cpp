// VARLEN_ATTN on CUDA: LibTorch's flash-attention varlen entry point (the kernel behind
// flash_attn_varlen_func, FA2 in LibTorch), built only with the CUDA sources (PGOLF_WITH_CUDA).
// GQA needs no repeat: the kernel reads KV head h / (H / Hkv) for query head h.
#ifdef PGOLF_WITH_CUDA
#include <ATen/ops/_flash_attention_forward.h>

#include <cmath>

#include "pgolf/core/error.h"
#include "pgolf/model/attention_banked.h"

namespace pgolf::model {

bool flash_varlen_supported(const torch::Tensor& q) {
  return q.is_cuda() && (q.scalar_type() == torch::kBFloat16 || q.scalar_type() == torch::kHalf);
}

torch::Tensor flash_varlen_attention(const torch::Tensor& q, const torch::Tensor& k,
                                     const torch::Tensor& v, const torch::Tensor& cu_seqlens,
                                     int64_t max_len) {
  PGOLF_CHECK(flash_varlen_supported(q) && q.dim() == 3 && k.dim() == 3 && v.dim() == 3,
              "flash varlen: expected CUDA bf16/fp16 q (N,H,D), k/v (N,Hkv,D), found "
                  << q.device() << " " << q.scalar_type() << " " << q.sizes());
  const auto cu = cu_seqlens.to(q.device(), torch::kInt32).contiguous();
  const double scale = 1.0 / std::sqrt(static_cast<double>(q.size(-1)));
  auto out = at::_flash_attention_forward(q.contiguous(), k.contiguous(), v.contiguous(), cu, cu,
                                          max_len, max_len, /*dropout_p=*/0.0, /*is_causal=*/true,
                                          /*return_debug_mask=*/false, scale);
  return std::get<0>(out);  // (N,H,D); autograd through _flash_attention_backward
}

}  // namespace pgolf::model
#endif
