// Golden case access: discovers case folders (PGOLF_GOLDEN_ROOT, default the in-tree
// tests/golden/cases with its seed/ and frontier/ sets, and the colon-separated
// PGOLF_GOLDEN_DIRS, each a case folder or a folder of them), reads manifest.json and
// tensors.bin, and compares tensors with messages that name the tensor, the max abs/rel error and
// the first offending index.
#pragma once

#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "pgolf/config/config.h"

namespace pgolf::golden {

class GoldenCase {
 public:
  explicit GoldenCase(std::string dir);
  const std::string& dir() const { return dir_; }
  std::string name() const { return manifest_.value("case", dir_); }
  std::string kind() const { return manifest_.at("kind").get<std::string>(); }
  const nlohmann::json& manifest() const { return manifest_; }
  const nlohmann::json& config() const { return manifest_.at("config"); }
  // Folder holding this case folder (tokenizer paths in configs are relative to it).
  std::string root() const;
  std::string path(const std::string& file) const { return dir_ + "/" + file; }

  bool has(const std::string& tensor) const;
  // Tensor as stored (bool, bf16, fp16, ...); "logical_dtype" float32 fp16 tensors come back fp32.
  torch::Tensor tensor(const std::string& name) const;
  std::vector<std::string> tensor_names() const;  // manifest order
  double scalar(const std::string& name) const;
  bool has_scalar(const std::string& name) const;

 private:
  std::string dir_;
  nlohmann::json manifest_;
  mutable std::shared_ptr<std::vector<uint8_t>> blob_;
};

// ModelConfig from a model case's manifest config (the reference's GPT arguments; BigramHash off
// unless the case sets bigram_vocab_size); SmearGate and U-Net skips on, as in every case.
config::ModelConfig model_config(const nlohmann::json& c);

// Every case folder of `kind` (empty kind: every case), sorted by path.
std::vector<GoldenCase> discover(const std::string& kind = "");
// Every case folder at or under `root` alone (no environment), sorted by path.
std::vector<GoldenCase> discover_in(const std::string& root);
// Case folder by name among all discovered roots (for train_steps' initial_weights_case).
GoldenCase find_case(const std::string& name, const std::string& near_dir);

// max |a-b| <= atol; reports name, max abs, max rel, first offending index.
::testing::AssertionResult all_close_abs(const std::string& name, const torch::Tensor& actual,
                                         const torch::Tensor& expected, double atol);
// ||a-b|| / ||b|| <= rtol (relative Frobenius).
::testing::AssertionResult rel_frobenius(const std::string& name, const torch::Tensor& actual,
                                         const torch::Tensor& expected, double rtol);
// Bit-for-bit equality (same dtype and shape, equal values; NaN never equal).
::testing::AssertionResult exactly_equal(const std::string& name, const torch::Tensor& actual,
                                         const torch::Tensor& expected);

// ---- Device option (scripts/gpu_check.sh) ----
// PGOLF_GOLDEN_DEVICE=cpu|cuda|cuda:N and PGOLF_GOLDEN_DTYPE=fp32|bf16 (unset: cpu, fp32, the
// vectors' own setting) run the cases that exercise pgolf's compute on that device and compute
// dtype: model_forward, newton_schulz (Newton-Schulz, Muon, the step-1 update), eval_bpb's
// evaluators and train_steps. bf16 is the training policy (bf16 autocast; norms, softmax and the
// loss in fp32; TF32 on CUDA); fp32 has TF32 off. init_stats and quantize_export stay on CPU:
// pgolf initialises on CPU and quantises/exports through CPU copies whatever the device.
// With a CUDA device, PGOLF_GOLDEN_FUSED_KERNELS=1 turns pgolf's fused kernels on (model_forward,
// eval_bpb, train_steps) and PGOLF_GOLDEN_CUDA_GRAPHS=1 captures train_steps' steps (CUDA_GRAPHS).
struct Target {
  torch::Device device = torch::kCPU;
  bool bf16 = false;
  bool fused_kernels = false, cuda_graphs = false;  // CUDA only
  bool available = true;  // false: the device is absent here (tests skip, saying so)
  bool malformed = false;  // a value that is not one of the above (tests fail)
  std::string why;         // reason when !available or malformed
  std::string name() const;  // e.g. "cuda:0/bf16+fused+graphs"
  bool is_default() const { return device.is_cpu() && !bf16 && !fused_kernels && !cuda_graphs; }
};
const Target& target();
// The bound for a check: `fp32_tol` (the golden README's, any device in fp32) or `bf16_tol` under
// PGOLF_GOLDEN_DTYPE=bf16. Every bf16 bound is stated and justified where it is used.
double tolerance(double fp32_tol, double bf16_tol);
// A case tensor moved to the target device (dtype unchanged).
torch::Tensor on_target(const torch::Tensor& t);

// In a test that honours the device option: fails on a malformed setting, skips loudly when the
// device is absent, and prints the target when it is not the default.
#define PGOLF_GOLDEN_REQUIRE_TARGET()                                                           \
  do {                                                                                          \
    const auto& golden_target_ = ::pgolf::golden::target();                                     \
    if (golden_target_.malformed) FAIL() << golden_target_.why;                                 \
    if (!golden_target_.available)                                                              \
      GTEST_SKIP() << "NOT RUN on " << golden_target_.name() << ": " << golden_target_.why;     \
    if (!golden_target_.is_default())                                                           \
      std::cout << "[ info ] golden target " << golden_target_.name() << "\n";                 \
  } while (0)

}  // namespace pgolf::golden
