// Late QAT clips from the export's policy (see qat.h).
#include "pgolf/quant/qat.h"

#include <memory>

#include "pgolf/quant/policy.h"

namespace pgolf::quant {

model::QatSettings late_qat_settings(const config::QuantConfig& q) {
  model::QatSettings qs;
  qs.min_scale = 1e-12;
  const auto policy = std::make_shared<const QuantPolicy>(q);
  qs.clip_of = [policy](const std::string& weight_name) { return policy->qat_clip(weight_name); };
  return qs;
}

}  // namespace pgolf::quant
