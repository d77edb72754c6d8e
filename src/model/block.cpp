// Block, MLP, BigramHash and SmearGate (see block.h; reference-spec §4.1, §4.3).
#include "pgolf/model/block.h"

#include "pgolf/core/error.h"
#include "pgolf/model/compat.h"
#include "pgolf/model/fused.h"

namespace pgolf::model {
namespace {
// (dim) parameter -> broadcastable (1,1,dim) in dtype `like`.
torch::Tensor chan(const torch::Tensor& p, const torch::Tensor& like) {
  return p.to(like.scalar_type()).view({1, 1, -1});
}
}  // namespace

MLPImpl::MLPImpl(int64_t dim, int64_t hidden, config::Activation activation, bool gated)
    : leaky_(activation == config::Activation::kLeakyRelu2) {
  if (gated) {
    gate = register_module("gate", CastedLinear(dim, hidden));
    up = register_module("up", CastedLinear(dim, hidden));
  } else {
    fc = register_module("fc", CastedLinear(dim, hidden));
  }
  proj = register_module("proj", CastedLinear(hidden, dim, /*zero_init=*/true));
}

torch::Tensor MLPImpl::forward(const torch::Tensor& x) {
  if (gate) return proj(fused::relu2(gate(x), leaky_) * up(x));  // act(gate x)^2 * up x
  auto h = fc(x);  // (B,T,hidden)
  return proj(fused::relu2(h, leaky_));  // act(h)^2; the fused kernel only when FUSED_KERNELS=1
}

BlockImpl::BlockImpl(const AttentionOptions& opts, int64_t hidden, config::Activation activation,
                     bool gated_mlp, double ln_scale)
    : ln_scale_(ln_scale) {
  attn = register_module("attn", Attention(opts));
  mlp = register_module("mlp", MLP(opts.dim, hidden, activation, gated_mlp));
  attn_scale = register_parameter("attn_scale", torch::ones({opts.dim}));
  mlp_scale = register_parameter("mlp_scale", torch::ones({opts.dim}));
  resid_mix = register_parameter("resid_mix",
                                 torch::stack({torch::ones({opts.dim}), torch::zeros({opts.dim})}));
}

torch::Tensor BlockImpl::forward(const torch::Tensor& x_in, const torch::Tensor& x0,
                                 const torch::Tensor& cos, const torch::Tensor& sin,
                                 const LoraAdapter* q_lora, const LoraAdapter* v_lora,
                                 const torch::Tensor& v_embed) {
  const auto mix = resid_mix.to(x_in.scalar_type());
  auto x = fused::resid_mix(x_in, x0, mix);  // mix[0] x + mix[1] x0; fused with FUSED_KERNELS=1
  const auto a = attn(normed(x), cos, sin, q_lora, v_lora, v_embed);
  x = x + chan(attn_scale, x) * a;
  x = x + chan(mlp_scale, x) * mlp(normed(x));
  return x;
}

torch::Tensor BlockImpl::normed(const torch::Tensor& x) const {
  const auto n = fused::rms_norm(x);
  return ln_scale_ == 1.0 ? n : n * ln_scale_;  // off: no multiply, bit-identical to the seeds
}

BigramHashImpl::BigramHashImpl(int64_t buckets, int64_t bigram_dim, int64_t model_dim, bool mult)
    : buckets_(buckets), mult_(mult) {
  PGOLF_CHECK(buckets >= 2, "bigram_vocab_size must be >= 2 when enabled, found " << buckets);
  embed = register_module(mult ? "table" : "embed", torch::nn::Embedding(buckets, bigram_dim));
  torch::NoGradGuard no_grad;
  if (mult) {  // PR #354: Embedding's N(0,1) draw, proj's draw, then table ~ N(0, 0.02), proj = 0
    proj = register_module("proj", CastedLinear(bigram_dim, model_dim, /*zero_init=*/true));
    torch::nn::init::normal_(embed->weight, /*mean=*/0.0, /*std=*/0.02);
    proj->weight.zero_();
    return;
  }
  embed->weight.zero_();
  if (bigram_dim != model_dim) {
    // Zeroed here, then re-initialised by the generic init pass (reference-spec §4.5).
    proj = register_module("proj", CastedLinear(bigram_dim, model_dim));
    proj->weight.zero_();
  }
  scale = register_parameter("scale", torch::tensor(0.05f));
}

torch::Tensor BigramHashImpl::hash(const torch::Tensor& ids) const {
  PGOLF_CHECK(ids.dim() >= 1 && ids.size(-1) >= 1, "bigram hash: expected (..., T>=1) ids, found "
                                                       << ids.sizes());
  if (mult_) {
    const auto cur = ids.to(torch::kInt64);
    const int64_t T = cur.size(-1);
    const auto prev =
        torch::cat({torch::zeros_like(cur.narrow(-1, 0, 1)), cur.narrow(-1, 0, T - 1)}, -1);
    return torch::remainder(prev * 1000003 + cur, buckets_);
  }
  const auto t = ids.to(torch::kInt32);
  const int64_t mod = buckets_ - 1;
  const int64_t T = t.size(-1);
  auto out = torch::empty_like(t);
  out.narrow(-1, 0, 1).fill_(mod);
  if (T > 1) {
    const auto cur = t.narrow(-1, 1, T - 1) * 36313;   // int32, wraps like the reference
    const auto prev = t.narrow(-1, 0, T - 1) * 27191;
    out.narrow(-1, 1, T - 1).copy_(torch::remainder(torch::bitwise_xor(cur, prev), mod));
  }
  return out.to(torch::kInt64);
}

torch::Tensor BigramHashImpl::forward(const torch::Tensor& ids, torch::ScalarType table_dtype) {
  auto h = torch::embedding(embed->weight.to(table_dtype), hash(ids));  // (B,T,bigram_dim)
  if (proj) h = proj(h);                                                 // (B,T,model_dim)
  return scale.defined() ? h * scale.to(h.scalar_type()) : h;
}

SmearGateImpl::SmearGateImpl(int64_t dim, bool bos_mask) : bos_mask_(bos_mask) {
  gate = register_parameter("gate", torch::zeros({dim}));
}

torch::Tensor SmearGateImpl::forward(const torch::Tensor& x, const torch::Tensor& ids) {
  const auto g = torch::sigmoid(gate.to(x.scalar_type())).view({1, 1, -1});
  const int64_t T = x.size(1);
  auto x_prev = torch::cat({torch::zeros_like(x.narrow(1, 0, 1)), x.narrow(1, 0, T - 1)}, 1);
  if (bos_mask_) x_prev = x_prev * (ids != kBosId).unsqueeze(-1).to(x.scalar_type());
  return (1 - g) * x + g * x_prev;
}

}  // namespace pgolf::model
