// Causal self-attention (reference-spec §4.1 CausalSelfAttention) with two key/value paths:
//  gqa (the records): k = x W_k^T, v = x W_v^T, Hkv heads of head_dim D.
//  mla (seed PR #354, ATTENTION=mla): a shared low-rank latent
//      c   = RMSNorm(x W_down^T)           kv_down: dim -> kv_rank, norm without weight
//                                          (MLA_LATENT_NORM=0: c = x W_down^T, as PR #354's script)
//      k   = c W_kup^T, v = c W_vup^T       k_up, v_up: kv_rank -> Hkv*D
//    after which both paths are identical: q = x W_q^T (+ LoRA), q/k RMSNorm over D, RoPE on q and k
//    (full D), q *= q_gain[h], causal SDPA with GQA, output proj (zero-init).
// The March records' pieces (model/frontier_ops.h), each off by default: v += the layer's value
// embedding (VE_LAYERS) before the heads are formed; RoPE on the first rope_dims dims of each head
// (ROPE_DIMS); XSA on the SDPA output against the KV-group value, before proj (XSA_LAST_N).
// State-dict names: gqa attn.{q_gain, c_q, c_k, c_v, proj}; mla attn.{q_gain, c_q, kv_down, k_up,
// v_up, proj}.
#pragma once

#include <torch/torch.h>

#include "pgolf/model/frontier_ops.h"
#include "pgolf/model/layers.h"

namespace pgolf::model {

struct AttentionOptions {
  int64_t dim = 512;
  int64_t num_heads = 8;
  int64_t num_kv_heads = 4;
  double qk_gain_init = 1.5;
  bool mla = false;
  int64_t kv_rank = 128;  // mla only
  bool mla_latent_norm = true;  // mla only: RMSNorm on the latent
  int64_t rope_dims = 0;  // 0 or head_dim: rotary on the whole head
  bool xsa = false;
};

class AttentionImpl : public torch::nn::Module {
 public:
  explicit AttentionImpl(const AttentionOptions& opts);
  // x (B,T,dim); cos/sin (1,1,T,r/2), r = rope_dims or D; optional per-sequence LoRA on the q
  // and v outputs; v_embed (B,T,Hkv*D) added to v when defined.
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin,
                        const LoraAdapter* q_lora = nullptr, const LoraAdapter* v_lora = nullptr,
                        const torch::Tensor& v_embed = {});

  torch::Tensor q_gain;                                           // (H)
  CastedLinear c_q{nullptr}, c_k{nullptr}, c_v{nullptr};          // gqa: c_k/c_v set
  CastedLinear kv_down{nullptr}, k_up{nullptr}, v_up{nullptr};    // mla: these set
  CastedLinear proj{nullptr};

 private:
  AttentionOptions opts_;
  int64_t head_dim_;
};
TORCH_MODULE(Attention);

}  // namespace pgolf::model
