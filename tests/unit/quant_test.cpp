// Unit tests for pgolf::quant: quantile semantics, per-row quantisers and their edge cases,
// classification per scheme, pruning (ties, bf16 comparison), the container (round trip, Python
// interop, corrupt inputs) and the byte budget (ustar recipe, cap, submission.json).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>

#include "pgolf/core/error.h"
#include "pgolf/core/files.h"
#include "pgolf/quant/budget.h"
#include "pgolf/model/params.h"
#include "pgolf/quant/export.h"
#include "pgolf/quant/policy.h"
#include "pgolf/quant/qat.h"

namespace pgolf::quant {
namespace {

namespace fs = std::filesystem;

template <typename F>
ErrorKind error_kind_of(F&& f, std::string* message = nullptr) {
  try {
    f();
  } catch (const Error& e) {
    if (message) *message = e.what();
    return e.kind();
  }
  ADD_FAILURE() << "expected a pgolf::Error";
  return ErrorKind::kRuntime;
}

bool same(const torch::Tensor& a, const torch::Tensor& b) {
  return a.scalar_type() == b.scalar_type() && a.sizes() == b.sizes() && torch::equal(a, b);
}

// A small state dict with every classification path of the mixed scheme.
NamedTensors small_state_dict(int64_t seed = 1) {
  torch::manual_seed(seed);
  auto m = [](int64_t r, int64_t c) { return 0.02 * torch::randn({r, c}); };
  return {{"tok_emb.weight", m(256, 64)},
          {"bigram.embed.weight", m(160, 64)},
          {"bigram.scale", torch::full({}, 0.05)},
          {"blocks.0.attn.c_q.weight", m(128, 96)},
          {"blocks.0.attn.q_gain", torch::full({4}, 1.5)},
          {"blocks.0.mlp.fc.weight", m(192, 64)},
          {"blocks.0.mlp.proj.weight", m(64, 192)},
          {"blocks.0.attn_scale", torch::ones({64})},
          {"blocks.0.ctrl_big_resid_mix", m(100, 100)},
          {"other.weight", m(100, 100)},
          {"counter", torch::arange(10, torch::kLong)}};
}

config::QuantConfig small_config() {
  config::QuantConfig cfg;
  cfg.passthrough_max_numel = 4096;
  cfg.prune_min_numel = 8192;
  cfg.fp16_keep_name_patterns = "tok_emb";
  return cfg;
}

// ---------------------------------------------------------------- quantile

TEST(QuantQuantileTest, LinearInterpolationOnKnownValues) {
  const auto x = torch::tensor({4.f, 0.f, 3.f, 1.f, 2.f});
  EXPECT_FLOAT_EQ(quantile_all(x, 0.0), 0.f);
  EXPECT_FLOAT_EQ(quantile_all(x, 1.0), 4.f);
  EXPECT_FLOAT_EQ(quantile_all(x, 0.5), 2.f);
  // rank = 0.3f * 4 = 1.2 -> 1 + 0.2*(2-1); weight >= 0.5 uses the other lerp branch.
  EXPECT_FLOAT_EQ(quantile_all(x, 0.3), 1.2f);
  EXPECT_FLOAT_EQ(quantile_all(x, 0.9), 3.6f);
  const auto rows = torch::tensor({{1.f, 2.f, 3.f}, {10.f, 30.f, 20.f}});
  const auto q = quantile_last_dim(rows, 0.25);
  EXPECT_FLOAT_EQ(q[0].item<float>(), 1.5f);
  EXPECT_FLOAT_EQ(q[1].item<float>(), 15.f);
}

TEST(QuantQuantileTest, RankIsFloat32LikeTorch113) {
  // n - 1 = 262143: 0.03 as float32 times 262143 in float32 is 7864.29003..., whereas a double
  // rank gives weight 0.29 exactly. Build data where the two give different results.
  const int64_t n = 262144;
  auto x = torch::arange(n, torch::kFloat) * 1e-3f;
  const float rank = 0.03f * static_cast<float>(n - 1);
  const float w = rank - std::floor(rank);
  const float lo = x[7864].item<float>(), hi = x[7865].item<float>();
  const float expected = lo + (hi - lo) * w;
  EXPECT_EQ(quantile_all(x, 0.03), expected);
  EXPECT_NEAR(quantile_all(x, 0.03), torch::quantile(x, 0.03).item<float>(), 1e-6);
}

// Independent reference: full sort + float32 rank + torch 1.13's lerp.
torch::Tensor sorted_quantile(const torch::Tensor& x, double q) {
  const auto sorted = std::get<0>(x.sort(1));
  const int64_t n = x.size(1);
  const float rank = static_cast<float>(q) * static_cast<float>(n - 1);
  const auto lo = static_cast<int64_t>(rank), hi = static_cast<int64_t>(std::ceil(rank));
  const float w = rank - static_cast<float>(lo);
  const auto a = sorted.select(1, lo), b = sorted.select(1, hi), d = b - a;
  return w < 0.5f ? a + d * w : b - d * (1.0f - w);
}

TEST(QuantQuantileTest, EqualsSortReferenceAndCloseToTorchQuantile) {
  torch::manual_seed(3);
  for (double q : {0.0, 0.03, 0.5, 0.9, 0.999, 0.9999984, 1.0}) {
    const auto x = torch::randn({7, 1001});
    const auto ours = quantile_last_dim(x, q);
    EXPECT_TRUE(torch::equal(ours, sorted_quantile(x, q))) << "q=" << q;
    // torch >= 2 computes the rank in double: same result unless floor(rank) differs.
    if (q == 0.03 || q == 0.5 || q == 0.9) {
      EXPECT_TRUE(torch::allclose(ours, torch::quantile(x, q, 1), 1e-5, 1e-6)) << "q=" << q;
    }
  }
}

TEST(QuantQuantileTest, NanRowGivesNan) {
  auto x = torch::tensor({{1.f, NAN, 3.f}, {1.f, 2.f, 3.f}});
  const auto q = quantile_last_dim(x, 0.5);
  EXPECT_TRUE(std::isnan(q[0].item<float>()));
  EXPECT_FLOAT_EQ(q[1].item<float>(), 2.f);
}

// ---------------------------------------------------------------- quantisers

TEST(QuantRowmaxTest, ScaleFromRowMaxRoundHalfEvenAndAsymmetricClamp) {
  // Row 0: rowmax 1.5 -> scale fp16(0.1); w/scale exactly 2.5 must round to 2 (half to even).
  const float s = c10::Half(0.1f);
  auto w = torch::tensor({{1.5f, 2.5f * s, -2.5f * s, 3.5f * s}, {0.f, 0.f, 0.f, 0.f}});
  const auto qt = quantize_rowmax(w, 15);
  EXPECT_EQ(qt.scale.scalar_type(), torch::kHalf);
  EXPECT_EQ(qt.scale[0].item<float>(), s);
  EXPECT_EQ(qt.q[0][1].item<int8_t>(), 2);
  EXPECT_EQ(qt.q[0][2].item<int8_t>(), -2);
  EXPECT_EQ(qt.q[0][3].item<int8_t>(), 4);
  // An all-zero row gets the fp16 minimum-normal floor, not 0 (no division by zero).
  EXPECT_EQ(qt.scale[1].item<float>(), static_cast<float>(kFp16Tiny));
  EXPECT_EQ(qt.q[1].abs().sum().item<int64_t>(), 0);
  // |w| <= rowmax and scale ~ rowmax/clip within fp16 precision, so the row max maps to +-clip.
  auto n = torch::tensor({{-1.0f, 0.5f}, {1.0f, -0.5f}});
  const auto qn = quantize_rowmax(n, 31);
  EXPECT_EQ(qn.q[0][0].item<int8_t>(), -31);
  EXPECT_EQ(qn.q[1][0].item<int8_t>(), 31);
  EXPECT_EQ(qn.q[0][1].item<int8_t>(), 16);  // 0.5 / fp16(1/31) = 15.5002 -> 16
}

TEST(QuantRowmaxTest, InvClipFloorAsPr289) {
  // PR #289's quantize_int6_per_row: scale = fp16(max(rowmax/31, 1/31)). A row with max 0.31 gets
  // 1/31 instead of 0.01, so 0.2 -> round(6.2) = 6 rather than 20.
  auto w = torch::tensor({{0.31f, 0.2f}, {62.f, -31.f}});
  const auto fine = quantize_rowmax(w, 31);
  const auto coarse = quantize_rowmax(w, 31, 1.0 / 31);
  const float inv31 = c10::Half(1.0f / 31);
  EXPECT_EQ(coarse.scale[0].item<float>(), inv31);
  EXPECT_EQ(coarse.q[0][1].item<int8_t>(), 6);
  EXPECT_EQ(fine.q[0][1].item<int8_t>(), 20);
  // Rows above the floor are unchanged.
  EXPECT_EQ(coarse.scale[1].item<float>(), fine.scale[1].item<float>());
  EXPECT_TRUE(torch::equal(coarse.q[1], fine.q[1]));
  // Through the config: INTN_SCALE_FLOOR=inv_clip reaches the mixed and int6 schemes.
  config::QuantConfig cfg;
  cfg.passthrough_max_numel = 0;
  cfg.quant_scheme = config::QuantScheme::kInt6;
  cfg.int_cats = "attn";
  const NamedTensors sd{{"blocks.0.attn.c_q.weight", w}};
  const auto a = quantize_state_dict(sd, cfg);
  cfg.intn_scale_floor = config::IntnScaleFloor::kInvClip;
  const auto b = quantize_state_dict(sd, cfg);
  EXPECT_EQ(a.w[1].second[0].item<float>(), fine.scale[0].item<float>());
  EXPECT_EQ(b.w[1].second[0].item<float>(), inv31);
}

TEST(QuantClipQuantileTest, Int8ClipsOutliersAndFloorsScale) {
  auto w = torch::full({2, 1000}, 0.5f);
  w[0][0] = 100.f;  // outlier above the 0.9999984 row quantile
  w[1] = torch::full({1000}, 1e-3f);
  const auto qt = quantize_clip_quantile(w, 127, kInt8ClipQuantile);
  const float clip0 = quantile_last_dim(w.abs(), kInt8ClipQuantile)[0].item<float>();
  EXPECT_LT(clip0, 100.f);
  EXPECT_EQ(qt.q[0][0].item<int8_t>(), 127);
  EXPECT_EQ(qt.scale[1].item<float>(), static_cast<float>(c10::Half(1.0f / 127.0f)));  // floor
  EXPECT_EQ(qt.q[1].abs().max().item<int8_t>(), 0);  // 1e-3 / (1/127) rounds to 0
  // Non-2-D: per-tensor fp32 scalar scale, int8 range even for the 31 variant.
  const auto v = quantize_clip_quantile(torch::linspace(-1, 1, 101), 31, kInt8ClipQuantile);
  EXPECT_EQ(v.scale.dim(), 0);
  EXPECT_EQ(v.scale.scalar_type(), torch::kFloat);
  EXPECT_EQ(v.q.abs().max().item<int8_t>(), 127);
}

// torch.quantile's default interpolation is linear: rank = q*(n-1), then v[lo] + w*(v[hi]-v[lo]).
// Hand-computed at PR #354's q and at 0.9. pgolf rounds the rank to float32 as torch did until
// mid-2026 (PR #354 ran in March 2026); later torch keeps the rank in float64 (pytorch#187574),
// which moves the second case to 999.9762 (the installed LibTorch: agreement only to ~3e-4 there).
TEST(QuantQuantileTest, LinearInterpolationAtPr354Q) {
  // 0..1000 shuffled: rank = f32(0.9999984)*1000 = 999.9984 -> 999 + 0.9984*(1000-999).
  const auto v = torch::arange(1001, torch::kFloat).index_select(0, torch::randperm(1001));
  EXPECT_NEAR(quantile_all(v, 0.9999984), 999.9984f, 2e-4);
  // 1..15 and an outlier 1000: rank f32(14.99997586) = 14.99997616 -> w = 0.99997616,
  // 1000 - 985*(1-w) = 999.97652 (the outlier is clipped by 0.023).
  auto r = torch::arange(1, 17, torch::kFloat);
  r[15] = 1000.f;
  EXPECT_NEAR(quantile_last_dim(r.unsqueeze(0), 0.9999984)[0].item<float>(), 999.97652f, 1e-4);
  // |x| = 1..10: rank = 8.1 -> 9 + 0.1*(10-9) = 9.1.
  auto x = torch::arange(1, 11, torch::kFloat);
  x[9] = -10.f;
  EXPECT_NEAR(quantile_last_dim(x.abs().unsqueeze(0), 0.9)[0].item<float>(), 9.1f, 1e-5);
  EXPECT_NEAR(quantile_all(x.abs(), 0.9), torch::quantile(x.abs(), 0.9).item<float>(), 1e-6);
}

std::map<std::string, std::string> kinds(const QuantResult& r);  // below

// INTN_SCALE_STAT=quantile (PR #354): int5 row scale = max(quantile/15, 1/15) from the row's
// quantile of |w|, values beyond it clipped, the division by the fp32 scale, the scale stored fp16.
TEST(QuantRowQuantileTest, Pr354ScaleFromRowQuantile) {
  // Row 0: |w| = 1..10 (with -10): q=0.9 clip 9.1, scale 9.1/15 = 0.60667.
  //   -10 -> clamp -9.1 -> -15;  9 -> 14.835 -> 15;  5 -> 8.242 -> 8;  1 -> 1.648 -> 2.
  // Row 1: small values, so the scale is the floor 1/15 (below).
  auto w = torch::zeros({2, 10});
  w[0] = torch::arange(1, 11, torch::kFloat);
  w[0][9] = -10.f;
  w[1] = torch::full({10}, 0.2f);
  w[1][0] = -0.4f;
  const auto qt = quantize_row_quantile(w, 15, 0.9);
  const float s0 = 9.1f / 15.f;
  EXPECT_NEAR(qt.scale[0].item<float>(), s0, 1e-3);
  EXPECT_EQ(qt.scale[0].item<float>(), static_cast<float>(c10::Half(s0)));
  EXPECT_EQ(qt.scale.scalar_type(), torch::kHalf);
  EXPECT_EQ(qt.q[0][9].item<int8_t>(), -15);
  EXPECT_EQ(qt.q[0][8].item<int8_t>(), 15);
  EXPECT_EQ(qt.q[0][4].item<int8_t>(), 8);
  EXPECT_EQ(qt.q[0][0].item<int8_t>(), 2);
  // Row 1: sorted |w| = 0.2 x9, 0.4; rank 8.1 -> 0.2 + 0.1*0.2 = 0.22 -> clip; scale 1/15.
  EXPECT_EQ(qt.scale[1].item<float>(), static_cast<float>(c10::Half(1.0f / 15)));
  EXPECT_EQ(qt.q[1][1].item<int8_t>(), 3);   // 0.2*15 = 3
  EXPECT_EQ(qt.q[1][0].item<int8_t>(), -3);  // -0.4 -> clamp -0.22 -> -3.3 -> -3
  // The row max would give 10/15 and 9 -> 13.5 -> 14: the statistic changes the codes.
  EXPECT_EQ(quantize_rowmax(w, 15).q[0][8].item<int8_t>(), 14);

  // Through the config: mixed scheme, MLP int5 and attention int6 take the quantile rule; the
  // default (max) is the row-max path bit for bit.
  config::QuantConfig cfg;
  cfg.passthrough_max_numel = 0;
  cfg.int_cats = "mlp,attn";
  cfg.intn_scale_floor = config::IntnScaleFloor::kInvClip;
  torch::manual_seed(2);
  const NamedTensors sd{{"blocks.0.mlp.gate.weight", torch::randn({8, 700})},
                        {"blocks.0.attn.c_q.weight", torch::randn({8, 700})}};
  const auto base = quantize_state_dict(sd, cfg);
  EXPECT_TRUE(same(base.w[0].second, quantize_rowmax(sd[0].second, 15, 1.0 / 15).q));
  cfg.intn_scale_stat = config::IntnScaleStat::kQuantile;
  cfg.intn_clip_quantile = 0.9;
  const auto pq = quantize_state_dict(sd, cfg);
  EXPECT_EQ(kinds(pq).at("blocks.0.mlp.gate.weight"), "int5");
  EXPECT_EQ(kinds(pq).at("blocks.0.attn.c_q.weight"), "int6");
  EXPECT_TRUE(same(pq.w[0].second, quantize_clip_quantile(sd[0].second, 15, 0.9).q));
  EXPECT_TRUE(same(pq.w[3].second, quantize_clip_quantile(sd[1].second, 31, 0.9).scale));
  EXPECT_FALSE(same(pq.w[0].second, base.w[0].second));
  // Non-2-D: one fp32 scalar scale max(clip/15, 1/15).
  const auto v = quantize_row_quantile(torch::linspace(-30, 30, 61), 15, 0.9);
  EXPECT_EQ(v.scale.dim(), 0);
  EXPECT_EQ(v.scale.scalar_type(), torch::kFloat);
  EXPECT_NEAR(v.scale.item<float>(), 27.0f / 15, 1e-5);  // |x| 0..30 (two each), rank 54 -> 27
}

TEST(QuantGptqLiteTest, PicksAClipThatBeatsTheRowMaxOnOutliers) {
  torch::manual_seed(5);
  auto w = 0.02 * torch::randn({64, 4096});
  w.index_put_({torch::indexing::Slice(), 0}, 5.0);  // one huge outlier per row
  const auto g = quantize_gptq_lite(w);
  const auto r = quantize_clip_quantile(w, 31, 1.0);
  EXPECT_LE(g.q.abs().max().item<int8_t>(), 31);
  EXPECT_GE(g.scale.to(torch::kFloat).min().item<float>(), c10::Half(1.0f / 31.0f));
  auto mse = [&](const QuantizedTensor& qt) {
    return (w - qt.q.to(torch::kFloat) * qt.scale.to(torch::kFloat).unsqueeze(1)).pow(2).mean()
        .item<double>();
  };
  EXPECT_LE(mse(g), mse(r));
}

// ---------------------------------------------------------------- classification

TEST(QuantClassifyTest, CategoriesByName) {
  EXPECT_EQ(category_of("tok_emb.weight"), Category::kEmbed);
  EXPECT_EQ(category_of("lm_head.weight"), Category::kEmbed);
  EXPECT_EQ(category_of("blocks.3.mlp.proj.weight"), Category::kMlp);
  EXPECT_EQ(category_of("bigram.proj.weight"), Category::kBigram);
  EXPECT_EQ(category_of("blocks.0.attn.c_k.weight"), Category::kAttn);
  EXPECT_EQ(category_of("x.proj.weight"), Category::kAttn);
  EXPECT_EQ(category_of("skip_weights"), Category::kOther);
}

// One policy (issue 18 §3): late QAT fake-quantises each of the GPT's linear weights with the clip
// the export stores it with, for every scheme and INT_CATS spelling (spaces included), and a
// category the export keeps int8 (not in INT_CATS) is not fake-quantised under the intN schemes.
TEST(QuantPolicyTest, LateQatClipIsTheExportClip) {
  const char* names[] = {"blocks.0.mlp.fc.weight", "blocks.1.mlp.proj.weight",
                         "blocks.0.mlp.gate.weight", "blocks.0.attn.c_q.weight",
                         "blocks.1.attn.proj.weight", "bigram.proj.weight"};
  for (const auto scheme : {config::QuantScheme::kMixed, config::QuantScheme::kInt6,
                            config::QuantScheme::kInt6Clip31, config::QuantScheme::kGptqLite,
                            config::QuantScheme::kInt8}) {
    for (const char* cats : {"mlp,attn,bigram", " mlp, attn ", "attn", "bigram , mlp"}) {
      auto cfg = small_config();
      cfg.quant_scheme = scheme;
      cfg.int_cats = cats;
      const QuantPolicy policy(cfg);
      const auto qat = late_qat_settings(cfg);
      for (const char* name : names) {
        SCOPED_TRACE(std::string(config::choice_name(scheme)) + " INT_CATS='" + cats + "' " +
                     name);
        const std::string kind = quantize_state_dict({{name, torch::randn({64, 80})}}, cfg)
                                     .meta.at(0).second.kind;
        const int64_t want = kind == "int5" ? 15 : kind == "int6" ? 31 : 127;
        const bool exported_int8_by_choice = kind == "int8" && scheme != config::QuantScheme::kInt8;
        EXPECT_EQ(qat.clip_of(name), exported_int8_by_choice ? 0 : want);
        EXPECT_EQ(policy.qat_clip(name), qat.clip_of(name));
        EXPECT_EQ(policy.kind(name, torch::randn({64, 80})), kind);
      }
      EXPECT_EQ(qat.clip_of("lm_head.weight"), 0);  // the head is never fake-quantised
    }
  }
  auto bad = small_config();
  bad.int_cats = "mlp,atn";
  EXPECT_EQ(error_kind_of([&] { QuantPolicy{bad}; }), ErrorKind::kInput);
}

// CONTROL_TENSOR_NAME_PATTERNS and FP16_KEEP_NAME_PATTERNS are split (trimmed) and matched once:
// the policy's answer is the export's kind and the `pgolf info` group.
TEST(QuantPolicyTest, NamePatternsGoThroughThePolicy) {
  auto cfg = small_config();
  cfg.control_tensor_name_patterns = " resid_mix , q_gain ,";
  cfg.fp16_keep_name_patterns = " tok_emb ";
  cfg.passthrough_max_numel = 0;  // so the name rules decide, not the size rule
  const QuantPolicy policy(cfg);
  EXPECT_EQ(policy.control_patterns(), (std::vector<std::string>{"resid_mix", "q_gain"}));
  EXPECT_TRUE(policy.is_control("blocks.0.resid_mix"));
  EXPECT_FALSE(policy.is_control("blocks.0.attn.c_q.weight"));
  EXPECT_EQ(policy.kind("blocks.0.resid_mix", torch::randn({2, 16})), "passthrough_ctrl");
  EXPECT_EQ(policy.kind("tok_emb.weight", torch::randn({8, 16})), "passthrough_fp16");
  const auto r = quantize_state_dict({{"blocks.0.resid_mix", torch::randn({2, 16})},
                                      {"tok_emb.weight", torch::randn({8, 16})}},
                                     cfg);
  EXPECT_EQ(r.meta.at(0).second.kind, "passthrough_ctrl");
  EXPECT_EQ(r.meta.at(1).second.kind, "passthrough_fp16");
  EXPECT_EQ(model::param_group("blocks.0.resid_mix", policy.control_patterns()), "control");
}

std::map<std::string, std::string> kinds(const QuantResult& r) {
  std::map<std::string, std::string> out;
  for (const auto& [n, e] : r.meta) out[n] = e.kind;
  return out;
}

TEST(QuantClassifyTest, MixedSchemeRulesInOrder) {
  const auto r = quantize_state_dict(small_state_dict(), small_config());
  const auto k = kinds(r);
  EXPECT_EQ(k.at("tok_emb.weight"), "passthrough_fp16");
  EXPECT_EQ(k.at("bigram.embed.weight"), "int6");
  EXPECT_EQ(k.at("bigram.scale"), "passthrough");
  EXPECT_EQ(k.at("blocks.0.attn.c_q.weight"), "int6");
  EXPECT_EQ(k.at("blocks.0.attn.q_gain"), "passthrough");  // small beats control
  EXPECT_EQ(k.at("blocks.0.mlp.fc.weight"), "int5");
  EXPECT_EQ(k.at("blocks.0.ctrl_big_resid_mix"), "passthrough_ctrl");
  EXPECT_EQ(k.at("other.weight"), "int8");
  EXPECT_EQ(k.at("counter"), "passthrough");
  // Result order: per state-dict name, passthrough name or name.q then name.scale.
  ASSERT_GE(r.w.size(), 5u);
  EXPECT_EQ(r.w[0].first, "tok_emb.weight");
  EXPECT_EQ(r.w[1].first, "bigram.embed.weight.q");
  EXPECT_EQ(r.w[2].first, "bigram.embed.weight.scale");
  EXPECT_EQ(r.w[3].first, "bigram.scale");
  for (const auto& [n, t] : r.w) {
    if (n == "counter") {
      EXPECT_EQ(t.scalar_type(), torch::kLong);
    }
    if (n == "blocks.0.ctrl_big_resid_mix") {
      EXPECT_EQ(t.scalar_type(), torch::kFloat);
    }
    if (n == "blocks.0.mlp.fc.weight.q") {
      EXPECT_LE(t.abs().max().item<int8_t>(), 16);
    }
  }
}

// PASSTHROUGH_DTYPE=fp32 (PR #354 stores every tensor of <= 65,536 elements as fp32): the small
// tensors round-trip exactly; big ones are classified as before.
TEST(QuantClassifyTest, PassthroughFp32AsPr354) {
  auto cfg = small_config();
  const auto sd = small_state_dict();
  const auto base = kinds(quantize_state_dict(sd, cfg));
  cfg.passthrough_dtype = config::PassthroughDtype::kFp32;
  const auto r = quantize_state_dict(sd, cfg);
  const auto k = kinds(r);
  EXPECT_EQ(base.at("blocks.0.attn.q_gain"), "passthrough");
  EXPECT_EQ(k.at("blocks.0.attn.q_gain"), "passthrough_ctrl");
  EXPECT_EQ(k.at("bigram.scale"), "passthrough_ctrl");
  EXPECT_EQ(k.at("counter"), "passthrough");  // not a float
  for (const auto& [name, kind] : base)
    if (kind != "passthrough" || name == "counter") {
      EXPECT_EQ(k.at(name), kind) << name;
    }
  NamedTensors tmpl;
  for (const auto& [name, t] : sd) tmpl.emplace_back(name, t);
  const auto back = dequantize_state_dict(r, tmpl);
  EXPECT_TRUE(same(back[4].second, sd[4].second));  // q_gain 1.5 is exact either way
  auto fine = sd;
  fine[4].second = torch::full({4}, 1.0f + 1.0f / 4096);  // not an fp16 value
  const auto exact = dequantize_state_dict(quantize_state_dict(fine, cfg), tmpl);
  EXPECT_TRUE(same(exact[4].second, fine[4].second));
  cfg.passthrough_dtype = config::PassthroughDtype::kFp16;
  const auto rounded = dequantize_state_dict(quantize_state_dict(fine, cfg), tmpl);
  EXPECT_FALSE(same(rounded[4].second, fine[4].second));
}

TEST(QuantClassifyTest, NamedSchemes) {
  auto cfg = small_config();
  cfg.quant_scheme = config::QuantScheme::kInt6;
  EXPECT_EQ(kinds(quantize_state_dict(small_state_dict(), cfg)).at("blocks.0.mlp.fc.weight"),
            "int6");
  cfg.quant_scheme = config::QuantScheme::kInt6Clip31;
  auto r = quantize_state_dict(small_state_dict(), cfg);
  for (const auto& [n, t] : r.w)
    if (n == "blocks.0.mlp.fc.weight.q") {
      EXPECT_LE(t.abs().max().item<int8_t>(), 31);
    }
  cfg.quant_scheme = config::QuantScheme::kGptqLite;
  EXPECT_EQ(kinds(quantize_state_dict(small_state_dict(), cfg)).at("bigram.embed.weight"), "int6");
  cfg.quant_scheme = config::QuantScheme::kInt8;
  const auto k = kinds(quantize_state_dict(small_state_dict(), cfg));
  EXPECT_EQ(k.at("blocks.0.attn.q_gain"), "passthrough_ctrl");  // baseline: small + control
  EXPECT_EQ(k.at("blocks.0.mlp.fc.weight"), "int8");
  // gptq needs calibration Hessians (export_artifact), never the Hessian-free pass.
  cfg.quant_scheme = config::QuantScheme::kGptq;
  EXPECT_EQ(error_kind_of([&] { quantize_state_dict(small_state_dict(), cfg); }),
            ErrorKind::kInput);
}

TEST(QuantDequantTest, RoundTripRestoresDtypesAndIsCloseToInput) {
  auto sd = small_state_dict();
  sd[1].second = sd[1].second.to(torch::kBFloat16);  // a bf16 parameter (reference dtype policy)
  const auto r = quantize_state_dict(sd, small_config());
  const auto deq = dequantize_state_dict(r, sd);
  ASSERT_EQ(deq.size(), sd.size());
  for (size_t i = 0; i < sd.size(); ++i) {
    EXPECT_EQ(deq[i].first, sd[i].first);
    EXPECT_EQ(deq[i].second.scalar_type(), sd[i].second.scalar_type()) << sd[i].first;
    const auto err = (deq[i].second.to(torch::kDouble) - sd[i].second.to(torch::kDouble)).abs();
    EXPECT_LT(err.max().item<double>(), 0.01) << sd[i].first;
  }
}

TEST(QuantDequantTest, MismatchedTemplateIsInputError) {
  const auto sd = small_state_dict();
  const auto r = quantize_state_dict(sd, small_config());
  std::string msg;
  auto missing = sd;
  missing.emplace_back("blocks.9.attn.c_q.weight", torch::zeros({2, 2}));
  EXPECT_EQ(error_kind_of([&] { dequantize_state_dict(r, missing); }, &msg), ErrorKind::kInput);
  EXPECT_NE(msg.find("blocks.9.attn.c_q.weight"), std::string::npos);
  auto extra = sd;
  extra.pop_back();
  EXPECT_EQ(error_kind_of([&] { dequantize_state_dict(r, extra); }, &msg), ErrorKind::kInput);
  EXPECT_NE(msg.find("counter"), std::string::npos);
  auto shape = sd;
  shape[3].second = torch::zeros({96, 128});
  EXPECT_EQ(error_kind_of([&] { dequantize_state_dict(r, shape); }, &msg), ErrorKind::kInput);
  EXPECT_NE(msg.find("c_q"), std::string::npos);
}

// ---------------------------------------------------------------- pruning

TEST(QuantPruneTest, StrictLessKeepsTiesAndSkipsSmallTensors) {
  auto w = torch::tensor({{0.f, 1.f, 1.f, 1.f}, {2.f, 3.f, 4.f, 5.f}});  // q=0.25 -> 1.0 exactly
  const auto st = prune_tensor(w, 0.25);
  EXPECT_EQ(st.threshold, 1.f);
  EXPECT_EQ(st.count, 1);  // only the 0 (already zero) is < 1
  EXPECT_EQ(st.ties, 3);
  EXPECT_EQ(w[0][1].item<float>(), 1.f);
  config::QuantConfig cfg;
  cfg.prune_min_numel = 8;
  NamedTensors sd = {{"a", torch::randn({2, 4})}, {"b", torch::randn({3, 4})},
                     {"c", torch::randn({12})}};
  const auto original_b = sd[1].second.clone();
  const auto b_alias = sd[1].second;
  const auto stats = prune_state_dict(sd, cfg);
  ASSERT_EQ(stats.size(), 1u);  // numel 8 is not > 8; 1-D never pruned
  EXPECT_EQ(stats[0].name, "b");
  EXPECT_TRUE(torch::equal(b_alias, original_b)) << "caller's tensor must not be modified";
  cfg.prune_pct = 0.0;
  EXPECT_TRUE(prune_state_dict(sd, cfg).empty());
}

TEST(QuantPruneTest, Bf16ComparesInBf16) {
  // Values 1 + k/128 are exact in bf16. The fp32 quantile at rank 12.3 is 1 + 12.3/128, which
  // rounds down to bf16 1 + 12/128: the reference's bf16 comparison keeps that entry (not < thr),
  // an fp32 comparison would zero it.
  const auto wb = (1.0f + torch::arange(128, torch::kFloat) / 128.0f).reshape({16, 8})
                      .to(torch::kBFloat16);
  const double q = 12.3 / 127.0;
  const float thr = quantile_all(wb.abs(), q);
  const float thr_bf16 = c10::BFloat16(thr);
  ASSERT_NE(thr, thr_bf16) << "test data must make bf16 rounding of the threshold matter";
  auto pruned = wb.clone();
  const auto st = prune_tensor(pruned, q);
  const auto a = wb.abs().to(torch::kFloat);
  EXPECT_EQ(st.count, (a < thr_bf16).sum().item<int64_t>());
  EXPECT_EQ(st.count, 12);
  EXPECT_EQ((a < thr).sum().item<int64_t>(), 13);
  EXPECT_EQ(pruned.scalar_type(), torch::kBFloat16);
}

// ---------------------------------------------------------------- container

void expect_same_result(const QuantResult& a, const QuantResult& b) {
  ASSERT_EQ(a.w.size(), b.w.size());
  for (size_t i = 0; i < a.w.size(); ++i) {
    EXPECT_EQ(a.w[i].first, b.w[i].first);
    EXPECT_TRUE(same(a.w[i].second, b.w[i].second)) << a.w[i].first;
  }
  ASSERT_EQ(a.meta.size(), b.meta.size());
  for (size_t i = 0; i < a.meta.size(); ++i) {
    EXPECT_EQ(a.meta[i].first, b.meta[i].first);
    EXPECT_EQ(a.meta[i].second.kind, b.meta[i].second.kind);
  }
}

TEST(QuantContainerTest, RoundTripKeepsOrderValuesAndMeta) {
  const auto r = quantize_state_dict(small_state_dict(), small_config());
  for (auto codec : {Codec::kZstd, Codec::kZlib}) {
    CompressOptions opts;
    opts.codec = codec;
    opts.level = codec == Codec::kZstd ? 3 : 9;
    const auto blob = encode_artifact(r, opts);
    expect_same_result(decode_artifact(blob, "mem"), r);
  }
  // A view into a larger storage is written as its own bytes only.
  QuantResult v;
  const auto big = torch::arange(1000, torch::kFloat).to(torch::kHalf);
  v.w = {{"x", big.slice(0, 10, 20)}};
  v.meta = {{"x", MetaEntry{"passthrough"}}};
  EXPECT_LT(serialize_quant(v).size(), 1500u);
  expect_same_result(deserialize_quant(serialize_quant(v), "mem"), v);
}

TEST(QuantContainerTest, ZstdFrameHasContentSizeAndThreadsKeepOneFrame) {
  const auto raw = serialize_quant(quantize_state_dict(small_state_dict(), small_config()));
  CompressOptions st;
  st.level = 19;
  CompressOptions mt = st;
  mt.threads = 2;
  const auto a = compress(raw, st), b = compress(raw, mt);
  EXPECT_EQ(decompress(a, "st"), raw);
  EXPECT_EQ(decompress(b, "mt"), raw);  // decompress() insists on exactly one frame
}

// Issue 17 item 8: decompression bombs are stopped before they cost memory.
CompressOptions fast_zstd() {
  CompressOptions o;
  o.level = 3;
  return o;
}

TEST(QuantContainerBombTest, DecodeLimitScalesWithTheFileAndIsCapped) {
  EXPECT_EQ(decode_limit(0), uint64_t{64} << 20);
  EXPECT_EQ(decode_limit(1000), uint64_t{64} << 20);
  EXPECT_EQ(decode_limit(uint64_t{4} << 20), uint64_t{256} << 20);
  EXPECT_EQ(decode_limit(uint64_t{100} << 20), kMaxDecodedBytes);
  EXPECT_EQ(decode_limit(~uint64_t{0}), kMaxDecodedBytes);
}

TEST(QuantContainerBombTest, ZstdHeaderDeclaringTooMuchFailsBeforeDecoding) {
  // Magic, a descriptor with an 8-byte content size of 16 GiB, one empty last raw block.
  std::vector<char> frame = {'\x28', '\xb5', '\x2f', '\xfd', '\xe0'};
  for (int i = 0; i < 8; ++i) frame.push_back(static_cast<char>(((uint64_t{16} << 30) >> (8 * i)) & 0xff));
  for (char c : {'\x01', '\x00', '\x00'}) frame.push_back(c);
  std::string msg;
  EXPECT_EQ(error_kind_of([&] { decompress(frame, "b.ptz"); }, &msg), ErrorKind::kInput);
  EXPECT_NE(msg.find("declares 17179869184"), std::string::npos) << msg;
  // A frame of 65 MiB of zeros compresses to a few KB and is refused the same way.
  const auto zeros = compress(std::vector<char>((65 << 20), 0), fast_zstd());
  ASSERT_LT(zeros.size(), 100000u);
  EXPECT_EQ(error_kind_of([&] { decompress(zeros, "z.ptz"); }, &msg), ErrorKind::kInput);
  EXPECT_NE(msg.find("more than the 67108864"), std::string::npos) << msg;
}

TEST(QuantContainerBombTest, BytesThatAreNoTorchZipStopAtTheFirstChunk) {
  CompressOptions zlib;
  zlib.codec = Codec::kZlib;
  for (const auto& opts : {fast_zstd(), zlib}) {
    std::string msg;
    const auto blob = compress(std::vector<char>((32 << 20), 0), opts);
    EXPECT_EQ(error_kind_of([&] { decompress(blob, "z.ptz"); }, &msg), ErrorKind::kInput);
    EXPECT_NE(msg.find("not a torch archive (at offset 0 found 00 00 00 00"), std::string::npos)
        << msg;
  }
}

// A zip local header: PK\3\4, version, flags, method, time, date, crc, sizes, name/extra lengths.
std::vector<char> local_header(uint16_t flags, uint32_t size) {
  std::vector<char> h = {'P', 'K', '\x03', '\x04', 20, 0};
  const auto le = [&](uint64_t v, int n) {
    for (int i = 0; i < n; ++i) h.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  };
  le(flags, 2); le(0, 2); le(0, 4); le(0, 4); le(size, 4); le(size, 4); le(1, 2); le(0, 2);
  h.push_back('a');
  return h;
}

TEST(QuantContainerBombTest, RecordSizesAreCheckedAsTheyArrive) {
  auto raw = local_header(0, 0xFFFFFFFE);  // a record of 4 GiB
  raw.resize(raw.size() + (8 << 20), 0);
  std::string msg;
  EXPECT_EQ(error_kind_of([&] { decompress(compress(raw, fast_zstd()), "r.ptz"); }, &msg), ErrorKind::kInput);
  EXPECT_NE(msg.find("record ending at byte 4294967325, past the limit"), std::string::npos) << msg;
  // zlib has no declared size: a header whose sizes come later stops only at the limit.
  raw = local_header(8, 0);
  raw.resize(raw.size() + (70 << 20), 0);
  CompressOptions zlib;
  zlib.codec = Codec::kZlib;
  const auto blob = compress(raw, zlib);
  EXPECT_EQ(error_kind_of([&] { decompress(blob, "d.ptz"); }, &msg), ErrorKind::kInput);
  EXPECT_NE(msg.find("zlib stream decodes to more than the 67108864 bytes"), std::string::npos)
      << msg;
}

struct Corruption {
  int rejected = 0, benign = 0;
};

// Applies `mutate` to copies of `blob`: every result must be an input error or decode to `good`.
template <typename F>
Corruption corrupt_all(const std::vector<char>& blob, const QuantResult& good, int trials, F mutate) {
  Corruption c;
  std::mt19937 rng(1234);
  for (int i = 0; i < trials; ++i) {
    auto bad = blob;
    mutate(bad, rng, i);
    try {
      const auto r = decode_artifact(bad, "corrupt.ptz");
      expect_same_result(r, good);
      ++c.benign;
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kInput) << e.what();
      EXPECT_NE(std::string(e.what()).find("corrupt.ptz"), std::string::npos) << e.what();
      ++c.rejected;
    }
  }
  return c;
}

TEST(QuantContainerFuzzTest, TruncatedFlippedAndWrongMagicAreInputErrors) {
  const auto good = quantize_state_dict(small_state_dict(), small_config());
  for (bool checksum : {true, false}) {  // false: frames like the reference's python-zstandard
    SCOPED_TRACE(checksum ? "with checksum" : "without checksum");
    CompressOptions opts;
    opts.level = 3;
    opts.checksum = checksum;
    const auto blob = encode_artifact(good, opts);
    const auto n = blob.size();
    auto trunc = corrupt_all(blob, good, 60, [&](std::vector<char>& b, std::mt19937& rng, int i) {
      b.resize(i < 8 ? static_cast<size_t>(i) : rng() % n);
    });
    EXPECT_EQ(trunc.benign, 0);
    auto flips = corrupt_all(blob, good, 200, [&](std::vector<char>& b, std::mt19937& rng, int i) {
      const size_t pos = i < 64 ? static_cast<size_t>(i) : rng() % n;
      b[pos] = static_cast<char>(b[pos] ^ (1 << (rng() % 8)));
    });
    // Some header bits (e.g. a larger window descriptor) do not change the output.
    EXPECT_GE(flips.rejected, 190) << "benign flips: " << flips.benign;
    std::cout << (checksum ? "with" : "without") << " checksum: " << flips.rejected << " of 200 bit "
              << "flips rejected, " << flips.benign << " decoded to the same content\n";
    auto tail = blob;
    tail.push_back('x');
    std::string msg;
    EXPECT_EQ(error_kind_of([&] { decode_artifact(tail, "t.ptz"); }, &msg), ErrorKind::kInput);
    EXPECT_NE(msg.find("trailing"), std::string::npos) << msg;
  }
  std::string msg;
  auto raw = serialize_quant(good);
  EXPECT_EQ(error_kind_of([&] { decode_artifact(raw, "raw.pt"); }, &msg), ErrorKind::kInput);
  EXPECT_NE(msg.find("uncompressed torch.save"), std::string::npos) << msg;
  EXPECT_EQ(error_kind_of([&] { decode_artifact({}, "e.ptz"); }, &msg), ErrorKind::kInput);
  CompressOptions z;
  z.codec = Codec::kZlib;
  const auto zblob = encode_artifact(good, z);
  auto zc = corrupt_all(zblob, good, 60, [&](std::vector<char>& b, std::mt19937& rng, int i) {
    if (i % 2) b.resize(rng() % b.size());
    else b[2 + rng() % (b.size() - 2)] ^= 0x10;
  });
  EXPECT_GE(zc.rejected, 55);
  // A zstd frame whose payload is not a torch archive.
  std::vector<char> junk(1000, 'j');
  EXPECT_EQ(error_kind_of([&] { decode_artifact(compress(junk, {}), "j.ptz"); }, &msg),
            ErrorKind::kInput);
  EXPECT_NE(msg.find("torch archive"), std::string::npos) << msg;
}

TEST(QuantContainerFuzzTest, CliRejectsCorruptArtifactWithExitCode2) {
  const char* bin = std::getenv("PGOLF_BIN");
  if (!bin || !fs::exists(bin)) GTEST_SKIP() << "PGOLF_BIN not built";
  const auto good = quantize_state_dict(small_state_dict(), small_config());
  auto blob = encode_artifact(good, {});
  const std::string dir = ::testing::TempDir();
  const std::string ok = dir + "/cli_ok.ptz", bad = dir + "/cli_bad.ptz";
  write_artifact(ok, blob);
  blob.resize(blob.size() / 2);
  write_artifact(bad, blob);
  const std::string cmd = std::string(bin) + " export --inspect ";
  EXPECT_EQ(WEXITSTATUS(std::system((cmd + ok + " > /dev/null").c_str())), 0);
  EXPECT_EQ(WEXITSTATUS(std::system((cmd + bad + " 2> /dev/null").c_str())), 2);
}

// ---------------------------------------------------------------- Python interop

std::string python() {
  const char* p = std::getenv("PGOLF_PYTHON");
  return p && *p ? p : "python3";
}

bool python_has_torch() {
  return std::system((python() + " -c 'import torch' > /dev/null 2>&1").c_str()) == 0;
}

std::string run_capture(const std::string& cmd) {
  std::string out;
  FILE* f = popen(cmd.c_str(), "r");
  if (!f) return out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), f)) > 0) out.append(buf, n);
  EXPECT_EQ(pclose(f), 0) << cmd;
  return out;
}

// One Python process (importing torch is slow): loads our artifact, decompressing with
// python-zstandard when present or the zstd CLI, prints its content as JSON, and writes its own
// torch.save artifact (compressed with the zstd CLI) for us to read.
const char* kPyScript = R"(import io, json, subprocess, sys, torch
path, out = sys.argv[1], sys.argv[2]
try:
    import zstandard
    raw = zstandard.ZstdDecompressor().decompress(open(path, 'rb').read())
except ImportError:
    raw = subprocess.run(['zstd', '-d', '-c', '-q', path], check=True, capture_output=True).stdout
obj = torch.load(io.BytesIO(raw), map_location='cpu')
w = [[k, str(v.dtype).replace('torch.', ''), list(v.shape), float(v.double().sum()),
      float(v.double().abs().sum())] for k, v in obj['w'].items()]
print(json.dumps({'w': w, 'm': obj['m'], 'keys': list(obj.keys())}))
w = {'a.q': torch.arange(-6, 6, dtype=torch.int8).reshape(3, 4),
     'a.scale': torch.tensor([0.5, 0.25, 2.0], dtype=torch.float16),
     'b': torch.tensor([1.5, -2.0], dtype=torch.float16)}
torch.save({'w': w, 'm': {'a': {'type': 'int6'}, 'b': 'passthrough'}}, out + '.pt')
subprocess.run(['zstd', '-q', '-f', '-19', '--no-check', out + '.pt', '-o', out], check=True)
)";

std::string dtype_str(const torch::Tensor& t) {
  switch (t.scalar_type()) {
    case torch::kChar: return "int8";
    case torch::kHalf: return "float16";
    case torch::kFloat: return "float32";
    case torch::kLong: return "int64";
    default: return c10::toString(t.scalar_type());
  }
}

TEST(QuantInteropTest, PythonTorchLoadReadsOursAndWeReadPythons) {
  if (!python_has_torch() || std::system("zstd --version > /dev/null 2>&1") != 0)
    GTEST_SKIP() << "python torch or the zstd CLI not available";
  const std::string dir = ::testing::TempDir();
  std::ofstream(dir + "/pyinterop.py") << kPyScript;
  const std::string path = dir + "/interop.ptz", py_ptz = dir + "/py.ptz";
  export_artifact(small_state_dict(), small_config(), path);
  const auto ours = read_artifact(path);
  const auto j = nlohmann::ordered_json::parse(run_capture(
      python() + " " + dir + "/pyinterop.py " + path + " " + py_ptz + " 2>/dev/null"));
  EXPECT_EQ(j.at("keys"), (nlohmann::ordered_json{"w", "m"}));
  ASSERT_EQ(j.at("w").size(), ours.w.size());
  for (size_t i = 0; i < ours.w.size(); ++i) {
    const auto& [name, t] = ours.w[i];
    const auto& e = j.at("w")[i];
    EXPECT_EQ(e[0], name);
    EXPECT_EQ(e[1], dtype_str(t)) << name;
    EXPECT_EQ(e[2].get<std::vector<int64_t>>(), t.sizes().vec()) << name;
    EXPECT_EQ(e[3].get<double>(), t.to(torch::kDouble).sum().item<double>()) << name;
    EXPECT_EQ(e[4].get<double>(), t.to(torch::kDouble).abs().sum().item<double>()) << name;
  }
  ASSERT_EQ(j.at("m").size(), ours.meta.size());
  size_t i = 0;
  for (const auto& [name, v] : j.at("m").items()) {
    EXPECT_EQ(name, ours.meta[i].first);
    const auto& kind = ours.meta[i++].second.kind;
    const auto expected = kind.rfind("int", 0) == 0 ? nlohmann::ordered_json{{"type", kind}}
                                                    : nlohmann::ordered_json(kind);
    EXPECT_EQ(v, expected) << name;
  }
  // Python's torch.save + zstd, read and dequantised by us.
  const NamedTensors tmpl = {{"a", torch::zeros({3, 4})}, {"b", torch::zeros({2})}};
  const auto deq = load_artifact(py_ptz, tmpl);
  const auto expect_a = torch::arange(-6, 6, torch::kFloat).reshape({3, 4}) *
                        torch::tensor({0.5f, 0.25f, 2.0f}).unsqueeze(1);
  EXPECT_TRUE(same(deq[0].second, expect_a));
  EXPECT_TRUE(same(deq[1].second, torch::tensor({1.5f, -2.0f})));
}

// ---------------------------------------------------------------- budget

struct TempRepo {
  std::string root, config;
  TempRepo() {
    root = ::testing::TempDir() + "/code_repo";
    fs::remove_all(root);
    const std::string long_dir = "include/pgolf/" + std::string(60, 'd') + "/" + std::string(50, 'e');
    for (const auto& d : {"src/core", "cmake", long_dir.c_str()}) fs::create_directories(root + "/" + d);
    std::ofstream(root + "/CMakeLists.txt") << "project(x)\n";
    std::ofstream(root + "/src/core/b.cpp") << "int b() { return 2; }\n";
    std::ofstream(root + "/src/a.cpp") << std::string(700, 'a') << "\n";
    std::ofstream(root + "/cmake/x.cmake") << "# x\n";
    std::ofstream(root + "/" + long_dir + "/long_header_name.h") << "#pragma once\n";
    std::ofstream(root + "/README.md") << "not counted\n";
    config = ::testing::TempDir() + "/run_config.json";
    std::ofstream(config) << "{\"model\": {\"num_layers\": 10}}\n";
  }
};

TEST(QuantBudgetTest, EntriesAreSortedAndConfigIsLast) {
  TempRepo repo;
  const auto e = code_entries(repo.root, {repo.config});
  std::vector<std::string> names;
  for (const auto& x : e) names.push_back(x.name);
  ASSERT_EQ(names.size(), 6u);
  EXPECT_EQ(names[0], "CMakeLists.txt");
  EXPECT_EQ(names[1], "cmake/x.cmake");
  EXPECT_EQ(names[3], "src/a.cpp");
  EXPECT_EQ(names[4], "src/core/b.cpp");
  EXPECT_EQ(names[5], "config/1_run_config.json");
  EXPECT_EQ(error_kind_of([&] { code_entries(repo.root + "/src", {}); }), ErrorKind::kInput);
}

TEST(QuantBudgetTest, UstarMatchesGnuTarAndScript) {
  TempRepo repo;
  const auto entries = code_entries(repo.root, {repo.config});
  const auto ours = ustar_archive(entries);
  EXPECT_EQ(ours.size() % 10240, 0u);
  const auto cb = measure_code_bytes(repo.root, {repo.config});
  EXPECT_EQ(cb.tar_bytes, static_cast<int64_t>(ours.size()));
  EXPECT_GT(cb.compressed_bytes, 0);
  if (std::system("tar --version > /dev/null 2>&1") != 0) GTEST_SKIP() << "no GNU tar";
  const std::string stage = ::testing::TempDir() + "/tar_stage";
  fs::remove_all(stage);
  std::ofstream list(stage + ".list");
  for (const auto& e : entries) {
    fs::create_directories(fs::path(stage + "/" + e.name).parent_path());
    std::ofstream(stage + "/" + e.name, std::ios::binary) << entry_bytes(e);  // comments stripped
    list << e.name << "\n";
  }
  list.close();
  const std::string tar = ::testing::TempDir() + "/gnu.tar";
  ASSERT_EQ(std::system(("cd " + stage + " && tar --format=ustar --no-recursion --owner=0 "
                         "--group=0 --numeric-owner --mtime=@0 --mode=0644 -cf " + tar +
                         " -T " + stage + ".list").c_str()), 0);
  const auto gnu = core::read_file(tar);
  ASSERT_EQ(gnu.size(), ours.size());
  EXPECT_TRUE(std::equal(gnu.begin(), gnu.end(), reinterpret_cast<const uint8_t*>(ours.data())));
  const char* src = std::getenv("PGOLF_SOURCE_DIR");
  if (!src || !fs::exists(std::string(src) + "/scripts/code_bytes.sh") ||
      std::system("zstd --version > /dev/null 2>&1") != 0)
    GTEST_SKIP() << "scripts/code_bytes.sh or zstd CLI unavailable";
  const auto out = run_capture("bash " + std::string(src) + "/scripts/code_bytes.sh " +
                               repo.root + " " + repo.config);
  EXPECT_EQ(std::stoll(out), cb.compressed_bytes) << out;
}

TEST(QuantBudgetTest, CapIsDecimalAndOverIsBudgetError) {
  EXPECT_NO_THROW(check_budget({50000, kByteCap - 50000}));
  std::string msg;
  EXPECT_EQ(error_kind_of([&] { check_budget({50000, kByteCap - 49999}); }, &msg),
            ErrorKind::kBudget);
  EXPECT_NE(msg.find("16000001"), std::string::npos) << msg;
}

TEST(QuantBudgetTest, SubmissionJsonHasParameterGolfFields) {
  SubmissionInfo info;
  info.name = "run";
  info.author = "me";
  info.github_id = "me";
  info.blurb = "b";
  info.date = "2026-03-20T00:00:00Z";
  info.val_loss = 1.9;
  info.extra["seeds"] = {42};
  const auto j = submission_json(info, {52930, 15913048});
  EXPECT_EQ(j.at("bytes_total"), 15965978);
  EXPECT_EQ(j.at("bytes_code"), 52930);
  EXPECT_EQ(j.at("bytes_model"), 15913048);
  EXPECT_EQ(j.at("val_loss"), 1.9);
  EXPECT_TRUE(j.at("val_bpb").is_null());
  EXPECT_EQ(j.at("date"), "2026-03-20T00:00:00Z");
  EXPECT_EQ(j.at("seeds")[0], 42);
  for (const char* k : {"name", "author", "github_id", "blurb"}) EXPECT_TRUE(j.contains(k)) << k;
  info.date.clear();
  EXPECT_EQ(submission_json(info, {}).at("date").get<std::string>().size(), 20u);
}

}  // namespace
}  // namespace pgolf::quant
