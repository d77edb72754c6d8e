// CUDA graph capture of the training step (see step_graph.h). Built only in CUDA builds. Written
// against at::cuda::CUDAGraph as torch.cuda.graph / make_graphed_callables use it: static inputs,
// a few warm-up iterations on a side stream, capture on a non-default stream with the autocast
// cast cache off, replay on the current stream. HONEST STATUS: compiled and linked, never run —
// no GPU was available. Any failure falls back to eager steps.
#include <ATen/autocast_mode.h>
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

#include <limits>

#include "pgolf/train/step_graph.h"

namespace pgolf::train {
namespace {

constexpr int kWarmupIters = 3;  // as the PyTorch CUDA graph notes recommend (cuBLAS/cuDNN init)

// Captures fn() into a new graph on a fresh side stream with the autocast cast cache off (casts
// must be re-done on every replay). The capture is always ended, also when fn() throws, so the
// stream never stays in capture mode.
std::unique_ptr<at::cuda::CUDAGraph> capture_graph(const torch::Device& device,
                                                   const std::function<void()>& fn) {
  auto graph = std::make_unique<at::cuda::CUDAGraph>();
  auto cap = c10::cuda::getStreamFromPool(/*isHighPriority=*/false, device.index());
  {
    const c10::cuda::CUDAStreamGuard sg(cap);
    const bool cache = at::autocast::is_autocast_cache_enabled();
    at::autocast::set_autocast_cache_enabled(false);
    graph->capture_begin();
    try {
      fn();
    } catch (...) {
      try {
        graph->capture_end();
      } catch (...) {
      }
      at::autocast::set_autocast_cache_enabled(cache);
      throw;
    }
    graph->capture_end();
    at::autocast::set_autocast_cache_enabled(cache);
  }
  cap.synchronize();
  return graph;
}

class CudaStepGraph final : public StepGraph {
 public:
  CudaStepGraph(const torch::Device& device, std::vector<torch::Tensor> params, StepFns fns,
                LogFn log)
      : device_(device), params_(std::move(params)), fns_(std::move(fns)), log_(std::move(log)) {}

  Result run(const std::vector<StepBatch>& host_batches) override {
    if (disabled_) return {};
    try {
      const c10::cuda::CUDAGuard guard(device_);
      if (!graph_ || !same_shapes(host_batches)) {
        std::string err;
        try {
          capture(host_batches);
        } catch (const std::exception& e) {
          err = e.what();
        }
        if (!all_ranks_ok(err.empty())) {
          disable(err.empty() ? "another rank's capture failed" : "capture failed: " + err);
          return {};
        }
        graph_->replay();  // capture records only: run it once for this step's gradients
      } else {
        copy_inputs(host_batches);
        graph_->replay();
      }
      for (size_t i = 0; i < params_.size(); ++i) params_[i].mutable_grad() = grads_[i];
      return {loss_.clone(), norm_.clone()};
    } catch (const std::exception& e) {
      disable(std::string("capture/replay failed: ") + e.what());
      return {};
    }
  }

  bool update(double max_norm) override {
    if (disabled_ || update_disabled_ || !graph_ || !fns_.update) return false;
    try {
      const c10::cuda::CUDAGuard guard(device_);
      max_norm_.fill_(max_norm > 0 ? max_norm : std::numeric_limits<double>::infinity());
      if (!update_graph_) {
        std::string err;
        try {
          capture_update();  // leaves the state as it was: the capture only records
        } catch (const std::exception& e) {
          err = e.what();
        }
        if (!all_ranks_ok(err.empty()))
          throw std::runtime_error(err.empty() ? "another rank's capture failed" : err);
        update_graph_->replay();  // this step's update
      } else {
        fns_.upload();
        update_graph_->replay();
      }
      fns_.commit();
      return true;
    } catch (const std::exception& e) {
      update_disabled_ = true;
      update_graph_.reset();
      log(std::string("cuda_graphs: clipping and optimiser step eager from now on (capture/replay "
                      "failed: ") + e.what() + ")");
      return false;
    }
  }

  bool update_captured() const override {
    return !disabled_ && !update_disabled_ && update_graph_ != nullptr;
  }

  void invalidate(const std::string& why) override {
    if (disabled_ || (!graph_ && !update_graph_)) return;
    update_graph_.reset();
    graph_.reset();  // frees the private memory pools
    log("cuda_graphs: re-capture at the next step (" + why + ")");
  }

 private:
  void log(const std::string& s) const {
    if (log_) log_(s);
  }

  bool all_ranks_ok(bool ok) const { return fns_.all_ok ? fns_.all_ok(ok) : ok; }

  void disable(const std::string& why) {
    disabled_ = true;
    update_graph_.reset();
    graph_.reset();
    log("cuda_graphs: off from now on, eager steps (" + why + ")");
  }

  bool same_shapes(const std::vector<StepBatch>& b) const {
    if (b.size() != static_in_.size()) return false;
    for (size_t i = 0; i < b.size(); ++i)
      if (b[i].x.sizes() != static_in_[i].x.sizes() || b[i].y.sizes() != static_in_[i].y.sizes())
        return false;
    return true;
  }

  // Host -> static device buffers: through pinned memory so the copies are truly asynchronous.
  void copy_inputs(const std::vector<StepBatch>& b) {
    for (size_t i = 0; i < b.size(); ++i) {
      static_in_[i].x.copy_(b[i].x.is_pinned() ? b[i].x : b[i].x.pin_memory(), /*non_blocking=*/true);
      static_in_[i].y.copy_(b[i].y.is_pinned() ? b[i].y : b[i].y.pin_memory(), /*non_blocking=*/true);
    }
  }

  // Graph A's work: zero the gradients, forward/backward, all-reduce, norm into norm_.
  torch::Tensor step_a() {
    for (auto& g : grads_) g.zero_();
    torch::Tensor loss = fns_.body(static_in_);
    if (fns_.reduce) fns_.reduce();
    if (fns_.grad_norm) norm_.copy_(fns_.grad_norm());
    return loss;
  }

  void capture(const std::vector<StepBatch>& b) {
    update_graph_.reset();  // it reads the gradient buffers re-made below
    graph_.reset();
    static_in_.clear();
    for (const auto& s : b)
      static_in_.push_back({torch::empty(s.x.sizes(), s.x.options().device(device_)),
                           torch::empty(s.y.sizes(), s.y.options().device(device_))});
    copy_inputs(b);
    // Gradient buffers and the norm / max-norm scalars are allocated outside the graph pools and
    // kept alive here; backward accumulates into the gradients in place (AccumulateGrad with an
    // existing .grad), so every address the graphs use is static.
    grads_.clear();
    for (auto& p : params_) {
      grads_.push_back(torch::zeros_like(p));
      p.mutable_grad() = grads_.back();
    }
    const auto f32 = torch::TensorOptions().dtype(torch::kFloat32).device(device_);
    norm_ = torch::zeros({}, f32);
    max_norm_ = torch::zeros({}, f32);
    auto current = c10::cuda::getCurrentCUDAStream(device_.index());
    current.synchronize();
    // Warm-up on a side stream (lazy cuBLAS/cuDNN handles, autograd engine threads, allocator,
    // NCCL communicators). A only writes gradients, loss and norm, all rewritten by every run.
    auto side = c10::cuda::getStreamFromPool(/*isHighPriority=*/false, device_.index());
    {
      const c10::cuda::CUDAStreamGuard sg(side);
      for (int i = 0; i < kWarmupIters; ++i) step_a();
    }
    side.synchronize();
    graph_ = capture_graph(device_, [this] { loss_ = step_a(); });
    log("cuda_graphs: captured zero_grad + forward/backward of " + std::to_string(b.size()) +
        " micro-step(s)" + (fns_.reduce ? " + gradient all-reduce" : "") + " + grad norm");
  }

  // Graph B: warm-up between a snapshot and a restore of everything it writes (parameters,
  // optimiser state, gradients), then capture (recorded, not run: the caller replays it).
  void capture_update() {
    fns_.prepare_update();
    fns_.upload();
    std::vector<torch::Tensor> state = fns_.update_state ? fns_.update_state() : std::vector<torch::Tensor>{};
    for (auto& g : grads_) state.push_back(g);
    std::vector<torch::Tensor> saved;
    saved.reserve(state.size());
    for (const auto& t : state) saved.push_back(t.detach().clone());
    const auto restore = [&] {
      torch::NoGradGuard no_grad;
      for (size_t i = 0; i < state.size(); ++i) state[i].detach().copy_(saved[i]);
      c10::cuda::getCurrentCUDAStream(device_.index()).synchronize();
    };
    auto current = c10::cuda::getCurrentCUDAStream(device_.index());
    current.synchronize();
    try {
      auto side = c10::cuda::getStreamFromPool(/*isHighPriority=*/false, device_.index());
      {
        const c10::cuda::CUDAStreamGuard sg(side);
        for (int i = 0; i < kWarmupIters; ++i) fns_.update(norm_, max_norm_);
      }
      side.synchronize();
      restore();
      update_graph_ = capture_graph(device_, [this] { fns_.update(norm_, max_norm_); });
    } catch (...) {
      update_graph_.reset();
      restore();  // the caller steps eagerly from the same state
      throw;
    }
    log("cuda_graphs: captured clipping + optimiser step (device lr/momentum scalars)");
  }

  torch::Device device_;
  std::vector<torch::Tensor> params_;
  StepFns fns_;
  LogFn log_;
  std::unique_ptr<at::cuda::CUDAGraph> graph_;         // A
  std::unique_ptr<at::cuda::CUDAGraph> update_graph_;  // B
  std::vector<StepBatch> static_in_;  // static device inputs, one per micro-step
  std::vector<torch::Tensor> grads_;
  torch::Tensor loss_, norm_, max_norm_;
  bool disabled_ = false, update_disabled_ = false;
};

}  // namespace

std::unique_ptr<StepGraph> make_step_graph(const torch::Device& device,
                                           std::vector<torch::Tensor> params, StepFns fns,
                                           LogFn log) {
  if (!device.is_cuda() || !torch::cuda::is_available()) {
    if (log) log("cuda_graphs: off (device " + device.str() + " is not CUDA); eager steps");
    return nullptr;
  }
  return std::make_unique<CudaStepGraph>(device, std::move(params), std::move(fns), std::move(log));
}

}  // namespace pgolf::train
