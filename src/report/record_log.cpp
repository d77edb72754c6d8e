// The train-log parser of `pgolf record check` (record_check.h): the reference's line format, which
// pgolf's train.log keeps, and the later records' (minutes, spaced fields, GPTQ/TTT timing lines).
#include <algorithm>
#include <cmath>
#include <regex>
#include <sstream>

#include "pgolf/report/record_check.h"

namespace pgolf::report {

LogSummary parse_train_log(const std::string& text) {
  // Reference format (pgolf keeps it): "step:N/M ... train_time:Xms step_avg:Yms"; the later
  // records' format: "N/M train_loss: ... train_time: 8.7m" (minutes, one decimal).
  static const std::regex kStep(R"(^step:(\d+)/\d+ .*train_time:([0-9.]+)ms(?: step_avg:([0-9.]+)ms)?)");
  static const std::regex kStepMin(R"(^(\d+)/\d+ .*train_time: ([0-9.]+)m\b)");
  static const std::regex kStop(R"(^stopping_early: wallclock_cap train_time: ?([0-9.]+)ms)");
  // Score lines: a lower-case tag, optional fields, then val_loss and val_bpb ("final_..._exact",
  // "final_sliding_window_eval stride:64 ...", "legal_ttt_exact", "quantized_sliding_window").
  static const std::regex kScore(R"(^([a-z][a-z0-9_]*)(?: \S+)*? val_loss: ?(\S+) val_bpb: ?(\S+))");
  static const std::regex kEvalTime(R"(\beval_time: ?([0-9.]+)ms)");
  static const std::regex kBytes(R"(^Total submission size[^:]*: (\d+) bytes)");
  static const std::regex kDecomp(R"(^Deserialize: decompression done in ([0-9.]+)s)");
  static const std::regex kWarm(R"(warmup done \(([0-9.]+)s\))");
  static const std::regex kTiming(R"(^eval_timing .*decompress:([0-9.]+)s warmup:([0-9.]+)s)");
  static const std::regex kCalib(
      R"(^(?:GPTQ:collected \d+ Hessians|gptq:calibrated \d+ layers) in ([0-9.]+)s)");
  static const std::regex kReserve(R"(^gptq:reserving .*effective=([0-9.]+)ms)");
  static const std::regex kCode(R"(^Code size(?: \(compressed\))?: (\d+) bytes)");
  static const std::regex kModel(R"(^Serialized model \S+: (\d+) bytes)");
  LogSummary s;
  double stop_ms = kNaN;
  std::istringstream in(text);
  std::string line;
  std::smatch m;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (std::regex_search(line, m, kStep)) {
      s.last_step = std::stoll(m[1]);
      s.train_time_ms = std::stod(m[2]);
      s.step_avg_ms = m[3].matched ? std::stod(m[3]) : kNaN;
    } else if (std::regex_search(line, m, kStepMin)) {
      s.last_step = std::stoll(m[1]);
      s.train_time_ms = 60000.0 * std::stod(m[2]);
      s.step_avg_ms = s.train_time_ms / std::max<int64_t>(s.last_step, 1);
    } else if (std::regex_search(line, m, kStop)) {
      s.stopped_by_cap = true;
      stop_ms = std::stod(m[1]);
    } else if (std::regex_search(line, m, kScore)) {
      std::string tag = m[1];
      const double loss = std::strtod(m[2].str().c_str(), nullptr);
      const double bpb = std::strtod(m[3].str().c_str(), nullptr);
      const bool exact = tag.size() > 6 && tag.compare(tag.size() - 6, 6, "_exact") == 0;
      if (exact) tag.resize(tag.size() - 6);
      if (exact && !s.finals.empty() && s.finals.back().tag == tag) {
        s.finals.back().val_loss = loss;  // the same score, printed with more digits
        s.finals.back().val_bpb = bpb;
        continue;
      }
      // An _exact line of a new tag repeating an earlier score exactly is an alias of it (the
      // 1.1228/1.1122 records end with final_int8_zlib_roundtrip_exact = the sliding score).
      if (exact && std::any_of(s.finals.begin(), s.finals.end(), [&](const FinalLine& f) {
            return f.val_loss == loss && f.val_bpb == bpb;
          }))
        continue;
      s.finals.push_back({tag, loss, bpb, kNaN});
      std::smatch t;
      if (std::regex_search(line, t, kEvalTime)) {
        s.finals.back().eval_ms = std::stod(t[1]);
        s.eval_time_ms += s.finals.back().eval_ms;
        ++s.eval_time_lines;
      }
    } else if (std::regex_search(line, m, kBytes)) {
      s.bytes_total = std::stod(m[1]);
    } else if (std::regex_search(line, m, kDecomp)) {
      s.decompress_ms = 1000.0 * std::stod(m[1]);
    } else if (std::regex_search(line, m, kWarm)) {
      s.warmup_ms = 1000.0 * std::stod(m[1]);
    } else if (std::regex_search(line, m, kTiming)) {
      s.decompress_ms = 1000.0 * std::stod(m[1]);
      s.warmup_ms = 1000.0 * std::stod(m[2]);
    } else if (std::regex_search(line, m, kCalib)) {
      s.calibration_ms = 1000.0 * std::stod(m[1]);
    } else if (std::regex_search(line, m, kReserve)) {
      s.reserve_effective_ms = std::stod(m[1]);
    } else if (std::regex_search(line, m, kCode)) {
      s.code_bytes = std::stod(m[1]);
    } else if (std::regex_search(line, m, kModel)) {
      s.model_bytes = std::stod(m[1]);
    } else if (line == "beginning TTT eval timer") {
      s.ttt_timer = true;
    }
  }
  if (std::isfinite(stop_ms) && !(s.train_time_ms >= stop_ms)) s.train_time_ms = stop_ms;
  return s;
}

}  // namespace pgolf::report
