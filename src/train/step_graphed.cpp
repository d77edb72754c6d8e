// The graphed step (see step.h, step_graph.h): CUDA_GRAPHS=1 replays graph A (zero_grad,
// forward/backward, gradient average, norm) and graph B (clipping + optimisers), around the same
// eager step it falls back to, for good, when a capture or replay fails (reason logged). Chosen
// once, in make_step; the loop never asks which one runs. Also make_step and the test decorator.
#include <limits>

#include "eager_step.h"
#include "pgolf/core/log.h"
#include "pgolf/optim/schedule.h"

namespace pgolf::train {
namespace {

class GraphedStep final : public Step {
 public:
  GraphedStep(std::unique_ptr<EagerStep> eager, LogFn log)
      : eager_(std::move(eager)), log_(std::move(log)) {
    graph_ = make_step_graph(eager_->parts().device, eager_->parts().params, fns(), log_);
  }
  bool usable() const { return graph_ != nullptr; }
  std::unique_ptr<EagerStep> release_eager() { return std::move(eager_); }

  StepGrads forward_backward(const StepInput& in) override {
    if (graph_ && carries_segments(in)) {  // make_step avoids this; a guard for other callers
      if (log_) log_("cuda_graphs: off for good (a batch carries cu_seqlens); eager steps");
      graph_.reset();
    }
    if (graph_) {
      const StepGraph::Result r = graph_->run(in.batches);  // copies x and y into static buffers
      if (r.loss_sum.defined()) {
        graphed_ = true;
        counters().batch_copies += 2 * static_cast<int64_t>(in.batches.size());
        norm_ = r.grad_norm;
        return {r.loss_sum, r.grad_norm};
      }
      graph_.reset();  // it has fallen back for good (reason logged)
    }
    graphed_ = false;
    return eager_->forward_backward(in);
  }

  void update(double lr_scale, double momentum) override {
    if (!graphed_) return eager_->update(lr_scale, momentum);
    eager_->parts().optim->set_schedule(lr_scale, momentum);  // graph B uploads these
    if (graph_->update(eager_->clip_norm())) return;
    eager_->apply_update(norm_, lr_scale, momentum);  // B unavailable: clip with A's norm
  }

  void invalidate(const std::string& why) override {
    if (graph_) graph_->invalidate(why);
  }
  std::string describe() const override {
    std::string d = eager_->describe();
    return "train_step:graphed" + d.substr(d.find(' '));
  }
  bool captured() const override { return graph_ && graph_->update_captured(); }
  StepCounters& counters() override { return eager_->counters(); }

 private:
  StepFns fns() {
    EagerStep* e = eager_.get();
    const StepParts& p = e->parts();
    StepFns f;
    f.body = [e](const std::vector<StepBatch>& b) { return e->accumulate(b, /*arm_sync=*/false); };
    if (p.comm->world_size() > 1) {
      f.reduce = [e] { average_gradients(e->parts().params, *e->parts().comm); };
      f.all_ok = [e](bool ok) {
        const StepParts& q = e->parts();
        torch::Tensor failed = torch::full(
            {1}, ok ? 0.0f : 1.0f, torch::TensorOptions().dtype(torch::kFloat32).device(q.device));
        q.comm->all_reduce_max(failed);
        return failed.item<float>() == 0.0f;
      };
    }
    f.grad_norm = [e] { return optim::grad_total_norm(e->parts().params); };
    f.prepare_update = [e] { e->parts().optim->prepare_captured_step(); };
    f.upload = [e] { e->parts().optim->upload_step_scalars(); };
    f.update = [e](const torch::Tensor& norm, const torch::Tensor& max_norm) {
      optim::clip_grads_with_norm(e->parts().params, norm, max_norm);
      e->parts().optim->captured_step();
    };
    f.commit = [e] { e->parts().optim->commit_captured_step(); };
    f.update_state = [e] { return e->parts().optim->captured_state(); };
    return f;
  }

  static bool carries_segments(const StepInput& in) {
    for (const StepBatch& b : in.batches)
      if (b.cu_seqlens.defined()) return true;
    return false;
  }

  std::unique_ptr<EagerStep> eager_;
  LogFn log_;
  std::unique_ptr<StepGraph> graph_;  // null: eager for good
  bool graphed_ = false;              // the last forward_backward ran graph A
  torch::Tensor norm_;
};

// PGOLF_INJECT_NAN_STEP=N (tests/e2e/fault_nan_grad_test.sh): at optimiser step N, after the
// gradient average, one gradient of this rank is filled with NaN and the norm re-measured. Made
// only when the hook is set, so the production step has no such branch.
class NanInjectingStep final : public Step {
 public:
  NanInjectingStep(std::unique_ptr<Step> inner, std::vector<torch::Tensor> params, int64_t at)
      : inner_(std::move(inner)), params_(std::move(params)), at_(at) {}

  StepGrads forward_backward(const StepInput& in) override {
    StepGrads g = inner_->forward_backward(in);
    if (in.step != at_) return g;
    for (const auto& p : params_)
      if (p.grad().defined()) {
        p.grad().fill_(std::numeric_limits<double>::quiet_NaN());
        break;
      }
    g.norm = optim::grad_total_norm(params_);
    return g;
  }
  void update(double lr_scale, double momentum) override { inner_->update(lr_scale, momentum); }
  void invalidate(const std::string& why) override { inner_->invalidate(why); }
  std::string describe() const override {
    return inner_->describe() + " nan_injection_step:" + std::to_string(at_);
  }
  bool captured() const override { return inner_->captured(); }
  StepCounters& counters() override { return inner_->counters(); }

 private:
  std::unique_ptr<Step> inner_;
  std::vector<torch::Tensor> params_;
  int64_t at_;
};

}  // namespace

std::unique_ptr<Step> make_step(StepParts parts, const StepOptions& options, LogFn log) {
  if (parts.params.empty() && parts.model) parts.params = parts.model->parameters();
  const std::vector<torch::Tensor> params = parts.params;
  auto eager = std::make_unique<EagerStep>(std::move(parts), options);
  std::unique_ptr<Step> step;
  if (options.cuda_graphs && options.varlen) {
    // Graph A would replay one capture's attention; packed rows differ in segment count and
    // lengths every batch, and the segment map is built on the host.
    if (log) log("cuda_graphs: off (VARLEN_ATTN=1: cu_seqlens change every batch and graphs "
                 "cannot capture them); eager steps");
    step = std::move(eager);
  } else if (options.cuda_graphs) {
    auto graphed = std::make_unique<GraphedStep>(std::move(eager), log);  // logs why not
    if (graphed->usable()) {
      step = std::move(graphed);
    } else {
      step = graphed->release_eager();  // CPU or no CUDA build: eager from the start
    }
  } else {
    step = std::move(eager);
  }
  if (options.inject_nan_step > 0)
    step = std::make_unique<NanInjectingStep>(std::move(step), params, options.inject_nan_step);
  return step;
}

}  // namespace pgolf::train
