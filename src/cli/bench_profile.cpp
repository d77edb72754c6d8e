// The Kineto CPU profiler around bench's timed steps (see bench_profile.h).
#include "pgolf/cli/bench_profile.h"

#include <filesystem>
#include <set>

#include <torch/csrc/autograd/profiler_kineto.h>

#include "pgolf/core/error.h"

namespace pgolf::cli {

namespace prof = torch::autograd::profiler;
using torch::profiler::impl::ActivityType;
using torch::profiler::impl::ProfilerConfig;
using torch::profiler::impl::ProfilerState;

BenchProfile::BenchProfile(std::string path) : path_(std::move(path)) {
  if (path_.empty()) return;
  const ProfilerConfig config(ProfilerState::KINETO);
  const std::set<ActivityType> activities{ActivityType::CPU};
  prof::prepareProfiler(config, activities);
  prof::enableProfiler(config, activities);
  active_ = true;
}

BenchProfile::~BenchProfile() {
  if (active_) prof::disableProfiler();  // an exception unwound past save(): drop the trace
}

void BenchProfile::save() {
  if (!active_) return;
  active_ = false;
  auto result = prof::disableProfiler();
  const std::string tmp = path_ + ".tmp";
  result->save(tmp);
  std::error_code ec;
  std::filesystem::rename(tmp, path_, ec);
  PGOLF_CHECK_INPUT(!ec && std::filesystem::exists(path_),
                    "bench --profile " << path_ << ": expected to write the trace there, found "
                                       << (ec ? ec.message() : std::string("no file")));
}

}  // namespace pgolf::cli
