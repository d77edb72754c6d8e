// Late QAT clips from the export's classes (see qat.h).
#include "pgolf/quant/qat.h"

#include <algorithm>

#include "pgolf/config/resolve.h"

namespace pgolf::quant {

// As PR #286 with its INT_CATS mlp,attn: int5 MLP and int6 attention under mixed (and bigram.proj
// when INT_CATS has bigram); the int6 schemes int6 throughout; int8 everywhere for int8.
model::QatSettings late_qat_settings(const config::QuantConfig& q) {
  model::QatSettings qs;
  qs.min_scale = 1e-12;
  if (q.quant_scheme == "int8") {
    qs.mlp_clip = qs.attn_clip = qs.bigram_clip = 127;
    return qs;
  }
  const auto cats = config::split_list(q.int_cats);
  const auto has = [&](const char* c) { return std::find(cats.begin(), cats.end(), c) != cats.end(); };
  qs.mlp_clip = has("mlp") ? (q.quant_scheme == "mixed" ? 15 : 31) : 0;
  qs.attn_clip = has("attn") ? 31 : 0;
  qs.bigram_clip = has("bigram") ? 31 : 0;
  return qs;
}

}  // namespace pgolf::quant
