// Run comparison table (see compare.h).
#include "pgolf/report/compare.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "pgolf/report/config_diff.h"
#include "pgolf/report/stats.h"

namespace pgolf::report {
namespace {

// Column accessors, so mean/std and printing walk the same list.
struct Column {
  const char* header;
  double Figures::*field;
  const char* fmt;  // printf format for one value
  int width;
};
const Column kColumns[] = {{"seed", &Figures::seed, "%.0f", 6},
                           {"steps", &Figures::steps, "%.0f", 7},
                           {"step_avg_ms", &Figures::step_avg_ms, "%.2f", 11},
                           {"pre_quant", &Figures::pre_quant_bpb, "%.5f", 9},
                           {"round_trip", &Figures::roundtrip_bpb, "%.5f", 10},
                           {"final_bpb", &Figures::final_bpb, "%.5f", 9},
                           {"bytes", &Figures::bytes_total, "%.0f", 9}};

std::string cell(double v, const Column& c) {
  char buf[64];
  if (!std::isfinite(v)) std::snprintf(buf, sizeof buf, "%*s", c.width, "-");
  else {
    char num[48];
    std::snprintf(num, sizeof num, c.fmt, v);
    std::snprintf(buf, sizeof buf, "%*s", c.width, num);
  }
  return buf;
}

std::string pad(const std::string& s, size_t w) {
  return s.size() >= w ? s : s + std::string(w - s.size(), ' ');
}

nlohmann::json figures_json(const Figures& f) {
  nlohmann::json j;
  for (const Column& c : kColumns) {
    const double v = f.*c.field;
    j[c.header] = std::isfinite(v) ? nlohmann::json(v) : nlohmann::json();
  }
  return j;
}

}  // namespace

CompareRow compare_row(const RunData& run) {
  CompareRow r;
  r.run = run.name;
  r.config_hash = config_hash(flatten_config(run.config));
  r.roundtrip_method = run.roundtrip_method;
  r.f.seed = run.seed >= 0 ? static_cast<double>(run.seed) : kNaN;
  r.f.steps = run.steps > 0 ? static_cast<double>(run.steps) : kNaN;
  r.f.step_avg_ms = run.step_avg_ms();
  r.f.pre_quant_bpb = run.pre_quant_bpb;
  r.f.roundtrip_bpb = run.roundtrip_bpb;
  r.f.final_bpb = run.final_bpb;
  r.f.bytes_total = run.bytes_total >= 0 ? run.bytes_total : kNaN;
  return r;
}

std::vector<CompareGroup> group_rows(const std::vector<CompareRow>& rows) {
  std::vector<CompareGroup> groups;
  for (size_t i = 0; i < rows.size(); ++i) {
    CompareGroup* g = nullptr;
    for (auto& cand : groups)
      if (cand.config_hash == rows[i].config_hash) g = &cand;
    if (!g) {
      groups.push_back({rows[i].config_hash, {}, {}, {}});
      g = &groups.back();
    }
    g->members.push_back(i);
  }
  for (auto& g : groups) {
    for (const Column& c : kColumns) {
      std::vector<double> xs;
      for (size_t i : g.members)
        if (std::isfinite(rows[i].f.*c.field)) xs.push_back(rows[i].f.*c.field);
      g.mean.*c.field = mean(xs);
      g.std.*c.field = sample_std(xs);
    }
    g.mean.seed = g.std.seed = kNaN;  // the mean of seeds means nothing
  }
  return groups;
}

std::string format_compare(const std::vector<CompareRow>& rows,
                           const std::vector<CompareGroup>& groups) {
  size_t name_w = std::string("mean (n=00)").size();
  for (const auto& r : rows) name_w = std::max(name_w, r.run.size());
  std::string head = pad("run", name_w) + "  config  ";
  for (const Column& c : kColumns) {
    char buf[32];
    std::snprintf(buf, sizeof buf, " %*s", c.width, c.header);
    head += buf;
  }
  std::string out = head + "\n" + std::string(head.size(), '-') + "\n";
  auto line = [&](const std::string& name, const std::string& hash, const Figures& f) {
    std::string l = pad(name, name_w) + "  " + pad(hash.substr(0, 8), 8);
    for (const Column& c : kColumns) l += " " + cell(f.*c.field, c);
    return l + "\n";
  };
  for (const auto& g : groups) {
    for (size_t i : g.members) out += line(rows[i].run, rows[i].config_hash, rows[i].f);
    if (g.members.size() < 2) continue;  // a single run has no spread to report
    const std::string n = " (n=" + std::to_string(g.members.size()) + ")";
    out += line("mean" + n, g.config_hash, g.mean);
    out += line("std" + n, g.config_hash, g.std);
    out += "\n";
  }
  std::vector<std::string> methods;
  for (const auto& r : rows)
    if (!r.roundtrip_method.empty() &&
        std::find(methods.begin(), methods.end(), r.roundtrip_method) == methods.end())
      methods.push_back(r.roundtrip_method);
  out += "config: hash of config.json without seed, run_id, out_dir; round_trip: the trainer's "
         "score of the round-tripped artifact (";
  for (size_t i = 0; i < methods.size(); ++i) out += (i ? ", " : "") + methods[i];
  out += "); final_bpb: submission.json; std: sample (ddof 1)\n";
  return out;
}

nlohmann::json compare_json(const std::vector<CompareRow>& rows,
                            const std::vector<CompareGroup>& groups) {
  nlohmann::json j = {{"runs", nlohmann::json::array()}, {"groups", nlohmann::json::array()}};
  for (const auto& r : rows) {
    nlohmann::json e = figures_json(r.f);
    e["run"] = r.run;
    e["config_hash"] = r.config_hash;
    e["round_trip_method"] = r.roundtrip_method;
    j["runs"].push_back(e);
  }
  for (const auto& g : groups) {
    nlohmann::json members = nlohmann::json::array();
    for (size_t i : g.members) members.push_back(rows[i].run);
    j["groups"].push_back({{"config_hash", g.config_hash},
                           {"runs", members},
                           {"mean", figures_json(g.mean)},
                           {"std", figures_json(g.std)}});
  }
  return j;
}

}  // namespace pgolf::report
