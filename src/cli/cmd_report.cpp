// `pgolf report RUN_DIR... [--out report.html] [--svg-dir DIR]`: one self-contained HTML page (inline
// SVG charts, configs side by side) for one or more run directories; `pgolf compare RUN_DIR...`:
// the key figures of the runs with mean and std per configuration.
#include <iostream>

#include "pgolf/cli/commands.h"
#include "pgolf/core/files.h"
#include "pgolf/report/charts.h"
#include "pgolf/report/compare.h"
#include "pgolf/report/html.h"

namespace pgolf::cli {
namespace {

struct ReportArgs {
  std::vector<std::string> runs;
  std::string out = "report.html";
  std::string svg_dir;
  bool json = false;
};

std::vector<report::RunData> load_runs(const std::vector<std::string>& dirs) {
  std::vector<report::RunData> runs;
  for (const auto& d : dirs) runs.push_back(report::load_run(d));
  return runs;
}

int run_report(const ReportArgs& a) {
  const auto runs = load_runs(a.runs);
  core::write_file_atomic(a.out, report::render_report_html(runs));
  std::cout << a.out << std::endl;
  if (!a.svg_dir.empty()) {
    for (const auto& c : report::build_charts(runs)) {
      const std::string path = a.svg_dir + "/" + c.id + ".svg";
      core::write_file_atomic(path, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n" + c.svg);
      std::cout << path << std::endl;
    }
  }
  return kExitOk;
}

int run_compare(const ReportArgs& a) {
  std::vector<report::CompareRow> rows;
  for (const auto& r : load_runs(a.runs)) rows.push_back(report::compare_row(r));
  const auto groups = report::group_rows(rows);
  if (a.json)
    std::cout << report::compare_json(rows, groups).dump(2) << std::endl;
  else
    std::cout << report::format_compare(rows, groups);
  return kExitOk;
}

}  // namespace

Command register_report(CLI::App& app) {
  auto* sub = app.add_subcommand("report", "HTML report (inline SVG charts, config diff) of runs");
  auto a = std::make_shared<ReportArgs>();
  sub->add_option("runs", a->runs, "run directories")->required()->check(CLI::ExistingDirectory);
  sub->add_option("--out", a->out, "HTML file to write (default report.html)");
  sub->add_option("--svg-dir", a->svg_dir, "also write each chart as DIR/<chart>.svg")
      ->check(CLI::ExistingDirectory);
  return {sub, [a]() { return run_report(*a); }};
}

Command register_compare(CLI::App& app) {
  auto* sub = app.add_subcommand("compare", "key figures of runs, mean and std per config");
  auto a = std::make_shared<ReportArgs>();
  sub->add_option("runs", a->runs, "run directories")->required()->check(CLI::ExistingDirectory);
  sub->add_flag("--json", a->json, "print JSON");
  return {sub, [a]() { return run_compare(*a); }};
}

}  // namespace pgolf::cli
