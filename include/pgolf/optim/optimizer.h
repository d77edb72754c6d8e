// Common base of pgolf's hand-written optimisers (AdamW, Muon): named parameter groups whose lr
// (and Muon momentum) the training loop sets every step, set_to_none zeroing, and checkpointable
// state as named tensors ("<param name>.<slot>") plus JSON scalars.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "pgolf/core/tensor_io.h"

namespace pgolf::optim {

struct ParamGroup {
  std::string label;               // "tok", "head", "muon", "scalar", ... (logs, state names)
  std::vector<std::string> names;  // one per param, unique within an optimiser
  std::vector<torch::Tensor> params;
  double base_lr = 0.0;   // lr = base_lr * schedule multiplier
  double lr = 0.0;        // the lr the next step() uses
  double momentum = 0.0;  // Muon only (set each step by the momentum warmup)
};

class Optimizer {
 public:
  explicit Optimizer(std::vector<ParamGroup> groups);
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  virtual void step() = 0;
  // Drops every gradient (PyTorch's zero_grad(set_to_none=True)).
  void zero_grad();
  // lr = base_lr * scale for every group.
  void set_lr_scale(double scale);
  std::vector<ParamGroup>& groups() { return groups_; }
  const std::vector<ParamGroup>& groups() const { return groups_; }
  int64_t num_params() const;  // elements over all groups

  // Checkpoint state. load_state validates names, shapes and dtypes against the parameters.
  virtual core::NamedTensors state_tensors() const = 0;
  virtual nlohmann::json state_meta() const = 0;
  virtual void load_state(const core::NamedTensors& tensors, const nlohmann::json& meta) = 0;
  // Forgets all moments/buffers and counters (a freshly constructed optimiser).
  virtual void reset() = 0;

  // ---- CUDA graph capture of step() (train/step_graph.h, CUDA_GRAPHS=1; src/optim/captured_step.cpp).
  // step() reads lr and momentum as host doubles, which a captured graph would freeze at their
  // capture-time values. The captured form reads them, and AdamW's bias corrections, from device
  // tensors that upload_step_scalars() rewrites before every replay. The CPU step() is untouched.
  // Creates the state step() would create lazily for every param that has a gradient now (a
  // graph must not allocate persistent state) and the device scalars. Eager, before capture;
  // reset() or load_state() afterwards invalidates a capture.
  virtual void prepare_captured_step() = 0;
  // Host lr / momentum / bias corrections of the next step -> the device scalars (eager).
  virtual void upload_step_scalars() = 0;
  // step() reading the per-step scalars from the device tensors only: no host sync, no new state.
  // Params that had no gradient at prepare time are skipped.
  virtual void captured_step() = 0;
  // The host bookkeeping step() does (step counters), after each replay.
  virtual void commit_captured_step() = 0;
  // Every tensor captured_step() writes except gradients: params and state (warm-up snapshots).
  virtual std::vector<torch::Tensor> captured_state() const = 0;

 protected:
  // The parameter called `name` (throws when unknown, naming `what`).
  const torch::Tensor& param_named(const std::string& name, const std::string& what) const;

  std::vector<ParamGroup> groups_;
};

// State tensor `name` from `tensors`, checked to match `like` in shape (and dtype); the error names
// `what` (e.g. "checkpoint optimizer state").
torch::Tensor checked_state(const core::NamedTensors& tensors, const std::string& name,
                            const torch::Tensor& like, const std::string& what);

}  // namespace pgolf::optim
