// Errors: library code throws pgolf::Error; only the CLI turns them into exit codes.
// InputError (bad file, bad config, bad data) maps to exit code 2, everything else to 1.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>

namespace pgolf {

enum class ErrorKind { kInput, kRuntime, kBudget };

class Error : public std::runtime_error {
 public:
  Error(ErrorKind kind, std::string message, std::string hint = {}, std::string where = {})
      : std::runtime_error(std::move(message)), kind_(kind), hint_(std::move(hint)),
        where_(std::move(where)) {}
  ErrorKind kind() const { return kind_; }
  const std::string& hint() const { return hint_; }
  const std::string& where() const { return where_; }

 private:
  ErrorKind kind_;
  std::string hint_;
  std::string where_;
};

namespace detail {
[[noreturn]] void throw_error(ErrorKind kind, const char* file, int line, const std::string& msg);
}  // namespace detail

}  // namespace pgolf

// PGOLF_CHECK(cond, "shard " << path << ": expected " << a << ", found " << b);
#define PGOLF_CHECK_KIND(kind, cond, stream_expr)                                     \
  do {                                                                                \
    if (!(cond)) {                                                                    \
      std::ostringstream pgolf_oss_;                                                  \
      pgolf_oss_ << stream_expr;                                                      \
      ::pgolf::detail::throw_error(kind, __FILE__, __LINE__, pgolf_oss_.str());       \
    }                                                                                 \
  } while (0)
#define PGOLF_CHECK(cond, stream_expr) \
  PGOLF_CHECK_KIND(::pgolf::ErrorKind::kRuntime, cond, stream_expr)
#define PGOLF_CHECK_INPUT(cond, stream_expr) \
  PGOLF_CHECK_KIND(::pgolf::ErrorKind::kInput, cond, stream_expr)
#define PGOLF_FAIL_INPUT(stream_expr) PGOLF_CHECK_INPUT(false, stream_expr)
#define PGOLF_FAIL(stream_expr) PGOLF_CHECK(false, stream_expr)
