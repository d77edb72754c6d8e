// Error construction with the throwing site recorded (file:line) for diagnostics.
#include "pgolf/core/error.h"

#include <cstring>

namespace pgolf::detail {

void throw_error(ErrorKind kind, const char* file, int line, const std::string& msg) {
  const char* base = std::strrchr(file, '/');
  std::string where = std::string(base ? base + 1 : file) + ":" + std::to_string(line);
  throw Error(kind, msg, {}, where);
}

}  // namespace pgolf::detail
