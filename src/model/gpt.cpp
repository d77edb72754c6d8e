// GPT forward, loss and state dict (see gpt.h; reference-spec §4.1-§4.3).
#include "pgolf/model/gpt.h"

#include "pgolf/config/resolve.h"
#include "pgolf/core/error.h"
#include "pgolf/model/compat.h"
#include "pgolf/model/fused.h"
#include "pgolf/model/init.h"
#include "pgolf/model/state_dict.h"
#include "pgolf/model/linear_tap.h"

namespace pgolf::model {

int64_t mlp_hidden(const config::ModelConfig& cfg) {
  return static_cast<int64_t>(cfg.mlp_mult * static_cast<double>(cfg.model_dim));
}

GPTImpl::GPTImpl(const config::ModelConfig& cfg)
    : cfg_(cfg),
      rotary_(cfg.rope_dims > 0 ? cfg.rope_dims : cfg.model_dim / std::max<int64_t>(cfg.num_heads, 1),
              cfg.rope_base, cfg.rope_train_seq_len) {
  PGOLF_CHECK_INPUT(cfg.logit_softcap > 0, "logit_softcap must be > 0, found " << cfg.logit_softcap);
  PGOLF_CHECK_INPUT(cfg.num_layers >= 1, "num_layers must be >= 1, found " << cfg.num_layers);
  PGOLF_CHECK_INPUT(!cfg.param_banks,
                    "param_banks=1 is the banked GPT (model/gpt_banked.h); this command builds the "
                    "PR #180 GPT and does not take it yet");
  num_encoder_ = cfg.num_layers / 2;
  num_decoder_ = cfg.num_layers - num_encoder_;
  // Construction order = the reference's: tok_emb, bigram, (skip_weights, smear: no RNG), blocks,
  // lm_head, so the generator is consumed in the same order.
  tok_emb = register_module("tok_emb", torch::nn::Embedding(cfg.vocab_size, cfg.model_dim));
  if (cfg.bigram_vocab_size > 0)
    bigram = register_module(
        "bigram", BigramHash(cfg.bigram_vocab_size, cfg.bigram_dim, cfg.model_dim,
                             cfg.bigram_hash == config::BigramHash::kMult));
  if (cfg.unet_skips)
    skip_weights = register_parameter(
        "skip_weights", torch::ones({std::min(num_encoder_, num_decoder_), cfg.model_dim}));
  if (cfg.smear_gate) smear = register_module("smear", SmearGate(cfg.model_dim, cfg.smear_bos_mask));
  AttentionOptions attn;
  attn.dim = cfg.model_dim;
  attn.num_heads = cfg.num_heads;
  attn.num_kv_heads = cfg.num_kv_heads;
  attn.qk_gain_init = cfg.qk_gain_init;
  attn.mla = cfg.attention == config::Attention::kMla;
  attn.kv_rank = cfg.kv_rank;
  attn.mla_latent_norm = cfg.mla_latent_norm;
  attn.rope_dims = cfg.rope_dims;
  blocks = register_module("blocks", torch::nn::ModuleList());
  for (int64_t i = 0; i < cfg.num_layers; ++i) {
    attn.xsa = i >= cfg.num_layers - cfg.xsa_last_n;  // the last xsa_last_n layers
    block_list_.push_back(Block(attn, mlp_hidden(cfg), cfg.activation, cfg.gated_mlp,
                                ln_scale_factor(i, cfg.ln_scale)));
    blocks->push_back(block_list_.back());
  }
  ve_slot_.assign(static_cast<size_t>(cfg.num_layers), -1);
  if (cfg.ve_enabled) {  // after the blocks, before lm_head: the record's order (keys and RNG)
    const auto layers = config::parse_layer_list("ve_layers", cfg.ve_layers, cfg.num_layers);
    ve_slot_ = value_embed_slots(layers, cfg.num_layers);
    const int64_t kv_dim = cfg.num_kv_heads * (cfg.model_dim / cfg.num_heads);
    ve_shared = register_module("ve_shared", ValueEmbedding(cfg.vocab_size, cfg.ve_dim, kv_dim));
    ve_layer_scales = register_module("ve_layer_scales", torch::nn::ParameterList());
    for (size_t i = 0; i < layers.size(); ++i) ve_layer_scales->append(torch::ones({1}, torch::requires_grad()));
  }
  if (!cfg.tie_embeddings)
    lm_head = register_module("lm_head", CastedLinear(cfg.model_dim, cfg.vocab_size,
                                                      /*zero_init=*/true));
  init_weights(*this);
}

void GPTImpl::set_dtype_policy(DtypePolicy policy) {
  policy_ = policy;
  const auto dtype = policy == DtypePolicy::kReference ? torch::kBFloat16 : torch::kFloat32;
  torch::NoGradGuard no_grad;
  // set_data keeps the Parameter object (and its registration), as Python's `p.data = ...`.
  const auto retype = [&](torch::Tensor& w) {
    if (w.scalar_type() != dtype) w.set_data(w.to(dtype));
  };
  retype(tok_emb->weight);
  if (bigram) retype(bigram->embed->weight);
  if (ve_shared) retype(ve_shared->embed->weight);  // the record's .bfloat16() keeps it so too
}

torch::Tensor GPTImpl::embed(const torch::Tensor& ids) {
  // kReference looks the tables up in bf16 (the record keeps them as bf16 parameters), which
  // makes the whole residual stream bf16 (reference-spec §4.6).
  const bool ref = policy_ == DtypePolicy::kReference;
  const auto tok_w = ref ? tok_emb->weight.to(torch::kBFloat16) : tok_emb->weight;
  auto x = torch::embedding(tok_w, ids);  // (B,T,dim)
  if (bigram) {
    const auto dt = ref ? torch::kBFloat16 : bigram->embed->weight.scalar_type();
    x = x + bigram(ids, dt);
  }
  return x;
}

torch::Tensor GPTImpl::layer_value_embed(size_t i, const torch::Tensor& ve) {
  const int64_t slot = ve_slot_[i];
  if (slot < 0) return {};
  return ve * ve_layer_scales[static_cast<size_t>(slot)].to(ve.scalar_type());
}

torch::Tensor GPTImpl::run_blocks(torch::Tensor x, const torch::Tensor& x0, const torch::Tensor& ids,
                                  const LoraSet* lora) {
  const bool faithful = policy_ == DtypePolicy::kReference;
  auto [cos, sin] = rotary_.tables(x.size(1), x.device(), torch::kFloat32, faithful);
  if (faithful) {
    cos = cos.to(torch::kBFloat16);
    sin = sin.to(torch::kBFloat16);
  }
  const auto adapter = [&](const std::vector<LoraAdapter>* v, size_t i) -> const LoraAdapter* {
    return (v && i < v->size()) ? &(*v)[i] : nullptr;
  };
  const auto* qs = lora ? &lora->q : nullptr;
  const auto* vs = lora ? &lora->v : nullptr;
  torch::Tensor ve;  // the shared value embedding, computed once per forward as the record's
  if (ve_shared)
    ve = ve_shared(ids, faithful ? torch::kBFloat16 : ve_shared->embed->weight.scalar_type());
  const auto run = [&](size_t i, const torch::Tensor& in) {
    return block_list_[i](in, x0, cos, sin, adapter(qs, i), adapter(vs, i),
                          layer_value_embed(i, ve));
  };
  if (!cfg_.unet_skips) {
    for (size_t i = 0; i < block_list_.size(); ++i) x = run(i, x);
    return x;
  }
  // U-Net: the first E blocks push their outputs; decoder block i first adds skip_weights[i] *
  // the most recent unused encoder output (while any remain).
  std::vector<torch::Tensor> skips;
  for (int64_t i = 0; i < num_encoder_; ++i) {
    x = run(static_cast<size_t>(i), x);
    skips.push_back(x);
  }
  for (int64_t i = 0; i < num_decoder_; ++i) {
    if (!skips.empty()) {
      x = x + skip_weights[i].to(x.scalar_type()).view({1, 1, -1}) * skips.back();
      skips.pop_back();
    }
    x = run(static_cast<size_t>(num_encoder_ + i), x);
  }
  return x;
}

torch::Tensor GPTImpl::hidden(const torch::Tensor& ids, const LoraSet* lora) {
  PGOLF_CHECK(ids.dim() == 2 && ids.size(1) >= 1 && ids.scalar_type() == torch::kInt64,
              "GPT: expected int64 ids of shape (B,T), found " << ids.scalar_type() << " "
                                                                << ids.sizes());
  auto x = fused::rms_norm(embed(ids));
  if (smear) x = smear(x, ids);
  const auto x0 = x;
  x = run_blocks(x, x0, ids, lora);
  return fused::rms_norm(x);  // final_norm
}

torch::Tensor GPTImpl::head_logits(const torch::Tensor& ids, const LoraSet* lora) {
  const auto x = hidden(ids, lora);  // (B,T,dim)
  torch::Tensor z;                   // (B,T,V)
  if (lm_head) {
    z = lm_head(x);
  } else {
    if (auto* tap = linear_tap()) tap->add({"tok_emb.weight"}, x);  // tied head's input
    z = torch::nn::functional::linear(x, tok_emb->weight.to(x.scalar_type()));
  }
  if (lora && lora->head.defined()) z = z + lora_delta(x, lora->head, "head");
  return z;
}

torch::Tensor GPTImpl::forward_logits(const torch::Tensor& ids, const LoraSet* lora) {
  const double cap = cfg_.logit_softcap;
  return cap * torch::tanh(head_logits(ids, lora) / cap);
}

torch::Tensor GPTImpl::per_token_loss(const torch::Tensor& ids, const torch::Tensor& targets,
                                      const LoraSet* lora) {
  PGOLF_CHECK(targets.sizes() == ids.sizes(), "GPT: targets " << targets.sizes()
                                                              << " do not match ids " << ids.sizes());
  // Softcap + fp32 cross-entropy; one fused CUDA kernel when FUSED_KERNELS=1.
  return fused::softcap_cross_entropy(head_logits(ids, lora), targets, cfg_.logit_softcap,
                                      /*mean=*/false);
}

torch::Tensor GPTImpl::forward(const torch::Tensor& ids, const torch::Tensor& targets) {
  PGOLF_CHECK(targets.sizes() == ids.sizes(), "GPT: targets " << targets.sizes()
                                                              << " do not match ids " << ids.sizes());
  return fused::softcap_cross_entropy(head_logits(ids, nullptr), targets, cfg_.logit_softcap,
                                      /*mean=*/true);
}

torch::Tensor GPTImpl::bigram_hash(const torch::Tensor& ids) const {
  PGOLF_CHECK(bigram, "bigram_hash: this model has no BigramHash (bigram_vocab_size = 0)");
  return bigram->hash(ids);
}

void GPTImpl::set_qat(const QatSettings& qat) {
  for (const auto& item : named_modules(/*name_prefix=*/"", /*include_self=*/false)) {
    auto lin = std::dynamic_pointer_cast<CastedLinearImpl>(item.value());
    if (!lin) continue;
    const int64_t clip = qat.clip_of ? qat.clip_of(item.key() + ".weight") : 0;
    lin->set_qat(clip, qat.min_scale);
  }
}

core::NamedTensors GPTImpl::state_dict() const { return named_state(*this); }

void GPTImpl::load_state_dict(const core::NamedTensors& tensors, bool strict) {
  load_named_state(*this, tensors, strict);
}

}  // namespace pgolf::model
