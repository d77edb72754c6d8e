// The GPT of the primary record (reference-spec §4): tok_emb (+ BigramHash) -> RMSNorm ->
// SmearGate -> U-Net stack of blocks -> final RMSNorm -> tied/untied head -> 30*tanh(z/30).
// Module registration reproduces the reference's state-dict keys and order (skip_weights,
// tok_emb.weight, bigram.scale, bigram.embed.weight, bigram.proj.weight, smear.gate, blocks.N...,
// ve_shared.* and ve_layer_scales.N with VE_ENABLED (model/value_embed.h), lm_head.weight when
// untied). The March records' XSA_LAST_N, ROPE_DIMS, LN_SCALE and ROPE_TRAIN_SEQ_LEN act in the
// blocks (model/attention.h, block.h, layers.h Rotary); each is off by default.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "pgolf/config/config.h"
#include "pgolf/core/tensor_io.h"
#include "pgolf/model/block.h"
#include "pgolf/model/dtype.h"
#include "pgolf/model/layers.h"
#include "pgolf/model/value_embed.h"

namespace pgolf::model {

// LoRA adapters for one batch of Bd sequences (TTT-LoRA eval): per block on c_q and c_v outputs,
// and on the head logits (before the softcap). Empty vectors / undefined adapters = no delta.
struct LoraSet {
  std::vector<LoraAdapter> q;  // [num_layers], A (Bd,r,dim), B (Bd,H*D,r)
  std::vector<LoraAdapter> v;  // [num_layers], A (Bd,r,dim), B (Bd,Hkv*D,r)
  LoraAdapter head;            // A (Bd,r,dim), B (Bd,vocab,r)
};

// Fake quantisation of CastedLinear weights while training (late QAT). clip_of maps a weight's
// name ("blocks.0.mlp.fc.weight") to its clip (15 = int5, 31 = int6, 127 = int8; 0 = not
// fake-quantised); quant::late_qat_settings fills it from the export's policy (quant/policy.h),
// so the model holds no naming rule of its own. Empty clip_of: QAT off.
struct QatSettings {
  std::function<int64_t(const std::string& weight_name)> clip_of;
  double min_scale = kFp16Tiny;
};

class GPTImpl : public torch::nn::Module {
 public:
  // Builds and initialises (reference-spec §4.5) from the global torch generator: call
  // torch::manual_seed(seed) first for a reproducible model.
  explicit GPTImpl(const config::ModelConfig& cfg);

  // Mean cross-entropy over all B*T positions (fp32). ids, targets (B,T) int64.
  torch::Tensor forward(const torch::Tensor& ids, const torch::Tensor& targets);
  // Soft-capped logits (B,T,V) in the compute dtype.
  torch::Tensor forward_logits(const torch::Tensor& ids, const LoraSet* lora = nullptr);
  // Per-position cross-entropy (B,T) fp32 (eval, TTT-LoRA).
  torch::Tensor per_token_loss(const torch::Tensor& ids, const torch::Tensor& targets,
                               const LoraSet* lora = nullptr);
  // BigramHash bucket ids (B,T) int64; requires bigram_vocab_size > 0.
  torch::Tensor bigram_hash(const torch::Tensor& ids) const;

  // kReference also stores tok_emb and bigram.embed as bf16 parameters (the record's
  // `.bfloat16()` model keeps them so: bf16 grads, moments, SWA sums and artifact values); the
  // other policies keep (or restore) fp32 masters. Call before building optimisers.
  void set_dtype_policy(DtypePolicy policy);
  DtypePolicy dtype_policy() const { return policy_; }
  void set_qat(const QatSettings& qat);

  // named_parameters() in the reference's order.
  core::NamedTensors state_dict() const;
  // Copies values into the parameters (converting dtype). strict: every key present, no extra
  // keys. Shapes must always match. Throws an input error listing every offending key.
  void load_state_dict(const core::NamedTensors& tensors, bool strict = true);

  const config::ModelConfig& config() const { return cfg_; }
  int64_t num_encoder_layers() const { return num_encoder_; }
  int64_t num_decoder_layers() const { return num_decoder_; }

  torch::Tensor skip_weights;  // (min(E,D), dim); absent when unet_skips is off
  torch::nn::Embedding tok_emb{nullptr};
  BigramHash bigram{nullptr};
  SmearGate smear{nullptr};
  torch::nn::ModuleList blocks{nullptr};
  ValueEmbedding ve_shared{nullptr};                // VE_ENABLED only
  torch::nn::ParameterList ve_layer_scales{nullptr};  // VE_ENABLED only: (1) per VE_LAYERS entry
  CastedLinear lm_head{nullptr};  // untied only

 private:
  torch::Tensor hidden(const torch::Tensor& ids, const LoraSet* lora);  // final-normed (B,T,dim)
  // Head outputs before the softcap (B,T,V) in the compute dtype.
  torch::Tensor head_logits(const torch::Tensor& ids, const LoraSet* lora);
  torch::Tensor embed(const torch::Tensor& ids);
  torch::Tensor run_blocks(torch::Tensor x, const torch::Tensor& x0, const torch::Tensor& ids,
                           const LoraSet* lora);
  // Layer i's value embedding (B,T,Hkv*D) from the shared `ve` (undefined: layer has none).
  torch::Tensor layer_value_embed(size_t i, const torch::Tensor& ve);

  config::ModelConfig cfg_;
  int64_t num_encoder_ = 0, num_decoder_ = 0;
  std::vector<Block> block_list_;
  std::vector<int64_t> ve_slot_;  // per layer: index into ve_layer_scales, -1 without VE
  Rotary rotary_;
  DtypePolicy policy_ = DtypePolicy::kFp32;
};
TORCH_MODULE(GPT);

// Whole model `hidden = int(mlp_mult * dim)` as Python's int() (truncation).
int64_t mlp_hidden(const config::ModelConfig& cfg);

}  // namespace pgolf::model
