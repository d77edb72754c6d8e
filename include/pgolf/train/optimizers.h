// The record's optimiser set over a GPT (reference-spec §5.1): AdamW "tok", Adam "head" (untied),
// Muon over the matrices, AdamW "scalar" — stepped in that order with one shared LR multiplier —
// and the weight averager (SWA or EMA, §6). Thin glue over pgolf::optim for the trainer.
#pragma once

#include <memory>
#include <string>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "pgolf/config/config.h"
#include "pgolf/core/tensor_io.h"
#include "pgolf/dist/comm.h"

namespace pgolf::train {

class Optimizers {
 public:
  // `params`: the model's named parameters in the reference's order.
  Optimizers(const core::NamedTensors& params, const config::OptimConfig& optim,
             const config::QuantConfig& quant, bool tied_embeddings, dist::Comm& comm);
  ~Optimizers();
  // lr = base_lr * scale for every group; Muon momentum for this step.
  void set_schedule(double lr_scale, double muon_momentum);
  void step();
  void zero_grad();
  // Everything needed to resume: tensors (moments, buffers) and scalars (step counters).
  core::NamedTensors state_tensors() const;
  nlohmann::json state_meta() const;
  void load_state(const core::NamedTensors& tensors, const nlohmann::json& meta);
  // Forgets all moments and step counters (undoes the warm-up steps, as the reference reloads
  // the optimisers' initial, empty state).
  void reset();
  std::string describe() const;  // group sizes, for the log

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

class Averager {
 public:
  virtual ~Averager() = default;
  // Called after every optimiser step with the step count and the LR multiplier of that step;
  // returns true when a snapshot was taken for the first time (SWA logs `swa:start`).
  virtual bool after_step(int64_t step, double lr_scale, const core::NamedTensors& state) = 0;
  // The averaged state to load, or an empty list when there is nothing to apply.
  virtual core::NamedTensors averaged(const core::NamedTensors& current) const = 0;
  virtual std::string apply_line() const = 0;  // e.g. "swa:applying averaged 24 checkpoints"
  virtual core::NamedTensors state_tensors() const = 0;
  virtual nlohmann::json state_meta() const = 0;
  virtual void load_state(const core::NamedTensors& tensors, const nlohmann::json& meta) = 0;
};

// SWA when cfg.swa_enabled, EMA when cfg.ema_decay > 0, else null.
std::unique_ptr<Averager> make_averager(const config::TrainConfig& cfg,
                                        const core::NamedTensors& initial_state);

}  // namespace pgolf::train
