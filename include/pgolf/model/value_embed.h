// Value embeddings of the March 2026 records (PR #374's VE128; 1.1228, 1.1122; VE_ENABLED,
// VE_DIM, VE_LAYERS): one shared table re-injects token identity into the attention values of a
// few layers. ve(ids) = proj(embed[ids]) * scale, then layer VE_LAYERS[i] adds
// ve * ve_layer_scales[i] to its v (model/attention.h) before the heads are formed.
// State-dict keys (the record's): ve_shared.scale, ve_shared.embed.weight, ve_shared.proj.weight
// (absent when ve_dim equals the kv width), ve_layer_scales.<i>, registered after the blocks.
// Init: embed ~ N(0, 0.01) (after nn.Embedding's own N(0,1) draw), proj drawn then zeroed and
// re-initialised by the generic pass (orthogonal, times 1/sqrt(2L) as a ".proj"), scale 0.1,
// layer scales 1. Optimiser: embed in the tok group, proj in Muon, the scales in the scalar group.
#pragma once

#include <cstdint>
#include <vector>

#include <torch/torch.h>

#include "pgolf/model/layers.h"

namespace pgolf::model {

class ValueEmbeddingImpl : public torch::nn::Module {
 public:
  // kv_dim = num_kv_heads * head_dim, the width of v.
  ValueEmbeddingImpl(int64_t vocab_size, int64_t ve_dim, int64_t kv_dim);
  // ids (B,T) -> (B,T,kv_dim); the lookup reads the table in `table_dtype` (bf16 for kReference).
  torch::Tensor forward(const torch::Tensor& ids, torch::ScalarType table_dtype);
  torch::Tensor scale;  // () init 0.1
  torch::nn::Embedding embed{nullptr};
  CastedLinear proj{nullptr};  // undefined when ve_dim == kv_dim
};
TORCH_MODULE(ValueEmbedding);

// Index into VE_LAYERS of each layer: slot[l] = i when layers[i] == l, -1 for a layer without.
std::vector<int64_t> value_embed_slots(const std::vector<int64_t>& layers, int64_t num_layers);

}  // namespace pgolf::model
