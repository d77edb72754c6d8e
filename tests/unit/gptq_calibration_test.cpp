// GPTQ calibration (issue 20): the linear-input taps and HessianCollector (quant/hessians.h), AR
// self-generation and calibrate_gptq (train/calibration.h), and the TARGET_MB selective +-1
// pruning rule (quant/selective_prune.h).
#include <gtest/gtest.h>

#include <filesystem>
#include <set>

#include "common/tiny_model.h"
#include "pgolf/core/error.h"
#include "pgolf/data/shard.h"
#include "pgolf/model/dtype.h"
#include "pgolf/model/gpt.h"
#include "pgolf/model/gpt_banked.h"
#include "pgolf/model/layers.h"
#include "pgolf/quant/gptq_mixed.h"
#include "pgolf/quant/hessians.h"
#include "pgolf/quant/selective_prune.h"
#include "pgolf/train/calibration.h"

namespace pgolf {
namespace {

namespace fs = std::filesystem;

struct TwoLinears : torch::nn::Module {
  TwoLinears() {
    a = register_module("a", model::CastedLinear(6, 5));
    b = register_module("b", model::CastedLinear(5, 3));
    emb = register_module("emb", torch::nn::Embedding(9, 4));
  }
  torch::Tensor forward(const torch::Tensor& x) { return b(a(x)); }
  model::CastedLinear a{nullptr}, b{nullptr};
  torch::nn::Embedding emb{nullptr};
};

TEST(HessianCollectorTest, CastedLinearInputsGiveXtXOverForwards) {
  torch::manual_seed(1);
  auto m = std::make_shared<TwoLinears>();
  const core::NamedTensors targets = {{"a.weight", m->a->weight}, {"b.weight", m->b->weight}};
  std::vector<torch::Tensor> xs = {torch::randn({2, 4, 6}), torch::randn({2, 4, 6})};
  std::vector<std::string> identity;
  const auto h = quant::collect_hessians(
      *m, [&](const torch::Tensor& x) { m->forward(x); }, [&](int64_t i) { return xs[i]; }, 2,
      targets, &identity);
  ASSERT_EQ(h.size(), 2u);
  auto want_a = torch::zeros({6, 6}), want_b = torch::zeros({5, 5});
  torch::NoGradGuard ng;
  for (const auto& x : xs) {
    const auto x2 = x.reshape({-1, 6});
    want_a += x2.t().mm(x2);
    const auto y = m->a(x).reshape({-1, 5});
    want_b += y.t().mm(y);
  }
  EXPECT_EQ(h[0].first, "a.weight");
  EXPECT_TRUE(torch::allclose(h[0].second, want_a / 2, 1e-5, 1e-5));
  EXPECT_TRUE(torch::allclose(h[1].second, want_b / 2, 1e-5, 1e-5));
  EXPECT_TRUE(identity.empty());
  // No sink outside the scope: a forward records nothing.
  EXPECT_EQ(model::linear_tap(), nullptr);
}

TEST(HessianCollectorTest, LookupTablesGetIdentityAndUnreachedLinearsAreErrors) {
  auto m = std::make_shared<TwoLinears>();
  const core::NamedTensors with_emb = {{"emb.weight", m->emb->weight}};
  std::vector<std::string> identity;
  const auto h = quant::collect_hessians(
      *m, [&](const torch::Tensor& x) { m->forward(x); },
      [](int64_t) { return torch::randn({1, 2, 6}); }, 1, with_emb, &identity);
  EXPECT_TRUE(h[0].second.equal(torch::eye(4)));
  EXPECT_EQ(identity, std::vector<std::string>{"emb.weight"});
  // A linear that no forward reaches (b is skipped here) is an input error naming it.
  const core::NamedTensors with_b = {{"b.weight", m->b->weight}};
  try {
    quant::collect_hessians(
        *m, [&](const torch::Tensor& x) { m->a(x); }, [](int64_t) { return torch::randn({1, 6}); },
        1, with_b);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("b.weight"), std::string::npos) << e.what();
  }
}

TEST(HessianCollectorTest, SharedInputIsAccumulatedForEachNameAndWidthIsChecked) {
  TwoLinears m;
  const core::NamedTensors t = {{"q", torch::zeros({2, 3})}, {"k", torch::zeros({4, 3})}};
  quant::HessianCollector c(m, t);
  const auto x = torch::randn({5, 3});
  c.add({"q", "k", "not_wanted"}, x);
  const auto h = c.finish(1);
  EXPECT_TRUE(h[0].second.equal(h[1].second));
  EXPECT_TRUE(torch::allclose(h[0].second, x.t().mm(x), 1e-5, 1e-5));
  EXPECT_THROW(c.add({"q"}, torch::randn({5, 4})), Error);
}

// Every matrix the gptq export quantises gets a Hessian from both GPTs' taps.
TEST(HessianCollectorTest, BothGptsTapEveryQuantisedMatrix) {
  config::QuantConfig q;
  q.quant_scheme = config::QuantScheme::kGptq;
  q.passthrough_max_numel = 100;  // the tiny matrices (>= 512 entries), not the gains and mixes
  for (const bool banked : {false, true}) {
    SCOPED_TRACE(banked ? "banked" : "PR #180 GPT");
    torch::manual_seed(3);
    auto cfg = testing::tiny_model_config(64);
    cfg.param_banks = banked;
    cfg.smear_gate = !banked;  // the old SmearGate is the PR #180 GPT's
    std::shared_ptr<torch::nn::Module> mod;
    std::function<void(const torch::Tensor&)> fwd;
    core::NamedTensors sd;
    if (banked) {
      model::BankedGPT g(cfg);
      testing::randomize_parameters(*g, 0.1);
      mod = g.ptr();
      fwd = [g](const torch::Tensor& ids) mutable { g->forward_logits(ids); };
      sd = quant::unbank_state_dict(g->state_dict());
    } else {
      model::GPT g(cfg);
      testing::randomize_parameters(*g, 0.1);
      mod = g.ptr();
      fwd = [g](const torch::Tensor& ids) mutable { g->forward_logits(ids); };
      sd = g->state_dict();
    }
    core::NamedTensors targets;
    for (const auto& n : quant::gptq_weight_names(sd, q))
      if (core::find_tensor(sd, n)->dim() == 2) targets.emplace_back(n, *core::find_tensor(sd, n));
    ASSERT_GE(targets.size(), 13u);  // 2 layers x (q, k, v, proj, fc, mlp.proj) + tok_emb
    mod->eval();
    std::vector<std::string> identity;
    const auto h = quant::collect_hessians(
        *mod, fwd, [](int64_t) { return torch::randint(0, 64, {2, 8}); }, 2, targets, &identity);
    EXPECT_TRUE(identity.empty());
    for (const auto& [name, t] : h) {
      EXPECT_TRUE(torch::allclose(t, t.t(), 1e-5, 1e-6)) << name;
      EXPECT_GT(t.diagonal().min().item<double>(), 0.0) << name;
    }
    // c_q, c_k and c_v read one input.
    EXPECT_TRUE(core::find_tensor(h, "blocks.0.attn.c_q.weight")
                    ->allclose(*core::find_tensor(h, "blocks.0.attn.c_k.weight")));
  }
}

std::string shard_dir(const std::string& name, const std::vector<int64_t>& sizes) {
  const auto d = (fs::temp_directory_path() / ("pgolf_calib_" + name)).string();
  fs::remove_all(d);
  fs::create_directories(d);
  int64_t base = 0;
  for (size_t i = 0; i < sizes.size(); ++i) {
    std::vector<uint16_t> toks(static_cast<size_t>(sizes[i]));
    for (size_t t = 0; t < toks.size(); ++t) toks[t] = static_cast<uint16_t>((base + t * 7) % 64);
    base += sizes[i];
    data::write_shard(d + "/train_" + std::to_string(i) + ".bin", toks);
  }
  return d;
}

TEST(ArCalibrationTest, SamplesFromTheModelWithOneSeededGenerator) {
  const int64_t V = 7;
  // All mass on (last token + 1) mod V: after a uniform first token the sequence is determined.
  auto next = [&](const torch::Tensor& ids) {
    auto z = torch::full({ids.size(0), ids.size(1), V}, -1e9);
    const auto tgt = (ids + 1).remainder(V);
    return z.scatter(2, tgt.unsqueeze(-1), 0.0);
  };
  const auto a = train::generate_calibration_tokens(next, V, 5, 6, 0.8, 2, 42, torch::kCPU);
  ASSERT_EQ(a.sizes(), (std::vector<int64_t>{5, 6}));
  for (int64_t b = 0; b < 5; ++b)
    for (int64_t t = 1; t < 6; ++t)
      EXPECT_EQ(a[b][t].item<int64_t>(), (a[b][t - 1].item<int64_t>() + 1) % V);
  EXPECT_TRUE(train::generate_calibration_tokens(next, V, 5, 6, 0.8, 2, 42, torch::kCPU).equal(a));
  // Uniform logits: tokens in range, and another seed draws other tokens.
  auto flat = [&](const torch::Tensor& ids) { return torch::zeros({ids.size(0), ids.size(1), V}); };
  const auto u1 = train::generate_calibration_tokens(flat, V, 4, 16, 1.0, 4, 1, torch::kCPU);
  const auto u2 = train::generate_calibration_tokens(flat, V, 4, 16, 1.0, 4, 2, torch::kCPU);
  EXPECT_GE(u1.min().item<int64_t>(), 0);
  EXPECT_LT(u1.max().item<int64_t>(), V);
  EXPECT_FALSE(u1.equal(u2));
}

TEST(CalibrateGptqTest, TrainingBatchesAndSelfGenerationBothCoverTheQuantisedMatrices) {
  const auto d = shard_dir("calib", {3000});
  config::Config cfg;
  cfg.model = testing::tiny_model_config(64);
  cfg.model.param_banks = true;
  cfg.model.smear_gate = false;
  cfg.quant.quant_scheme = config::QuantScheme::kGptq;
  cfg.quant.passthrough_max_numel = 100;
  cfg.quant.gptq_calibration_batches = 3;
  cfg.quant.gptq_calib_samples = 2;
  cfg.quant.gptq_batch_size = 2;
  cfg.train.train_seq_len = 16;
  cfg.train.train_batch_tokens = 8 * 32;  // 32 tokens per forward = 2 sequences
  torch::manual_seed(5);
  model::BankedGPT g(cfg.model);
  testing::randomize_parameters(*g, 0.1);
  train::CalibrationSetup setup;
  setup.train_files = {d + "/train_0.bin"};
  auto logits = [&](const torch::Tensor& ids) { return g->forward_logits(ids); };
  for (const bool ar : {false, true}) {
    SCOPED_TRACE(ar ? "AR" : "train");
    cfg.quant.gptq_ar_selfgen = ar;
    train::CalibrationReport rep;
    g->train();
    const auto h = train::calibrate_gptq(*g, logits, g->state_dict(), cfg, setup, &rep);
    EXPECT_TRUE(g->is_training());  // restored
    EXPECT_EQ(rep.forwards, ar ? 2 : 3);
    EXPECT_EQ(rep.tokens, ar ? 2 * 15 : 3 * 2 * 16);  // AR: seq[:, :-1]; train: 2 rows of 16
    EXPECT_EQ(rep.sequences, ar ? 2 : 3 * 2);
    EXPECT_EQ(rep.hessians, static_cast<int64_t>(h.size()));
    EXPECT_NE(core::find_tensor(h, "blocks.1.mlp.proj.weight"), nullptr);
    EXPECT_NE(core::find_tensor(h, "tok_emb.weight"), nullptr);
    const auto lines = train::calibration_lines(rep, 1000.0, 600.0);
    EXPECT_NE(lines.back().find(ar ? "source:ar_selfgen" : "calibration_end:"), std::string::npos)
        << lines.back();
  }
}

// Issue 20: the PR #180 GPT's smoke export failed ("the damped Hessian of a (128, 128) weight is not
// positive definite", blocks.2.attn.proj): the forward runs under bf16 autocast (DTYPE=auto on a
// bf16 CPU or CUDA) and the taps' X^T X mm was autocast to bf16, so H lost its PSD-ness. Under
// autocast every Hessian must still be fp32, symmetric and PSD, and the gptq export must succeed.
TEST(CalibrateGptqTest, UnbankedGptUnderBf16AutocastGivesFp32PsdHessiansThatExport) {
  const auto d = shard_dir("calib_pr180", {3000});
  config::Config cfg;
  cfg.model = testing::tiny_model_config(64);
  cfg.model.bigram_vocab_size = 32;  // the PR #180 GPT: BigramHash, SmearGate, U-Net skips
  cfg.model.bigram_dim = 8;
  cfg.model.smear_gate = true;
  cfg.model.num_layers = 4;
  cfg.quant.quant_scheme = config::QuantScheme::kGptq;
  cfg.quant.passthrough_max_numel = 100;
  cfg.quant.gptq_calibration_batches = 3;
  cfg.train.train_seq_len = 16;
  cfg.train.train_batch_tokens = 8 * 32;
  torch::manual_seed(7);
  model::GPT g(cfg.model);
  testing::randomize_parameters(*g, 0.1);
  train::CalibrationSetup setup;
  setup.train_files = {d + "/train_0.bin"};
  auto logits = [&](const torch::Tensor& ids) {
    model::ComputeScope scope(model::DtypePolicy::kBf16, torch::kCPU);
    return g->forward_logits(ids);
  };
  const auto sd = g->state_dict();
  const auto h = train::calibrate_gptq(*g, logits, sd, cfg, setup, nullptr);
  const auto names = quant::gptq_weight_names(sd, cfg.quant);
  ASSERT_GE(names.size(), 26u);  // 4 layers x 6 + tok_emb + bigram.embed
  for (const auto& name : names) {
    const auto* t = core::find_tensor(h, name);
    ASSERT_NE(t, nullptr) << name;
    ASSERT_EQ(t->scalar_type(), torch::kFloat32) << name;
    EXPECT_TRUE(t->equal(t->t())) << name;
    const auto eig = torch::linalg_eigvalsh(t->to(torch::kFloat64));
    EXPECT_GE(eig.min().item<double>(), -1e-5 * eig.max().item<double>()) << name;
  }
  const auto q = quant::gptq_mixed_quantize(sd, h, cfg.quant);
  EXPECT_TRUE(quant::is_gptq_meta(q.meta));
}

quant::QuantResult toy_result() {
  quant::QuantResult q;
  q.w.emplace_back("a.q", torch::tensor({1, -1, 2, 0, 1, 3}, torch::kInt8).view({2, 3}));
  q.w.emplace_back("a.scale", torch::tensor({0.5, 0.1}, torch::kFloat16));
  q.w.emplace_back("b", torch::tensor({1.0, -1.0}, torch::kFloat16));  // passthrough: not pruned
  q.w.emplace_back("c.q", torch::tensor({-1, 1}, torch::kInt8).view({1, 2}));
  q.w.emplace_back("c.scale", torch::tensor({0.1}, torch::kFloat16));
  q.meta = {{"a", {"gptq (int6)"}}, {"b", {"passthrough (float16)"}}, {"c", {"gptq (int7)+lqer"}}};
  return q;
}

TEST(SelectivePruneTest, CandidatesByScaleSquaredThenTensorAndIndexOrder) {
  const auto q = toy_result();
  const auto c = quant::plus_minus_one_candidates(q);
  ASSERT_EQ(c.size(), 5u);
  // Row 1 of a (scale 0.1): index 4; then c (0.1): 0, 1; then row 0 of a (0.5): 0, 1.
  const std::vector<std::pair<size_t, int64_t>> want = {{0, 4}, {3, 0}, {3, 1}, {0, 0}, {0, 1}};
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(c[i].entry, want[i].first) << i;
    EXPECT_EQ(c[i].index, want[i].second) << i;
  }
  const auto p = quant::with_pruned(q, c, 2);
  EXPECT_TRUE(p.w[0].second.equal(torch::tensor({1, -1, 2, 0, 0, 3}, torch::kInt8).view({2, 3})));
  EXPECT_TRUE(p.w[3].second.equal(torch::tensor({0, 1}, torch::kInt8).view({1, 2})));
  EXPECT_TRUE(q.w[0].second.equal(toy_result().w[0].second));  // the input is untouched
}

TEST(SelectivePruneTest, CountIsTheSmallestThatFitsAndAllWhenNothingFits) {
  const auto size = [](int64_t n) { return 100 - 3 * n; };  // non-increasing
  EXPECT_EQ(quant::prune_count_for_target(20, 200, size), 0);
  EXPECT_EQ(quant::prune_count_for_target(20, 70, size), 10);
  EXPECT_EQ(quant::prune_count_for_target(20, 71, size), 10);
  EXPECT_EQ(quant::prune_count_for_target(20, 72, size), 10);
  EXPECT_EQ(quant::prune_count_for_target(20, 73, size), 9);
  EXPECT_EQ(quant::prune_count_for_target(20, 10, size), 20);
  EXPECT_EQ(quant::target_mb_bytes(15.9), 16672358);  // int(15.9 * 1024 * 1024)
  // End to end with a size model of 1 MiB per nonzero code: fits after zeroing 3.
  auto q = toy_result();
  const auto rep = quant::selective_prune(q, 5.0, 0, [](const quant::QuantResult& v) {
    return (v.w[0].second.ne(0).sum().item<int64_t>() + v.w[3].second.ne(0).sum().item<int64_t>()) *
           1024 * 1024;
  });
  EXPECT_EQ(rep.candidates, 5);
  EXPECT_EQ(rep.pruned, 2);  // 7 nonzero codes -> 5 MiB after 2
  EXPECT_EQ(rep.final_bytes, 5 * 1024 * 1024);
  EXPECT_EQ(q.w[3].second.ne(0).sum().item<int64_t>(), 1);
}

}  // namespace
}  // namespace pgolf
