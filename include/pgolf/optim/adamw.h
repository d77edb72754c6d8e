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

 private:
  struct State {
    int64_t step = 0;
    torch::Tensor exp_avg, exp_avg_sq;
  };
  AdamWOptions opts_;
  std::map<std::string, State> state_;
};

}  // namespace pgolf::optim
