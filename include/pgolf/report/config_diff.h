// Resolved configurations side by side: flattening config.json into "section.key" rows, the rows
// whose values differ between runs, and a hash that groups runs of the same configuration (seed,
// run id and output folder excluded) for `pgolf compare`.
#pragma once

#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace pgolf::report {

// {"model": {"num_layers": 9}, "_sources": {...}} -> {"model.num_layers": "9"}; keys starting with
// '_' (sources, versions, comments) are left out.
std::map<std::string, std::string> flatten_config(const nlohmann::json& config);

struct ConfigRow {
  std::string key;
  std::vector<std::string> values;  // one per run; "" when the run lacks the key
  bool differs = false;
};
// Every key of any run, in key order, with the runs' values and whether they differ.
std::vector<ConfigRow> diff_configs(const std::vector<std::map<std::string, std::string>>& configs);

// Keys that do not define "the same configuration" (leaf names, any section).
const std::vector<std::string>& group_excluded_keys();
// 16 hex digits of FNV-1a 64 over the flattened config minus the excluded keys; equal for runs
// that differ only in seed / run_id / out_dir.
std::string config_hash(const std::map<std::string, std::string>& flat);

}  // namespace pgolf::report
