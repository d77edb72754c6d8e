// Chart assembly from run data (see charts.h).
#include "pgolf/report/charts.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>

#include "pgolf/core/error.h"
#include "pgolf/core/files.h"
#include "pgolf/report/html.h"
#include "pgolf/report/svg.h"

namespace pgolf::report {
namespace {

constexpr size_t kMaxPoints = 1500;

enum class XAxis { kStep, kTime };

// The training clock at `step`, interpolated between logged train points.
double time_at_step(const RunData& r, int64_t step) {
  const auto it = std::lower_bound(r.train.begin(), r.train.end(), step,
                                   [](const TrainPoint& p, int64_t s) { return p.step < s; });
  return it == r.train.end() ? kNaN : it->time_s;
}

std::vector<Band> swa_bands(const std::vector<RunData>& runs, XAxis axis) {
  std::vector<Band> out;
  for (size_t i = 0; i < runs.size(); ++i) {
    const RunData& r = runs[i];
    if (r.swa_start_step < 0 || r.train.empty()) continue;
    Band b;
    b.color = palette(i);
    b.label = r.swa_count > 0 ? "SWA (" + std::to_string(r.swa_count) + ")" : "SWA";
    if (runs.size() > 1) b.label += " " + r.name;
    if (axis == XAxis::kStep) {
      b.x0 = static_cast<double>(r.swa_start_step);
      b.x1 = static_cast<double>(r.train.back().step);
    } else {
      b.x0 = time_at_step(r, r.swa_start_step);
      b.x1 = r.train.back().time_s;
    }
    if (std::isfinite(b.x0) && std::isfinite(b.x1) && b.x1 >= b.x0) out.push_back(b);
  }
  return out;
}

template <typename P, typename F>
Series make_series(const std::vector<P>& pts, XAxis axis, F value, const std::string& label,
                   const std::string& color) {
  Series s;
  s.label = label;
  s.color = color;
  for (const P& p : pts) {
    s.x.push_back(axis == XAxis::kStep ? static_cast<double>(p.step) : p.time_s);
    s.y.push_back(value(p));
  }
  downsample(s.x, s.y, kMaxPoints);
  return s;
}

// One run: the legend names the quantities. Several runs: the legend names the runs (one colour
// each) and the title says which line style is which quantity.
std::string label_for(const RunData& r, size_t n_runs, const std::string& what) {
  return n_runs > 1 ? r.name : what;
}

LineChart loss_chart(const std::vector<RunData>& runs, XAxis axis) {
  LineChart c;
  const bool step = axis == XAxis::kStep;
  c.id = step ? "train_loss_step" : "train_loss_time";
  c.title = step ? "Loss vs step" : "Loss vs training time";
  if (runs.size() > 1) c.title += " (solid: train, dashed: val)";
  c.x_label = step ? "step" : "training time (s)";
  c.y_label = "loss (nats/token)";
  for (size_t i = 0; i < runs.size(); ++i) {
    const auto& r = runs[i];
    c.series.push_back(make_series(r.train, axis, [](const TrainPoint& p) { return p.train_loss; },
                                   label_for(r, runs.size(), "train"), palette(i)));
    Series v = make_series(r.val, axis, [](const ValPoint& p) { return p.val_loss; },
                           runs.size() > 1 ? r.name + " val" : "val", palette(i));
    v.dashed = v.markers = true;
    v.in_legend = runs.size() == 1;
    c.series.push_back(v);
  }
  c.bands = swa_bands(runs, axis);
  return c;
}

LineChart bpb_chart(const std::vector<RunData>& runs, XAxis axis) {
  LineChart c;
  const bool step = axis == XAxis::kStep;
  c.id = step ? "val_bpb_step" : "val_bpb_time";
  c.title = step ? "Validation bpb vs step" : "Validation bpb vs training time";
  c.x_label = step ? "step" : "training time (s)";
  c.y_label = "val_bpb";
  for (size_t i = 0; i < runs.size(); ++i) {
    Series s = make_series(runs[i].val, axis, [](const ValPoint& p) { return p.val_bpb; },
                           label_for(runs[i], runs.size(), "val_bpb"), palette(i));
    s.markers = true;
    c.series.push_back(s);
  }
  c.bands = swa_bands(runs, axis);
  return c;
}

LineChart schedule_chart(const std::vector<RunData>& runs) {
  LineChart c;
  c.id = "lr_momentum";
  c.title = "LR multiplier (solid) and Muon momentum (dashed)";
  c.x_label = "step";
  c.y_label = "multiplier / momentum";
  c.y_from_zero = true;
  for (size_t i = 0; i < runs.size(); ++i) {
    const auto& r = runs[i];
    c.series.push_back(make_series(r.train, XAxis::kStep,
                                   [](const TrainPoint& p) { return p.lr_scale; },
                                   label_for(r, runs.size(), "lr multiplier"), palette(i)));
    Series m = make_series(r.train, XAxis::kStep, [](const TrainPoint& p) { return p.momentum; },
                           runs.size() > 1 ? r.name + " momentum" : "momentum", palette(i));
    m.dashed = true;
    m.in_legend = runs.size() == 1;
    c.series.push_back(m);
  }
  c.bands = swa_bands(runs, XAxis::kStep);
  return c;
}

LineChart throughput_chart(const std::vector<RunData>& runs) {
  LineChart c;
  c.id = "tokens_per_s";
  c.title = "Training throughput";
  c.x_label = "step";
  c.y_label = "tokens/s";
  c.y_from_zero = true;
  for (size_t i = 0; i < runs.size(); ++i)
    c.series.push_back(make_series(runs[i].train, XAxis::kStep,
                                   [](const TrainPoint& p) { return p.tokens_per_s; },
                                   label_for(runs[i], runs.size(), "tokens/s"), palette(i)));
  c.bands = swa_bands(runs, XAxis::kStep);
  return c;
}

BarChart scores_chart(const std::vector<RunData>& runs) {
  struct Metric {
    const char* label;
    double RunData::*field;
    const char* color;
  };
  const Metric all[] = {{"pre-quant", &RunData::pre_quant_bpb, "#7f7f7f"},
                        {"round trip, standard", &RunData::standard_bpb, "#1f77b4"},
                        {"round trip, sliding", &RunData::sliding_bpb, "#2ca02c"},
                        {"TTT-LoRA", &RunData::ttt_bpb, "#9467bd"},
                        {"submission", &RunData::final_bpb, "#d62728"}};
  BarChart c;
  c.id = "final_bpb";
  c.title = "Final scores (bpb, lower is better)";
  c.y_label = "bpb";
  // The submission score gets its own bar only when it is none of the round-trip scores drawn.
  bool submission_differs = false;
  for (const auto& r : runs)
    submission_differs = submission_differs ||
                         (std::isfinite(r.final_bpb) && r.final_bpb != r.standard_bpb &&
                          r.final_bpb != r.sliding_bpb && r.final_bpb != r.ttt_bpb);
  std::vector<const Metric*> used;
  for (const Metric& m : all) {
    if (m.field == &RunData::final_bpb && !submission_differs) continue;
    if (std::any_of(runs.begin(), runs.end(),
                    [&](const RunData& r) { return std::isfinite(r.*m.field); }))
      used.push_back(&m);
  }
  for (const Metric* m : used) {
    c.metrics.push_back(m->label);
    c.colors.push_back(m->color);
  }
  for (const auto& r : runs) {
    BarGroup g;
    g.label = r.name;
    for (const Metric* m : used) g.values.push_back(r.*(m->field));
    c.groups.push_back(g);
  }
  return c;
}

std::string budget_svg(const std::vector<RunData>& runs) {
  std::vector<BudgetRow> rows;
  for (const auto& r : runs) {
    if (r.bytes_total < 0 && r.bytes_model < 0) continue;
    BudgetRow b;
    b.label = r.name;
    b.model_bytes = r.bytes_model >= 0 ? r.bytes_model : r.bytes_total;
    b.code_bytes = r.bytes_code >= 0 ? r.bytes_code : 0.0;
    rows.push_back(b);
  }
  return render_budget_chart("artifact_bytes", "Artifact bytes (model + code) vs the cap", rows,
                             kByteCap);
}

void mkdir_one(const std::string& path) {
  PGOLF_CHECK_INPUT(::mkdir(path.c_str(), 0755) == 0 || errno == EEXIST,
                    path << ": cannot create directory (" << std::strerror(errno) << ")");
}

}  // namespace

void downsample(std::vector<double>& xs, std::vector<double>& ys, size_t max_points) {
  const size_t n = std::min(xs.size(), ys.size());
  if (n <= max_points || max_points == 0) return;
  std::vector<double> ox, oy;
  for (size_t b = 0; b < max_points; ++b) {
    const size_t lo = b * n / max_points, hi = (b + 1) * n / max_points;
    double sx = 0, sy = 0;
    size_t k = 0;
    for (size_t i = lo; i < hi; ++i) {
      if (!std::isfinite(ys[i]) || !std::isfinite(xs[i])) continue;
      sx += xs[i];
      sy += ys[i];
      ++k;
    }
    if (k == 0) continue;
    ox.push_back(sx / static_cast<double>(k));
    oy.push_back(sy / static_cast<double>(k));
  }
  xs.swap(ox);
  ys.swap(oy);
}

std::vector<NamedChart> build_charts(const std::vector<RunData>& runs) {
  std::vector<NamedChart> out;
  for (const LineChart& c :
       {loss_chart(runs, XAxis::kStep), bpb_chart(runs, XAxis::kStep),
        loss_chart(runs, XAxis::kTime), bpb_chart(runs, XAxis::kTime), schedule_chart(runs),
        throughput_chart(runs)})
    out.push_back({c.id, c.title, render_line_chart(c)});
  const BarChart scores = scores_chart(runs);
  out.push_back({scores.id, scores.title, render_bar_chart(scores)});
  out.push_back({"artifact_bytes", "Artifact bytes vs the cap", budget_svg(runs)});
  return out;
}

std::vector<std::string> write_run_charts(const std::string& run_dir) {
  const std::vector<RunData> runs = {load_run(run_dir)};
  const std::string dir = run_dir + "/charts";
  mkdir_one(dir);
  std::vector<std::string> written;
  for (const auto& c : build_charts(runs)) {
    const std::string path = dir + "/" + c.id + ".svg";
    core::write_file_atomic(path, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n" + c.svg);
    written.push_back(path);
  }
  const std::string html = run_dir + "/report.html";
  core::write_file_atomic(html, render_report_html(runs));
  written.push_back(html);
  return written;
}

}  // namespace pgolf::report
