// Training checkpoints: model weights, optimiser state, SWA/EMA state, loader position, RNG state,
// step and elapsed training time. Stored as a torch.save-compatible tensor dict (core/tensor_io)
// whose entry "__pgolf_checkpoint__" holds a JSON header with magic and version; written atomically.
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "pgolf/core/tensor_io.h"

namespace pgolf::train {

constexpr const char* kCheckpointMagic = "pgolf-checkpoint";
constexpr int kCheckpointVersion = 1;

struct Checkpoint {
  int64_t step = 0;           // completed optimiser steps
  double elapsed_ms = 0.0;    // training time (validation excluded), as the wallclock cap sees it
  nlohmann::json state;       // loader position, optimiser scalars, averaging counters, config
  core::NamedTensors tensors; // names prefixed by kind: "model/", "optim/", "avg/", "rng/"
};

void save_checkpoint(const std::string& path, const Checkpoint& ckpt);
// Input error naming the file when it is missing, truncated, damaged (zip CRC-32 mismatch), not
// ours or of another version.
Checkpoint load_checkpoint(const std::string& path);
// The header checks of load_checkpoint on an already parsed tensor dict; `what` names the source.
Checkpoint checkpoint_from_tensors(core::NamedTensors all, const std::string& what);

// Tensors of `ckpt` whose name starts with `prefix` (prefix stripped), in stored order.
core::NamedTensors with_prefix(const core::NamedTensors& all, const std::string& prefix);
void add_with_prefix(core::NamedTensors& all, const std::string& prefix,
                     const core::NamedTensors& part);

}  // namespace pgolf::train
