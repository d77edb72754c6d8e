// torchrun's error files (see error_file.h).
#include "pgolf/dist/error_file.h"

#include <chrono>
#include <cstdlib>
#include <fstream>

#include <nlohmann/json.hpp>

#include "pgolf/dist/comm.h"

namespace pgolf::dist {
namespace {

// Timestamps are strings in torchrun's files, but accept numbers too.
int64_t to_i64(const nlohmann::json& v) {
  return v.is_string() ? std::stoll(v.get<std::string>()) : v.get<int64_t>();
}

}  // namespace

void write_error_file(const std::string& message) {
  const char* path = std::getenv("TORCHELASTIC_ERROR_FILE");
  if (!path || !*path) return;
  int64_t ns = failure_time_ns();
  if (ns == 0)
    ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
             .count();
  try {
    const nlohmann::json j = {
        {"message",
         {{"message", message},
          {"extraInfo",
           {{"timestamp", std::to_string(ns / 1000000000)}, {"timestamp_ns", std::to_string(ns)}}}}}};
    std::ofstream(path) << j.dump() << "\n";
  } catch (...) {
    // The error itself is on stderr already; the file is a courtesy to the launcher.
  }
}

std::optional<RankError> read_error_file(const std::string& path) {
  try {
    std::ifstream in(path);
    if (!in) return std::nullopt;
    const nlohmann::json j = nlohmann::json::parse(in);
    const auto& m = j.at("message");
    RankError e;
    if (m.is_string()) {  // torchrun also accepts {"message": "...", "timestamp": s}
      e.message = m.get<std::string>();
      e.time_ns = j.contains("timestamp") ? to_i64(j.at("timestamp")) * 1000000000 : 0;
      return e;
    }
    e.message = m.value("message", std::string());
    const auto& info = m.at("extraInfo");
    e.time_ns = info.contains("timestamp_ns") ? to_i64(info.at("timestamp_ns"))
                                              : to_i64(info.at("timestamp")) * 1000000000;
    return e;
  } catch (...) {
    return std::nullopt;
  }
}

}  // namespace pgolf::dist
