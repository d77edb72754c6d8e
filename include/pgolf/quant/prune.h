// Magnitude pruning before export (reference-spec §7.2, PR #180 main()): for every 2-D float tensor
// with numel > PRUNE_MIN_NUMEL, thr = torch.quantile(|w|.float(), PRUNE_PCT) and entries with
// |w| < thr (strict) become 0. The comparison runs in the tensor's own dtype, so a bf16 weight is
// compared with bf16(thr) exactly as the reference's `param.abs() < threshold` (§15.8).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "pgolf/config/config.h"
#include "pgolf/core/tensor_io.h"

namespace pgolf::quant {

struct PruneStat {
  std::string name;
  float threshold = 0.0f;  // the fp32 quantile
  int64_t count = 0;       // entries set to zero (|w| < thr)
  int64_t ties = 0;        // entries with |w| == thr (kept)
};

// Whether `t` is pruned under (min_numel, pct): 2-D, floating point, numel > min_numel, pct > 0.
bool prune_eligible(const torch::Tensor& t, int64_t min_numel, double pct);

// Prunes `w` in place (any float dtype, CPU or CUDA) and returns its statistics.
PruneStat prune_tensor(torch::Tensor& w, double pct, const std::string& name = {});

// Prunes every eligible tensor of `state_dict` in place (tensors are replaced by pruned copies, so
// the caller's model weights are untouched); returns one stat per pruned tensor, in order.
std::vector<PruneStat> prune_state_dict(core::NamedTensors& state_dict,
                                        const config::QuantConfig& cfg);

}  // namespace pgolf::quant
