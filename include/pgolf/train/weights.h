// Loading model weights for eval/export from any of the files users hold: a pgolf checkpoint, a
// plain state dict (ours or Python's torch.save), or a quantised artifact (ours or the reference's).
#pragma once

#include <string>

#include "pgolf/core/tensor_io.h"
#include "pgolf/model/any_gpt.h"

namespace pgolf::train {

enum class WeightsKind { kCheckpoint, kStateDict, kArtifact };
const char* weights_kind_name(WeightsKind kind);

// Detects the kind from the file's bytes (zstd/zlib frame => artifact; torch zip with a pgolf
// checkpoint header => checkpoint; other torch zip => state dict) and loads it into `model`
// (strict key and shape checks naming the offending key). Returns the kind found.
WeightsKind load_weights(const std::string& path, model::AnyGPT& model);

}  // namespace pgolf::train
