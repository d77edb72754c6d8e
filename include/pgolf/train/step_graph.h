// CUDA graph capture of the whole training step (CUDA_GRAPHS=1, issue #9 item 2), as two graphs
// replayed back to back:
//   A: zeroing the gradients, forward + backward of every micro-step (batches read from static
//      device buffers), the gradient all-reduce across ranks, and the pre-clip total gradient
//      norm;
//   B: clipping with A's norm and the optimiser step (AdamW, Muon with Newton-Schulz and its
//      all-reduce), reading lr, momentum and bias corrections from device scalars that are
//      rewritten before every replay (optim::Optimizer::upload_step_scalars).
// Two graphs because the loop must see a finite loss and norm on every rank before it steps
// (a non-finite step is skipped and the run stops); it already reads the loss each step, so B
// is launched right after that read. Warm-up runs A three times, and B three times between a
// snapshot and a restore of the parameters, optimiser state and gradients.
// Fallback: on CPU, in builds without CUDA, or when warm-up/capture of A throws, run() returns
// an undefined loss for good (reason logged) and the caller runs the eager step; when only B
// fails, update() returns false for good and the caller runs the eager clipping and step. A
// capture failing on any rank makes every rank fall back (StepFns::all_ok).
// Compiled and linked here; NEVER RUN (no GPU on the CI box).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <torch/torch.h>

namespace pgolf::train {

struct StepBatch {
  torch::Tensor x, y;  // int64 (rows, seq_len): CPU from the loader, or device inside a body
  // Optional: the rows * seq_len + 1 tokens x and y are views of (batch_from_span in step.h);
  // when defined, the eager step copies it to the device once and slices x and y there.
  torch::Tensor span;
  // Optional (VARLEN_ATTN with LOADER=docpack): the packed row's segment boundaries, int32
  // (data::Batch::cu_seqlens). Graphs cannot capture them (their count and the segment map change
  // per batch): a graphed step falls back to eager when a batch carries them.
  torch::Tensor cu_seqlens;
};

// The captured work: forward + backward of every micro-step over `batches` (already on the
// device); returns the fp32 sum of the micro-step losses as a device scalar. Gradients accumulate
// into the parameters' existing .grad tensors (the graph zeroes them first).
using StepBody = std::function<torch::Tensor(const std::vector<StepBatch>& batches)>;
using LogFn = std::function<void(const std::string&)>;

// What the two graphs run. Everything captured must be graph-safe: no host sync, no new
// persistent tensors.
struct StepFns {
  StepBody body;                                 // graph A
  std::function<void()> reduce;                  // graph A, after body; null: one rank
  std::function<torch::Tensor()> grad_norm;      // graph A, last: 0-d pre-clip total norm
  // Graph B; null `update`: B is never captured (update() returns false).
  std::function<void()> prepare_update;          // eager, before B's warm-up: optimiser state
  std::function<void()> upload;                  // eager, before every replay of B
  std::function<void(const torch::Tensor& norm, const torch::Tensor& max_norm)> update;
  std::function<void()> commit;                  // eager, after every replay of B
  std::function<std::vector<torch::Tensor>()> update_state;  // tensors B writes besides .grad
  // Eager, after every capture and before its first replay: true iff every rank's capture
  // succeeded (`ok` is this rank's). A graph holds collectives, so one rank replaying while
  // another steps eagerly would pair different collectives and hang; all ranks fall back
  // together instead. Null: one rank.
  std::function<bool(bool ok)> all_ok;
};

class StepGraph {
 public:
  struct Result {
    torch::Tensor loss_sum;   // fp32 device scalar (a copy); undefined: graphs are off for good
    torch::Tensor grad_norm;  // fp32 device scalar, the pre-clip total norm (a copy)
  };
  virtual ~StepGraph() = default;
  // Copies the host batches into the static buffers (pinned, non-blocking), captures A on first
  // use or when shapes changed, replays it, and points every parameter's .grad at the graph's
  // gradient buffers.
  virtual Result run(const std::vector<StepBatch>& host_batches) = 0;
  // After a successful run(): replays B (capturing it on first use) with max_norm (<= 0: no
  // clipping). False when B is unavailable; the caller then clips and steps eagerly.
  virtual bool update(double max_norm) = 0;
  // True while graph B is captured and in use (false before its first update() and after it
  // fell back to eager); lets tests see that the optimiser really ran captured.
  virtual bool update_captured() const = 0;
  // Forget both captures (the forward changed, e.g. late QAT, or the optimiser state was
  // replaced); re-captured at the next run()/update().
  virtual void invalidate(const std::string& why) = 0;
};

// Null (with the reason logged) when graphs cannot be used here: CPU device or no CUDA in this
// build. `params` are the trained leaf tensors, on `device`.
std::unique_ptr<StepGraph> make_step_graph(const torch::Device& device,
                                           std::vector<torch::Tensor> params, StepFns fns,
                                           LogFn log);

}  // namespace pgolf::train
