// SVG chart primitives and renderers (see svg.h).
#include "pgolf/report/svg.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <sstream>

namespace pgolf::report {
namespace {

constexpr double kLeft = 64, kRight = 16, kTop = 44, kBottom = 40;  // plot margins (px)

std::string num(double v) {  // coordinates: one decimal is plenty at screen resolution
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  return buf;
}

std::string svg_open(const std::string& id, const std::string& title, int w, int h) {
  std::ostringstream o;
  o << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << w << "\" height=\"" << h
    << "\" viewBox=\"0 0 " << w << ' ' << h << "\" data-chart=\"" << xml_escape(id)
    << "\" font-family=\"sans-serif\" font-size=\"11\" role=\"img\">\n<title>" << xml_escape(title)
    << "</title>\n<rect width=\"" << w << "\" height=\"" << h << "\" fill=\"#ffffff\"/>\n"
    << "<text x=\"" << kLeft << "\" y=\"16\" font-size=\"13\" font-weight=\"bold\">"
    << xml_escape(title) << "</text>\n";
  return o.str();
}

std::string text(double x, double y, const std::string& s, const char* anchor = "start",
                 const char* extra = "") {
  std::ostringstream o;
  o << "<text x=\"" << num(x) << "\" y=\"" << num(y) << "\" text-anchor=\"" << anchor << "\"" << extra
    << ">" << xml_escape(s) << "</text>\n";
  return o.str();
}

std::string line(double x0, double y0, double x1, double y1, const std::string& color,
                 const char* extra = "") {
  std::ostringstream o;
  o << "<line x1=\"" << num(x0) << "\" y1=\"" << num(y0) << "\" x2=\"" << num(x1) << "\" y2=\""
    << num(y1) << "\" stroke=\"" << color << "\"" << extra << "/>\n";
  return o.str();
}

std::string rect(double x, double y, double w, double h, const std::string& fill,
                 const std::string& cls, const char* extra = "") {
  std::ostringstream o;
  o << "<rect class=\"" << cls << "\" x=\"" << num(x) << "\" y=\"" << num(y) << "\" width=\""
    << num(std::max(w, 0.0)) << "\" height=\"" << num(std::max(h, 0.0)) << "\" fill=\"" << fill
    << "\"" << extra << "/>\n";
  return o.str();
}

std::string truncate(const std::string& s, size_t n) {
  return s.size() <= n ? s : s.substr(0, n - 1) + "~";
}

// One row of legend entries under the title: a swatch (line or box) and the label.
std::string legend(const std::vector<std::pair<std::string, std::string>>& items,
                   const std::vector<bool>& dashed, int width) {
  std::string out;
  double x = kLeft;
  for (size_t i = 0; i < items.size(); ++i) {
    const std::string label = truncate(items[i].first, 40);
    const double w = 30 + 6.6 * static_cast<double>(label.size());  // ~6.6 px per 11 px glyph
    if (x + w > width - kRight - 60 && i + 1 < items.size()) {
      out += text(x, 35, "+" + std::to_string(items.size() - i) + " more", "start",
                  " fill=\"#777777\"");  // the summary table names every run
      break;
    }
    out += line(x, 31, x + 18, 31, items[i].second,
                i < dashed.size() && dashed[i] ? " stroke-width=\"2\" stroke-dasharray=\"5,3\""
                                               : " stroke-width=\"2\"");
    out += text(x + 22, 35, label);
    x += w;
  }
  return out;
}

// Grid lines and tick labels for both axes, plus the axis titles.
std::string axes(const LinearScale& sx, const LinearScale& sy, const std::vector<double>& xt,
                 const std::vector<double>& yt, const std::string& xl, const std::string& yl,
                 int w, int h) {
  std::string out = "<g class=\"axes\">\n";
  const double xstep = xt.size() > 1 ? xt[1] - xt[0] : 1.0;
  const double ystep = yt.size() > 1 ? yt[1] - yt[0] : 1.0;
  for (double t : yt) {
    out += line(kLeft, sy(t), w - kRight, sy(t), "#e0e0e0");
    out += text(kLeft - 6, sy(t) + 4, format_tick(t, ystep), "end");
  }
  for (double t : xt) {
    out += line(sx(t), kTop, sx(t), h - kBottom, "#f0f0f0");
    out += text(sx(t), h - kBottom + 14, format_tick(t, xstep), "middle");
  }
  out += line(kLeft, h - kBottom, w - kRight, h - kBottom, "#444444");
  out += line(kLeft, kTop, kLeft, h - kBottom, "#444444");
  out += text((kLeft + w - kRight) / 2, h - 6, xl, "middle");
  out += "<text transform=\"translate(14," + num((kTop + h - kBottom) / 2) +
         ") rotate(-90)\" text-anchor=\"middle\">" + xml_escape(yl) + "</text>\n";
  return out + "</g>\n";
}

std::vector<double> finite(std::vector<double> v) {
  v.erase(std::remove_if(v.begin(), v.end(), [](double x) { return !std::isfinite(x); }), v.end());
  return v;
}

}  // namespace

double LinearScale::operator()(double v) const {
  if (d1 == d0) return (r0 + r1) / 2;
  return r0 + (v - d0) * (r1 - r0) / (d1 - d0);
}

std::vector<double> nice_ticks(double lo, double hi, int target) {
  if (!std::isfinite(lo) || !std::isfinite(hi) || target < 1) return {};
  if (hi < lo) std::swap(lo, hi);
  if (hi == lo) return {lo};
  const double raw = (hi - lo) / target;
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  double step = 10 * mag;
  for (double m : {1.0, 2.0, 2.5, 5.0}) {
    if (m * mag >= raw) {
      step = m * mag;
      break;
    }
  }
  std::vector<double> out;  // integer multiples of the step, so labels do not drift
  for (double k = std::ceil(lo / step - 1e-9); k * step <= hi + step * 1e-9; k += 1.0)
    out.push_back(k == 0.0 ? 0.0 : k * step);
  return out;
}

std::pair<double, double> padded_range(const std::vector<double>& values, double pad) {
  const auto v = finite(values);
  if (v.empty()) return {0.0, 1.0};
  auto [lo, hi] = std::minmax_element(v.begin(), v.end());
  double a = *lo, b = *hi;
  if (a == b) {
    const double d = a == 0.0 ? 1.0 : std::fabs(a) * 0.05;
    return {a - d, b + d};
  }
  const double d = (b - a) * pad;
  return {a - d, b + d};
}

std::string format_tick(double v, double step) {
  char buf[48];
  const double a = std::fabs(step);
  auto decimals_for = [](double st) {  // enough decimals to tell ticks `st` apart
    if (st <= 0) return 0;
    int d = static_cast<int>(std::ceil(-std::log10(st) - 1e-9));
    const double scaled = st * std::pow(10.0, d);
    if (std::fabs(scaled - std::round(scaled)) > 1e-6) ++d;  // steps like 0.25
    return std::clamp(d, 0, 6);
  };
  if (std::fabs(v) >= 1e6 && a >= 1e5) {
    std::snprintf(buf, sizeof buf, "%.*fM", decimals_for(a / 1e6), v / 1e6);
  } else if (std::fabs(v) >= 1e4 && a >= 1e3) {
    std::snprintf(buf, sizeof buf, "%.*fk", decimals_for(a / 1e3), v / 1e3);
  } else {
    std::snprintf(buf, sizeof buf, "%.*f", decimals_for(a), v);
  }
  return buf;
}

std::string thousands(double v) {
  std::string digits = std::to_string(static_cast<long long>(std::llround(std::fabs(v))));
  for (int i = static_cast<int>(digits.size()) - 3; i > 0; i -= 3) digits.insert(i, ",");
  return (v < 0 ? "-" : "") + digits;
}

std::string xml_escape(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string path_data(const std::vector<double>& xs, const std::vector<double>& ys,
                      const LinearScale& sx, const LinearScale& sy) {
  std::string d;
  bool pen_down = false;
  for (size_t i = 0; i < std::min(xs.size(), ys.size()); ++i) {
    if (!std::isfinite(xs[i]) || !std::isfinite(ys[i])) {
      pen_down = false;
      continue;
    }
    if (!d.empty()) d += ' ';
    d += (pen_down ? "L" : "M") + num(sx(xs[i])) + "," + num(sy(ys[i]));
    pen_down = true;
  }
  return d;
}

const std::string& palette(size_t i) {
  static const std::vector<std::string> kColors = {"#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd",
                                                   "#8c564b", "#e377c2", "#17becf", "#7f7f7f"};
  return kColors[i % kColors.size()];
}

std::string render_line_chart(const LineChart& c) {
  std::vector<double> all_x, all_y;
  for (const auto& s : c.series) {
    all_x.insert(all_x.end(), s.x.begin(), s.x.end());
    all_y.insert(all_y.end(), s.y.begin(), s.y.end());
  }
  for (const auto& b : c.bands) all_x.insert(all_x.end(), {b.x0, b.x1});
  for (const auto& r : c.hlines) all_y.push_back(r.y);
  if (c.y_from_zero) all_y.push_back(0.0);
  auto [x0, x1] = padded_range(all_x, 0.0);
  if (x0 > 0 && x0 <= 0.02 * (x1 - x0)) x0 = 0.0;  // e.g. the step-0 val after a few microseconds
  auto [y0, y1] = padded_range(all_y, 0.06);
  if (c.y_from_zero && y0 < 0 && !finite(all_y).empty() && *std::min_element(all_y.begin(), all_y.end()) >= 0)
    y0 = 0.0;
  const LinearScale sx{x0, x1, kLeft, c.width - kRight};
  const LinearScale sy{y0, y1, c.height - kBottom, kTop};
  std::string out = svg_open(c.id, c.title, c.width, c.height);
  out += axes(sx, sy, nice_ticks(x0, x1, 6), nice_ticks(y0, y1, 5), c.x_label, c.y_label, c.width,
              c.height);
  for (size_t bi = 0; bi < c.bands.size(); ++bi) {
    const Band& b = c.bands[bi];
    const double label_y = kTop + 12 + 12 * static_cast<double>(bi % 6);  // runs' labels stacked
    const double w = std::max(sx(b.x1) - sx(b.x0), 3.0);  // a one-step window stays visible
    const double left = std::min(sx(b.x0), c.width - kRight - w);
    out += rect(left, kTop, w, c.height - kTop - kBottom, b.color, "band", " fill-opacity=\"0.15\"");
    if (b.label.empty()) continue;
    const bool right_half = left > (kLeft + c.width - kRight) / 2;  // label inside the plot
    out += text(right_half ? left - 3 : left + 3, label_y, b.label, right_half ? "end" : "start",
                " fill=\"#555555\"");
  }
  for (const auto& r : c.hlines) {
    out += line(kLeft, sy(r.y), c.width - kRight, sy(r.y), r.color, " stroke-dasharray=\"4,3\"");
    out += text(c.width - kRight - 4, sy(r.y) - 4, r.label, "end", " fill=\"#d62728\"");
  }
  std::vector<std::pair<std::string, std::string>> items;
  std::vector<bool> dashed;
  for (const auto& s : c.series) {
    out += "<path class=\"series\" data-label=\"" + xml_escape(s.label) + "\" d=\"" +
           path_data(s.x, s.y, sx, sy) + "\" fill=\"none\" stroke=\"" + s.color +
           "\" stroke-width=\"1.6\"" + (s.dashed ? " stroke-dasharray=\"5,3\"" : "") + "/>\n";
    if (s.markers)
      for (size_t i = 0; i < std::min(s.x.size(), s.y.size()); ++i)
        if (std::isfinite(s.x[i]) && std::isfinite(s.y[i]))
          out += "<circle cx=\"" + num(sx(s.x[i])) + "\" cy=\"" + num(sy(s.y[i])) + "\" r=\"2.5\" fill=\"" +
                 s.color + "\"/>\n";
    if (!s.in_legend) continue;
    items.emplace_back(s.label, s.color);
    dashed.push_back(s.dashed);
  }
  if (c.series.empty() || all_x.empty()) out += text(c.width / 2.0, c.height / 2.0, "no data", "middle");
  out += legend(items, dashed, c.width);
  return out + "</svg>\n";
}

std::string render_bar_chart(const BarChart& c) {
  std::vector<double> all;
  for (const auto& g : c.groups) all.insert(all.end(), g.values.begin(), g.values.end());
  auto [y0, y1] = padded_range(all, 0.25);
  const auto ticks = nice_ticks(y0, y1, 5);
  const LinearScale sy{y0, y1, c.height - kBottom, kTop};
  std::string out = svg_open(c.id, c.title, c.width, c.height);
  const double ystep = ticks.size() > 1 ? ticks[1] - ticks[0] : 1.0;
  for (double t : ticks) {
    out += line(kLeft, sy(t), c.width - kRight, sy(t), "#e0e0e0");
    out += text(kLeft - 6, sy(t) + 4, format_tick(t, ystep), "end");
  }
  out += line(kLeft, c.height - kBottom, c.width - kRight, c.height - kBottom, "#444444");
  out += "<text transform=\"translate(14," + num((kTop + c.height - kBottom) / 2) +
         ") rotate(-90)\" text-anchor=\"middle\">" + xml_escape(c.y_label) + "</text>\n";
  const double plot_w = c.width - kLeft - kRight;
  const double group_w = c.groups.empty() ? plot_w : plot_w / static_cast<double>(c.groups.size());
  const double bar_w = std::min(48.0, 0.8 * group_w / std::max<size_t>(c.metrics.size(), 1));
  for (size_t g = 0; g < c.groups.size(); ++g) {
    const double gx = kLeft + group_w * static_cast<double>(g);
    const double start = gx + (group_w - bar_w * static_cast<double>(c.metrics.size())) / 2;
    for (size_t m = 0; m < c.groups[g].values.size() && m < c.metrics.size(); ++m) {
      const double v = c.groups[g].values[m];
      if (!std::isfinite(v)) continue;
      const double x = start + bar_w * static_cast<double>(m);
      out += rect(x + 1, sy(v), bar_w - 2, sy(y0) - sy(v), c.colors[m % c.colors.size()], "bar");
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.4f", v);
      out += text(x + bar_w / 2, sy(v) - 3, buf, "middle", " font-size=\"9\"");
    }
    out += text(gx + group_w / 2, c.height - kBottom + 14, truncate(c.groups[g].label, 48), "middle");
  }
  if (all.empty() || finite(all).empty()) out += text(c.width / 2.0, c.height / 2.0, "no data", "middle");
  std::vector<std::pair<std::string, std::string>> items;
  for (size_t m = 0; m < c.metrics.size(); ++m)
    items.emplace_back(c.metrics[m], c.colors[m % c.colors.size()]);
  out += legend(items, {}, c.width);
  return out + "</svg>\n";
}

std::string render_budget_chart(const std::string& id, const std::string& title,
                                const std::vector<BudgetRow>& rows, double cap, int width) {
  const double row_h = 26, label_w = 150;
  const int height = static_cast<int>(kTop + 30 + row_h * static_cast<double>(std::max<size_t>(rows.size(), 1)));
  double hi = cap;
  for (const auto& r : rows) hi = std::max(hi, r.model_bytes + r.code_bytes);
  const LinearScale sx{0.0, hi * 1.05, label_w, width - kRight - 140};
  std::string out = svg_open(id, title, width, height);
  const auto ticks = nice_ticks(0.0, hi * 1.05, 5);
  const double step = ticks.size() > 1 ? ticks[1] - ticks[0] : 1.0;
  for (double t : ticks) {
    out += line(sx(t), kTop, sx(t), height - 24, "#e8e8e8");
    out += text(sx(t), height - 10, format_tick(t, step), "middle");
  }
  for (size_t i = 0; i < rows.size(); ++i) {
    const auto& r = rows[i];
    const double y = kTop + 4 + row_h * static_cast<double>(i);
    out += text(label_w - 6, y + 14, truncate(r.label, 24), "end");
    out += rect(sx(0), y, sx(r.model_bytes) - sx(0), row_h - 8, "#1f77b4", "bar");
    out += rect(sx(r.model_bytes), y, sx(r.model_bytes + r.code_bytes) - sx(r.model_bytes),
                row_h - 8, "#ff7f0e", "bar");
    char buf[64];
    std::snprintf(buf, sizeof buf, " (%.1f%% of cap)", 100.0 * (r.model_bytes + r.code_bytes) / cap);
    out += text(sx(r.model_bytes + r.code_bytes) + 4, y + 13,
                thousands(r.model_bytes + r.code_bytes) + buf, "start", " font-size=\"9\"");
  }
  if (rows.empty()) out += text(width / 2.0, kTop + 18, "no artifact", "middle");
  out += line(sx(cap), kTop - 4, sx(cap), height - 24, "#d62728", " stroke-width=\"2\"");
  out += text(sx(cap), kTop - 6, "cap " + thousands(cap), "middle", " fill=\"#d62728\"");
  out += legend({{"model bytes", "#1f77b4"}, {"code bytes", "#ff7f0e"}}, {}, width);
  return out + "</svg>\n";
}

}  // namespace pgolf::report
