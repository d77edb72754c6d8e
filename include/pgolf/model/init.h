// Initialisation of the GPT (reference-spec §4.5) and the bf16 round trip of initial values that
// the record's main() performs (model.bfloat16() then fp32 again for CastedLinear/control params).
#pragma once

#include "pgolf/model/gpt.h"

namespace pgolf::model {

// The reference's GPT._init_weights, run at the end of construction:
//  * tied: tok_emb ~ N(0, tied_embed_init_std) (untied keeps nn.Embedding's N(0,1));
//  * every CastedLinear, in named_modules() order: zero_init -> zeros; else, with ortho_init and
//    both dims >= 64 -> orthogonal (gain 1), and names containing ".proj." or ending in ".proj"
//    are then scaled by 1/sqrt(2*num_layers) (only bigram.proj qualifies); other linears keep
//    the default U(+-1/sqrt(in)). ORTHO_INIT_GAIN=inv_sqrt_dim (PR #354): every non-zero-init
//    linear, whatever its size, orthogonal with gain model_dim^-0.5 and no further scaling.
void init_weights(GPTImpl& model);

// Rounds every parameter's value to bf16 and back, in place (all stay fp32). This reproduces the
// record's start-of-training values (e.g. bigram.scale 0.05 -> 0.050048828125). The golden
// init_stats case was taken before this step; the trainer applies it.
void bf16_round_parameters(GPTImpl& model);

}  // namespace pgolf::model
