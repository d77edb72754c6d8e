// Byte sidecars (see sidecar.h): naming, pairing with their token shards, loading for bpb.
#include "pgolf/data/sidecar.h"

#include <algorithm>
#include <cctype>

#include "pgolf/core/error.h"
#include "pgolf/core/files.h"
#include "pgolf/data/caseops.h"
#include "pgolf/data/encode.h"
#include "pgolf/data/shard.h"

namespace pgolf::data {
namespace {

std::string base_name(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

}  // namespace

bool is_byte_sidecar(const std::string& path) {
  return base_name(path).find("_bytes_") != std::string::npos;
}

std::string sidecar_path_for(const std::string& token_shard) {
  const std::string suffix = ".bin";
  const std::string name = base_name(token_shard);
  if (name.size() <= suffix.size() || name.compare(name.size() - 4, 4, suffix) != 0) return "";
  size_t digits = name.size() - suffix.size();
  while (digits > 0 && std::isdigit(static_cast<unsigned char>(name[digits - 1]))) --digits;
  const size_t end = name.size() - suffix.size();
  if (digits == end || digits == 0 || name[digits - 1] != '_') return "";
  const std::string dir = token_shard.substr(0, token_shard.size() - name.size());
  return dir + name.substr(0, digits) + "bytes_" + name.substr(digits);
}

std::vector<std::string> find_byte_sidecars(const std::vector<std::string>& token_files) {
  std::vector<std::string> sidecars;
  std::string first_present, first_missing;
  for (const auto& f : token_files) {
    const std::string s = sidecar_path_for(f);
    const bool present = !s.empty() && core::file_exists(s);
    if (present && first_present.empty()) first_present = s;
    if (!present && first_missing.empty())
      first_missing = s.empty() ? f + " (its name has no _NNNNNN index to pair a sidecar)" : s;
    sidecars.push_back(s);
  }
  if (first_present.empty()) return {};
  PGOLF_CHECK_INPUT(first_missing.empty(),
                    "byte sidecar missing: expected " << first_missing << " beside its token shard, "
                        << "as " << first_present << " is beside its own; a split with byte "
                        << "sidecars needs one per val shard (re-run `pgolf data encode --caseops`)");
  for (size_t i = 0; i < token_files.size(); ++i) {
    const int64_t want = read_shard_info(token_files[i]).num_tokens;
    const int64_t found = read_shard_info(sidecars[i]).num_tokens;  // validates its header too
    PGOLF_CHECK_INPUT(want == found, "byte sidecar " << sidecars[i] << ": expected " << want
                                                     << " entries (one per token of "
                                                     << token_files[i] << "), found " << found);
  }
  return sidecars;
}

torch::Tensor load_val_bytes(const std::vector<std::string>& token_files, int64_t count) {
  const auto sidecars = find_byte_sidecars(token_files);
  if (sidecars.empty()) return {};
  PGOLF_CHECK_INPUT(count >= 0, "byte sidecar: cannot load " << count << " entries");
  auto out = torch::empty({count}, torch::kInt32);
  int32_t* dst = out.data_ptr<int32_t>();
  std::vector<uint16_t> buf;
  int64_t filled = 0;
  for (size_t i = 0; i < sidecars.size() && filled < count; ++i) {
    ShardReader shard(sidecars[i]);
    const int64_t k = std::min(shard.num_tokens(), count - filled);
    buf.resize(static_cast<size_t>(k));
    shard.read_tokens(0, k, buf.data());
    std::copy(buf.begin(), buf.end(), dst + filled);
    filled += k;
  }
  PGOLF_CHECK_INPUT(filled == count, "byte sidecars " << sidecars.front() << " .. "
                                                      << sidecars.back() << ": expected " << count
                                                      << " entries in all, found " << filled);
  return out;
}

void write_byte_sidecar(const std::string& path, const std::vector<int64_t>& counts) {
  std::vector<uint16_t> v(counts.size());
  for (size_t i = 0; i < counts.size(); ++i) {
    PGOLF_CHECK_INPUT(counts[i] >= 0 && counts[i] <= 65535,
                      "byte sidecar " << path << ": token " << i << " stands for " << counts[i]
                                      << " bytes, outside the uint16 range [0, 65535]");
    v[i] = static_cast<uint16_t>(counts[i]);
  }
  write_shard(path, v);
}

std::vector<int64_t> token_byte_counts(const std::vector<PieceSpan>& pieces, int64_t text_bytes,
                                       bool caseops) {
  std::vector<int64_t> counts;
  if (caseops) {
    std::vector<std::string> surfaces;
    surfaces.reserve(pieces.size());
    for (const auto& p : pieces) surfaces.push_back(p.surface);
    counts = caseops::original_byte_counts(surfaces);
  } else {
    for (const auto& p : pieces) counts.push_back(static_cast<int64_t>(p.surface.size()));
  }
  if (pieces.empty()) return counts;
  // Dropped leading/trailing whitespace is not transformed by CaseOps: its bytes are original.
  counts.front() += std::max<int64_t>(pieces.front().begin, 0);
  counts.back() += std::max<int64_t>(text_bytes - pieces.back().end, 0);
  return counts;
}

}  // namespace pgolf::data
