// The eager step and run_step (see step.h): the reference's accumulation loop, the gradient
// average (DDP's, overlapped with the last backward), torch's clip_grad_norm_ and the optimisers;
// then the one exchange that every rank's non-finite check, cap and stop signal share.
#include <cmath>
#include <cstdlib>

#include "eager_step.h"
#include "pgolf/core/error.h"
#include "pgolf/core/log.h"
#include "pgolf/optim/schedule.h"
#include "pgolf/train/signals.h"

namespace pgolf::train {

StepOptions step_options(const config::Config& cfg) {
  StepOptions o;
  o.clip_norm = cfg.optim.grad_clip_norm;
  o.cuda_graphs = cfg.train.cuda_graphs;
  o.varlen = cfg.model.varlen_attn;
  // Test hook (tests/e2e/fault_nan_grad_test.sh), read once here so no step ever looks again.
  if (const char* v = std::getenv("PGOLF_INJECT_NAN_STEP")) o.inject_nan_step = std::atoll(v);
  return o;
}

StepBatch batch_from_span(const torch::Tensor& span, int64_t seq_len) {
  const int64_t n = span.numel() - 1;
  PGOLF_CHECK(span.dim() == 1 && n > 0 && n % seq_len == 0,
              "batch_from_span: expected rows * " << seq_len << " + 1 tokens, found "
                                                   << span.sizes());
  return {span.narrow(0, 0, n).view({-1, seq_len}), span.narrow(0, 1, n).view({-1, seq_len}),
          span};
}

EagerStep::EagerStep(StepParts parts, const StepOptions& options)
    : parts_(std::move(parts)), clip_norm_(options.clip_norm) {
  PGOLF_CHECK(parts_.model && parts_.optim && parts_.comm, "EagerStep: incomplete StepParts");
  if (parts_.params.empty()) parts_.params = parts_.model->parameters();
  max_norm_ = torch::full({}, clip_norm_ > 0 ? clip_norm_ : 0.0,
                          torch::TensorOptions().dtype(torch::kFloat32).device(parts_.device));
}

// On CUDA the span goes through pinned memory once, so the non-blocking copy is really
// asynchronous (a pageable source makes it synchronous), and x, y are its two views there. A
// batch already on the device (graph A's static inputs, CPU training) is used as it is.
std::pair<torch::Tensor, torch::Tensor> EagerStep::to_device(const StepBatch& b) {
  const torch::Device& device = parts_.device;
  if (b.x.device() == device) return {b.x, b.y};
  const auto move = [&](const torch::Tensor& t) {
    ++counters_.batch_copies;
    return (device.is_cuda() ? t.pin_memory() : t).to(device, /*non_blocking=*/true);
  };
  if (!b.span.defined()) return {move(b.x), move(b.y)};
  const torch::Tensor span = move(b.span);
  const int64_t n = span.numel() - 1;
  return {span.narrow(0, 0, n).view(b.x.sizes()), span.narrow(0, 1, n).view(b.y.sizes())};
}

// VARLEN_ATTN: the docpack row's cu_seqlens beside x and y (undefined: dense attention).
torch::Tensor EagerStep::segments_to_device(const StepBatch& b) {
  const torch::Tensor& cu = b.cu_seqlens;
  if (!cu.defined() || cu.device() == parts_.device) return cu;
  return (parts_.device.is_cuda() ? cu.pin_memory() : cu).to(parts_.device, /*non_blocking=*/true);
}

torch::Tensor EagerStep::accumulate(const std::vector<StepBatch>& batches, bool arm_sync) {
  torch::Tensor loss_sum = torch::zeros({}, torch::TensorOptions().device(parts_.device));
  const double inv = 1.0 / static_cast<double>(batches.size());
  for (size_t micro = 0; micro < batches.size(); ++micro) {
    // DDP: gradients are averaged once, overlapping the last micro-batch's backward.
    if (arm_sync && parts_.grad_sync && micro + 1 == batches.size()) parts_.grad_sync->arm();
    const auto [x, y] = to_device(batches[micro]);
    const torch::Tensor cu = segments_to_device(batches[micro]);
    torch::Tensor loss;
    {
      model::ComputeScope scope(parts_.policy, parts_.device.type());
      loss = parts_.model->forward(x, y, cu);
    }
    loss_sum += loss.detach().to(torch::kFloat32);
    (loss * inv).backward();
  }
  return loss_sum;
}

StepGrads EagerStep::forward_backward(const StepInput& in) {
  PGOLF_CHECK(!in.batches.empty(), "train step: no micro-batches");
  // The one reset per step: gradients stay from the update until here (nothing reads them).
  parts_.optim->zero_grad();
  ++counters_.zero_grads;
  torch::Tensor loss_sum = accumulate(in.batches, /*arm_sync=*/true);
  if (parts_.grad_sync) parts_.grad_sync->finish();
  norm_ = parts_.optim->grad_total_norm(parts_.params);  // stays on the device
  return {loss_sum, norm_};
}

void EagerStep::apply_update(const torch::Tensor& norm, double lr_scale, double momentum) {
  if (clip_norm_ > 0) parts_.optim->clip_grads_with_norm(parts_.params, norm, max_norm_);
  parts_.optim->set_schedule(lr_scale, momentum);
  parts_.optim->step();
}

void EagerStep::update(double lr_scale, double momentum) {
  apply_update(norm_, lr_scale, momentum);
}

std::string EagerStep::describe() const {
  return core::format("train_step:eager clip_norm:%g grad_sync:%s", clip_norm_,
                      parts_.grad_sync ? "overlapped" : "none");
}

namespace {

// Signal numbers below this ride in the exchange as one slot each; the largest slot set on any
// rank is MAX over the ranks' signals, with the same SUM as the loss.
constexpr int kSignalSlots = 32;

// [loss sum, 0 * norm, cap, signal slots...] summed over ranks (one collective), then read back
// with this rank's norm in one device -> host copy. One rank: no collective, no flags.
torch::Tensor exchange(dist::Comm& comm, const StepGrads& g, bool cap, int sig,
                       StepCounters& c) {
  // 0 * norm is 0, or NaN for a NaN/Inf norm: the sum is non-finite on every rank if it is on one.
  torch::Tensor t = torch::stack({g.loss_sum.to(torch::kFloat64), g.norm.to(torch::kFloat64) * 0.0});
  if (comm.world_size() > 1) {
    torch::Tensor flags = torch::zeros({1 + kSignalSlots}, t.options());  // fill kernels, no copy
    if (cap) flags[0].fill_(1.0);
    if (sig > 0) flags[1 + std::min(sig, kSignalSlots - 1)].fill_(1.0);
    t = torch::cat({t, flags});
    comm.all_reduce_sum(t);
    ++c.collectives;
  }
  ++c.host_reads;
  return torch::cat({t, g.norm.to(torch::kFloat64).reshape({1})}).to(torch::kCPU);
}

}  // namespace

StepReport run_step(Step& step, dist::Comm& comm, const StepInput& in, double lr_scale,
                    double momentum) {
  StepCounters& c = step.counters();
  ++c.steps;
  const StepGrads g = step.forward_backward(in);
  const bool cap = in.cap_reached && in.cap_reached();  // host clock: no device sync
  const int sig = stop_signal();
  const torch::Tensor host = exchange(comm, g, cap, sig, c);
  const auto v = host.accessor<double, 1>();
  StepReport r;
  const int world = comm.world_size();
  r.loss = v[0] / static_cast<double>(in.batches.size() * static_cast<size_t>(world));
  r.grad_norm = v[host.numel() - 1];
  r.loss_finite = std::isfinite(r.loss);
  r.grads_finite = std::isfinite(v[1]);
  if (world > 1) {
    r.cap_reached = v[2] > 0;
    for (int s = kSignalSlots - 1; s > 0 && r.stop_signal == 0; --s)
      if (v[3 + s] > 0) r.stop_signal = s;
  } else {
    r.cap_reached = cap;
    r.stop_signal = sig;
  }
  // A NaN gradient can come with a finite loss (an overflow in backward); stepping on it would
  // poison the weights and every later checkpoint: such a step is never applied.
  if (r.loss_finite && r.grads_finite) {
    step.update(lr_scale, momentum);
    r.updated = true;
  }
  return r;
}

}  // namespace pgolf::train
