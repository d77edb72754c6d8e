// `pgolf compare`: the key figures of several runs in one table, and their mean and sample std per
// configuration (runs grouped by config_hash, i.e. ignoring seed, run id and output folder).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "pgolf/report/run_data.h"

namespace pgolf::report {

// The numeric columns, in table order.
struct Figures {
  double seed = kNaN, steps = kNaN, step_avg_ms = kNaN;
  double pre_quant_bpb = kNaN, roundtrip_bpb = kNaN, final_bpb = kNaN, bytes_total = kNaN;
};
struct CompareRow {
  std::string run;
  std::string config_hash;  // first 8 hex digits shown
  std::string roundtrip_method;
  Figures f;
};
struct CompareGroup {
  std::string config_hash;
  std::vector<size_t> members;  // row indices
  Figures mean, std;            // std: sample (ddof 1), NaN for a single run
};

CompareRow compare_row(const RunData& run);
// Groups in order of first appearance.
std::vector<CompareGroup> group_rows(const std::vector<CompareRow>& rows);
// Fixed-width text table: one line per run, then "mean"/"std" lines per configuration.
std::string format_compare(const std::vector<CompareRow>& rows,
                           const std::vector<CompareGroup>& groups);
nlohmann::json compare_json(const std::vector<CompareRow>& rows,
                            const std::vector<CompareGroup>& groups);

}  // namespace pgolf::report
