// Muon and Newton-Schulz (see muon.h). Every op below rounds to bf16 exactly where the reference's
// eager PyTorch code does, so the golden newton_schulz vectors can match bit for bit.
#include "pgolf/optim/muon.h"

#include <algorithm>
#include <cmath>

#include "pgolf/core/error.h"

namespace pgolf::optim {

namespace {

// bf16 x bf16 -> bf16 with fp32 accumulation. On CPUs without native bf16 GEMM LibTorch falls
// back to a scalar reference kernel (~100x slower); multiplying the bf16 values in fp32 and
// rounding once gives the same contract as a bf16 GEMM with an fp32 accumulator.
torch::Tensor bf16_mm(const torch::Tensor& a, const torch::Tensor& b) {
  if (a.is_cuda()) return a.mm(b);
  return a.to(torch::kFloat32).mm(b.to(torch::kFloat32)).to(torch::kBFloat16);
}

double bf16_round(double v) {
  return static_cast<double>(static_cast<float>(c10::BFloat16(static_cast<float>(v))));
}

}  // namespace

torch::Tensor newton_schulz5(const torch::Tensor& g, int64_t steps, double eps, bool bf16_coeffs,
                             torch::ScalarType dtype) {
  PGOLF_CHECK(g.dim() == 2, "newton_schulz5: expected a 2-D matrix, found shape " << g.sizes());
  PGOLF_CHECK(dtype == torch::kBFloat16 || dtype == torch::kFloat32,
              "newton_schulz5: dtype must be bf16 or fp32, found " << dtype);
  torch::NoGradGuard no_grad;
  const auto mm = [dtype](const torch::Tensor& a, const torch::Tensor& b) {
    return dtype == torch::kBFloat16 ? bf16_mm(a, b) : a.mm(b);
  };
  torch::Tensor x = g.to(dtype);
  x = x / (x.norm() + eps);  // bf16 norm, bf16 (norm + eps), bf16 division
  const bool transposed = g.size(0) > g.size(1);
  if (transposed) x = x.t();  // work on the wide side: A is min(rows, cols) square
  const double ca = bf16_coeffs ? bf16_round(kNsA) : kNsA;
  const double cb = bf16_coeffs ? bf16_round(kNsB) : kNsB;
  const double cc = bf16_coeffs ? bf16_round(kNsC) : kNsC;
  for (int64_t i = 0; i < steps; ++i) {
    torch::Tensor a = mm(x, x.t());
    torch::Tensor b = a * cb + mm(a * cc, a);  // the reference's `c * A @ A` is (c*A) @ A
    x = x * ca + mm(b, x);
  }
  return transposed ? x.t() : x;
}

Muon::Muon(std::vector<ParamGroup> groups, const MuonOptions& opts, dist::Comm* comm)
    : Optimizer(std::move(groups)), opts_(opts), comm_(comm) {
  PGOLF_CHECK_INPUT(opts.backend_steps >= 1,
                    "MUON_BACKEND_STEPS: expected >= 1, found " << opts.backend_steps);
  for (const auto& g : groups_)
    for (size_t i = 0; i < g.params.size(); ++i)
      PGOLF_CHECK(g.params[i].dim() == 2, "Muon: param " << g.names[i] << " has shape "
                                                         << g.params[i].sizes()
                                                         << "; only 2-D matrices are allowed");
}

void Muon::set_momentum(double momentum) {
  for (auto& g : groups_) g.momentum = momentum;
}

void Muon::fill_updates(ParamGroup& group, torch::Tensor& flat, int rank, int world) {
  int64_t offset = 0;
  for (size_t i = 0; i < group.params.size(); ++i) {
    const torch::Tensor& p = group.params[i];
    const int64_t n = p.numel();
    const torch::Tensor& grad = p.grad();
    if (static_cast<int>(i % world) == rank && grad.defined()) {
      torch::Tensor& buf = momentum_[group.names[i]];
      if (!buf.defined()) buf = torch::zeros_like(grad, at::MemoryFormat::Preserve);
      buf.mul_(group.momentum).add_(grad);
      // Without Nesterov the reference orthogonalises the raw gradient (the buffer then only
      // accumulates); kept as is for fidelity.
      torch::Tensor u = opts_.nesterov ? grad.add(buf, group.momentum) : grad;
      u = newton_schulz5(u, opts_.backend_steps, 1e-7, opts_.bf16_coeffs, opts_.ns_dtype);
      const double ratio = static_cast<double>(p.size(0)) / static_cast<double>(p.size(1));
      u.mul_(std::sqrt(std::max(1.0, ratio)));  // in the NS dtype, like `g *= ...` on its output
      flat.narrow(0, offset, n).copy_(u.reshape({-1}));
    }
    offset += n;
  }
}

void Muon::step() {
  torch::NoGradGuard no_grad;
  const int world = comm_ ? comm_->world_size() : 1;
  const int rank = comm_ ? comm_->rank() : 0;
  for (auto& group : groups_) {
    if (group.params.empty()) continue;
    int64_t total = 0;
    for (const auto& p : group.params) total += p.numel();
    torch::Tensor flat = torch::zeros(
        {total}, torch::TensorOptions().dtype(opts_.ns_dtype).device(group.params[0].device()));
    fill_updates(group, flat, rank, world);
    if (world > 1) comm_->all_reduce_sum(flat);  // each slice is non-zero on exactly one rank
    const double lr = group.lr;
    int64_t offset = 0;
    for (auto& p : group.params) {
      const int64_t n = p.numel();
      torch::Tensor u = flat.narrow(0, offset, n).view_as(p).to(p.scalar_type());
      if (opts_.weight_decay > 0) p.mul_(1.0 - lr * opts_.weight_decay);
      p.add_(u, -lr);
      offset += n;
    }
  }
  ++steps_;
}

core::NamedTensors Muon::state_tensors() const {
  core::NamedTensors out;
  for (const auto& group : groups_)
    for (const auto& name : group.names) {
      auto it = momentum_.find(name);
      if (it != momentum_.end()) out.emplace_back(name + ".momentum_buffer", it->second);
    }
  return out;
}

nlohmann::json Muon::state_meta() const {
  return {{"type", "muon"}, {"version", 1}, {"steps", steps_},
          {"world_size", comm_ ? comm_->world_size() : 1}, {"rank", comm_ ? comm_->rank() : 0}};
}

void Muon::load_state(const core::NamedTensors& tensors, const nlohmann::json& meta) {
  const std::string what = "Muon state";
  PGOLF_CHECK_INPUT(meta.value("type", std::string()) == "muon",
                    what << ": expected meta type 'muon', found " << meta.dump());
  // Buffers are sharded by rank: a checkpoint only fits the same world size and rank.
  const int world = comm_ ? comm_->world_size() : 1, rank = comm_ ? comm_->rank() : 0;
  PGOLF_CHECK_INPUT(meta.value("world_size", 1) == world && meta.value("rank", 0) == rank,
                    what << ": saved by rank " << meta.value("rank", 0) << " of "
                         << meta.value("world_size", 1) << ", loading into rank " << rank
                         << " of " << world << " (resume with the same WORLD_SIZE)");
  std::map<std::string, torch::Tensor> loaded;
  const std::string suffix = ".momentum_buffer";
  for (const auto& [key, value] : tensors) {
    if (key.size() <= suffix.size() ||
        key.compare(key.size() - suffix.size(), suffix.size(), suffix) != 0)
      continue;
    const std::string name = key.substr(0, key.size() - suffix.size());
    loaded[name] = checked_state(tensors, key, param_named(name, what), what);
  }
  momentum_ = std::move(loaded);
  steps_ = meta.value("steps", int64_t{0});
}

void Muon::reset() {
  momentum_.clear();
  steps_ = 0;
}

}  // namespace pgolf::optim
