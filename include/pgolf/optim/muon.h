// Muon (reference-spec §5.2): Nesterov momentum, Newton-Schulz orthogonalisation in bf16, the
// sqrt(max(1, rows/cols)) scale and decoupled weight decay. With several ranks each rank
// orthogonalises params i % world == rank into a flat bf16 buffer that is then summed.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "pgolf/dist/comm.h"
#include "pgolf/optim/optimizer.h"

namespace pgolf::optim {

constexpr double kNsA = 3.4445, kNsB = -4.7750, kNsC = 2.0315;

// The reference's zeropower_via_newtonschulz5, op by op in bf16: X = G/(|G|_F + eps) (transposed
// when rows > cols), then `steps` times A = X X^T, B = b A + (c A) A, X = a X + B X. Returns bf16
// with G's shape. G must be 2-D; it is never modified.
// `bf16_coeffs` rounds a, b, c to bf16 before use. torch 1.13 on CPU (which produced the golden
// vectors) casts a Python scalar to the tensor's dtype for `b * A`; torch 2.x (the records' H100
// runs) multiplies in fp32 with the exact coefficients. The two differ by ~5% relative Frobenius,
// the size of bf16 Newton-Schulz noise, so both are legitimate; `exact` is the default.
// `dtype` kFloat32 runs the same iteration in fp32 (MUON_NS_DTYPE=fp32; not the reference): bf16
// rounding turns a one-ulp difference in G into a 2-10% difference in the output for
// ill-conditioned G, fp32 keeps it at rounding level.
// `native_gemm` (MUON_NS_DTYPE=bf16_native): bf16 products by the CPU's own bf16 GEMM instead of
// fp32 products rounded once (see bf16_mm in muon.cpp); CUDA always uses its bf16 GEMM.
torch::Tensor newton_schulz5(const torch::Tensor& g, int64_t steps = 5, double eps = 1e-7,
                             bool bf16_coeffs = false,
                             torch::ScalarType dtype = torch::kBFloat16, bool native_gemm = false);

// Polar-Express Newton-Schulz (MUON_NS_COEFFS=polar_express, the 1.0634/1.0611 records): G (2-D, or
// 3-D with a leading bank dim) in `dtype`, transposed when rows > cols, each matrix divided by its
// Frobenius norm + eps, then min(steps, 5) iterations with their own (a, b, c):
// A = X X^T, B = b A + c (A A), X = a X + B X. Returns `dtype` with G's shape.
constexpr double kPolarExpress[5][3] = {
    {8.156554524902461, -22.48329292557795, 15.878769915207462},
    {4.042929935166739, -2.808917465908714, 0.5000178451051316},
    {3.8916678022926607, -2.772484153217685, 0.5060648178503393},
    {3.285753657755655, -2.3681294933425376, 0.46449024233003106},
    {2.3465413258596377, -1.7097828382687081, 0.42323551169305323}};
torch::Tensor polar_express_ns(const torch::Tensor& g, int64_t steps = 5, double eps = 1e-7,
                               torch::ScalarType dtype = torch::kBFloat16);

// MuonEq-R (MUON_ROW_NORMALIZE): u / clamp_min(||u||_row, 1e-7), the norm taken in fp32 over
// the last dim and rounded to u's dtype before the division, as the records do.
torch::Tensor row_normalize(const torch::Tensor& u);

struct MuonOptions {
  int64_t backend_steps = 5;  // MUON_BACKEND_STEPS
  bool nesterov = true;
  double weight_decay = 0.0;  // decoupled: p *= 1 - lr*wd before the update
  bool bf16_coeffs = false;   // MUON_NS_COEFFS=bf16 (see newton_schulz5)
  torch::ScalarType ns_dtype = torch::kBFloat16;  // MUON_NS_DTYPE: NS and the flat update buffer
  bool native_gemm = false;  // MUON_NS_DTYPE=bf16_native (see newton_schulz5)
  bool polar_express = false;  // MUON_NS_COEFFS=polar_express (see polar_express_ns)
  bool row_normalize = false;  // MUON_ROW_NORMALIZE
  // MUON_FORM=banked (the 1.0611 record): g = grad in the NS dtype, momentum and the Nesterov
  // update kept in it, params may be 3-D banks (scale from the last two dims), and the
  // sqrt(max(1, rows/cols)) scale goes into the step size: p += -lr*scale * u. pr180 (default):
  // fp32 momentum of the fp32 grad, 2-D only, u *= scale in the NS dtype, p += -lr * u.
  bool banked = false;
  // MUON_SHARDED (the records' Parallel Muon, see sharded_muon.h): with > 1 rank, step() takes
  // the rank-local grads, reduce-scatters them, keeps momentum only for this rank's matrices and
  // all-gathers the updates; the grads of this optimiser's params must then not be averaged
  // elsewhere (GradSync skips them). With one rank it is the unsharded step, bit for bit.
  bool sharded = false;
};

class Muon final : public Optimizer {
 public:
  // Every param must be 2-D (3-D too when banked). `comm` may be null (one process); otherwise it must outlive this.
  Muon(std::vector<ParamGroup> groups, const MuonOptions& opts, dist::Comm* comm);
  void step() override;
  void set_momentum(double momentum);  // every group, as the reference's loop does
  // Decoupled weight decay from the next step on (WD_TAPER_*: the records retune it each step).
  void set_weight_decay(double wd) { opts_.weight_decay = wd; }
  int64_t step_count() const { return steps_; }
  const MuonOptions& options() const { return opts_; }

  // MUON_SHARDED with > 1 rank: this optimiser averages its params' grads itself.
  bool sharded_world() const { return opts_.sharded && comm_ && comm_->world_size() > 1; }
  // Sharded: reduce-scatters this step's rank-local grads now, so that the train step can take
  // their norm and clip them before step() (which otherwise does it itself). Else a no-op.
  void reduce_scatter_grads();
  // The L2 norm of the averaged grads the shards hold, over all ranks (all-reduced: the same on
  // every rank); needs reduce_scatter_grads() first.
  torch::Tensor sharded_grad_norm();
  // Multiplies the shards by `coef` (gradient clipping of the averaged grads).
  void scale_sharded_grads(const torch::Tensor& coef);

  // "<name>.momentum_buffer" for the params this rank orthogonalises (the others have none);
  // sharded, a bank's buffer holds only this rank's matrices: "<name>.momentum_shard".
  core::NamedTensors state_tensors() const override;
  nlohmann::json state_meta() const override;
  void load_state(const core::NamedTensors& tensors, const nlohmann::json& meta) override;
  void reset() override;

  void prepare_captured_step() override;
  void upload_step_scalars() override;
  void captured_step() override;
  void commit_captured_step() override;
  std::vector<torch::Tensor> captured_state() const override;

 private:
  // Writes this rank's updates of `group` into `flat` (zeros elsewhere).
  void fill_updates(ParamGroup& group, torch::Tensor& flat, int rank, int world);
  // Momentum of `grad` into momentum_[key], then Nesterov, row norm and Newton-Schulz: the
  // update in the NS dtype (pr180: times the shape scale). `grad` is 2-D or a 3-D bank (slice).
  torch::Tensor matrix_update(const torch::Tensor& grad, const std::string& key, double momentum);
  // Decoupled weight decay, then p += -lr (* the shape scale when banked) * u.
  void apply_update(torch::Tensor& p, const torch::Tensor& u, double lr) const;
  // MUON_SHARDED with world > 1 (src/optim/sharded_muon.cpp): the averaged grads of this rank's
  // chunks of `group`, then its step from them.
  torch::Tensor averaged_grad_shard(const ParamGroup& group) const;
  void sharded_step(ParamGroup& group, const torch::Tensor& shard);
  // Zeros shaped like this rank's momentum shard of bank `name` (checkpoint loading).
  torch::Tensor momentum_shard_like(const std::string& name) const;

  MuonOptions opts_;
  dist::Comm* comm_;
  std::map<std::string, torch::Tensor> momentum_;
  std::vector<torch::Tensor> grad_shards_;  // per group: reduce_scatter_grads() for next step()
  int64_t steps_ = 0;
  // CUDA graph capture (src/optim/captured_step.cpp): per group, which params this rank
  // orthogonalised at prepare time, and (groups, 3) fp32 device scalars momentum, 1 - lr*wd, -lr.
  std::vector<std::vector<bool>> captured_;
  torch::Tensor step_scalars_;
};

}  // namespace pgolf::optim
