// `pgolf record check`: a record folder against the challenge's rules (README "Submission Process",
// reference-spec §1): README.md, submission.json, train log(s) and code (train_gpt.py, or a pgolf
// config.json + command.sh); submission.json's fields and their agreement with the logs; artifact
// bytes <= 16,000,000 (as quant::check_budget); training and evaluation time <= 600 s each; and
// with several seeds, the 0.005-nat / p < 0.01 one-sided t-test against a given baseline.
// Logs are read in the reference's line format (which pgolf's train.log keeps byte for byte) and
// in the later records' format ("N/M train_loss: ... train_time: 8.7m", "quantized_* val_bpb:").
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "pgolf/report/run_data.h"

namespace pgolf::report {

struct FinalLine {  // "<tag>[_exact] ... val_loss:X val_bpb:Y" (final_*, legal_ttt, quantized_*)
  std::string tag;
  double val_loss = kNaN, val_bpb = kNaN;
  double eval_ms = kNaN;  // its eval_time, when printed
};
struct LogSummary {
  std::string path;
  int64_t last_step = -1;        // last "step:N/M ... train_time:" line
  double train_time_ms = kNaN;   // its train_time (or the wallclock-cap stop line's)
  double step_avg_ms = kNaN;     // its step_avg
  bool stopped_by_cap = false;   // a "stopping_early: wallclock_cap" line
  std::vector<FinalLine> finals;  // score lines in order; an _exact line refines the one before
  double eval_time_ms = 0.0;     // sum of eval_time over the score lines
  int eval_time_lines = 0;
  double bytes_total = kNaN;     // last "Total submission size ...: N bytes"
  // GPTQ calibration on training data after the loop ("GPTQ:collected N Hessians in Xs", the
  // 1.0611 record's line and pgolf's; "gptq:calibrated N layers in Xs", the 1.1122 record's); it
  // counts against the training time.
  double calibration_ms = kNaN;
  // Outside the eval cap (the records time only the scoring): the last decompression and warm-up
  // ("Deserialize: decompression done in Xs", "...warmup done (Xs)", pgolf's "eval_timing" line).
  double decompress_ms = kNaN, warmup_ms = kNaN;
  bool ttt_timer = false;  // "beginning TTT eval timer": the score's eval_time covers the scoring only
  // "gptq:reserving ... effective=Nms" (GPTQ_RESERVE_*): the loop's budget, the rest reserved for
  // calibration; a calibration that then ends past the cap is a warning, not a failure.
  double reserve_effective_ms = kNaN;
  double code_bytes = kNaN;   // "Code size: N bytes" / "Code size (compressed): N bytes"
  double model_bytes = kNaN;  // "Serialized model <kind>: N bytes" (the compressed model)
  int score_index = -1;           // which score line is the submission's (-1: the last)
  const FinalLine* score() const {
    if (finals.empty()) return nullptr;
    return &finals[score_index >= 0 ? static_cast<size_t>(score_index) : finals.size() - 1];
  }
};
LogSummary parse_train_log(const std::string& text);

enum class CheckStatus { kPass, kWarn, kFail, kSkip };
const char* status_name(CheckStatus s);  // "PASS" ...

struct CheckItem {
  std::string name;
  CheckStatus status = CheckStatus::kPass;
  std::string detail;
};

struct RecordCheckOptions {
  double baseline_bpb = kNaN;   // score to beat (bpb), converted with the logs' nats/bpb ratio
  double baseline_nats = kNaN;  // or directly in nats (val_loss)
  double margin_nats = 0.005;
  double alpha = 0.01;
  double max_train_seconds = 600.0;
  double max_eval_seconds = 600.0;
  double byte_cap = kByteCap;
  double tolerance = 1e-4;      // |submission - logs| allowed (submissions round to 4-5 decimals)
};

struct RecordCheck {
  std::string dir;
  std::vector<LogSummary> logs;
  std::vector<CheckItem> items;
  bool passed() const;  // no kFail
};

// The checks on already-read inputs (pure): file names present in the folder (relative paths),
// submission.json (null when absent or unreadable) and the parsed logs.
RecordCheck check_record(const std::vector<std::string>& files, const nlohmann::json& submission,
                         const std::vector<LogSummary>& logs, const RecordCheckOptions& opts);
// Reads RECORD_DIR (logs: *.log / *.txt up to one folder deep that hold step or final lines).
RecordCheck check_record_dir(const std::string& dir, const RecordCheckOptions& opts);

std::string format_record_check(const RecordCheck& c);
nlohmann::json record_check_json(const RecordCheck& c);

}  // namespace pgolf::report
