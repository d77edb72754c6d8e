// One training step behind one interface (issue #18): micro-batches in; loss, norm and health out;
// then the update. The implementation is chosen once, at set-up (make_step), as torchtitan wraps
// its fwd_bwd_fn with a CUDA graph: eager, or graphed with the eager step as its own fallback.
// `pgolf train` (Session::step) and `pgolf bench` run the same object. Test hooks (the NaN
// injection of PGOLF_INJECT_NAN_STEP) are a decorator made only when asked for; the production
// step never branches on them. Clipping is a property of the step (StepOptions::clip_norm).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "pgolf/config/config.h"
#include "pgolf/dist/comm.h"
#include "pgolf/model/dtype.h"
#include "pgolf/model/any_gpt.h"
#include "pgolf/optim/optimizer_set.h"
#include "pgolf/train/grad_sync.h"
#include "pgolf/train/step_graph.h"

namespace pgolf::train {

// What a step works on; everything outlives the step.
struct StepParts {
  model::AnyGPT model;
  optim::OptimizerSet* optim = nullptr;
  GradSync* grad_sync = nullptr;  // null: one rank (or a test that averages nothing)
  dist::Comm* comm = nullptr;
  torch::Device device = torch::kCPU;
  model::DtypePolicy policy = model::DtypePolicy::kFp32;
  std::vector<torch::Tensor> params;  // model->parameters(), listed once (not per step)
};

struct StepOptions {
  double clip_norm = 0.0;        // GRAD_CLIP_NORM; <= 0: no clipping
  bool cuda_graphs = false;      // CUDA_GRAPHS: try the graphed step (eager where it cannot run)
  // VARLEN_ATTN: batches carry cu_seqlens, which graphs cannot capture (step_graph.h): eager
  // steps even with cuda_graphs, the reason logged.
  bool varlen = false;
  int64_t inject_nan_step = -1;  // test seam: NaN into one gradient at this step (1-based)
};
// From the configuration, plus the PGOLF_INJECT_NAN_STEP test hook (read here, once).
StepOptions step_options(const config::Config& cfg);

// The micro-batches of one optimiser step (CPU int64 from the loader, see batch_from_span).
struct StepInput {
  int64_t step = 0;  // the optimiser step being taken, 1-based; 0 for warm-up steps
  std::vector<StepBatch> batches;
  // Read right before the step's one exchange, on the host (a clock read, no device sync):
  // this rank's wallclock cap flag. Null: no cap.
  std::function<bool()> cap_reached;
};

// forward_backward's device results: no host sync has happened.
struct StepGrads {
  torch::Tensor loss_sum;  // fp32 0-d: sum of the micro-batch losses of this rank
  torch::Tensor norm;      // fp32 0-d: pre-clip global gradient norm (NaN/Inf if any grad is)
};

// run_step's host results, agreed by every rank.
struct StepReport {
  double loss = 0.0;       // mean micro-batch loss over the global batch
  double grad_norm = 0.0;  // pre-clip global norm (this rank's; equal on all after the average)
  bool loss_finite = true, grads_finite = true;  // on every rank
  bool cap_reached = false;  // on any rank
  int stop_signal = 0;       // the largest signal number pending on any rank (0: none)
  bool updated = false;      // the update ran (only when both are finite)
};

// What the hot path did, counted (tests and `pgolf bench` read them).
struct StepCounters {
  int64_t steps = 0;        // run_step calls
  int64_t zero_grads = 0;   // eager gradient resets (graph A zeroes inside the graph)
  int64_t host_reads = 0;   // device -> host reads (one per step: the exchange)
  int64_t collectives = 0;  // small collectives besides the gradient average
  int64_t batch_copies = 0; // host -> device batch transfers (one per micro-batch on CUDA)
};

class Step {
 public:
  virtual ~Step() = default;
  // Forward + backward of every micro-batch (loss / micro-batches), the gradient average across
  // ranks, the pre-clip norm. Device tensors only.
  virtual StepGrads forward_backward(const StepInput& in) = 0;
  // Clipping with forward_backward's norm, then every optimiser at this lr scale and momentum.
  virtual void update(double lr_scale, double momentum) = 0;
  // The forward or the optimiser state changed (late QAT, reset after warm-up): graphs re-capture.
  virtual void invalidate(const std::string& why) { (void)why; }
  // "eager" or "graphed"; plus the options, for the logs and `pgolf bench --json`.
  virtual std::string describe() const = 0;
  // True while the graphed update runs captured (false for eager steps and after a fallback).
  virtual bool captured() const { return false; }
  virtual StepCounters& counters() = 0;
};

// The step chosen once: graphed when options.cuda_graphs (eager inside it where graphs cannot
// run, reason logged), else eager; wrapped in the NaN decorator only when inject_nan_step > 0.
std::unique_ptr<Step> make_step(StepParts parts, const StepOptions& options, LogFn log);

// The whole step: forward_backward, ONE exchange (loss sum, health, cap flag and stop signal in
// one small tensor: one SUM all-reduce for ranks > 1, one device -> host read), then the update
// only when loss and gradients are finite on every rank.
StepReport run_step(Step& step, dist::Comm& comm, const StepInput& in, double lr_scale,
                    double momentum);

// A loader span of rows * seq_len + 1 tokens as a micro-batch: x and y are views of it, so the
// device copy moves the span once.
StepBatch batch_from_span(const torch::Tensor& span, int64_t seq_len);

}  // namespace pgolf::train
