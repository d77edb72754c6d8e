// `pgolf bench --profile FILE`: LibTorch's own (Kineto) CPU profiler around the timed training
// steps, saved as a Chrome trace, the format torch.profiler's export_chrome_trace writes, so that
// scripts/profile_vs_reference.py can put pgolf's op self-times beside the reference's.
#pragma once

#include <string>

namespace pgolf::cli {

// Profiles from construction to save(); an empty path profiles nothing.
class BenchProfile {
 public:
  explicit BenchProfile(std::string path);
  ~BenchProfile();
  BenchProfile(const BenchProfile&) = delete;
  BenchProfile& operator=(const BenchProfile&) = delete;
  // Stops and writes the trace to a temporary file renamed to the path (errors name the path).
  void save();

 private:
  std::string path_;
  bool active_ = false;
};

}  // namespace pgolf::cli
