// Evaluation results and progress: the result struct every evaluator returns, progress lines in the
// reference's `  sliding_eval [ pct%] done/total windows running_bpb=…` shape (plus tokens/s), the
// summary log line and the eval.json serialiser.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "pgolf/core/log.h"
#include "pgolf/eval/bpb.h"

namespace pgolf::eval {

struct EvalResult {
  std::string method;  // "standard" | "sliding" | "ttt_lora" | "ttt_doc" | "ttt_chunk_sgd"
  std::string mode;    // sliding: "reference" | "exact"; empty otherwise
  BpbSums sums;        // all-reduced over ranks
  double val_loss = 0.0;
  double val_bpb = 0.0;
  int64_t units = 0;  // global count of sequences (standard), windows (sliding), documents (ttt)
  int64_t local_units = 0;    // the same, on this rank
  int64_t local_batches = 0;  // forward passes on this rank
  double local_tokens = 0.0;  // positions scored on this rank
  double seconds = 0.0;       // scoring wall time on this rank, all-reduce included
  // Outside the scoring timer, as the records report them (their 600 s cap is on the scoring):
  double decompress_seconds = 0.0;  // reading and decompressing the weights
  double warmup_seconds = 0.0;      // warm-up passes on random tokens (no validation data)
  nlohmann::json settings = nlohmann::json::object();  // seq_len, stride, batch sizes, ...

  const char* unit_name() const;  // "sequences" | "windows" | "documents"
  double tokens_per_second() const { return seconds > 0 ? local_tokens / seconds : 0.0; }
};

// One progress report on this rank (local counts).
struct EvalProgress {
  std::string method;
  const char* unit = "windows";
  int64_t done = 0;
  int64_t total = 0;
  double running_bpb = 0.0;
  double tokens_per_second = 0.0;
  double seconds = 0.0;
};
using ProgressFn = std::function<void(const EvalProgress&)>;

// Reports every `every` batches (batch index % every == 0, as the reference) and after the last
// one.
struct ProgressOptions {
  ProgressFn fn;       // empty: silent
  int64_t every = 50;  // batches between reports; <= 0 disables
  // Called before every batch; may throw to abandon the evaluation (the trainer's stop signal
  // during the final score). Empty: never abandoned.
  std::function<void()> poll;
};

// Times an evaluation on this rank and emits progress reports when due.
class ProgressReporter {
 public:
  ProgressReporter(ProgressOptions opts, std::string method, const char* unit, int64_t total_units);
  // True after batch `batch_index` (0-based) when a report is due or `last` is set.
  bool due(int64_t batch_index, bool last) const;
  void poll() const {
    if (opts_.poll) opts_.poll();
  }
  // Reports `done` units with the local sums so far (running bpb and tokens/s from them).
  void report(int64_t done, const BpbSums& local) const;
  double seconds() const;

 private:
  ProgressOptions opts_;
  std::string method_;
  const char* unit_;
  int64_t total_;
  std::chrono::steady_clock::time_point start_;
};

// Fills sums (all-reduced through `dist`), loss, bpb and the local token count from local sums; the
// time is read from `clock` after the all-reduce.
void finish_result(EvalResult& r, const BpbSums& local, const DistContext& dist,
                   const ProgressReporter& clock);

// "  sliding_eval [ 12.5%] 40/320 windows running_bpb=3.172087 tokens/s=12345"
std::string progress_line(const EvalProgress& p);
// Progress to the console of a rank-0 logger (never into train.log, as the reference prints).
ProgressFn console_progress(core::Logger& logger);

// "eval_sliding mode:exact stride:64 val_loss:… val_bpb:… tokens:… bytes:… windows:… eval_time:…ms"
std::string result_line(const EvalResult& r);

// "eval_timing method:ttt_doc decompress:1.2s warmup:0.4s score:12.3s" (record check reads it).
std::string timing_line(const EvalResult& r);

// Every figure of one result (losses, sums, counts, timing, mode, settings).
nlohmann::json to_json(const EvalResult& r);
// {"results": [...], plus `extra` keys (checkpoint, config, ...)} written atomically to `path`.
void write_eval_json(const std::string& path, const std::vector<EvalResult>& results,
                     const nlohmann::json& extra = nlohmann::json::object());

}  // namespace pgolf::eval
