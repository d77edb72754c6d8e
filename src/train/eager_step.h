// The eager step (see step.h), private to src/train: the graphed step captures its
// forward/backward body and falls back to it.
#pragma once

#include "pgolf/train/step.h"

namespace pgolf::train {

class EagerStep final : public Step {
 public:
  EagerStep(StepParts parts, const StepOptions& options);
  StepGrads forward_backward(const StepInput& in) override;
  void update(double lr_scale, double momentum) override;
  std::string describe() const override;
  StepCounters& counters() override { return counters_; }

  // Forward + backward of every micro-batch; with arm_sync the gradient average is started from
  // the last micro-batch's backward (GradSync). Returns the fp32 sum of the losses on the device.
  // Graph-safe with device batches and arm_sync=false (graph A's body).
  torch::Tensor accumulate(const std::vector<StepBatch>& batches, bool arm_sync);
  // Clipping with `norm` (StepOptions::clip_norm > 0), then the optimisers.
  void apply_update(const torch::Tensor& norm, double lr_scale, double momentum);
  const StepParts& parts() const { return parts_; }
  double clip_norm() const { return clip_norm_; }

 private:
  std::pair<torch::Tensor, torch::Tensor> to_device(const StepBatch& b);
  torch::Tensor segments_to_device(const StepBatch& b);

  StepParts parts_;
  double clip_norm_;
  torch::Tensor max_norm_;  // fp32 0-d on the device: clip_norm
  torch::Tensor norm_;      // the last forward_backward's pre-clip norm
  StepCounters counters_;
};

}  // namespace pgolf::train
