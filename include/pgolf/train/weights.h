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

// The model's weights as files hold them (final_model.pt, checkpoints' model/, the export's
// input): with RECORD_BANKS on the PR #180 GPT, the 1.1122 record's banks and key order
// (quant::bank_state_dict); otherwise model->state_dict(). CPU copies are the caller's business.
core::NamedTensors file_state_dict(const model::AnyGPT& model);
// Strict load of either form: a banked dict (qo_bank, ...) into the PR #180 GPT is unbanked
// first, whatever RECORD_BANKS says, so the record's own state dict loads too.
void load_file_state_dict(model::AnyGPT& model, const core::NamedTensors& tensors);

}  // namespace pgolf::train
