// Causal self-attention, GQA and MLA key/value paths (see attention.h for the formulation).
#include "pgolf/model/attention.h"

#include "pgolf/core/error.h"
#include "pgolf/model/compat.h"
#include "pgolf/model/fused.h"

namespace pgolf::model {

AttentionImpl::AttentionImpl(const AttentionOptions& opts) : opts_(opts) {
  PGOLF_CHECK(opts.dim % opts.num_heads == 0 && opts.num_heads % opts.num_kv_heads == 0,
              "attention: dim " << opts.dim << ", heads " << opts.num_heads << ", kv heads "
                                << opts.num_kv_heads << " do not divide evenly");
  head_dim_ = opts.dim / opts.num_heads;
  PGOLF_CHECK(head_dim_ % 2 == 0, "attention: head_dim " << head_dim_ << " must be even for RoPE");
  PGOLF_CHECK(opts.rope_dims >= 0 && opts.rope_dims <= head_dim_ && opts.rope_dims % 2 == 0,
              "attention: rope_dims " << opts.rope_dims << " must be even and <= head_dim "
                                      << head_dim_);
  const int64_t kv_dim = opts.num_kv_heads * head_dim_;
  // Construction order = the reference's (c_q, c_k, c_v, proj) so the RNG is consumed alike.
  c_q = register_module("c_q", CastedLinear(opts.dim, opts.dim));
  if (opts.mla) {
    kv_down = register_module("kv_down", CastedLinear(opts.dim, opts.kv_rank));
    k_up = register_module("k_up", CastedLinear(opts.kv_rank, kv_dim));
    v_up = register_module("v_up", CastedLinear(opts.kv_rank, kv_dim));
  } else {
    c_k = register_module("c_k", CastedLinear(opts.dim, kv_dim));
    c_v = register_module("c_v", CastedLinear(opts.dim, kv_dim));
  }
  proj = register_module("proj", CastedLinear(opts.dim, opts.dim, /*zero_init=*/true));
  q_gain = register_parameter("q_gain", torch::full({opts.num_heads}, opts.qk_gain_init,
                                                    torch::kFloat32));
}

torch::Tensor AttentionImpl::forward(const torch::Tensor& x, const torch::Tensor& cos,
                                     const torch::Tensor& sin, const LoraAdapter* q_lora,
                                     const LoraAdapter* v_lora, const torch::Tensor& v_embed) {
  const int64_t B = x.size(0), T = x.size(1);
  const int64_t H = opts_.num_heads, Hkv = opts_.num_kv_heads, D = head_dim_;
  auto q = c_q(x);  // (B,T,H*D)
  if (q_lora && q_lora->defined()) q = q + lora_delta(x, *q_lora, "c_q");
  torch::Tensor k, v;  // (B,T,Hkv*D)
  if (opts_.mla) {
    auto latent = kv_down(x);  // (B,T,kv_rank)
    if (opts_.mla_latent_norm) latent = fused::rms_norm(latent);
    k = k_up(latent);
    v = v_up(latent);
  } else {
    k = c_k(x);
    v = c_v(x);
  }
  if (v_lora && v_lora->defined()) v = v + lora_delta(x, *v_lora, "c_v");
  if (v_embed.defined()) v = v + v_embed;
  const auto v_heads = v.reshape({B, T, Hkv, D});  // XSA's own value, per KV group
  q = q.reshape({B, T, H, D}).transpose(1, 2);    // (B,H,T,D)
  k = k.reshape({B, T, Hkv, D}).transpose(1, 2);  // (B,Hkv,T,D)
  v = v_heads.transpose(1, 2);                    // (B,Hkv,T,D)
  q = fused::rms_norm(q);
  k = fused::rms_norm(k);
  const bool partial = opts_.rope_dims > 0 && opts_.rope_dims < D;
  const auto rope = [&](const torch::Tensor& t) {
    const auto c = cos.to(t.scalar_type()), s = sin.to(t.scalar_type());
    return partial ? partial_rotary(t, c, s, opts_.rope_dims) : fused::rotary(t, c, s);
  };
  q = rope(q);
  k = rope(k);
  q = q * q_gain.to(q.scalar_type()).view({1, H, 1, 1});
  auto y = compat::causal_attention(q, k, v).transpose(1, 2);    // (B,T,H,D)
  if (opts_.xsa) y = exclusive_self_attention(y, v_heads);
  y = y.contiguous().reshape({B, T, H * D});                     // (B,T,dim)
  return proj(y);
}

}  // namespace pgolf::model
