// The CUDA-graph form of the optimisers' step (see Optimizer::prepare_captured_step and
// train/step_graph.h). Same arithmetic as AdamW::step and Muon::step, with every per-step host
// scalar (lr, momentum, decay factor, bias corrections) read from a small device tensor that
// upload_step_scalars() rewrites before each replay, and all state created beforehand. The eager
// step() stays the CPU path (the golden vectors pin it); nothing here runs on CPU in training.
// HONEST STATUS: compiled and linked, never run under a real capture (no GPU on the CI box);
// optim_test checks on CPU that captured_step() equals step().
//
// Rounding: the scalars are stored in fp32, which is what the eager kernels turn a double Scalar
// into for fp32 tensors. LibTorch's CUDA division by a host scalar multiplies by its fp32
// reciprocal (the CPU kernel divides), so AdamW uploads both sqrt(bias2) and its reciprocal and
// uses the one step() would on that device. Muon's p - lr*u and grad + momentum*buf use addcmul
// (on CUDA one fused multiply-add, like add(u, alpha); on CPU add() is an FMA and addcmul is not,
// so there the two forms differ in the last bit).
#include <cmath>

#include "pgolf/core/error.h"
#include "pgolf/optim/adamw.h"
#include "pgolf/optim/muon.h"
#include "pgolf/optim/optimizer_set.h"

namespace pgolf::optim {
namespace {

// Host values -> `dev` (fp32, same shape), a blocking copy: the source is host memory owned by
// the caller, and the stream is idle here anyway (the training loop has just read the loss).
void upload(torch::Tensor& dev, const std::vector<float>& host) {
  PGOLF_CHECK(dev.defined() && static_cast<size_t>(dev.numel()) == host.size(),
              "upload_step_scalars: prepare_captured_step() was not called (or the groups changed)");
  const auto src = torch::from_blob(const_cast<float*>(host.data()), dev.sizes(), torch::kFloat32);
  dev.copy_(src, /*non_blocking=*/false);
}

}  // namespace

// ---- AdamW ----

void AdamW::prepare_captured_step() {
  torch::NoGradGuard no_grad;
  captured_.clear();
  torch::Device device = torch::kCPU;
  for (size_t gi = 0; gi < groups_.size(); ++gi) {
    const auto& group = groups_[gi];
    for (size_t i = 0; i < group.params.size(); ++i) {
      const torch::Tensor& p = group.params[i];
      if (!p.grad().defined()) continue;
      State& s = state_[group.names[i]];
      if (!s.exp_avg.defined()) {
        s.exp_avg = torch::zeros_like(p, at::MemoryFormat::Preserve);
        s.exp_avg_sq = torch::zeros_like(p, at::MemoryFormat::Preserve);
      }
      if (captured_.empty()) device = p.device();
      captured_.push_back({gi, i, group.names[i]});
    }
  }
  step_scalars_ = torch::zeros({static_cast<int64_t>(captured_.size()), 4},
                               torch::TensorOptions().dtype(torch::kFloat32).device(device));
}

void AdamW::upload_step_scalars() {
  std::vector<float> host;
  host.reserve(captured_.size() * 4);
  for (const auto& c : captured_) {
    const double lr = groups_[c.group].lr;
    const double t = static_cast<double>(state_.at(c.name).step + 1);  // the step about to run
    const double bias1 = 1.0 - std::pow(opts_.beta1, t);
    const double bias2_sqrt = std::sqrt(1.0 - std::pow(opts_.beta2, t));
    host.push_back(static_cast<float>(1.0 - lr * opts_.weight_decay));
    host.push_back(static_cast<float>(-lr / bias1));
    host.push_back(static_cast<float>(bias2_sqrt));
    host.push_back(1.0f / static_cast<float>(bias2_sqrt));
  }
  upload(step_scalars_, host);
}

void AdamW::captured_step() {
  torch::NoGradGuard no_grad;
  for (size_t k = 0; k < captured_.size(); ++k) {
    const auto& c = captured_[k];
    torch::Tensor p = groups_[c.group].params[c.index];
    const torch::Tensor& grad = p.grad();
    PGOLF_CHECK(grad.defined(), "AdamW captured step: " << c.name << " has no gradient");
    State& s = state_.at(c.name);
    const torch::Tensor sc = step_scalars_[static_cast<int64_t>(k)];
    if (opts_.weight_decay != 0.0) p.mul_(sc[0]);
    s.exp_avg.mul_(opts_.beta1).add_(grad, 1.0 - opts_.beta1);
    s.exp_avg_sq.mul_(opts_.beta2).addcmul_(grad, grad, 1.0 - opts_.beta2);
    const torch::Tensor root = s.exp_avg_sq.sqrt();
    const torch::Tensor denom = (p.is_cuda() ? root * sc[3] : root / sc[2]).add_(opts_.eps);
    // step(): p + (-lr/bias1) * m / denom, evaluated as ((-lr/bias1) * m) / denom; the same here.
    p.addcdiv_(s.exp_avg * sc[1], denom);
  }
}

void AdamW::commit_captured_step() {
  for (const auto& c : captured_) state_.at(c.name).step += 1;
}

std::vector<torch::Tensor> AdamW::captured_state() const {
  std::vector<torch::Tensor> out;
  for (const auto& c : captured_) {
    out.push_back(groups_[c.group].params[c.index]);
    const State& s = state_.at(c.name);
    out.push_back(s.exp_avg);
    out.push_back(s.exp_avg_sq);
  }
  return out;
}

// ---- Muon ----

void Muon::prepare_captured_step() {
  PGOLF_CHECK_INPUT(!opts_.banked && !opts_.polar_express && !opts_.row_normalize,
                    "CUDA_GRAPHS=1 captures the PR #180 Muon only: set CUDA_GRAPHS=0 with "
                    "MUON_FORM=banked, MUON_NS_COEFFS=polar_express or MUON_ROW_NORMALIZE=1");
  PGOLF_CHECK_INPUT(!sharded_world(), "CUDA_GRAPHS=1 does not capture the sharded Muon: set "
                                      "CUDA_GRAPHS=0 or MUON_SHARDED=0");
  torch::NoGradGuard no_grad;
  const int world = comm_ ? comm_->world_size() : 1;
  const int rank = comm_ ? comm_->rank() : 0;
  captured_.assign(groups_.size(), {});
  torch::Device device = torch::kCPU;
  bool any = false;
  for (size_t gi = 0; gi < groups_.size(); ++gi) {
    const auto& group = groups_[gi];
    captured_[gi].assign(group.params.size(), false);
    for (size_t i = 0; i < group.params.size(); ++i) {
      const torch::Tensor& p = group.params[i];
      if (!any) device = p.device();
      any = true;
      if (static_cast<int>(i % world) != rank || !p.grad().defined()) continue;
      torch::Tensor& buf = momentum_[group.names[i]];
      if (!buf.defined()) buf = torch::zeros_like(p.grad(), at::MemoryFormat::Preserve);
      captured_[gi][i] = true;
    }
  }
  step_scalars_ = torch::zeros({static_cast<int64_t>(groups_.size()), 3},
                               torch::TensorOptions().dtype(torch::kFloat32).device(device));
}

void Muon::upload_step_scalars() {
  std::vector<float> host;
  for (const auto& g : groups_) {
    host.push_back(static_cast<float>(g.momentum));
    host.push_back(static_cast<float>(1.0 - g.lr * opts_.weight_decay));
    host.push_back(static_cast<float>(-g.lr));
  }
  upload(step_scalars_, host);
}

void Muon::captured_step() {
  torch::NoGradGuard no_grad;
  const int world = comm_ ? comm_->world_size() : 1;
  PGOLF_CHECK(captured_.size() == groups_.size(), "Muon captured step: not prepared");
  for (size_t gi = 0; gi < groups_.size(); ++gi) {
    auto& group = groups_[gi];
    if (group.params.empty()) continue;
    const torch::Tensor sc = step_scalars_[static_cast<int64_t>(gi)];
    int64_t total = 0;
    for (const auto& p : group.params) total += p.numel();
    torch::Tensor flat = torch::zeros(
        {total}, torch::TensorOptions().dtype(opts_.ns_dtype).device(group.params[0].device()));
    int64_t offset = 0;
    for (size_t i = 0; i < group.params.size(); ++i) {
      const torch::Tensor& p = group.params[i];
      const int64_t n = p.numel();
      if (captured_[gi][i]) {
        const torch::Tensor& grad = p.grad();
        PGOLF_CHECK(grad.defined(), "Muon captured step: " << group.names[i] << " has no gradient");
        torch::Tensor& buf = momentum_.at(group.names[i]);
        buf.mul_(sc[0]).add_(grad);
        torch::Tensor u = opts_.nesterov ? torch::addcmul(grad, buf, sc[0]) : grad;
        u = newton_schulz5(u, opts_.backend_steps, 1e-7, opts_.bf16_coeffs, opts_.ns_dtype);
        const double ratio = static_cast<double>(p.size(0)) / static_cast<double>(p.size(1));
        u.mul_(std::sqrt(std::max(1.0, ratio)));
        flat.narrow(0, offset, n).copy_(u.reshape({-1}));
      }
      offset += n;
    }
    if (world > 1) comm_->all_reduce_sum(flat);
    offset = 0;
    for (auto& p : group.params) {
      const int64_t n = p.numel();
      const torch::Tensor u = flat.narrow(0, offset, n).view_as(p).to(p.scalar_type());
      if (opts_.weight_decay > 0) p.mul_(sc[1]);
      p.addcmul_(u, sc[2]);  // p - lr * u
      offset += n;
    }
  }
}

void Muon::commit_captured_step() { ++steps_; }

std::vector<torch::Tensor> Muon::captured_state() const {
  std::vector<torch::Tensor> out;
  for (size_t gi = 0; gi < groups_.size(); ++gi)
    for (size_t i = 0; i < groups_[gi].params.size(); ++i) {
      out.push_back(groups_[gi].params[i]);
      if (gi < captured_.size() && captured_[gi][i]) out.push_back(momentum_.at(groups_[gi].names[i]));
    }
  return out;
}

// ---- OptimizerSet ----

void OptimizerSet::prepare_captured_step() {
  for (auto& [label, opt] : optimizers_) opt->prepare_captured_step();
}

void OptimizerSet::upload_step_scalars() {
  for (auto& [label, opt] : optimizers_) opt->upload_step_scalars();
}

void OptimizerSet::captured_step() {
  for (auto& [label, opt] : optimizers_) opt->captured_step();
}

void OptimizerSet::commit_captured_step() {
  for (auto& [label, opt] : optimizers_) opt->commit_captured_step();
}

std::vector<torch::Tensor> OptimizerSet::captured_state() const {
  std::vector<torch::Tensor> out;
  for (const auto& [label, opt] : optimizers_)
    for (auto& t : opt->captured_state()) out.push_back(t);
  return out;
}

}  // namespace pgolf::optim
