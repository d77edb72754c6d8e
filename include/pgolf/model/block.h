// Transformer block, MLP and the input-side modules of the primary record (reference-spec §4.1,
// §4.3): BigramHash (hashed previous/current token pair embedding) and SmearGate.
#pragma once

#include <string>

#include <torch/torch.h>

#include "pgolf/config/choices.h"
#include "pgolf/model/attention.h"
#include "pgolf/model/layers.h"

namespace pgolf::model {

// Token id of BOS in the sp1024/sp8192 tokenizers (data/download_hf_docs_and_tokenize.py).
constexpr int64_t kBosId = 1;

// out = proj(act(fc(x))) with act = relu(.)^2 ("relu2") or leaky_relu(., 0.5)^2 ("leaky_relu2").
// gated (GATED_MLP, PR #354's "SmearGate MLP"): out = proj(act(gate(x)) * up(x)), keys mlp.gate,
// mlp.up, mlp.proj (registered in that order); fc is then absent.
class MLPImpl : public torch::nn::Module {
 public:
  MLPImpl(int64_t dim, int64_t hidden, config::Activation activation, bool gated = false);
  torch::Tensor forward(const torch::Tensor& x);  // (B,T,dim) -> (B,T,dim)
  CastedLinear fc{nullptr}, proj{nullptr};
  CastedLinear gate{nullptr}, up{nullptr};  // gated only

 private:
  bool leaky_;
};
TORCH_MODULE(MLP);

// Block(x, x0): h = mix0*x + mix1*x0; h += attn_scale*Attn(n(h)); h += mlp_scale*MLP(n(h)), with
// n = RMSNorm times ln_scale (LN_SCALE: ln_scale_factor(layer), model/frontier_ops.h; 1 = off).
class BlockImpl : public torch::nn::Module {
 public:
  BlockImpl(const AttentionOptions& attn, int64_t hidden, config::Activation activation,
            bool gated_mlp = false, double ln_scale = 1.0);
  // v_embed: this layer's value embedding (B,T,Hkv*D), or undefined.
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& x0, const torch::Tensor& cos,
                        const torch::Tensor& sin, const LoraAdapter* q_lora = nullptr,
                        const LoraAdapter* v_lora = nullptr, const torch::Tensor& v_embed = {});
  torch::Tensor attn_scale, mlp_scale, resid_mix;  // (dim), (dim), (2,dim)
  Attention attn{nullptr};
  MLP mlp{nullptr};

 private:
  torch::Tensor normed(const torch::Tensor& x) const;
  double ln_scale_;
};
TORCH_MODULE(Block);

// BigramHash: bucket of (prev, cur) -> table row of width bigram_dim -> proj to dim (absent when
// bigram_dim == dim) -> times the learned scalar `scale`.
// mult (BIGRAM_HASH=mult, PR #354): the table is registered as `table` (bigram.table.weight) and
// drawn from N(0, 0.02); proj always exists and is zero-initialised; there is no scale.
class BigramHashImpl : public torch::nn::Module {
 public:
  BigramHashImpl(int64_t buckets, int64_t bigram_dim, int64_t model_dim, bool mult = false);
  // Bucket ids (B,T) int64. xor: position 0 of every row -> buckets-1 (reserved); position j >= 1
  // -> ((36313*t[j]) XOR (27191*t[j-1])) mod (buckets-1), in int32 arithmetic like the reference.
  // mult: (prev*1000003 + t[j]) mod buckets in int64, prev = t[j-1] and 0 at position 0.
  torch::Tensor hash(const torch::Tensor& ids) const;
  // ids (B,T) -> (B,T,model_dim); `table_dtype` is the dtype of the lookup (bf16 for kReference).
  torch::Tensor forward(const torch::Tensor& ids, torch::ScalarType table_dtype);
  torch::Tensor scale;  // () init 0.05; undefined for mult
  torch::nn::Embedding embed{nullptr};  // "embed" (xor) or "table" (mult)
  CastedLinear proj{nullptr};

 private:
  int64_t buckets_;
  bool mult_;
};
TORCH_MODULE(BigramHash);

// SmearGate: g = sigmoid(gate); out = (1-g)*x + g*x_prev with x_prev[t] = x[t-1], x_prev[0] = 0.
// With bos_mask the previous-token term is dropped where the current token is BOS, so documents
// packed in one row do not leak into each other (reference-spec §17).
class SmearGateImpl : public torch::nn::Module {
 public:
  SmearGateImpl(int64_t dim, bool bos_mask);
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& ids);  // (B,T,dim)
  torch::Tensor gate;  // (dim) init 0

 private:
  bool bos_mask_;
};
TORCH_MODULE(SmearGate);

}  // namespace pgolf::model
