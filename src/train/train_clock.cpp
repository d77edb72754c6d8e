// The training clock (see train_clock.h).
#include "pgolf/train/train_clock.h"

#include "pgolf/core/error.h"

namespace pgolf::train {

TrainClock::TrainClock(double start_ms, std::function<void()> sync)
    : banked_ms_(start_ms), t0_(Clock::now()), sync_(std::move(sync)) {}

double TrainClock::ms() const {
  if (!running_) return banked_ms_;
  return banked_ms_ + std::chrono::duration<double, std::milli>(Clock::now() - t0_).count();
}

TrainClock::Paused::Paused(TrainClock& c) : clock_(c) {
  PGOLF_CHECK(c.running_, "TrainClock: paused twice");
  if (c.sync_) c.sync_();  // the queued steps belong to the training time
  c.banked_ms_ = c.ms();
  c.running_ = false;
}

TrainClock::Paused::~Paused() {
  // No sync here (a destructor must not throw): the paused work ends in host reads anyway.
  clock_.t0_ = Clock::now();
  clock_.running_ = true;
}

}  // namespace pgolf::train
