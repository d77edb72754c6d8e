// The self-contained HTML report: a summary table, every chart as inline SVG and the resolved
// configurations side by side with their differences highlighted. No script, no external resource.
#pragma once

#include <string>
#include <vector>

#include "pgolf/report/config_diff.h"
#include "pgolf/report/run_data.h"

namespace pgolf::report {

// <table> of the config rows (differing rows carry class="diff" and a highlight); `only_diffs`
// keeps the differing rows only.
std::string config_table_html(const std::vector<std::string>& run_names,
                              const std::vector<ConfigRow>& rows, bool only_diffs);

std::string render_report_html(const std::vector<RunData>& runs);

}  // namespace pgolf::report
