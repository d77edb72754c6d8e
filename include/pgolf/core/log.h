// Rank-0 logging: reference-format human lines (stdout + train.log) and one JSON object per event
// in metrics.jsonl. Non-zero ranks construct a Logger too, but it writes nothing.
#pragma once

#include <fstream>
#include <memory>
#include <mutex>
#include <string>

#include <nlohmann/json.hpp>

namespace pgolf::core {

class Logger {
 public:
  Logger() = default;  // logs to stdout only (rank 0) until files are opened
  explicit Logger(bool is_master) : master_(is_master) {}

  // Open (append) the human log and the metrics file; empty path = do not write that file.
  void open(const std::string& log_path, const std::string& metrics_path);
  bool master() const { return master_; }

  // One human line, printed and appended to the log file (rank 0 only).
  void line(const std::string& text);
  // A line for the log file only (e.g. the resolved config), not printed.
  void file_only(const std::string& text);
  // A line for stdout only (progress), never written to the log file.
  void console(const std::string& text);
  // One event in metrics.jsonl; "event" and "time" keys are added.
  void metric(const std::string& event, nlohmann::json fields);

 private:
  bool master_ = true;
  std::ofstream log_;
  std::ofstream metrics_;
  std::mutex mu_;
};

// printf-style formatting into std::string, used for the reference's exact log lines.
std::string format(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

}  // namespace pgolf::core
