// CUDA graph capture of the training step's forward and backward (CUDA_GRAPHS=1, issue #9 item 2).
//
// What is captured: zeroing the gradients and the forward + backward of every micro-step of one
// optimiser step, reading the batches from static device buffers. What is NOT captured (runs
// eagerly after each replay): gradient averaging across ranks, clipping and the optimiser step.
// The optimisers keep lr, momentum and Adam's step count as host doubles, which a graph would
// freeze at their capture-time values; capturing them needs those as device tensors (follow-up).
// Fallback: on CPU, in builds without CUDA, or when warm-up/capture throws, make_step_graph()
// returns null / run() returns an undefined tensor, with the reason passed to the log callback,
// and the caller runs the eager step. Compiled and linked here; NEVER RUN (no GPU on the CI box).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <torch/torch.h>

namespace pgolf::train {

struct StepBatch {
  torch::Tensor x, y;  // int64 (rows, seq_len): CPU from the loader, or device inside a body
};

// The captured work: forward + backward of every micro-step over `batches` (already on the
// device); returns the fp32 sum of the micro-step losses as a device scalar. Gradients accumulate
// into the parameters' existing .grad tensors (the graph zeroes them first).
using StepBody = std::function<torch::Tensor(const std::vector<StepBatch>& batches)>;
using LogFn = std::function<void(const std::string&)>;

class StepGraph {
 public:
  virtual ~StepGraph() = default;
  // Copies the host batches into the static buffers (pinned, non-blocking), captures on first use
  // or when shapes changed, replays, and points every parameter's .grad at the graph's gradient
  // buffers. Returns the loss sum (a copy), or an undefined tensor when graphs are off from now on.
  virtual torch::Tensor run(const std::vector<StepBatch>& host_batches) = 0;
  // Forget the capture (the forward changed, e.g. late QAT switched on); re-captured next run.
  virtual void invalidate(const std::string& why) = 0;
};

// Null (with the reason logged) when graphs cannot be used here: CPU device or no CUDA in this
// build. `params` are the trained leaf tensors, on `device`.
std::unique_ptr<StepGraph> make_step_graph(const torch::Device& device,
                                           std::vector<torch::Tensor> params, StepBody body,
                                           LogFn log);

}  // namespace pgolf::train
