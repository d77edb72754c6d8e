// Weight loading for eval/export (see weights.h).
#include "pgolf/train/weights.h"

#include "pgolf/core/error.h"
#include "pgolf/core/files.h"
#include "pgolf/quant/export.h"
#include "pgolf/quant/gptq_mixed.h"
#include "pgolf/train/checkpoint.h"

namespace pgolf::train {
namespace {

bool starts_with(const std::vector<uint8_t>& b, std::initializer_list<uint8_t> magic) {
  if (b.size() < magic.size()) return false;
  size_t i = 0;
  for (uint8_t m : magic)
    if (b[i++] != m) return false;
  return true;
}

core::NamedTensors cpu_template(model::AnyGPT& model) {
  core::NamedTensors out;
  for (const auto& [n, t] : model->state_dict()) out.emplace_back(n, t.detach().to(torch::kCPU));
  return out;
}

}  // namespace

const char* weights_kind_name(WeightsKind kind) {
  switch (kind) {
    case WeightsKind::kCheckpoint: return "checkpoint";
    case WeightsKind::kStateDict: return "state_dict";
    case WeightsKind::kArtifact: return "artifact";
  }
  return "?";
}

core::NamedTensors file_state_dict(const model::AnyGPT& model) {
  auto sd = model->state_dict();
  if (model.is_banked() || !model.config().record_banks) return sd;
  return quant::bank_state_dict(sd, "record_banks");
}

void load_file_state_dict(model::AnyGPT& model, const core::NamedTensors& tensors) {
  if (!model.is_banked() && quant::is_banked(tensors))
    model->load_state_dict(quant::unbank_state_dict(tensors), /*strict=*/true);
  else
    model->load_state_dict(tensors, /*strict=*/true);
}

WeightsKind load_weights(const std::string& path, model::AnyGPT& model) {
  const auto head = core::read_file(path);
  PGOLF_CHECK_INPUT(!head.empty(), path << ": empty file, expected weights");
  // torch.save(..., _use_new_zipfile_serialization=False): pickles of a magic LONG1 (0x1950a86a...)
  // and of the object, then raw storages; LibTorch reads only the zip format.
  PGOLF_CHECK_INPUT(!starts_with(head, {0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46}),
                    path << ": a legacy torch.save file (_use_new_zipfile_serialization=False); "
                         << "pgolf reads the zip format: re-save it in Python with "
                         << "torch.save(torch.load(path), path)");
  const bool zip = starts_with(head, {'P', 'K', 3, 4});
  if (!zip) {  // zstd frame (28 b5 2f fd) or zlib stream: a quantised artifact
    model->load_state_dict(quant::load_artifact(path, cpu_template(model)), /*strict=*/true);
    return WeightsKind::kArtifact;
  }
  core::NamedTensors tensors =
      core::tensors_from_bytes(std::vector<char>(head.begin(), head.end()), path);
  if (!tensors.empty() && tensors.front().first == "__pgolf_checkpoint__") {
    load_file_state_dict(model, with_prefix(load_checkpoint(path).tensors, "model/"));
    return WeightsKind::kCheckpoint;
  }
  load_file_state_dict(model, tensors);
  return WeightsKind::kStateDict;
}

}  // namespace pgolf::train
