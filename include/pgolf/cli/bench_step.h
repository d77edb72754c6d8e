// Timing helpers of `pgolf bench` (cmd_bench.cpp) and its per-feature mode (bench_features.cpp):
// device syncs around timed calls, and the training step `pgolf train` runs (train::make_step)
// driven with random micro-batches as the loop drives it (train::run_step, one exchange).
#pragma once

#include <chrono>
#include <cstdint>
#include <vector>

#include <torch/torch.h>

#include "pgolf/dist/comm.h"
#include "pgolf/train/step.h"

namespace pgolf::cli::bench {

using Clock = std::chrono::steady_clock;

inline void sync(const torch::Device& device) {
  if (device.is_cuda()) torch::cuda::synchronize(device.index());
}

inline double seconds(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// Mean seconds of `steps` calls of fn after `warmup` untimed calls.
template <typename F>
double time_steps(F&& fn, int warmup, int steps, const torch::Device& device) {
  for (int i = 0; i < warmup; ++i) fn();
  sync(device);
  const auto t0 = Clock::now();
  for (int i = 0; i < steps; ++i) fn();
  sync(device);
  return seconds(t0) / steps;
}

struct StepBench {
  train::Step& step;
  dist::Comm& comm;
  std::vector<train::StepBatch> batches;  // CPU spans, as the loader's
  torch::Device device;
  double momentum;
  int64_t next = 1;  // optimiser step number
};

inline train::StepInput step_input(StepBench& b) {
  train::StepInput in;
  in.step = b.next++;
  in.batches = b.batches;
  return in;
}

// One step as the training loop takes it.
inline void whole_step(StepBench& b) {
  train::run_step(b.step, b.comm, step_input(b), 1.0, b.momentum);
}

// `micro` random spans of rows * T + 1 tokens: the loader's micro-batches, on the CPU.
inline std::vector<train::StepBatch> random_batches(int64_t micro, int64_t rows, int64_t T,
                                                   int64_t vocab) {
  std::vector<train::StepBatch> out;
  for (int64_t i = 0; i < micro; ++i)
    out.push_back(train::batch_from_span(torch::randint(0, vocab, {rows * T + 1}, torch::kLong), T));
  return out;
}

}  // namespace pgolf::cli::bench
