// The record's optimiser set over a model's named parameters (reference-spec §5.1): AdamW "tok",
// Adam "head" (untied only), Muon, AdamW "scalar", stepped in that order with one shared LR
// multiplier and the Muon momentum of the step.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "pgolf/config/config.h"
#include "pgolf/dist/comm.h"
#include "pgolf/optim/adamw.h"
#include "pgolf/optim/muon.h"
#include "pgolf/optim/param_groups.h"

namespace pgolf::optim {

class OptimizerSet {
 public:
  // `named_params` in the model's order (it fixes Muon's rank sharding). `comm` may be null.
  OptimizerSet(const core::NamedTensors& named_params, const config::OptimConfig& cfg,
               const std::vector<std::string>& control_patterns, dist::Comm* comm);

  // lr = base_lr * lr_scale for every group; Muon momentum for the next step.
  void set_schedule(double lr_scale, double muon_momentum);
  // Muon's weight decay = MUON_WEIGHT_DECAY * mult (the WD taper); no-op without a Muon group.
  void set_muon_wd_scale(double mult);
  void step();
  void zero_grad();

  // MUON_SHARDED with > 1 rank: Muon averages its params' grads itself (reduce-scatter), so the
  // train step averages only the others; everything in `params` otherwise.
  std::vector<torch::Tensor> params_to_average(const std::vector<torch::Tensor>& params) const;
  // optim::grad_total_norm and clip_grads_with_norm over `params`; a sharded Muon's grads are
  // reduce-scattered here and enter the norm and the clipping as the averaged shards.
  torch::Tensor grad_total_norm(const std::vector<torch::Tensor>& params);
  void clip_grads_with_norm(const std::vector<torch::Tensor>& params, const torch::Tensor& total,
                            const torch::Tensor& max_norm);

  // Tensors named "<optimizer>/<param>.<slot>" (optimizer: tok, head, muon, scalar); meta keyed
  // the same way. Loading requires the same groups (and, for Muon, the same rank and world).
  core::NamedTensors state_tensors() const;
  nlohmann::json state_meta() const;
  void load_state(const core::NamedTensors& tensors, const nlohmann::json& meta);
  void reset();

  // CUDA graph capture of step() (see Optimizer): every optimiser, in step order.
  void prepare_captured_step();
  void upload_step_scalars();
  void captured_step();
  void commit_captured_step();
  std::vector<torch::Tensor> captured_state() const;

  const GroupPlan& plan() const { return plan_; }
  std::string describe() const { return optim::describe(plan_); }
  // The optimiser called `label`, or null when that group is empty.
  Optimizer* find(const std::string& label) const;
  Muon* sharded_muon() const;  // the Muon when it shards across ranks, else null

 private:
  GroupPlan plan_;
  double muon_wd_ = 0.0;  // MUON_WEIGHT_DECAY, the taper's base
  std::vector<std::pair<std::string, std::unique_ptr<Optimizer>>> optimizers_;  // step order
};

}  // namespace pgolf::optim
