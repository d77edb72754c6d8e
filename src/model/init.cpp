// Reference initialisation (reference-spec §4.5) and the bf16 round trip of initial values.
#include "pgolf/model/init.h"

#include <cmath>

#include "pgolf/core/error.h"

namespace pgolf::model {
namespace {
bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}
}  // namespace

void init_weights(GPTImpl& model) {
  torch::NoGradGuard no_grad;
  const auto& cfg = model.config();
  // Untied models keep nn.Embedding's N(0,1) draw, exactly as the reference does.
  if (cfg.tie_embeddings)
    torch::nn::init::normal_(model.tok_emb->weight, /*mean=*/0.0, /*std=*/cfg.tied_embed_init_std);
  const double proj_scale = 1.0 / std::sqrt(2.0 * static_cast<double>(cfg.num_layers));
  // PR #354: every non-zero-init linear, whatever its size, orthogonal with gain model_dim^-0.5.
  const bool pr354 = cfg.ortho_init_gain == config::OrthoInitGain::kInvSqrtDim;
  const double gain = pr354 ? 1.0 / std::sqrt(static_cast<double>(cfg.model_dim)) : 1.0;
  // named_modules() is pre-order in registration order, like PyTorch's, so orthogonal_ draws
  // happen in the reference's order (bigram.proj, blocks.0.attn.c_q, c_k, c_v, mlp.fc, ...).
  for (const auto& item : model.named_modules(/*name_prefix=*/"", /*include_self=*/false)) {
    auto lin = std::dynamic_pointer_cast<CastedLinearImpl>(item.value());
    if (!lin) continue;
    auto& w = lin->weight;
    if (lin->zero_init()) {
      w.zero_();
    } else if (cfg.ortho_init && (pr354 || (w.size(0) >= 64 && w.size(1) >= 64))) {
      torch::nn::init::orthogonal_(w, gain);
      if (pr354) continue;
      const std::string& name = item.key();
      // The muP-style scaling only lands on bigram.proj: attn/mlp projections are zero-init.
      // RECORD_BANKS: the 1.1122 record scales only its bank slices, so bigram.proj and
      // ve_shared.proj keep gain 1.
      if (cfg.record_banks && (name == "bigram.proj" || name == "ve_shared.proj")) continue;
      if (name.find(".proj.") != std::string::npos || ends_with(name, ".proj")) w.mul_(proj_scale);
    }
  }
}

void bf16_round_parameters(GPTImpl& model) {
  torch::NoGradGuard no_grad;
  for (auto& p : model.parameters()) p.copy_(p.to(torch::kBFloat16).to(p.scalar_type()));
}

}  // namespace pgolf::model
