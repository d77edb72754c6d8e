// CastedLinear, fake quantisation, LoRA deltas and rotary tables (see layers.h).
#include "pgolf/model/layers.h"

#include <cmath>

#include "pgolf/core/error.h"
#include "pgolf/model/linear_tap.h"

namespace pgolf::model {

torch::Tensor fake_quant_per_row(const torch::Tensor& w, int64_t clip, double min_scale) {
  PGOLF_CHECK(w.dim() == 2, "fake_quant_per_row: expected a 2-D weight, found " << w.sizes());
  PGOLF_CHECK(clip >= 1, "fake_quant_per_row: clip must be >= 1, found " << clip);
  torch::Tensor dequant;
  {
    torch::NoGradGuard no_grad;
    const auto w32 = w.detach().to(torch::kFloat32);
    const auto scale =
        (w32.abs().amax(/*dim=*/1) / static_cast<double>(clip)).clamp_min(min_scale);  // (rows)
    // torch::round is round-half-to-even, like the reference's torch.round.
    const auto q = torch::round(w32 / scale.unsqueeze(1)).clamp(-(clip + 1), clip);
    dequant = (q * scale.unsqueeze(1)).to(w.scalar_type());
  }
  // Straight-through estimator: the value of dequant, the gradient of w.
  return w + (dequant - w).detach();
}

CastedLinearImpl::CastedLinearImpl(int64_t in_features, int64_t out_features, bool zero_init)
    : in_(in_features), out_(out_features), zero_init_(zero_init) {
  weight = register_parameter("weight", torch::empty({out_features, in_features}));
  reset_parameters();
}

void CastedLinearImpl::reset_parameters() {
  // Same RNG draw as nn.Linear's constructor, so construction consumes the generator like the
  // reference (needed to reproduce its initial values bit for bit, reference-spec §15.9).
  torch::nn::init::kaiming_uniform_(weight, /*a=*/std::sqrt(5.0));
}

void CastedLinearImpl::set_qat(int64_t clip, double min_scale) {
  PGOLF_CHECK(clip >= 0, "QAT clip must be >= 0 (0 = off), found " << clip);
  qat_clip_ = clip;
  qat_min_scale_ = min_scale;
}

torch::Tensor CastedLinearImpl::forward(const torch::Tensor& x) {
  // QAT only while training (as the 11L records' CastedLinear): eval sees the float weight.
  const auto w = (qat_clip_ > 0 && is_training()) ? fake_quant_per_row(weight, qat_clip_, qat_min_scale_)
                                                   : weight;
  if (auto* tap = linear_tap()) tap->add_module(this, x);
  return torch::nn::functional::linear(x, w.to(x.scalar_type()));
}

torch::Tensor lora_delta(const torch::Tensor& x, const LoraAdapter& lora, const char* what) {
  PGOLF_CHECK(lora.a.dim() == 3 && lora.b.dim() == 3,
              "LoRA " << what << ": expected A (Bd,r,in) and B (Bd,out,r), found A "
                      << lora.a.sizes() << " B " << lora.b.sizes());
  PGOLF_CHECK(x.dim() == 3 && lora.a.size(0) == x.size(0) && lora.b.size(0) == x.size(0) &&
                  lora.a.size(2) == x.size(2) && lora.b.size(2) == lora.a.size(1),
              "LoRA " << what << ": shapes do not fit input " << x.sizes() << ": A "
                      << lora.a.sizes() << " B " << lora.b.sizes());
  const auto a = lora.a.to(x.scalar_type());
  const auto b = lora.b.to(x.scalar_type());
  return torch::matmul(torch::matmul(x, a.transpose(1, 2)), b.transpose(1, 2));  // (Bd,T,out)
}

Rotary::Rotary(int64_t head_dim, double base, int64_t ntk_len)
    : head_dim_(head_dim), base_(base), ntk_len_(ntk_len) {}

std::pair<torch::Tensor, torch::Tensor> Rotary::tables(int64_t seq_len, const torch::Device& device,
                                                       torch::ScalarType dtype, bool faithful) {
  if (seq_len != cached_len_ || faithful != cached_faithful_ || !cos_.defined() ||
      cos_.device() != device) {
    // Build outside inference mode: a cached inference tensor would later break backward
    // ("Inference tensors cannot be saved for backward", golden README quirks).
    c10::InferenceMode not_inference(/*enabled=*/false);
    torch::NoGradGuard no_grad;
    const auto f32 = torch::TensorOptions().dtype(torch::kFloat32).device(device);
    const bool ntk = ntk_len_ > 0 && seq_len > ntk_len_;
    const double d = static_cast<double>(head_dim_);
    const double base =
        ntk ? base_ * std::pow(static_cast<double>(seq_len) / static_cast<double>(ntk_len_),
                               d / (d - 2.0))
            : base_;
    // 1 / base^(arange(0, D, 2) / D), in fp32 like the reference's Rotary.__init__.
    auto inv_freq = torch::reciprocal(torch::pow(base, torch::arange(0, head_dim_, 2, f32) / d));
    auto t = torch::arange(seq_len, f32);
    if (faithful && !ntk) {
      // model.bfloat16() rounded inv_freq, and arange(T, dtype=bf16) rounds positions > 256.
      inv_freq = inv_freq.to(torch::kBFloat16).to(torch::kFloat32);
      t = t.to(torch::kBFloat16).to(torch::kFloat32);
    }
    auto freqs = torch::outer(t, inv_freq);  // (T, D/2)
    cos_ = freqs.cos().unsqueeze(0).unsqueeze(0);  // (1,1,T,D/2)
    sin_ = freqs.sin().unsqueeze(0).unsqueeze(0);
    if (faithful) {
      cos_ = cos_.to(torch::kBFloat16);
      sin_ = sin_.to(torch::kBFloat16);
    }
    cached_len_ = seq_len;
    cached_faithful_ = faithful;
  }
  return {cos_.to(dtype), sin_.to(dtype)};
}

torch::Tensor apply_rotary(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin) {
  const int64_t half = x.size(-1) / 2;
  const auto x1 = x.narrow(-1, 0, half);
  const auto x2 = x.narrow(-1, half, half);
  return torch::cat({x1 * cos + x2 * sin, x1 * (-sin) + x2 * cos}, /*dim=*/-1);
}

}  // namespace pgolf::model
