// `pgolf train`: the reference record loop (reference-spec §5-§6, §11) plus what the reference
// cannot do: checkpoints, --resume, clean stop on SIGINT/SIGTERM/SIGHUP, bit-for-bit repeatable CPU
// runs.
// Device boundary: loaders return CPU int64 batches; the trainer moves them to the device.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "pgolf/config/config.h"
#include "pgolf/core/log.h"
#include "pgolf/dist/comm.h"
#include "pgolf/train/run_dir.h"

namespace pgolf::train {

struct TrainOptions {
  bool resume = false;          // continue from dir.latest_checkpoint()
  bool finalize = true;         // export + final score at the end (as the reference)
  bool allow_over_budget = false;
  std::string code_root;        // source tree counted as code bytes (empty: not counted)
  std::string config_path;      // config file counted with the code (may be empty)
};

struct TrainSummary {
  int64_t steps = 0;
  double train_ms = 0.0;
  bool interrupted = false;     // stopped by a signal after writing a checkpoint
  double final_val_loss = 0.0;  // final score on the round-tripped artifact (0 if not finalised)
  double final_val_bpb = 0.0;
  int64_t bytes_total = 0;
};

TrainSummary run_training(const config::Config& cfg, dist::Comm& comm, core::Logger& log,
                          const RunDir& dir, const TrainOptions& opts);

}  // namespace pgolf::train
