// The training clock (reference-spec §5.7): the time the wallclock cap and the LR schedule see.
// One object owns the "outside the clock" rule: validation and checkpoint writes run inside a
// Paused scope, which stops the clock (after a device sync, as the reference's
// torch.cuda.synchronize() before it reads the timer) and restarts it when the scope ends.
#pragma once

#include <chrono>
#include <functional>

namespace pgolf::train {

class TrainClock {
 public:
  // `start_ms`: training time already spent (a resumed checkpoint's). `sync`: waits for the
  // device (null on CPU).
  explicit TrainClock(double start_ms = 0.0, std::function<void()> sync = {});

  // Training time so far (a host clock read: never a device sync).
  double ms() const;

  class [[nodiscard]] Paused {
   public:
    explicit Paused(TrainClock& c);
    ~Paused();
    Paused(const Paused&) = delete;
    Paused& operator=(const Paused&) = delete;
    double ms() const { return clock_.banked_ms_; }  // the training time at the pause

   private:
    TrainClock& clock_;
  };
  // Work outside the training clock: `const auto paused = clock.pause();`.
  Paused pause() { return Paused(*this); }

 private:
  using Clock = std::chrono::steady_clock;
  double banked_ms_;
  Clock::time_point t0_;
  bool running_ = true;
  std::function<void()> sync_;
};

}  // namespace pgolf::train
