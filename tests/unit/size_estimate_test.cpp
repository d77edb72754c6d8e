// The analytic artifact size model (quant/size_estimate.h): its Gaussian order statistic and code
// entropy against sampling, the step rules, the calibration table against pgolf's own codecs, and
// the whole estimate against real exports of Gaussian weights (int6 row max + zstd, the 1/31
// floor, GPTQ SDClip + brotli with LQER).
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <string>

#include "pgolf/quant/container.h"
#include "pgolf/quant/export.h"
#include "pgolf/quant/size_estimate.h"

namespace pgolf::quant {
namespace {

TEST(SizeEstimateTest, AbsMaxMeanMatchesClosedFormAndSampling) {
  EXPECT_NEAR(gaussian_abs_max_mean(1), std::sqrt(2.0 / M_PI), 1e-6);
  torch::manual_seed(3);
  for (int64_t n : {64, 512, 2048}) {
    const double sampled = torch::randn({4000, n}).abs().amax(1).mean().item<double>();
    EXPECT_NEAR(gaussian_abs_max_mean(n), sampled, 0.015) << n;
  }
}

TEST(SizeEstimateTest, EntropyMatchesSampledCodes) {
  torch::manual_seed(4);
  const auto z = torch::randn({1 << 20});
  for (double step : {0.157, 0.4145, 1.6}) {
    const auto q = torch::clamp(torch::round(z / step), -31, 31).to(torch::kInt64) + 31;
    const auto p = torch::bincount(q, {}, 63).to(torch::kFloat64) / q.numel();
    const double sampled = -(p * torch::log2(p.clamp_min(1e-300))).sum().item<double>();
    EXPECT_NEAR(rounded_gaussian_entropy(step, -31, 31), sampled, 0.003) << step;
  }
  EXPECT_NEAR(rounded_gaussian_entropy(1e3, -31, 31), 0.0, 1e-6);
}

TEST(SizeEstimateTest, StepRules) {
  EXPECT_DOUBLE_EQ(code_step_over_sigma(CodeRule{31, 12.85, false}, 512, 0.01), 12.85 / 31);
  const CodeRule floor{31, 0, true};
  const double unbound = gaussian_abs_max_mean(512) / 31;
  EXPECT_NEAR(code_step_over_sigma(floor, 512, 1.0), unbound, 1e-12);  // max 3.25 > 1
  EXPECT_FALSE(floor_binds(floor, 512, 1.0));
  EXPECT_TRUE(floor_binds(floor, 512, 0.1));
  EXPECT_NEAR(code_step_over_sigma(floor, 512, 0.1), 1.0 / 3.1, 1e-12);
  EXPECT_NEAR(code_step_over_sigma(CodeRule{31, 0, false}, 512, 0.1), unbound, 1e-12);
}

// The table was measured with Python's codecs; pgolf's (libzstd, libbrotli, liblzma) must agree.
TEST(SizeEstimateTest, CalibrationHoldsForPgolfCodecs) {
  torch::manual_seed(5);
  const double step = 12.85 / 31;
  const auto q = torch::clamp(torch::round(torch::randn({1 << 20}) / step), -31, 31).to(torch::kInt8);
  const std::vector<char> raw(static_cast<const char*>(q.data_ptr()),
                              static_cast<const char*>(q.data_ptr()) + q.numel());
  const double entropy_bytes = rounded_gaussian_entropy(step, -31, 31) * q.numel() / 8;
  for (auto c : {config::Compressor::kZstd, config::Compressor::kBrotli, config::Compressor::kLzma}) {
    CompressOptions o;
    o.codec = c;
    o.checksum = false;
    const double measured = static_cast<double>(compress(raw, o).size()) / entropy_bytes;
    EXPECT_NEAR(measured, code_compress_factor(c, 3.3279), 0.01) << config::choice_name(c);
  }
}

core::NamedTensors gaussian_model(double std) {
  torch::manual_seed(6);
  core::NamedTensors sd;
  sd.emplace_back("tok_emb.weight", torch::randn({1024, 256}) * std);
  for (int i = 0; i < 3; ++i) {
    const std::string b = "blocks." + std::to_string(i);
    sd.emplace_back(b + ".attn.c_q.weight", torch::randn({256, 256}) * std);
    sd.emplace_back(b + ".attn.proj.weight", torch::randn({256, 256}) * std);
    sd.emplace_back(b + ".mlp.fc.weight", torch::randn({768, 256}) * std);
    sd.emplace_back(b + ".mlp.proj.weight", torch::randn({256, 768}) * std);
    sd.emplace_back(b + ".attn_scale", torch::ones({256}));
  }
  return sd;
}

double exported_bytes(const core::NamedTensors& sd, const config::QuantConfig& q) {
  const auto path = std::filesystem::temp_directory_path() / "pgolf_size_estimate_test.ptz";
  ExportOptions o;
  core::NamedTensors eye;
  if (q.quant_scheme == config::QuantScheme::kGptq) {
    for (const auto& [n, t] : sd)
      if (t.dim() == 2) eye.emplace_back(n, torch::eye(t.size(1)));
    o.hessians = &eye;
  }
  const auto rep = export_artifact(sd, q, path.string(), o);
  std::filesystem::remove(path);
  return static_cast<double>(rep.compressed_bytes);
}

TEST(SizeEstimateTest, EstimateWithinTwoPercentOfRealExports) {
  config::QuantConfig q;
  q.quant_scheme = config::QuantScheme::kInt6;
  q.int_cats = "mlp,attn";
  q.passthrough_max_numel = 4096;
  q.prune_pct = 0;
  for (double std : {1.0, 0.05}) {  // row max unbound / the 1/31 floor binding
    q.intn_scale_floor = std < 0.5 ? config::IntnScaleFloor::kInvClip : config::IntnScaleFloor::kFp16Tiny;
    const auto sd = gaussian_model(std);
    const double real = exported_bytes(sd, q);
    const double est = estimate_model_bytes(sd, q, SizeAssumptions{std}).total();
    EXPECT_NEAR(est / real, 1.0, 0.02) << "int6 std " << std << ": " << est << " vs " << real;
  }
  q.quant_scheme = config::QuantScheme::kGptq;
  q.compressor = config::Compressor::kBrotli;
  q.matrix_bits = 6;
  q.embed_bits = 8;
  q.lqer_enabled = true;
  const auto sd = gaussian_model(0.02);
  const double real = exported_bytes(sd, q);
  const double est = estimate_model_bytes(sd, q, SizeAssumptions{}).total();
  EXPECT_NEAR(est / real, 1.0, 0.02) << "gptq: " << est << " vs " << real;
}

}  // namespace
}  // namespace pgolf::quant
