// The tiny state dict behind the artifact and checkpoint seeds (gen_corpus.cpp writes them; the
// artifact target dequantises every decoded artifact against its shapes). Every export kind
// appears: fp16 passthrough, fp32 control, fp16 keep, int5 (mlp), int6 (attn) and int8 (other).
#pragma once

#include <torch/torch.h>

#include "pgolf/config/config.h"
#include "pgolf/core/tensor_io.h"

namespace pgolf::fuzz {

inline config::QuantConfig seed_quant_config() {
  config::QuantConfig q;
  q.passthrough_max_numel = 16;
  q.prune_pct = 0;
  q.fp16_keep_name_patterns = "tok_emb";
  q.zstd_level = 3;
  return q;
}

inline core::NamedTensors seed_state_dict() {
  torch::manual_seed(0);
  return {{"tok_emb.weight", torch::randn({8, 4})},
          {"blocks.0.attn.c_q.weight", torch::randn({4, 8})},
          {"blocks.0.mlp.fc.weight", torch::randn({8, 4})},
          {"blocks.0.attn_scale", torch::ones({4})},
          {"lm_head.weight", torch::randn({8, 5})},
          {"final_norm.bias", torch::zeros({3})}};
}

}  // namespace pgolf::fuzz
