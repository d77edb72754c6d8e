// Rank-0 logging: reference-format human lines (stdout + train.log) and one JSON object per event
// in metrics.jsonl. Non-zero ranks construct a Logger too, but it writes nothing.
#pragma once

#include <fstream>  // kept for the files that rely on it through this header
#include <memory>
#include <mutex>
#include <string>

#include <nlohmann/json.hpp>

namespace pgolf::core {

class Logger {
 public:
  Logger() = default;  // logs to stdout only (rank 0) until files are opened
  explicit Logger(bool is_master) : master_(is_master) {}
  ~Logger();
  Logger(const Logger&) = delete;
  Logger& operator=(const Logger&) = delete;

  // Open (append) the human log and the metrics file; empty path = do not write that file. A
  // symbolic link at either path is refused (O_NOFOLLOW), not followed: a link planted in a run
  // folder must not make the run append to a file elsewhere.
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
  int log_fd_ = -1;      // O_APPEND descriptors: each line is one write
  int metrics_fd_ = -1;
  std::mutex mu_;
};

// printf-style formatting into std::string, used for the reference's exact log lines.
std::string format(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

// Progress of long work (training steps, evaluation, encoding): 42 -> "42s", 85 -> "1m25s",
// 3720 -> "1h02m".
std::string format_duration(double seconds);
// "eta 1m25s" for `done` of `total` units after `elapsed_s`, from the average rate so far; "eta ?"
// while nothing is done or the total is unknown (<= 0).
std::string eta_text(double done, double total, double elapsed_s);

}  // namespace pgolf::core
