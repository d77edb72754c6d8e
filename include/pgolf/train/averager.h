// Weight averaging for the loop (reference-spec §6): SWA or EMA behind one interface, so the
// loop, checkpoints and the end of training treat them alike.
#pragma once

#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "pgolf/config/config.h"
#include "pgolf/core/tensor_io.h"

namespace pgolf::train {

class Averager {
 public:
  virtual ~Averager() = default;
  // Whether after_step would use the weights of optimiser step `step` (from 1) taken with LR
  // multiplier `lr_scale`: the loop builds the state only for those steps (EMA: every step; SWA:
  // below SWA_START_FRAC, every SWA_EVERY steps).
  virtual bool acts_at(int64_t step, double lr_scale) const = 0;
  // Called only where acts_at() is true. Returns true when a snapshot was taken for the first
  // time (SWA logs `swa:start step:N`).
  virtual bool after_step(int64_t step, double lr_scale, const core::NamedTensors& state) = 0;
  // The averaged state to load, or empty when there is nothing to apply.
  virtual core::NamedTensors averaged(const core::NamedTensors& current) const = 0;
  virtual std::string apply_line() const = 0;
  virtual int64_t count() const = 0;
  virtual core::NamedTensors state_tensors() const = 0;
  virtual nlohmann::json state_meta() const = 0;
  virtual void load_state(const core::NamedTensors& tensors, const nlohmann::json& meta) = 0;
};

// SWA when cfg.swa_enabled, EMA when cfg.ema_decay > 0, else null.
std::unique_ptr<Averager> make_averager(const config::TrainConfig& cfg,
                                        const core::NamedTensors& initial_state);

}  // namespace pgolf::train
