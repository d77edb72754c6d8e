// Building blocks shared by the GPT (reference-spec §4.1): CastedLinear (fp32 master weight cast to
// the activation dtype, optional fake quantisation for QAT), rotary tables, batched LoRA deltas
// for TTT-LoRA (PR #289 / 2026-03-17_LoRA_TTT), and the per-row fake quantiser.
#pragma once

#include <cstdint>
#include <utility>

#include <torch/torch.h>

namespace pgolf::model {

// Smallest positive normal fp16 value (torch.finfo(torch.float16).tiny): the export's scale floor.
constexpr double kFp16Tiny = 6.103515625e-05;

// Per-row symmetric fake quantisation with a straight-through gradient. For w (rows, cols):
//   scale = max(rowmax|w| / clip, min_scale);  q = clamp(round_half_even(w / scale), -(clip+1), clip)
//   forward value q * scale, gradient identity (w + (q*scale - w).detach()).
// clip 15 = int5, 31 = int6, 127 = int8. Computed in fp32; result has w's dtype.
torch::Tensor fake_quant_per_row(const torch::Tensor& w, int64_t clip, double min_scale = kFp16Tiny);

// nn.Linear without bias; the weight (out, in) stays fp32 and is cast to x's dtype at call time.
class CastedLinearImpl : public torch::nn::Module {
 public:
  // zero_init marks output projections that the init pass zeroes (the reference's _zero_init).
  CastedLinearImpl(int64_t in_features, int64_t out_features, bool zero_init = false);
  torch::Tensor forward(const torch::Tensor& x);  // (..., in) -> (..., out)
  // PyTorch's default Linear init: kaiming_uniform_(a=sqrt(5)) = U(+-1/sqrt(in)).
  void reset_parameters();

  // QAT switch: clip > 0 routes the weight through fake_quant_per_row while training.
  void set_qat(int64_t clip, double min_scale = kFp16Tiny);
  int64_t qat_clip() const { return qat_clip_; }
  bool zero_init() const { return zero_init_; }
  int64_t in_features() const { return in_; }
  int64_t out_features() const { return out_; }

  torch::Tensor weight;

 private:
  int64_t in_, out_;
  bool zero_init_;
  int64_t qat_clip_ = 0;
  double qat_min_scale_ = kFp16Tiny;
};
TORCH_MODULE(CastedLinear);

// Per-sequence low-rank adapter: delta(x) = (x A^T) B^T with A (Bd, r, in), B (Bd, out, r), so
// sequence i of a batch of Bd gets its own Delta W_i = B_i A_i.
struct LoraAdapter {
  torch::Tensor a;  // (Bd, r, in)
  torch::Tensor b;  // (Bd, out, r)
  bool defined() const { return a.defined() && b.defined(); }
};
// x (Bd, T, in) -> (Bd, T, out); A/B are cast to x's dtype. Checks shapes, naming `what`.
torch::Tensor lora_delta(const torch::Tensor& x, const LoraAdapter& lora, const char* what);

// Rotary tables for one head_dim/base, cached per (seq_len, device, faithful). inv_freq_i =
// 1 / base^(2i/D) in fp32. Clean tables: positions and products in fp32. Faithful tables
// (reference-spec §15.1): inv_freq and positions rounded to bf16, fp32 product, bf16 cos/sin.
// ntk_len > 0 (ROPE_TRAIN_SEQ_LEN, the March records' NTK-aware Rotary): for seq_len > ntk_len the
// base becomes base * (seq_len/ntk_len)^(D/(D-2)), inv_freq and positions fresh in fp32 (the
// record recomputes them on the device, so no bf16 rounding), cos/sin still bf16 when faithful.
class Rotary {
 public:
  Rotary(int64_t head_dim, double base, int64_t ntk_len = 0);
  // cos, sin of shape (1, 1, T, D/2) in `dtype`.
  std::pair<torch::Tensor, torch::Tensor> tables(int64_t seq_len, const torch::Device& device,
                                                 torch::ScalarType dtype, bool faithful);

 private:
  int64_t head_dim_;
  double base_;
  int64_t ntk_len_;
  int64_t cached_len_ = -1;
  bool cached_faithful_ = false;
  torch::Tensor cos_, sin_;
};

// Rotate-half RoPE on x (B, H, T, D) with cos/sin (1, 1, T, D/2): halves x1 = x[..., :D/2],
// x2 = x[..., D/2:] become (x1 cos + x2 sin, -x1 sin + x2 cos), as in the reference.
torch::Tensor apply_rotary(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin);

}  // namespace pgolf::model
