// Rank-0 logger (see log.h).
#include "pgolf/core/log.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <chrono>
#include <cstring>
#include <cstdarg>
#include <cstdio>
#include <iostream>

#include "pgolf/core/error.h"

namespace pgolf::core {

namespace {

int open_append(const std::string& path, const char* what) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (fd >= 0) return fd;
  const int err = errno;
  PGOLF_CHECK_INPUT(err != ELOOP, path << ": the " << what << " is a symbolic link; pgolf does not "
                                       "append through links in a run folder (remove it)");
  PGOLF_FAIL_INPUT(path << ": cannot open " << what << " for appending (" << std::strerror(err)
                        << ")");
}

// The whole text in as few writes as it takes (O_APPEND keeps a short line in one piece).
void write_all(int fd, const std::string& text) {
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    PGOLF_CHECK(n > 0, "log write failed (" << std::strerror(errno) << ")");
    done += static_cast<size_t>(n);
  }
}

void close_fd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

}  // namespace

Logger::~Logger() {
  close_fd(log_fd_);
  close_fd(metrics_fd_);
}

void Logger::open(const std::string& log_path, const std::string& metrics_path) {
  if (!master_) return;
  std::lock_guard<std::mutex> lock(mu_);
  if (!log_path.empty()) {
    close_fd(log_fd_);
    log_fd_ = open_append(log_path, "log file");
  }
  if (!metrics_path.empty()) {
    close_fd(metrics_fd_);
    metrics_fd_ = open_append(metrics_path, "metrics file");
  }
}

void Logger::line(const std::string& text) {
  if (!master_) return;
  std::lock_guard<std::mutex> lock(mu_);
  std::cout << text << std::endl;
  if (log_fd_ >= 0) write_all(log_fd_, text + '\n');
}

void Logger::file_only(const std::string& text) {
  if (!master_) return;
  std::lock_guard<std::mutex> lock(mu_);
  if (log_fd_ >= 0) write_all(log_fd_, text + '\n');
}

void Logger::console(const std::string& text) {
  if (!master_) return;
  std::lock_guard<std::mutex> lock(mu_);
  std::cout << text << std::endl;
}

void Logger::metric(const std::string& event, nlohmann::json fields) {
  if (!master_ || metrics_fd_ < 0) return;
  const double now = std::chrono::duration<double>(
                         std::chrono::system_clock::now().time_since_epoch()).count();
  fields["event"] = event;
  fields["time"] = now;
  std::lock_guard<std::mutex> lock(mu_);
  write_all(metrics_fd_, fields.dump() + '\n');
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

std::string format_duration(double seconds) {
  const long s = std::lround(std::max(seconds, 0.0));
  if (s < 60) return format("%lds", s);
  if (s < 3600) return format("%ldm%02lds", s / 60, s % 60);
  return format("%ldh%02ldm", s / 3600, (s % 3600) / 60);
}

std::string eta_text(double done, double total, double elapsed_s) {
  if (done <= 0 || total <= 0 || elapsed_s <= 0) return "eta ?";
  return "eta " + format_duration(elapsed_s * std::max(total - done, 0.0) / done);
}

}  // namespace pgolf::core
