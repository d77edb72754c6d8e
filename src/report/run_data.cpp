// Reading a run directory back for reports (see run_data.h).
#include "pgolf/report/run_data.h"

#include <sys/stat.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <regex>
#include <sstream>

#include "pgolf/core/error.h"
#include "pgolf/core/files.h"

namespace pgolf::report {
namespace {

double num_or(const nlohmann::json& j, const char* key, double fallback) {
  const auto it = j.find(key);
  return it != j.end() && it->is_number() ? it->get<double>() : fallback;
}

nlohmann::json read_json_if_exists(const std::string& path) {
  if (!core::file_exists(path)) return nullptr;
  try {
    return nlohmann::json::parse(core::read_text_file(path));
  } catch (const nlohmann::json::exception& e) {
    PGOLF_FAIL_INPUT(path << ": not valid JSON (" << e.what() << ")");
  }
}

bool is_dir(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

std::string base_name(std::string path) {
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

}  // namespace

void parse_metrics(const std::string& text, RunData& run) {
  std::map<int64_t, TrainPoint> train;
  std::map<int64_t, ValPoint> val;
  std::istringstream in(text);
  std::string line;
  for (int lineno = 1; std::getline(in, line); ++lineno) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    nlohmann::json e;
    try {
      e = nlohmann::json::parse(line);
    } catch (const nlohmann::json::exception& ex) {
      PGOLF_FAIL_INPUT("metrics.jsonl line " << lineno << ": not valid JSON (" << ex.what() << ")");
    }
    PGOLF_CHECK_INPUT(e.is_object() && e.contains("event"),
                      "metrics.jsonl line " << lineno << ": expected an object with \"event\"");
    const std::string ev = e["event"].is_string() ? e["event"].get<std::string>() : "";
    if (ev == "train" && e.contains("step")) {
      TrainPoint p;
      p.step = e["step"].get<int64_t>();
      p.train_loss = num_or(e, "train_loss", kNaN);
      p.lr_scale = num_or(e, "lr_scale", kNaN);
      p.momentum = num_or(e, "muon_momentum", kNaN);
      p.time_s = num_or(e, "train_time_ms", kNaN) / 1000.0;
      p.tokens_per_s = num_or(e, "tokens_per_s", kNaN);
      train[p.step] = p;
    } else if (ev == "val" && e.contains("step")) {
      ValPoint p;
      p.step = e["step"].get<int64_t>();
      p.val_loss = num_or(e, "val_loss", kNaN);
      p.val_bpb = num_or(e, "val_bpb", kNaN);
      p.time_s = num_or(e, "train_time_ms", kNaN) / 1000.0;
      val[p.step] = p;
    } else if (ev == "final") {
      run.roundtrip_bpb = num_or(e, "val_bpb", run.roundtrip_bpb);
      run.final_bpb = num_or(e, "val_bpb", run.final_bpb);
      run.final_loss = num_or(e, "val_loss", run.final_loss);
      run.pre_quant_bpb = num_or(e, "pre_quant_val_bpb", run.pre_quant_bpb);
      run.bytes_total = num_or(e, "bytes_total", run.bytes_total);
      run.eval_seconds = num_or(e, "eval_ms", run.eval_seconds * 1000.0) / 1000.0;
    }
  }
  run.train.clear();
  for (const auto& kv : train) run.train.push_back(kv.second);
  run.val.clear();
  for (const auto& kv : val) run.val.push_back(kv.second);
  if (!run.train.empty()) {
    run.steps = run.train.back().step;
    run.train_ms = run.train.back().time_s * 1000.0;
  }
  if (!run.val.empty()) {
    if (std::isnan(run.pre_quant_bpb)) run.pre_quant_bpb = run.val.back().val_bpb;
    if (run.val.back().step >= run.steps && std::isfinite(run.val.back().time_s))
      run.train_ms = run.val.back().time_s * 1000.0;  // the last val line holds the training clock
  }
}

void parse_log_swa(const std::string& text, RunData& run) {
  static const std::regex kStart(R"(^swa:start step:(\d+))");
  static const std::regex kApply(R"(^swa:applying averaged (\d+) checkpoints)");
  std::istringstream in(text);
  std::string line;
  std::smatch m;
  while (std::getline(in, line)) {
    if (std::regex_search(line, m, kStart)) {
      if (run.swa_start_step < 0) run.swa_start_step = std::stoll(m[1]);
    } else if (std::regex_search(line, m, kApply)) {
      run.swa_count = std::stoll(m[1]);
    }
  }
}

void apply_eval_json(const nlohmann::json& eval, RunData& run) {
  if (!eval.is_object()) return;
  run.pre_quant_bpb = num_or(eval, "pre_quant_val_bpb", run.pre_quant_bpb);
  run.bytes_total = num_or(eval, "bytes_total", run.bytes_total);
  run.bytes_model = num_or(eval, "bytes_model", run.bytes_model);
  run.bytes_code = num_or(eval, "bytes_code", run.bytes_code);
  run.train_ms = num_or(eval, "train_time_ms", run.train_ms);
  if (eval.contains("steps") && eval["steps"].is_number_integer()) run.steps = eval["steps"].get<int64_t>();
  const auto results = eval.find("results");
  if (results == eval.end() || !results->is_array()) return;
  for (size_t i = 0; i < results->size(); ++i) {
    const auto& r = (*results)[i];
    if (!r.is_object()) continue;
    const std::string method = r.value("method", std::string());
    const double bpb = num_or(r, "val_bpb", kNaN);
    if (i == 0) {  // the trainer writes its round-trip score first
      run.roundtrip_bpb = bpb;
      run.roundtrip_method = method;
      if (std::isnan(run.final_bpb)) run.final_bpb = bpb;
      if (std::isnan(run.final_loss)) run.final_loss = num_or(r, "val_loss", kNaN);
      if (std::isnan(run.eval_seconds)) run.eval_seconds = num_or(r, "seconds", kNaN);
    }
    if (method == "standard") run.standard_bpb = bpb;
    if (method == "sliding") run.sliding_bpb = bpb;
    if (method == "ttt_lora") run.ttt_bpb = bpb;
  }
}

void apply_submission_json(const nlohmann::json& sub, RunData& run) {
  if (!sub.is_object()) return;
  run.final_bpb = num_or(sub, "val_bpb", run.final_bpb);
  run.final_loss = num_or(sub, "val_loss", run.final_loss);
  run.bytes_total = num_or(sub, "bytes_total", run.bytes_total);
  run.bytes_model = num_or(sub, "bytes_model", run.bytes_model);
  run.bytes_code = num_or(sub, "bytes_code", run.bytes_code);
  run.eval_seconds = num_or(sub, "eval_time_seconds", run.eval_seconds);
  if (sub.contains("seed") && sub["seed"].is_number_integer()) run.seed = sub["seed"].get<int64_t>();
  if (run.steps == 0 && sub.contains("step_stop") && sub["step_stop"].is_number_integer())
    run.steps = sub["step_stop"].get<int64_t>();
}

void infer_swa_window(RunData& run) {
  if (run.swa_start_step >= 0 || !config_value<bool>(run, "train", "swa_enabled", false)) return;
  const double frac = config_value<double>(run, "train", "swa_start_frac", kNaN);
  const auto it = std::find_if(run.train.begin(), run.train.end(),
                               [&](const TrainPoint& p) { return p.lr_scale < frac; });
  if (it != run.train.end()) run.swa_start_step = it->step;
}

RunData load_run(const std::string& dir) {
  PGOLF_CHECK_INPUT(is_dir(dir), dir << ": not a run directory (expected a folder with "
                                        "metrics.jsonl, eval.json or submission.json)");
  RunData run;
  run.dir = dir;
  run.name = base_name(dir);
  const std::string metrics = dir + "/metrics.jsonl";
  const nlohmann::json eval = read_json_if_exists(dir + "/eval.json");
  const nlohmann::json sub = read_json_if_exists(dir + "/submission.json");
  PGOLF_CHECK_INPUT(core::file_exists(metrics) || !eval.is_null() || !sub.is_null(),
                    dir << ": no metrics.jsonl, eval.json or submission.json: not a pgolf run "
                           "directory");
  const nlohmann::json cfg = read_json_if_exists(dir + "/config.json");
  if (cfg.is_object()) run.config = cfg;
  run.seed = config_value<int64_t>(run, "train", "seed", -1);
  if (core::file_exists(metrics)) parse_metrics(core::read_text_file(metrics), run);
  if (core::file_exists(dir + "/train.log")) parse_log_swa(core::read_text_file(dir + "/train.log"), run);
  apply_eval_json(eval, run);
  apply_submission_json(sub, run);
  infer_swa_window(run);
  return run;
}

}  // namespace pgolf::report
