// Partial RoPE, XSA and the LN scale factor (see frontier_ops.h).
#include "pgolf/model/frontier_ops.h"

#include <cmath>

#include "pgolf/core/error.h"

namespace pgolf::model {

torch::Tensor partial_rotary(const torch::Tensor& x, const torch::Tensor& cos,
                             const torch::Tensor& sin, int64_t rope_dims) {
  const int64_t D = x.size(-1);
  const int64_t r = (rope_dims > 0 && rope_dims < D) ? rope_dims : D;
  const int64_t half = r / 2;
  const auto x1 = x.narrow(-1, 0, half);
  const auto x2 = x.narrow(-1, half, half);
  auto rot = torch::cat({x1 * cos + x2 * sin, x1 * (-sin) + x2 * cos}, -1);
  if (r == D) return rot;
  return torch::cat({rot, x.narrow(-1, r, D - r)}, -1);  // position-free remainder
}

torch::Tensor exclusive_self_attention(const torch::Tensor& y, const torch::Tensor& v) {
  const int64_t B = y.size(0), T = y.size(1), H = y.size(2), D = y.size(3), Hkv = v.size(2);
  PGOLF_CHECK(v.dim() == 4 && H % Hkv == 0 && v.size(3) == D,
              "XSA: y " << y.sizes() << " and v " << v.sizes() << " do not fit");
  // Group view, no repeat: (B,T,Hkv,group,D) against (B,T,Hkv,1,D).
  const auto yg = y.reshape({B, T, Hkv, H / Hkv, D});
  namespace nnf = torch::nn::functional;
  const auto vn = nnf::normalize(v, nnf::NormalizeFuncOptions().dim(-1)).unsqueeze(-2);
  const auto proj = (yg * vn).sum(-1, /*keepdim=*/true) * vn;
  return (yg - proj).reshape({B, T, H, D});
}

double ln_scale_factor(int64_t layer, bool ln_scale) {
  return ln_scale ? 1.0 / std::sqrt(static_cast<double>(layer + 1)) : 1.0;
}

}  // namespace pgolf::model
