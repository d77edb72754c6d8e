// FLOPs per token (see flops.h).
#include "pgolf/model/flops.h"

#include "pgolf/model/gpt.h"

namespace pgolf::model {

FlopsPerToken flops_per_token(const config::ModelConfig& cfg, int64_t seq_len) {
  const int64_t d = cfg.model_dim;
  const int64_t kv_dim = cfg.num_kv_heads * (d / cfg.num_heads);
  const int64_t kv = cfg.attention == config::Attention::kMla
                         ? d * cfg.kv_rank + 2 * cfg.kv_rank * kv_dim
                         : 2 * d * kv_dim;
  const int64_t mlp_mats = cfg.gated_mlp ? 3 : 2;  // gate, up, proj | fc, proj
  const int64_t per_layer = d * d + kv + d * d + mlp_mats * d * mlp_hidden(cfg);  // q,k/v,proj,mlp
  FlopsPerToken f;
  f.matmul_params = cfg.num_layers * per_layer + cfg.vocab_size * d;
  if (cfg.bigram_vocab_size > 0 &&
      (cfg.bigram_dim != d || cfg.bigram_hash == config::BigramHash::kMult))
    f.matmul_params += cfg.bigram_dim * d;
  if (cfg.ve_enabled && cfg.ve_dim != kv_dim) f.matmul_params += cfg.ve_dim * kv_dim;  // ve_shared.proj
  const double mean_keys = (static_cast<double>(seq_len) + 1.0) / 2.0;
  f.attention =
      static_cast<double>(cfg.num_layers) * 2.0 * 2.0 * static_cast<double>(d) * mean_keys;
  f.forward = 2.0 * static_cast<double>(f.matmul_params) + f.attention;
  f.forward_backward = 3.0 * f.forward;
  return f;
}

}  // namespace pgolf::model
