// Training memory estimate from the config (see memory.h). The parameter count follows the
// model's tensors (model/gpt.cpp); the small control tensors (scales, gates, norms) are left out.
#include "pgolf/config/memory.h"

#include <cstdio>

#include "pgolf/config/resolve.h"

namespace pgolf::config {

MemoryEstimate estimate_memory(const Config& cfg, int world_size) {
  const ModelConfig& m = cfg.model;
  const double d = static_cast<double>(m.model_dim), layers = static_cast<double>(m.num_layers);
  const double heads = static_cast<double>(m.num_heads > 0 ? m.num_heads : 1);
  const double kv_dim = static_cast<double>(m.num_kv_heads) * (d / heads);
  const double hidden = static_cast<double>(static_cast<int64_t>(m.mlp_mult * d));
  const double kv = m.attention == Attention::kMla ? d * static_cast<double>(m.kv_rank) +
                                               2.0 * static_cast<double>(m.kv_rank) * kv_dim
                                         : 2.0 * d * kv_dim;
  const double mlp = (m.gated_mlp ? 3.0 : 2.0) * d * hidden;
  const double matrices = layers * (2.0 * d * d + kv + mlp);  // c_q, attn.proj, k/v, MLP
  const double vocab = static_cast<double>(m.vocab_size);
  double embeddings = vocab * d * (m.tie_embeddings ? 1.0 : 2.0);
  if (m.bigram_vocab_size > 0)
    embeddings += static_cast<double>(m.bigram_vocab_size) * static_cast<double>(m.bigram_dim) +
                  (m.bigram_dim != m.model_dim ? static_cast<double>(m.bigram_dim) * d : 0.0);
  MemoryEstimate e;
  e.params = matrices + embeddings;
  e.param_bytes = 4.0 * e.params;
  e.grad_bytes = 4.0 * e.params;
  e.optimizer_bytes = 4.0 * matrices + 8.0 * embeddings;
  if (cfg.train.swa_enabled || cfg.train.ema_decay > 0) e.average_bytes = 4.0 * e.params;
  const int accum = grad_accum_steps(world_size);
  const double ranks = static_cast<double>(world_size > 0 ? world_size : 1) * (accum > 0 ? accum : 1);
  const double tokens = static_cast<double>(cfg.train.train_batch_tokens) / ranks;  // one micro-batch
  // Per block and token: the two norm outputs, q, k, v, the attention output and the residual
  // (~6d + 2 kv) and the MLP's hidden pre- and post-activation (2 hidden); then fp32 logits and
  // their gradient.
  const double per_token = layers * (6.0 * d + 2.0 * kv_dim + 2.0 * hidden) * 2.0 + 8.0 * vocab;
  e.activation_bytes = tokens * per_token;
  return e;
}

std::string format_bytes(double bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  int u = 0;
  while (bytes >= 1024.0 && u < 6) {
    bytes /= 1024.0;
    ++u;
  }
  char buf[48];
  std::snprintf(buf, sizeof(buf), u == 0 ? "%.0f %s" : "%.1f %s", bytes, units[u]);
  return buf;
}

std::string memory_fit_error(const MemoryEstimate& need, double available, const std::string& device) {
  if (need.total() <= available) return "";
  char params[32];
  std::snprintf(params, sizeof(params), "%.3g", need.params);
  return "the model needs at least " + format_bytes(need.total()) + " per rank but " + device +
         " has " + format_bytes(available) + " (" + params + " parameters: weights " +
         format_bytes(need.param_bytes) + ", gradients " + format_bytes(need.grad_bytes) +
         ", optimiser state " + format_bytes(need.optimizer_bytes) + ", averaged copy " +
         format_bytes(need.average_bytes) + ", activations of one micro-batch " +
         format_bytes(need.activation_bytes) + ")";
}

}  // namespace pgolf::config
