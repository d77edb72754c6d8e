// Tiny GPT set-ups shared by the unit tests (#include "common/tiny_model.h"): one base model
// config that each test varies in the fields it is about, and the weight randomisation that makes
// attention visible (the reference init zeroes the output projections).
#pragma once

#include <cstdint>

#include <torch/torch.h>

#include "pgolf/config/config.h"

namespace pgolf::testing {

// `layers` blocks (2) of width 32, `heads` query heads (2) with `kv_heads` KV heads (1), MLP x2,
// BigramHash off; vocab `vocab`. SmearGate, U-Net skips and the rest keep their defaults.
inline config::ModelConfig tiny_model_config(int64_t vocab = 64, int64_t layers = 2,
                                             int64_t heads = 2, int64_t kv_heads = 1) {
  config::ModelConfig c;
  c.vocab_size = vocab;
  c.num_layers = layers;
  c.model_dim = 32;
  c.num_heads = heads;
  c.num_kv_heads = kv_heads;
  c.mlp_mult = 2.0;
  c.bigram_vocab_size = 0;
  return c;
}

// Every parameter (gates and scales included) replaced by stddev * N(0,1), drawn from the global
// torch generator in parameters() order: seed it first for reproducible weights.
inline void randomize_parameters(torch::nn::Module& m, double stddev) {
  torch::NoGradGuard no_grad;
  for (auto& p : m.parameters()) p.copy_(stddev * torch::randn(p.sizes()));
}

}  // namespace pgolf::testing
