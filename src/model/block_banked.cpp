// Block of the banked GPT (see block_banked.h; the 1.0611 record's Block / _parallel_block).
#include "pgolf/model/block_banked.h"

#include <cmath>

#include "pgolf/model/fused.h"
#include "pgolf/model/linear_tap.h"

namespace pgolf::model {
namespace {
namespace F = torch::nn::functional;
torch::Tensor chan(const torch::Tensor& p, const torch::Tensor& like) {
  return p.to(like.scalar_type()).view({1, 1, -1});
}
}  // namespace

BankedBlockImpl::BankedBlockImpl(const BankedAttentionOptions& opts, int64_t layer, bool ln_scale)
    : ln_(ln_scale_factor(layer, ln_scale)) {
  BankedAttentionOptions layer_opts = opts;
  layer_opts.layer = layer;
  attn = register_module("attn", BankedAttention(layer_opts));
  attn_scale = register_parameter("attn_scale", torch::ones({opts.dim}));
  mlp_scale = register_parameter("mlp_scale", torch::ones({opts.dim}));
  resid_mix = register_parameter("resid_mix",
                                 torch::stack({torch::ones({opts.dim}), torch::zeros({opts.dim})}));
}

torch::Tensor BankedBlockImpl::normed(const torch::Tensor& x) const {
  const auto n = fused::rms_norm(x);
  return ln_ == 1.0 ? n : n * ln_;
}

torch::Tensor BankedBlockImpl::mlp(const torch::Tensor& x, const LayerWeights& w) const {
  auto* tap = linear_tap();  // the record's MLP hook: fc's input and the activation (proj's)
  if (tap) tap->add({layer_weight_name(attn->options().layer, "mlp.fc.weight")}, x);
  const auto h = fused::relu2(F::linear(x, w.up.to(x.scalar_type())), /*leaky=*/true);
  if (tap) tap->add({layer_weight_name(attn->options().layer, "mlp.proj.weight")}, h);
  return F::linear(h, w.down.to(x.scalar_type()));
}

torch::Tensor BankedBlockImpl::forward(const torch::Tensor& x, const torch::Tensor& x0,
                                       const LayerWeights& w, const BankedContext& ctx) {
  const auto x_in = fused::resid_mix(x, x0, resid_mix.to(x.scalar_type()));
  const auto n_in = normed(x_in);
  const auto a = attn(n_in, w.q, w.k, w.v, w.out, ctx.cos, ctx.sin, ctx.segments, ctx.hook);
  auto out = x_in + chan(attn_scale, x_in) * a;
  const auto n = gptj_ ? n_in : normed(out);  // GPT-J: both sublayers read x_in
  return out + chan(mlp_scale, out) * ctx.hook.add(AdapterSite::kMlp, mlp(n, w), n);
}

std::pair<torch::Tensor, torch::Tensor> BankedBlockImpl::forward_parallel(
    const torch::Tensor& lane0, const torch::Tensor& lane1, const torch::Tensor& x0,
    const LayerWeights& w, const BankedContext& ctx, const torch::Tensor& resid,
    const torch::Tensor& post) {
  const auto read = fused::resid_mix(lane0, x0, resid_mix.to(lane0.scalar_type()));
  const auto a = chan(attn_scale, lane0) *
                 attn(normed(read), w.q, w.k, w.v, w.out, ctx.cos, ctx.sin, ctx.segments,
                      ctx.hook);
  const auto n = normed(lane1);
  const auto m = chan(mlp_scale, lane1) * ctx.hook.add(AdapterSite::kMlp, mlp(n, w), n);
  const auto r = resid.to(lane0.scalar_type()), p = post.to(lane0.scalar_type());  // (2), (2,2)
  auto l0 = r[0] * lane0 + p[0][0] * a + p[1][0] * m;
  auto l1 = r[1] * lane1 + p[0][1] * a + p[1][1] * m;
  return {l0, l1};
}

std::pair<torch::Tensor, torch::Tensor> BankedBlockImpl::forward_lanes(
    const torch::Tensor& lane0, const torch::Tensor& lane1, const torch::Tensor& x0,
    const LayerWeights& w, const BankedContext& ctx) {
  const auto x_in = fused::resid_mix(lane0, x0, resid_mix.to(lane0.scalar_type()));
  const auto a = attn(normed(x_in), w.q, w.k, w.v, w.out, ctx.cos, ctx.sin, ctx.segments, ctx.hook);
  // The attention lane keeps the mixed input as its residual (the record's forward_attn).
  auto l0 = x_in + chan(attn_scale, x_in) * a;
  const auto n = normed(lane1);
  auto l1 = lane1 + chan(mlp_scale, lane1) * ctx.hook.add(AdapterSite::kMlp, mlp(n, w), n);
  return {l0, l1};
}

}  // namespace pgolf::model
