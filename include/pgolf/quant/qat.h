// Late QAT's fake-quant clips, decided by the export's own policy (quant/policy.h: QUANT_SCHEME,
// INT_CATS read through config::split_list), so training fake-quantises each tensor at the bits
// the export will store its category with.
#pragma once

#include "pgolf/config/config.h"
#include "pgolf/model/gpt.h"

namespace pgolf::quant {

// clip_of = QuantPolicy::qat_clip: int8 127 for mlp, attn and bigram; otherwise each INT_CATS
// category's export clip (mixed mlp 15, other mlp 31, attn 31, bigram 31); a category not in
// INT_CATS (exported int8), the embeddings and the head are not fake-quantised. min_scale 1e-12:
// PR #286 floors the fp32 row scale there, not at the export's fp16 minimum.
model::QatSettings late_qat_settings(const config::QuantConfig& q);

}  // namespace pgolf::quant
