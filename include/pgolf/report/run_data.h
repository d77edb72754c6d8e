// What a report needs from one run directory (design.md §6), read back from the files the trainer
// writes: metrics.jsonl (train/val/final events), config.json, eval.json, submission.json and the
// reference-format lines of train.log (swa:start, swa:applying). Every file is optional, so partial
// or interrupted runs still render; parse_* functions are pure and unit-tested.
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace pgolf::report {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kByteCap = 16000000.0;  // decimal 16 MB, the challenge's artifact cap

struct TrainPoint {
  int64_t step = 0;
  double train_loss = kNaN, lr_scale = kNaN, momentum = kNaN;
  double time_s = kNaN, tokens_per_s = kNaN;
};
struct ValPoint {
  int64_t step = 0;
  double val_loss = kNaN, val_bpb = kNaN, time_s = kNaN;
};

struct RunData {
  std::string dir;   // as given
  std::string name;  // run id (last path component)
  std::vector<TrainPoint> train;  // by step; a resumed run's re-logged steps keep the last value
  std::vector<ValPoint> val;
  nlohmann::json config = nlohmann::json::object();  // config.json (sections, _sources, _versions)
  int64_t swa_start_step = -1;   // first step collected into the average (-1: no SWA)
  int64_t swa_count = -1;        // checkpoints averaged (-1: unknown)
  // Final figures (NaN / -1 when unknown).
  double pre_quant_bpb = kNaN;   // last val before export
  double roundtrip_bpb = kNaN;   // the trainer's score of the round-tripped artifact
  std::string roundtrip_method;  // "standard" | "sliding" | ...
  double standard_bpb = kNaN, sliding_bpb = kNaN, ttt_bpb = kNaN;  // by eval method, if scored
  double final_bpb = kNaN, final_loss = kNaN;  // submission.json (else the round trip)
  double bytes_total = -1, bytes_model = -1, bytes_code = -1;
  double eval_seconds = kNaN;
  int64_t seed = -1;
  int64_t steps = 0;
  double train_ms = kNaN;
  double step_avg_ms() const { return steps > 0 ? train_ms / static_cast<double>(steps) : kNaN; }
};

// metrics.jsonl text -> train and val points (sorted by step, de-duplicated: last wins) and, from
// the "final" event, the final figures. Malformed lines are an input error naming the line number.
void parse_metrics(const std::string& text, RunData& run);
// "swa:start step:N" and "swa:applying averaged N checkpoints" lines of train.log.
void parse_log_swa(const std::string& text, RunData& run);
// eval.json / submission.json documents (either may be null).
void apply_eval_json(const nlohmann::json& eval, RunData& run);
void apply_submission_json(const nlohmann::json& sub, RunData& run);
// Without a swa:start line: the first step whose lr multiplier is below train.swa_start_frac, when
// config.json enables SWA (the collection rule of the reference, §6.1).
void infer_swa_window(RunData& run);

// Reads whatever of the run directory's files exist; an input error if `dir` is not a directory or
// holds none of metrics.jsonl, eval.json, submission.json.
RunData load_run(const std::string& dir);

// A config value by section and key, or `fallback`.
template <typename T>
T config_value(const RunData& run, const char* section, const char* key, T fallback) {
  const auto s = run.config.find(section);
  if (s == run.config.end() || !s->is_object()) return fallback;
  const auto v = s->find(key);
  if (v == s->end() || v->is_null()) return fallback;
  try {
    return v->get<T>();
  } catch (const nlohmann::json::exception&) {
    return fallback;
  }
}

}  // namespace pgolf::report
