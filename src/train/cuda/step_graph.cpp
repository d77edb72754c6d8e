// CUDA graph capture of the training step's forward + backward (see step_graph.h). Built only in
// CUDA builds. Written against at::cuda::CUDAGraph as torch.cuda.graph / make_graphed_callables
// use it: static inputs, a few warm-up iterations on a side stream, capture on a non-default
// stream with the autocast cast cache off, replay on the current stream. HONEST STATUS: compiled
// and linked, never run — no GPU was available. Any failure falls back to eager steps.
#include <ATen/autocast_mode.h>
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

#include "pgolf/train/step_graph.h"

namespace pgolf::train {
namespace {

constexpr int kWarmupIters = 3;  // as the PyTorch CUDA graph notes recommend (cuBLAS/cuDNN init)

class CudaStepGraph final : public StepGraph {
 public:
  CudaStepGraph(const torch::Device& device, std::vector<torch::Tensor> params, StepBody body,
                LogFn log)
      : device_(device), params_(std::move(params)), body_(std::move(body)), log_(std::move(log)) {}

  torch::Tensor run(const std::vector<StepBatch>& host_batches) override {
    if (disabled_) return {};
    try {
      const c10::cuda::CUDAGuard guard(device_);
      if (!graph_ || !same_shapes(host_batches)) {
        capture(host_batches);  // leaves this step's gradients and loss behind
      } else {
        copy_inputs(host_batches);
        graph_->replay();
      }
      for (size_t i = 0; i < params_.size(); ++i) params_[i].mutable_grad() = grads_[i];
      return loss_.clone();
    } catch (const std::exception& e) {
      disable(std::string("capture/replay failed: ") + e.what());
      return {};
    }
  }

  void invalidate(const std::string& why) override {
    if (disabled_ || !graph_) return;
    graph_.reset();  // frees the private memory pool
    log("cuda_graphs: re-capture at the next step (" + why + ")");
  }

 private:
  void log(const std::string& s) const {
    if (log_) log_(s);
  }

  void disable(const std::string& why) {
    disabled_ = true;
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

  torch::Tensor zero_and_body() {
    for (auto& g : grads_) g.zero_();
    return body_(static_in_);
  }

  void capture(const std::vector<StepBatch>& b) {
    graph_.reset();
    static_in_.clear();
    for (const auto& s : b)
      static_in_.push_back({torch::empty(s.x.sizes(), s.x.options().device(device_)),
                           torch::empty(s.y.sizes(), s.y.options().device(device_))});
    copy_inputs(b);
    // Gradient buffers allocated outside the graph pool and kept alive here; backward accumulates
    // into them in place (AccumulateGrad with an existing .grad), so their addresses are static.
    grads_.clear();
    for (auto& p : params_) {
      grads_.push_back(torch::zeros_like(p));
      p.mutable_grad() = grads_.back();
    }
    auto current = c10::cuda::getCurrentCUDAStream(device_.index());
    current.synchronize();
    // Warm-up on a side stream (lazy cuBLAS/cuDNN handles, autograd engine threads, allocator).
    auto side = c10::cuda::getStreamFromPool(/*isHighPriority=*/false, device_.index());
    {
      const c10::cuda::CUDAStreamGuard sg(side);
      for (int i = 0; i < kWarmupIters; ++i) zero_and_body();
    }
    side.synchronize();
    auto graph = std::make_unique<at::cuda::CUDAGraph>();
    auto cap = c10::cuda::getStreamFromPool(/*isHighPriority=*/false, device_.index());
    {
      const c10::cuda::CUDAStreamGuard sg(cap);
      const bool cache = at::autocast::is_autocast_cache_enabled();
      at::autocast::set_autocast_cache_enabled(false);  // casts must be re-done on every replay
      try {
        graph->capture_begin();
        loss_ = zero_and_body();
        graph->capture_end();
      } catch (...) {
        at::autocast::set_autocast_cache_enabled(cache);
        throw;
      }
      at::autocast::set_autocast_cache_enabled(cache);
    }
    cap.synchronize();
    graph_ = std::move(graph);
    graph_->replay();  // capture records only: run it once for this step's gradients
    log("cuda_graphs: captured forward+backward of " + std::to_string(b.size()) +
        " micro-step(s); clipping and the optimiser stay eager");
  }

  torch::Device device_;
  std::vector<torch::Tensor> params_;
  StepBody body_;
  LogFn log_;
  std::unique_ptr<at::cuda::CUDAGraph> graph_;
  std::vector<StepBatch> static_in_;  // static device inputs, one per micro-step
  std::vector<torch::Tensor> grads_;
  torch::Tensor loss_;
  bool disabled_ = false;
};

}  // namespace

std::unique_ptr<StepGraph> make_step_graph(const torch::Device& device,
                                           std::vector<torch::Tensor> params, StepBody body,
                                           LogFn log) {
  if (!device.is_cuda() || !torch::cuda::is_available()) {
    if (log) log("cuda_graphs: off (device " + device.str() + " is not CUDA); eager steps");
    return nullptr;
  }
  return std::make_unique<CudaStepGraph>(device, std::move(params), std::move(body), std::move(log));
}

}  // namespace pgolf::train
