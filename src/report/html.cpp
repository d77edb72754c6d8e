// HTML report page (see html.h).
#include "pgolf/report/html.h"

#include <cmath>
#include <cstdio>
#include <ctime>

#include "pgolf/report/charts.h"
#include "pgolf/report/compare.h"
#include "pgolf/report/svg.h"

namespace pgolf::report {
namespace {

const char* kStyle = R"(body{font-family:sans-serif;margin:24px;color:#222;max-width:1400px}
h1{font-size:22px}h2{font-size:17px;margin-top:28px}h3{font-size:14px}
table{border-collapse:collapse;font-size:12px}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}
th{background:#f4f4f4}td.k,th.k{text-align:left;font-family:monospace}
tr.diff td{background:#fff3b0}tr.diff td.k{font-weight:bold}
.charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(560px,1fr));gap:12px}
.charts figure{margin:0;border:1px solid #ddd}.charts svg{display:block;width:100%;height:auto}
.note{color:#666;font-size:12px})";

std::string fmt(double v, const char* f) {
  if (!std::isfinite(v)) return "-";
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

std::string summary_table(const std::vector<RunData>& runs) {
  std::string h =
      "<table class=\"summary\"><tr><th class=\"k\">run</th><th>config</th><th>seed</th>"
      "<th>steps</th><th>train time (s)</th><th>step_avg (ms)</th><th>pre-quant bpb</th>"
      "<th>round-trip bpb</th><th>final bpb</th><th>bytes</th><th>of cap</th><th>SWA</th></tr>\n";
  for (const auto& r : runs) {
    const CompareRow c = compare_row(r);
    std::string swa = r.swa_start_step >= 0 ? "from step " + std::to_string(r.swa_start_step) : "-";
    if (r.swa_count > 0) swa += ", " + std::to_string(r.swa_count) + " ckpts";
    h += "<tr><td class=\"k\">" + xml_escape(r.name) + "</td><td class=\"k\">" +
         c.config_hash.substr(0, 8) + "</td><td>" + (r.seed >= 0 ? std::to_string(r.seed) : "-") +
         "</td><td>" + std::to_string(r.steps) + "</td><td>" + fmt(r.train_ms / 1000.0, "%.1f") +
         "</td><td>" + fmt(r.step_avg_ms(), "%.2f") + "</td><td>" + fmt(r.pre_quant_bpb, "%.5f") +
         "</td><td>" + fmt(r.roundtrip_bpb, "%.5f") +
         (r.roundtrip_method.empty() ? "" : " (" + xml_escape(r.roundtrip_method) + ")") +
         "</td><td>" + fmt(r.final_bpb, "%.5f") + "</td><td>" +
         (r.bytes_total >= 0 ? thousands(r.bytes_total) : "-") + "</td><td>" +
         fmt(r.bytes_total >= 0 ? 100.0 * r.bytes_total / kByteCap : kNaN, "%.1f%%") +
         "</td><td>" + swa + "</td></tr>\n";
  }
  return h + "</table>\n";
}

std::string versions_list(const std::vector<RunData>& runs) {
  std::string h = "<ul class=\"note\">";
  for (const auto& r : runs) {
    const auto v = r.config.find("_versions");
    h += "<li>" + xml_escape(r.name) + ": " + xml_escape(r.dir) +
         (v != r.config.end() && v->is_string() ? " &mdash; " + xml_escape(v->get<std::string>())
                                                : "") +
         "</li>";
  }
  return h + "</ul>\n";
}

}  // namespace

std::string config_table_html(const std::vector<std::string>& run_names,
                              const std::vector<ConfigRow>& rows, bool only_diffs) {
  std::string h = "<table class=\"config\"><tr><th class=\"k\">key</th>";
  for (const auto& n : run_names) h += "<th class=\"k\">" + xml_escape(n) + "</th>";
  h += "</tr>\n";
  size_t shown = 0;
  for (const auto& r : rows) {
    if (only_diffs && !r.differs) continue;
    ++shown;
    h += std::string(r.differs ? "<tr class=\"diff\">" : "<tr>") + "<td class=\"k\">" +
         xml_escape(r.key) + "</td>";
    for (const auto& v : r.values) h += "<td class=\"k\">" + xml_escape(v) + "</td>";
    h += "</tr>\n";
  }
  if (shown == 0)
    h += "<tr><td class=\"k\" colspan=\"" + std::to_string(run_names.size() + 1) +
         "\">no differences</td></tr>\n";
  return h + "</table>\n";
}

std::string render_report_html(const std::vector<RunData>& runs) {
  std::string h = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>pgolf report";
  if (runs.size() == 1) h += ": " + xml_escape(runs[0].name);
  h += "</title>\n<style>" + std::string(kStyle) + "</style></head>\n<body>\n<h1>pgolf run report</h1>\n";
  char when[32];
  const std::time_t now = std::time(nullptr);
  std::strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S UTC", std::gmtime(&now));
  h += "<p class=\"note\">" + std::to_string(runs.size()) + " run(s), generated " + when + "</p>\n";
  h += versions_list(runs);
  h += "<h2>Summary</h2>\n" + summary_table(runs);
  h += "<h2>Charts</h2>\n<div class=\"charts\">\n";
  for (const auto& c : build_charts(runs))
    h += "<figure id=\"" + c.id + "\">" + c.svg + "</figure>\n";
  h += "</div>\n<p class=\"note\">Shaded: the SWA window (from the first collected step to the end "
       "of training). Train loss is per logged step; val points are the periodic validations.</p>\n";
  std::vector<std::string> names;
  std::vector<std::map<std::string, std::string>> flats;
  for (const auto& r : runs) {
    names.push_back(r.name);
    flats.push_back(flatten_config(r.config));
  }
  const auto rows = diff_configs(flats);
  h += "<h2>Configuration</h2>\n";
  if (runs.size() > 1) h += "<h3>Differences</h3>\n" + config_table_html(names, rows, true);
  h += "<details" + std::string(runs.size() == 1 ? " open" : "") + "><summary>All " +
       std::to_string(rows.size()) + " resolved settings (differences highlighted)</summary>\n" +
       config_table_html(names, rows, false) + "</details>\n";
  return h + "</body></html>\n";
}

}  // namespace pgolf::report
