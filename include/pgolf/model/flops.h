// FLOPs per token of a GPT configuration, for `pgolf bench` (achieved FLOP/s and MFU). A pure
// function of the config; counts matrix multiplies only (norms, RoPE, softmax, gates and the loss
// are a few percent and are left out, as in the usual 6N accounting).
#pragma once

#include <cstdint>

#include "pgolf/config/config.h"

namespace pgolf::model {

struct FlopsPerToken {
  // Weights that multiply every token: per block c_q, c_k, c_v (MLA: kv_down, k_up, v_up),
  // attn.proj, mlp.fc, mlp.proj (gated: mlp.gate, mlp.up, mlp.proj); bigram.proj (when bigram_dim
  // != model_dim, always with BIGRAM_HASH=mult); the head (vocab x dim,
  // tied or not). Embedding lookups (tok_emb, bigram.embed) cost no FLOPs.
  int64_t matmul_params = 0;
  // Causal attention scores and weighted sum: per layer 2 (QK^T, AV) x 2 FLOPs x model_dim x the
  // mean number of visible keys, (seq_len + 1) / 2. Full-context counting would double this.
  double attention = 0;
  double forward = 0;           // 2 * matmul_params + attention
  double forward_backward = 0;  // 3 * forward (backward = 2 x forward)
};

FlopsPerToken flops_per_token(const config::ModelConfig& cfg, int64_t seq_len);

}  // namespace pgolf::model
