// Value embeddings (see value_embed.h; the 1.1228 record's ValueEmbedding and GPT._get_ve).
#include "pgolf/model/value_embed.h"

#include "pgolf/core/error.h"

namespace pgolf::model {

ValueEmbeddingImpl::ValueEmbeddingImpl(int64_t vocab_size, int64_t ve_dim, int64_t kv_dim) {
  PGOLF_CHECK(vocab_size >= 1 && ve_dim >= 1 && kv_dim >= 1,
              "value embedding: expected positive sizes, found vocab " << vocab_size << ", ve_dim "
                                                                       << ve_dim << ", kv "
                                                                       << kv_dim);
  // Construction order = the record's (embed, its normal_, proj, its zeros_) so the generator is
  // consumed alike; `scale` holds no draw.
  embed = register_module("embed", torch::nn::Embedding(vocab_size, ve_dim));
  torch::NoGradGuard no_grad;
  torch::nn::init::normal_(embed->weight, /*mean=*/0.0, /*std=*/0.01);
  if (ve_dim != kv_dim) {
    proj = register_module("proj", CastedLinear(ve_dim, kv_dim));
    proj->weight.zero_();  // re-initialised by the generic init pass, as the record's
  }
  scale = register_parameter("scale", torch::tensor(0.1f));
}

torch::Tensor ValueEmbeddingImpl::forward(const torch::Tensor& ids, torch::ScalarType table_dtype) {
  auto h = torch::embedding(embed->weight.to(table_dtype), ids);  // (B,T,ve_dim)
  if (proj) h = proj(h);                                           // (B,T,kv_dim)
  return h * scale.to(h.scalar_type());
}

std::vector<int64_t> value_embed_slots(const std::vector<int64_t>& layers, int64_t num_layers) {
  std::vector<int64_t> slot(static_cast<size_t>(std::max<int64_t>(num_layers, 0)), -1);
  for (size_t i = 0; i < layers.size(); ++i) {
    const int64_t l = layers[i];
    PGOLF_CHECK_INPUT(l >= 0 && l < num_layers && slot[static_cast<size_t>(l)] < 0,
                      "ve_layers: layer " << l << " is out of 0.." << num_layers - 1
                                          << " or listed twice");
    slot[static_cast<size_t>(l)] = static_cast<int64_t>(i);
  }
  return slot;
}

}  // namespace pgolf::model
