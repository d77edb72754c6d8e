// AdamW written out by hand with PyTorch's single-tensor semantics (reference-spec §5.1):
// p *= 1 - lr*wd; m = b1*m + (1-b1)*g; v = b2*v + (1-b2)*g*g; p -= lr/(1-b1^t) * m /
// (sqrt(v)/sqrt(1-b2^t) + eps), with the step counter t starting at 1 and the moments in the
// parameter's dtype. weight_decay = 0 is plain Adam (the untied head, the baseline's groups).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "pgolf/optim/optimizer.h"

namespace pgolf::optim {

struct AdamWOptions {
  double beta1 = 0.9;
  double beta2 = 0.95;
  double eps = 1e-8;
  double weight_decay = 0.0;
};

class AdamW final : public Optimizer {
 public:
  AdamW(std::vector<ParamGroup> groups, const AdamWOptions& opts);
  // Parameters without a gradient are skipped (their counters do not advance), like PyTorch.
  void step() override;
  const AdamWOptions& options() const { return opts_; }
  int64_t step_count(const std::string& name) const;  // 0 before the first step

  // "<name>.exp_avg", "<name>.exp_avg_sq" and "<name>.step" (int64 scalar) per stepped param.
  core::NamedTensors state_tensors() const override;
  nlohmann::json state_meta() const override;
  void load_state(const core::NamedTensors& tensors, const nlohmann::json& meta) override;
  void reset() override { state_.clear(); }

  void prepare_captured_step() override;
  void upload_step_scalars() override;
  void captured_step() override;
  void commit_captured_step() override;
  std::vector<torch::Tensor> captured_state() const override;

 private:
  struct State {
    int64_t step = 0;
    torch::Tensor exp_avg, exp_avg_sq;
  };
  struct CapturedParam {
    size_t group = 0, index = 0;
    std::string name;
  };
  AdamWOptions opts_;
  std::map<std::string, State> state_;
  std::vector<CapturedParam> captured_;  // params with a gradient at prepare_captured_step()
  // (captured_.size(), 4) fp32 on the params' device: 1 - lr*wd, -lr/bias1, sqrt(bias2) and its
  // reciprocal.
  torch::Tensor step_scalars_;
};

}  // namespace pgolf::optim
