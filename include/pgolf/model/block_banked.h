// Block of the banked GPT (the 1.0611 record's Block and GPT._parallel_block): weights from the
// banks per call, LeakyReLU(0.5)^2 MLP, LN scale (LN_SCALE: the normed attention and MLP inputs
// times 1/sqrt(layer+1)), and the routed two-lane parallel residual form (PARALLEL_START_LAYER):
//   attn reads mix0*lane0 + mix1*x0, the MLP reads lane1;
//   lane_j = resid_j * lane_j + post[0][j] * attn_out + post[1][j] * mlp_out  (j = 0, 1)
// with resid = parallel_resid_lambdas[layer] (2) and post = parallel_post_lambdas[layer] (2,2).
// PARALLEL_LANES=lane_merge instead runs the PR #1477 lanes (forward_lanes).
// State-dict names: attn_scale, mlp_scale, resid_mix, attn.*.
#pragma once

#include <utility>

#include <torch/torch.h>

#include "pgolf/model/attention_banked.h"

namespace pgolf::model {

// One layer's matrices, views into the banks: q/out (dim,dim), k/v (kv_dim,dim), up (hidden,dim),
// down (dim,hidden).
struct LayerWeights {
  torch::Tensor q, k, v, out, up, down;
};

// Per-forward inputs shared by every layer: rotary tables (1,T,1,r/2), the packed row's
// segments (undefined: dense causal attention) and the TTT adapters of this block call.
struct BankedContext {
  torch::Tensor cos, sin;
  Segments segments;
  AdapterHook hook;
};

class BankedBlockImpl : public torch::nn::Module {
 public:
  BankedBlockImpl(const BankedAttentionOptions& attn, int64_t layer, bool ln_scale);
  // x_out = x_in + attn_scale*Attn(n(x_in)); x_out += mlp_scale*MLP(n(x_out)), x_in = mix0 x + mix1 x0.
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& x0, const LayerWeights& w,
                        const BankedContext& ctx);
  // The routed two-lane form; returns the new (lane0, lane1).
  std::pair<torch::Tensor, torch::Tensor> forward_parallel(
      const torch::Tensor& lane0, const torch::Tensor& lane1, const torch::Tensor& x0,
      const LayerWeights& w, const BankedContext& ctx, const torch::Tensor& resid,
      const torch::Tensor& post);
  // The lane_merge form (PARALLEL_LANES=lane_merge, PR #1477 / #1334): no lambdas; returns
  // (x_in + attn_scale*Attn(n(x_in)), lane1 + mlp_scale*MLP(n(lane1))), x_in = mix0 lane0 + mix1 x0.
  std::pair<torch::Tensor, torch::Tensor> forward_lanes(const torch::Tensor& lane0,
                                                        const torch::Tensor& lane1,
                                                        const torch::Tensor& x0,
                                                        const LayerWeights& w,
                                                        const BankedContext& ctx);

  // GPT-J form (PARALLEL_RESIDUAL_START, PR #1493): forward's MLP reads n(x_in) as attention
  // does, x_out = x_in + attn_scale*Attn(n(x_in)) + mlp_scale*MLP(n(x_in)).
  void set_gptj(bool on) { gptj_ = on; }
  bool gptj() const { return gptj_; }

  torch::Tensor attn_scale, mlp_scale, resid_mix;  // (dim), (dim), (2,dim)
  BankedAttention attn{nullptr};

 private:
  torch::Tensor normed(const torch::Tensor& x) const;  // rms_norm(x) * ln factor
  torch::Tensor mlp(const torch::Tensor& x, const LayerWeights& w) const;
  double ln_ = 1.0;
  bool gptj_ = false;
};
TORCH_MODULE(BankedBlock);

}  // namespace pgolf::model
