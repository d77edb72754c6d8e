// Late QAT's fake-quant clips, decided by the export's own rules (QUANT_SCHEME, INT_CATS read
// through config::split_list), so training fake-quantises each category at the bits the export
// will store it with.
#pragma once

#include "pgolf/config/config.h"
#include "pgolf/model/gpt.h"

namespace pgolf::quant {

// int8: 127 for mlp, attn and bigram. Otherwise each INT_CATS category gets its export clip:
// mixed mlp 15 (int5), other schemes' mlp 31, attn 31, bigram 31 (int6); a category not in INT_CATS
// (exported int8) is not fake-quantised (0). min_scale 1e-12: PR #286 floors the fp32 row scale
// there, not at the export's fp16 minimum.
model::QatSettings late_qat_settings(const config::QuantConfig& q);

}  // namespace pgolf::quant
