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
// rounding once gives the same contract as a bf16 GEMM with an fp32 accumulator. `native`
// (MUON_NS_DTYPE=bf16_native) calls the CPU's own bf16 GEMM, as the reference's `X @ X.T` does
// on a CPU: 1.6-2.6x faster from 128x128 up with AVX512-BF16, rounding differs in a few elements.
torch::Tensor bf16_mm(const torch::Tensor& a, const torch::Tensor& b, bool native = false) {
  if (a.is_cuda() || native) return a.mm(b);
  return a.to(torch::kFloat32).mm(b.to(torch::kFloat32)).to(torch::kBFloat16);
}

// Batched form of bf16_mm ((n,r,k) x (n,k,c)); on CPU bit-identical to torch 2.15's bf16 bmm on
// the frontier_muon vectors.
torch::Tensor bf16_bmm(const torch::Tensor& a, const torch::Tensor& b) {
  if (a.is_cuda()) return a.bmm(b);
  return a.to(torch::kFloat32).bmm(b.to(torch::kFloat32)).to(torch::kBFloat16);
}

double bf16_round(double v) {
  return static_cast<double>(static_cast<float>(c10::BFloat16(static_cast<float>(v))));
}

// sqrt(max(1, rows/cols)) of a matrix or of each matrix of a bank.
double update_scale(const torch::Tensor& p) {
  const double ratio = static_cast<double>(p.size(-2)) / static_cast<double>(p.size(-1));
  return std::sqrt(std::max(1.0, ratio));
}

}  // namespace

torch::Tensor newton_schulz5(const torch::Tensor& g, int64_t steps, double eps, bool bf16_coeffs,
                             torch::ScalarType dtype, bool native_gemm) {
  if (g.dim() == 3) {  // a bank (MUON_FORM=banked): each matrix alone, as the unbanked records
    std::vector<torch::Tensor> mats;
    for (int64_t i = 0; i < g.size(0); ++i)
      mats.push_back(newton_schulz5(g[i], steps, eps, bf16_coeffs, dtype, native_gemm));
    return torch::stack(mats);
  }
  PGOLF_CHECK(g.dim() == 2, "newton_schulz5: expected a 2-D matrix or a 3-D bank, found shape "
                                << g.sizes());
  PGOLF_CHECK(dtype == torch::kBFloat16 || dtype == torch::kFloat32,
              "newton_schulz5: dtype must be bf16 or fp32, found " << dtype);
  torch::NoGradGuard no_grad;
  const auto mm = [dtype, native_gemm](const torch::Tensor& a, const torch::Tensor& b) {
    return dtype == torch::kBFloat16 ? bf16_mm(a, b, native_gemm) : a.mm(b);
  };
  torch::Tensor x = g.to(dtype);
  x = x / (x.norm() + eps);  // bf16 norm, bf16 (norm + eps), bf16 division
  const bool transposed = g.size(0) > g.size(1);
  if (transposed) x = x.t();  // work on the wide side: A is min(rows, cols) square
  const double ca = bf16_coeffs ? bf16_round(kNsA) : kNsA;
  const double cb = bf16_coeffs ? bf16_round(kNsB) : kNsB;
  const double cc = bf16_coeffs ? bf16_round(kNsC) : kNsC;
  const bool emulated = dtype == torch::kBFloat16 && !native_gemm && !x.is_cuda();
  for (int64_t i = 0; i < steps; ++i) {
    if (emulated) {  // bf16_mm's products, each bf16 operand widened once (X serves twice)
      const auto x32 = x.to(torch::kFloat32);
      const torch::Tensor a = x32.mm(x32.t()).to(torch::kBFloat16);
      const auto aa = (a * cc).to(torch::kFloat32).mm(a.to(torch::kFloat32));
      const torch::Tensor b = a * cb + aa.to(torch::kBFloat16);
      x = x * ca + b.to(torch::kFloat32).mm(x32).to(torch::kBFloat16);
      continue;
    }
    torch::Tensor a = mm(x, x.t());
    torch::Tensor b = a * cb + mm(a * cc, a);  // the reference's `c * A @ A` is (c*A) @ A
    x = x * ca + mm(b, x);
  }
  return transposed ? x.t() : x;
}

torch::Tensor polar_express_ns(const torch::Tensor& g, int64_t steps, double eps,
                               torch::ScalarType dtype) {
  PGOLF_CHECK(g.dim() == 2 || g.dim() == 3,
              "polar_express_ns: expected a matrix or a bank of matrices, found shape " << g.sizes());
  PGOLF_CHECK(dtype == torch::kBFloat16 || dtype == torch::kFloat32,
              "polar_express_ns: dtype must be bf16 or fp32, found " << dtype);
  torch::NoGradGuard no_grad;
  const auto mm = [dtype](const torch::Tensor& a, const torch::Tensor& b) {
    return dtype == torch::kBFloat16 ? bf16_bmm(a, b) : a.bmm(b);
  };
  torch::Tensor x = g.to(dtype);
  if (g.dim() == 2) x = x.unsqueeze(0);  // (n, rows, cols)
  const bool transposed = x.size(-2) > x.size(-1);
  if (transposed) x = x.transpose(-2, -1);  // the record transposes before taking the norm
  x = x / (x.norm(2, {-2, -1}, /*keepdim=*/true) + eps);  // per matrix, in `dtype`
  const int64_t n = std::min<int64_t>(steps, 5);
  for (int64_t i = 0; i < n; ++i) {
    const double a = kPolarExpress[i][0], b = kPolarExpress[i][1], c = kPolarExpress[i][2];
    const torch::Tensor A = mm(x, x.transpose(-2, -1));
    const torch::Tensor B = A * b + mm(A, A) * c;  // b*A + c*(A@A)
    x = x * a + mm(B, x);
  }
  if (transposed) x = x.transpose(-2, -1);
  return g.dim() == 2 ? x.squeeze(0) : x;
}

torch::Tensor row_normalize(const torch::Tensor& u) {
  const auto rn = u.to(torch::kFloat32).norm(2, {-1}, /*keepdim=*/true).clamp_min(1e-7);
  return u / rn.to(u.scalar_type());
}

Muon::Muon(std::vector<ParamGroup> groups, const MuonOptions& opts, dist::Comm* comm)
    : Optimizer(std::move(groups)), opts_(opts), comm_(comm) {
  PGOLF_CHECK_INPUT(opts.backend_steps >= 1,
                    "MUON_BACKEND_STEPS: expected >= 1, found " << opts.backend_steps);
  for (const auto& g : groups_)
    for (size_t i = 0; i < g.params.size(); ++i)
      PGOLF_CHECK(g.params[i].dim() == 2 || (opts.banked && g.params[i].dim() == 3),
                  "Muon: param " << g.names[i] << " has shape " << g.params[i].sizes()
                                 << "; only 2-D matrices (3-D banks with MUON_FORM=banked) are "
                                    "allowed");
}

void Muon::set_momentum(double momentum) {
  for (auto& g : groups_) g.momentum = momentum;
}

torch::Tensor Muon::matrix_update(const torch::Tensor& grad, const std::string& key,
                                  double momentum) {
  // banked: the record casts the grad first, so momentum and update live in the NS dtype.
  const torch::Tensor g = opts_.banked ? grad.to(opts_.ns_dtype) : grad;
  torch::Tensor& buf = momentum_[key];
  if (!buf.defined()) buf = torch::zeros_like(g, at::MemoryFormat::Preserve);
  if (opts_.banked) {
    // LibTorch's in-place mul_(Scalar) rounds the scalar to a bf16 tensor's dtype (0.92003 ->
    // 0.921875); Python's buf.mul_(0.92003) multiplies in fp32. The out-of-place product
    // keeps the fp32 scalar, then rounds once, as the record's buffer does.
    buf.copy_(buf * momentum);
    buf.add_(g);
  } else {
    buf.mul_(momentum).add_(g);
  }
  // Without Nesterov the reference orthogonalises the raw gradient (the buffer then only
  // accumulates) and the banked record the buffer; kept as they are for fidelity.
  torch::Tensor u = opts_.nesterov ? g.add(buf, momentum) : (opts_.banked ? buf : g);
  if (opts_.row_normalize) u = row_normalize(u);
  u = opts_.polar_express
          ? polar_express_ns(u, opts_.backend_steps, 1e-7, opts_.ns_dtype)
          : newton_schulz5(u, opts_.backend_steps, 1e-7, opts_.bf16_coeffs, opts_.ns_dtype,
                           opts_.native_gemm);
  if (!opts_.banked) u.mul_(update_scale(grad));  // in the NS dtype, like `g *= ...` on its output
  return u;
}

void Muon::apply_update(torch::Tensor& p, const torch::Tensor& u, double lr) const {
  if (opts_.weight_decay > 0) p.mul_(1.0 - lr * opts_.weight_decay);
  if (opts_.banked) {
    // p.add_(update, alpha=-lr*scale) on the NS-dtype update, as the record (one fp32 FMA).
    p.add_(u, -lr * update_scale(p));
  } else {
    p.add_(u.to(p.scalar_type()), -lr);
  }
}

void Muon::fill_updates(ParamGroup& group, torch::Tensor& flat, int rank, int world) {
  int64_t offset = 0;
  for (size_t i = 0; i < group.params.size(); ++i) {
    const int64_t n = group.params[i].numel();
    const torch::Tensor& grad = group.params[i].grad();
    if (static_cast<int>(i % world) == rank && grad.defined()) {
      const torch::Tensor u = matrix_update(grad, group.names[i], group.momentum);
      flat.narrow(0, offset, n).copy_(u.reshape({-1}));
    }
    offset += n;
  }
}

void Muon::step() {
  torch::NoGradGuard no_grad;
  if (sharded_world()) {
    if (grad_shards_.empty()) reduce_scatter_grads();
    for (size_t gi = 0; gi < groups_.size(); ++gi)
      if (!groups_[gi].params.empty()) sharded_step(groups_[gi], grad_shards_[gi]);
    grad_shards_.clear();  // consumed: the next step reduces its own grads
    ++steps_;
    return;
  }
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
    int64_t offset = 0;
    for (auto& p : group.params) {
      const int64_t n = p.numel();
      apply_update(p, flat.narrow(0, offset, n).view_as(p), group.lr);
      offset += n;
    }
  }
  ++steps_;
}

core::NamedTensors Muon::state_tensors() const {
  core::NamedTensors out;
  for (const auto& group : groups_)
    for (size_t i = 0; i < group.names.size(); ++i) {
      const std::string& name = group.names[i];
      auto it = momentum_.find(name);
      if (it == momentum_.end()) continue;
      const bool shard = sharded_world() && group.params[i].dim() == 3;
      out.emplace_back(name + (shard ? ".momentum_shard" : ".momentum_buffer"), it->second);
    }
  return out;
}

nlohmann::json Muon::state_meta() const {
  return {{"type", "muon"}, {"version", 1}, {"steps", steps_},
          {"world_size", comm_ ? comm_->world_size() : 1}, {"rank", comm_ ? comm_->rank() : 0},
          {"sharded", sharded_world()}};
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
  // Sharded and unsharded ranks own different matrices (MUON_SHARDED must match to resume).
  PGOLF_CHECK_INPUT(meta.value("sharded", false) == sharded_world(),
                    what << ": saved with MUON_SHARDED " << (sharded_world() ? "off" : "on")
                         << ", loading with it " << (sharded_world() ? "on" : "off")
                         << " (resume with the same MUON_SHARDED)");
  std::map<std::string, torch::Tensor> loaded;
  const std::string shard_suffix = ".momentum_shard", buffer_suffix = ".momentum_buffer";
  const auto ends_with = [](const std::string& key, const std::string& suffix) {
    return key.size() > suffix.size() &&
           key.compare(key.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  for (const auto& [key, value] : tensors) {
    if (ends_with(key, shard_suffix)) {
      const std::string name = key.substr(0, key.size() - shard_suffix.size());
      PGOLF_CHECK_INPUT(sharded_world(), what << ": '" << key << "' is a sharded buffer");
      loaded[name] = checked_state(tensors, key, momentum_shard_like(name), what);
      continue;
    }
    if (!ends_with(key, buffer_suffix)) continue;
    const std::string name = key.substr(0, key.size() - buffer_suffix.size());
    const torch::Tensor& p = param_named(name, what);
    // banked: the buffers are in the NS dtype (bf16), not the param's.
    loaded[name] = checked_state(tensors, key, opts_.banked ? p.to(opts_.ns_dtype) : p, what);
  }
  momentum_ = std::move(loaded);
  steps_ = meta.value("steps", int64_t{0});
}

void Muon::reset() {
  momentum_.clear();
  grad_shards_.clear();
  steps_ = 0;
}

}  // namespace pgolf::optim
