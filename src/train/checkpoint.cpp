// Checkpoint files (see checkpoint.h).
#include "pgolf/train/checkpoint.h"

#include "pgolf/core/error.h"
#include "pgolf/core/files.h"
#include "pgolf/quant/zip_check.h"

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
  const auto raw = core::read_file(path);
  const std::vector<char> bytes(raw.begin(), raw.end());
  PGOLF_CHECK_INPUT(!bytes.empty(), path << ": empty file, expected a pgolf checkpoint");
  // LibTorch's reader ignores the zip CRCs: without this a flipped bit would resume silently.
  quant::verify_torch_zip(bytes, path);
  return checkpoint_from_tensors(core::tensors_from_bytes(bytes, path), path);
}

Checkpoint checkpoint_from_tensors(core::NamedTensors all, const std::string& what) {
  const std::string& path = what;
  PGOLF_CHECK_INPUT(!all.empty() && all.front().first == kMetaKey,
                    path << ": not a pgolf checkpoint (expected a '" << kMetaKey
                         << "' header entry first)");
  PGOLF_CHECK_INPUT(all.front().second.scalar_type() == torch::kUInt8 &&
                        all.front().second.dim() == 1,
                    path << ": checkpoint header has dtype " << all.front().second.scalar_type()
                         << " and " << all.front().second.dim()
                         << " dimension(s), expected 1-D uint8 JSON bytes");
  const torch::Tensor meta = all.front().second.contiguous();
  const std::string text(static_cast<const char*>(meta.data_ptr()), meta.numel());
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(text);
  } catch (const std::exception& e) {
    PGOLF_FAIL_INPUT(path << ": checkpoint header is not valid JSON (" << e.what() << ")");
  }
  const auto field = [&](const char* key) -> const nlohmann::json& {
    PGOLF_CHECK_INPUT(header.is_object() && header.contains(key),
                      path << ": checkpoint header lacks \"" << key << "\"");
    return header.at(key);
  };
  // Scalars are shown as found; containers only by type (dumping them would recurse deeply).
  const auto shown = [](const nlohmann::json& j) {
    return j.is_primitive() ? j.dump(-1, ' ', /*ensure_ascii=*/true) : std::string(j.type_name());
  };
  const auto& magic = field("magic");
  PGOLF_CHECK_INPUT(magic.is_string() && magic.get<std::string>() == kCheckpointMagic,
                    path << ": checkpoint magic is " << shown(magic) << ", expected \""
                         << kCheckpointMagic << "\"");
  const auto& version = field("version");
  PGOLF_CHECK_INPUT(version.is_number_integer() && version.get<int64_t>() == kCheckpointVersion,
                    path << ": checkpoint version " << shown(version) << ", this pgolf reads version "
                         << kCheckpointVersion);
  const auto& step = field("step");
  const auto& elapsed = field("elapsed_ms");
  const auto& state = field("state");
  PGOLF_CHECK_INPUT(step.is_number_integer() && step.get<int64_t>() >= 0 && elapsed.is_number() &&
                        state.is_object(),
                    path << ": checkpoint header has a malformed step, elapsed_ms or state");
  Checkpoint ckpt;
  ckpt.step = step.get<int64_t>();
  ckpt.elapsed_ms = elapsed.get<double>();
  ckpt.state = state;
  ckpt.tensors.assign(std::make_move_iterator(all.begin() + 1), std::make_move_iterator(all.end()));
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
