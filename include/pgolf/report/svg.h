// Inline SVG charts for run reports, as small pure functions: scales, "nice" ticks, path data and
// whole line / grouped-bar / byte-budget charts rendered to self-contained <svg> strings (presentation
// attributes only, no CSS or script), so the same text works inline in HTML and as a .svg file.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace pgolf::report {

// Maps the domain [d0, d1] linearly onto the range [r0, r1]; a zero-width domain maps to the middle.
struct LinearScale {
  double d0 = 0.0, d1 = 1.0, r0 = 0.0, r1 = 1.0;
  double operator()(double v) const;
};

// About `target` round tick values (1, 2, 2.5 or 5 x 10^k steps) covering [lo, hi].
std::vector<double> nice_ticks(double lo, double hi, int target = 5);
// [min, max] of the finite values widened by `pad` of the span (a constant or empty set still gets a
// non-empty range).
std::pair<double, double> padded_range(const std::vector<double>& values, double pad = 0.05);
// Tick label for `v` with ticks `step` apart: "0.25", "1200", "1.5M".
std::string format_tick(double v, double step);
std::string xml_escape(const std::string& s);
// 16000000 -> "16,000,000" (rounded to an integer).
std::string thousands(double v);
// SVG path data "M x,y L x,y ..." through the points; a non-finite point breaks the line.
std::string path_data(const std::vector<double>& xs, const std::vector<double>& ys,
                      const LinearScale& sx, const LinearScale& sy);

struct Series {
  std::string label;
  std::vector<double> x, y;
  std::string color = "#1f77b4";
  bool dashed = false;
  bool markers = false;  // circles at the points (for sparse series such as val)
  bool in_legend = true;  // false: a companion series (e.g. a run's val next to its train line)
};
struct Band {  // a shaded x interval, e.g. the SWA window
  double x0 = 0.0, x1 = 0.0;
  std::string color = "#2ca02c";
  std::string label;
};
struct RefLine {  // a horizontal reference line
  double y = 0.0;
  std::string label;
  std::string color = "#d62728";
};

struct LineChart {
  std::string id;  // data-chart attribute and file stem
  std::string title, x_label, y_label;
  std::vector<Series> series;
  std::vector<Band> bands;
  std::vector<RefLine> hlines;
  bool y_from_zero = false;
  int width = 640, height = 300;
};
std::string render_line_chart(const LineChart& c);

struct BarGroup {  // one run: a bar per metric (NaN = not available, drawn as a gap)
  std::string label;
  std::vector<double> values;
};
struct BarChart {
  std::string id, title, y_label;
  std::vector<std::string> metrics;  // legend labels, one per bar of each group
  std::vector<std::string> colors;   // one per metric
  std::vector<BarGroup> groups;
  int width = 640, height = 300;
};
// Bars start at the bottom of a padded value range (not at zero: bpb differences are small), with
// the value printed above each bar.
std::string render_bar_chart(const BarChart& c);

struct BudgetRow {
  std::string label;
  double model_bytes = 0.0, code_bytes = 0.0;
};
// Horizontal stacked bars (model + code bytes) against the byte cap, drawn as a red line.
std::string render_budget_chart(const std::string& id, const std::string& title,
                                const std::vector<BudgetRow>& rows, double cap, int width = 640);

// A small palette of distinguishable colours; index wraps around.
const std::string& palette(size_t i);

}  // namespace pgolf::report
