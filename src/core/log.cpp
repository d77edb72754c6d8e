// Rank-0 logger (see log.h).
#include "pgolf/core/log.h"

#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <iostream>

#include "pgolf/core/error.h"

namespace pgolf::core {

void Logger::open(const std::string& log_path, const std::string& metrics_path) {
  if (!master_) return;
  std::lock_guard<std::mutex> lock(mu_);
  if (!log_path.empty()) {
    log_.open(log_path, std::ios::app);
    PGOLF_CHECK_INPUT(log_.good(), log_path << ": cannot open log file for appending");
  }
  if (!metrics_path.empty()) {
    metrics_.open(metrics_path, std::ios::app);
    PGOLF_CHECK_INPUT(metrics_.good(), metrics_path << ": cannot open metrics file for appending");
  }
}

void Logger::line(const std::string& text) {
  if (!master_) return;
  std::lock_guard<std::mutex> lock(mu_);
  std::cout << text << std::endl;
  if (log_.is_open()) log_ << text << '\n' << std::flush;
}

void Logger::file_only(const std::string& text) {
  if (!master_) return;
  std::lock_guard<std::mutex> lock(mu_);
  if (log_.is_open()) log_ << text << '\n' << std::flush;
}

void Logger::console(const std::string& text) {
  if (!master_) return;
  std::lock_guard<std::mutex> lock(mu_);
  std::cout << text << std::endl;
}

void Logger::metric(const std::string& event, nlohmann::json fields) {
  if (!master_ || !metrics_.is_open()) return;
  const double now = std::chrono::duration<double>(
                         std::chrono::system_clock::now().time_since_epoch()).count();
  fields["event"] = event;
  fields["time"] = now;
  std::lock_guard<std::mutex> lock(mu_);
  metrics_ << fields.dump() << '\n' << std::flush;
}

std::string format(const char* fmt, ...) {
  va_list args;
  va_start(args, fmt);
  va_list copy;
  va_copy(copy, args);
  const int n = std::vsnprintf(nullptr, 0, fmt, copy);
  va_end(copy);
  std::string out(static_cast<size_t>(n > 0 ? n : 0), '\0');
  if (n > 0) std::vsnprintf(out.data(), out.size() + 1, fmt, args);
  va_end(args);
  return out;
}

}  // namespace pgolf::core
