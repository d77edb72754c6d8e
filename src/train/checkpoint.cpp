// Checkpoint files (see checkpoint.h).
#include "pgolf/train/checkpoint.h"

#include "pgolf/core/error.h"
#include "pgolf/core/files.h"

namespace pgolf::train {
namespace {
constexpr const char* kMetaKey = "__pgolf_checkpoint__";
}  // namespace

void save_checkpoint(const std::string& path, const Checkpoint& ckpt) {
  nlohmann::json header = {{"magic", kCheckpointMagic},
                           {"version", kCheckpointVersion},
                           {"step", ckpt.step},
                           {"elapsed_ms", ckpt.elapsed_ms},
                           {"state", ckpt.state}};
  const std::string text = header.dump();
  auto meta = torch::empty({static_cast<int64_t>(text.size())}, torch::kUInt8);
  std::memcpy(meta.data_ptr(), text.data(), text.size());
  core::NamedTensors all;
  all.reserve(ckpt.tensors.size() + 1);
  all.emplace_back(kMetaKey, meta);
  for (const auto& kv : ckpt.tensors) all.push_back(kv);
  core::save_tensors(path, all);
}

Checkpoint load_checkpoint(const std::string& path) {
  core::NamedTensors all = core::load_tensors(path);
  PGOLF_CHECK_INPUT(!all.empty() && all.front().first == kMetaKey,
                    path << ": not a pgolf checkpoint (expected a '" << kMetaKey
                         << "' header entry first)");
  const torch::Tensor meta = all.front().second;
  PGOLF_CHECK_INPUT(meta.scalar_type() == torch::kUInt8 && meta.dim() == 1,
                    path << ": checkpoint header has dtype " << meta.scalar_type()
                         << ", expected uint8 JSON bytes");
  const std::string text(static_cast<const char*>(meta.data_ptr()), meta.numel());
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(text);
  } catch (const std::exception& e) {
    PGOLF_FAIL_INPUT(path << ": checkpoint header is not valid JSON (" << e.what() << ")");
  }
  PGOLF_CHECK_INPUT(header.value("magic", "") == kCheckpointMagic,
                    path << ": checkpoint magic is '" << header.value("magic", "")
                         << "', expected '" << kCheckpointMagic << "'");
  PGOLF_CHECK_INPUT(header.value("version", -1) == kCheckpointVersion,
                    path << ": checkpoint version " << header.value("version", -1)
                         << ", this pgolf reads version " << kCheckpointVersion);
  Checkpoint ckpt;
  ckpt.step = header.at("step").get<int64_t>();
  ckpt.elapsed_ms = header.at("elapsed_ms").get<double>();
  ckpt.state = header.at("state");
  ckpt.tensors.assign(all.begin() + 1, all.end());
  return ckpt;
}

core::NamedTensors with_prefix(const core::NamedTensors& all, const std::string& prefix) {
  core::NamedTensors out;
  for (const auto& [name, t] : all)
    if (name.rfind(prefix, 0) == 0) out.emplace_back(name.substr(prefix.size()), t);
  return out;
}

void add_with_prefix(core::NamedTensors& all, const std::string& prefix,
                     const core::NamedTensors& part) {
  for (const auto& [name, t] : part) all.emplace_back(prefix + name, t);
}

}  // namespace pgolf::train
