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
torch::Tensor newton_schulz5(const torch::Tensor& g, int64_t steps = 5, double eps = 1e-7,
                             bool bf16_coeffs = false,
                             torch::ScalarType dtype = torch::kBFloat16);

struct MuonOptions {
  int64_t backend_steps = 5;  // MUON_BACKEND_STEPS
  bool nesterov = true;
  double weight_decay = 0.0;  // decoupled: p *= 1 - lr*wd before the update
  bool bf16_coeffs = false;   // MUON_NS_COEFFS=bf16 (see newton_schulz5)
  torch::ScalarType ns_dtype = torch::kBFloat16;  // MUON_NS_DTYPE: NS and the flat update buffer
};

class Muon final : public Optimizer {
 public:
  // Every param must be 2-D. `comm` may be null (one process); otherwise it must outlive this.
  Muon(std::vector<ParamGroup> groups, const MuonOptions& opts, dist::Comm* comm);
  void step() override;
  void set_momentum(double momentum);  // every group, as the reference's loop does
  int64_t step_count() const { return steps_; }
  const MuonOptions& options() const { return opts_; }

  // "<name>.momentum_buffer" for the params this rank orthogonalises (the others have none).
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

  MuonOptions opts_;
  dist::Comm* comm_;
  std::map<std::string, torch::Tensor> momentum_;
  int64_t steps_ = 0;
  // CUDA graph capture (src/optim/captured_step.cpp): per group, which params this rank
  // orthogonalised at prepare time, and (groups, 3) fp32 device scalars momentum, 1 - lr*wd, -lr.
  std::vector<std::vector<bool>> captured_;
  torch::Tensor step_scalars_;
};

}  // namespace pgolf::optim
