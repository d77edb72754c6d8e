// Tiny model shapes shared by the frontier tests (#include "common/tiny_banked.h"): the five shape
// fields of a config, and the banked GPT's base, so that each test sets only the knobs it is about.
#pragma once

#include <cstdint>

#include "pgolf/config/config.h"

namespace pgolf::testing {

// vocab, blocks, width, query heads and KV heads; every other field keeps its default.
inline config::ModelConfig model_shape(int64_t vocab, int64_t layers, int64_t dim, int64_t heads,
                                       int64_t kv_heads) {
  config::ModelConfig c;
  c.vocab_size = vocab;
  c.num_layers = layers;
  c.model_dim = dim;
  c.num_heads = heads;
  c.num_kv_heads = kv_heads;
  return c;
}

// The banked GPT (PARAM_BANKS) of that shape with LeakyReLU^2; BigramHash and the old SmearGate
// off, as validation requires of banked configs (the banked GPT never reads those two fields).
inline config::ModelConfig tiny_banked_config(int64_t vocab, int64_t layers, int64_t dim = 32,
                                              int64_t heads = 4, int64_t kv_heads = 2) {
  auto c = model_shape(vocab, layers, dim, heads, kv_heads);
  c.param_banks = true;
  c.bigram_vocab_size = 0;
  c.smear_gate = false;
  c.activation = config::Activation::kLeakyRelu2;
  return c;
}

// The 1.0611 record's model knobs on 3 banked blocks of width 32, MLP x2: XSA on all 3, LN scale,
// skip gates, layer 1 looped once more, two lanes from layer 2, SmearGate v2, the sparse
// attention gate; partial RoPE on `rope_dims` head dims.
inline config::ModelConfig tiny_1_0611_config(int64_t vocab, int64_t heads, int64_t kv_heads,
                                              int64_t rope_dims) {
  auto c = tiny_banked_config(vocab, 3, 32, heads, kv_heads);
  c.mlp_mult = 2.0;
  c.xsa_last_n = 3;
  c.rope_dims = rope_dims;
  c.ln_scale = c.skip_gates_enabled = true;
  c.num_loops = 1;
  c.loop_start = c.loop_end = 1;
  c.parallel_start_layer = 2;
  c.smear_gate_enabled = c.sparse_attn_gate_enabled = true;
  return c;
}

}  // namespace pgolf::testing
