// Config flattening, diff and grouping hash (see config_diff.h).
#include "pgolf/report/config_diff.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <set>

namespace pgolf::report {

std::map<std::string, std::string> flatten_config(const nlohmann::json& config) {
  std::map<std::string, std::string> out;
  if (!config.is_object()) return out;
  for (auto sec = config.begin(); sec != config.end(); ++sec) {
    if (!sec.key().empty() && sec.key()[0] == '_') continue;
    if (!sec.value().is_object()) {
      out[sec.key()] = sec.value().dump();
      continue;
    }
    for (auto kv = sec.value().begin(); kv != sec.value().end(); ++kv) {
      if (!kv.key().empty() && kv.key()[0] == '_') continue;
      out[sec.key() + "." + kv.key()] =
          kv.value().is_string() ? kv.value().get<std::string>() : kv.value().dump();
    }
  }
  return out;
}

std::vector<ConfigRow> diff_configs(const std::vector<std::map<std::string, std::string>>& configs) {
  std::set<std::string> keys;
  for (const auto& c : configs)
    for (const auto& kv : c) keys.insert(kv.first);
  std::vector<ConfigRow> rows;
  for (const auto& k : keys) {
    ConfigRow r;
    r.key = k;
    for (const auto& c : configs) {
      const auto it = c.find(k);
      r.values.push_back(it == c.end() ? std::string() : it->second);
    }
    r.differs = std::any_of(r.values.begin(), r.values.end(),
                            [&](const std::string& v) { return v != r.values.front(); });
    rows.push_back(std::move(r));
  }
  return rows;
}

const std::vector<std::string>& group_excluded_keys() {
  static const std::vector<std::string> kKeys = {"seed", "run_id", "out_dir"};
  return kKeys;
}

std::string config_hash(const std::map<std::string, std::string>& flat) {
  uint64_t h = 1469598103934665603ULL;  // FNV-1a 64 offset basis
  auto feed = [&h](const std::string& s) {
    for (unsigned char c : s) {
      h ^= c;
      h *= 1099511628211ULL;  // FNV prime
    }
  };
  const auto& excluded = group_excluded_keys();
  for (const auto& [key, value] : flat) {
    const std::string leaf = key.substr(key.rfind('.') + 1);
    if (std::find(excluded.begin(), excluded.end(), leaf) != excluded.end()) continue;
    feed(key);
    feed(std::string(1, '\0'));
    feed(value);
    feed(std::string(1, '\n'));
  }
  char buf[20];
  std::snprintf(buf, sizeof buf, "%016" PRIx64, h);
  return buf;
}

}  // namespace pgolf::report
