// Memory a training run needs, estimated from the configuration alone before anything is
// allocated (issue 17 item 10): parameters, gradients, optimiser state, the averaged copy and the
// activations of one micro-batch. A pure function of the config; the CLI compares it with the
// device's memory and refuses, with the estimate, what cannot fit.
#pragma once

#include <cstdint>
#include <string>

#include "pgolf/config/config.h"

namespace pgolf::config {

struct MemoryEstimate {
  double params = 0;            // parameter count
  double param_bytes = 0;       // fp32 masters
  double grad_bytes = 0;        // fp32 gradients
  double optimizer_bytes = 0;   // Muon momentum (matrices), AdamW moments (the rest)
  double average_bytes = 0;     // SWA / EMA copy of the weights (0 when off)
  double activation_bytes = 0;  // saved activations and logits of one micro-batch per rank
  double total() const {
    return param_bytes + grad_bytes + optimizer_bytes + average_bytes + activation_bytes;
  }
};

// Per rank, for `world_size` ranks (grad_accum_steps = 8 / world_size). Activations count 2 bytes
// a value (bf16) and only the tensors every block must keep for backward, so the estimate is a
// lower bound: a config it refuses cannot fit. Doubles, so absurd sizes cannot overflow.
MemoryEstimate estimate_memory(const Config& cfg, int world_size);

// "" when `need` fits `available` bytes; otherwise the error text, naming the device and every
// part of the estimate.
std::string memory_fit_error(const MemoryEstimate& need, double available, const std::string& device);

// 1536 -> "1.5 KiB", 3.2e9 -> "3.0 GiB".
std::string format_bytes(double bytes);

}  // namespace pgolf::config
