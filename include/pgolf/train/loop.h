// The training loop of the record (reference-spec §5.7): validation outside the clock, the LR
// multiplier, accumulation, clipping, the optimiser step, SWA/EMA bookkeeping, the wallclock cap
// agreed by all ranks; plus checkpoints, resume, signals and the non-finite-loss stop.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "pgolf/train/checkpoint.h"
#include "pgolf/train/session.h"

namespace pgolf::train {

struct StepRecord {
  int64_t step = 0;  // completed steps after this one
  double train_loss = 0.0;
  double lr_scale = 1.0;
  double muon_momentum = 0.0;
  double grad_norm = 0.0;  // pre-clip global norm (0 when clipping is off)
  bool swa_collected = false;
  double train_ms = 0.0;
};

struct LoopOptions {
  std::string checkpoint_path;   // empty: no checkpoints (tests)
  std::function<void(const StepRecord&)> on_step;  // after every step (tests, metrics)
  bool run_warmup = true;        // the compile warm-up steps (skipped on resume)
};

struct LoopResult {
  int64_t steps = 0;
  double train_ms = 0.0;
  bool interrupted = false;   // a signal stopped the run; a checkpoint was written
  double last_val_loss = 0.0, last_val_bpb = 0.0;
};

// Runs the warm-up steps and undoes them (weights, optimiser state, data position).
void run_warmup(Session& s);
// Trains from `start` (a resumed checkpoint, or nullptr for step 0) until the iteration limit,
// the wallclock cap or a stop signal.
LoopResult run_loop(Session& s, const LoopOptions& opts, const Checkpoint* start = nullptr);

// Checkpoint of the session's full state after `step` completed steps.
Checkpoint make_checkpoint(Session& s, int64_t step, double train_ms);
void restore_checkpoint(Session& s, const Checkpoint& ckpt);

}  // namespace pgolf::train
