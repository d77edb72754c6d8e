// Golden case access: discovers case folders (PGOLF_GOLDEN_ROOT and the colon-separated
// PGOLF_GOLDEN_DIRS), reads manifest.json and tensors.bin, and compares tensors with messages that
// name the tensor, the max abs/rel error and the first offending index.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

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

// Every case folder of `kind` (empty kind: every case), sorted by path.
std::vector<GoldenCase> discover(const std::string& kind = "");
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

}  // namespace pgolf::golden
