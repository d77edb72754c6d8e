// Weight averaging (reference-spec §6): SWA (a running sum of state-dict snapshots on the CPU, in
// each tensor's own dtype, averaged at the end) and EMA (an fp32 shadow updated after every step).
#pragma once

#include <string>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "pgolf/core/tensor_io.h"

namespace pgolf::optim {

class Swa {
 public:
  // SWA_START_FRAC and SWA_EVERY (> 0).
  Swa(double start_frac, int64_t every);
  // After optimizer step number `step` (counted from 1) taken with LR multiplier `lr_scale`:
  // snapshots `state` when lr_scale < start_frac and step % every == 0. Returns true when that
  // snapshot was the first (the caller logs `swa:start step:N`).
  bool after_step(int64_t step, double lr_scale, const core::NamedTensors& state);
  // The rule after_step applies: lr_scale < start_frac and step % every == 0.
  bool due(int64_t step, double lr_scale) const { return lr_scale < start_frac_ && step % every_ == 0; }
  void add(const core::NamedTensors& state);  // unconditional snapshot
  int64_t count() const { return count_; }
  // (sum / count) cast to each current tensor's dtype and device; empty when count <= 1 (the
  // reference applies SWA only when more than one snapshot was taken).
  core::NamedTensors averaged(const core::NamedTensors& current) const;
  std::string apply_line() const;  // "swa:applying averaged N checkpoints"

  core::NamedTensors state_tensors() const { return sum_; }
  nlohmann::json state_meta() const;
  void load_state(const core::NamedTensors& tensors, const nlohmann::json& meta);

 private:
  double start_frac_;
  int64_t every_;
  int64_t count_ = 0;
  core::NamedTensors sum_;  // CPU
};

class Ema {
 public:
  // EMA_DECAY in (0, 1); the shadow starts as an fp32 copy of `initial` on its device.
  Ema(double decay, const core::NamedTensors& initial);
  // ema = decay * ema + (1 - decay) * w, in fp32, after every optimizer step.
  void update(const core::NamedTensors& state);
  // The shadow cast to each current tensor's dtype and device.
  core::NamedTensors averaged(const core::NamedTensors& current) const;
  std::string apply_line() const { return "ema:applying EMA weights"; }
  double decay() const { return decay_; }

  core::NamedTensors state_tensors() const { return shadow_; }
  nlohmann::json state_meta() const;
  void load_state(const core::NamedTensors& tensors, const nlohmann::json& meta);

 private:
  double decay_;
  core::NamedTensors shadow_;
};

}  // namespace pgolf::optim
