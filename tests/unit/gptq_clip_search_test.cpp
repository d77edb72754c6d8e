// GPTQ_CLIP_SEARCH=percentile5 (the 1.1122 record's export, issue 22): the five candidate row
// scales, the search keeping the least-MSE GPTQ pass (bit-exact to the plain pass with that fixed
// scale), and the gptq scheme's routing under it (INT_CATS GPTQ, the rest int8 row quantile).
#include <gtest/gtest.h>

#include <algorithm>
#include <limits>
#include <map>
#include <string>

#include "pgolf/core/error.h"
#include "pgolf/quant/gptq.h"
#include "pgolf/quant/gptq_mixed.h"
#include "pgolf/quant/quantize.h"
#include "pgolf/quant/size_estimate.h"

namespace pgolf::quant {
namespace {

torch::Tensor cs_hessian(int64_t n, int64_t seed) {
  torch::manual_seed(seed);
  const auto x = torch::randn({4 * n, n}) + torch::randn({4 * n, 1});  // correlated inputs
  return torch::matmul(x.t(), x) / (4 * n);
}

// Heavy-tailed rows (a few large entries) so the candidates' clips differ.
torch::Tensor cs_weight(int64_t rows, int64_t cols, double scale, int64_t seed) {
  torch::manual_seed(seed);
  auto w = torch::randn({rows, cols}) * scale;
  w.index_put_({torch::indexing::Slice(), torch::indexing::Slice(0, 3)},
               torch::randn({rows, 3}) * (8 * scale));
  return w;
}

TEST(GptqClipSearchTest, CandidateScalesAreTheFiveRowClips) {
  const auto w = cs_weight(6, 4000, 2.0, 1);
  const auto s = percentile_row_scales(w, 31);
  ASSERT_EQ(s.size(), 5u);
  const auto a = w.abs();
  const double qs[4] = {0.999, 0.9995, 0.9999, 0.99999};
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(s[i].scalar_type(), torch::kFloat16);
    EXPECT_EQ(s[i].sizes(), (std::vector<int64_t>{6}));
    const auto clip = i < 4 ? torch::quantile(a, qs[i], /*dim=*/1) : std::get<0>(a.max(1));
    const auto want = (clip / 31.0).clamp_min(1.0 / 31).to(torch::kFloat16);
    EXPECT_TRUE(s[i].equal(want)) << i << ": " << s[i] << " vs " << want;
    if (i > 0) {
      EXPECT_TRUE((s[i] >= s[i - 1]).all().item<bool>()) << i;  // clips grow
    }
  }
  EXPECT_FALSE(s[0].equal(s[4]));
  // Small weights: the 1/31 floor binds for every candidate.
  for (const auto& t : percentile_row_scales(w * 1e-3, 31))
    EXPECT_TRUE(t.eq(torch::full({6}, 1.0 / 31).to(torch::kFloat16)).all().item<bool>());
  EXPECT_THROW(percentile_row_scales(torch::ones({4}), 31), Error);
}

double cs_mse(const torch::Tensor& w, const RowCodes& r) {
  const auto recon = r.q.to(torch::kFloat64) * r.scale.to(torch::kFloat64).unsqueeze(1);
  return (w.to(torch::kFloat64) - recon).pow(2).mean().item<double>();
}

TEST(GptqClipSearchTest, SearchKeepsTheLeastMsePassBitExactly) {
  for (int64_t seed : {2, 3, 4}) {
    const auto w = cs_weight(16, 300, 0.5, seed);
    const auto h = cs_hessian(300, seed + 10);
    const auto best = gptq_quantize_percentile(w, h, 31);
    ASSERT_GE(best.candidate, 0);
    ASSERT_LT(best.candidate, 5);
    const auto scales = percentile_row_scales(w, 31);
    double min_err = std::numeric_limits<double>::infinity();
    std::vector<double> errs;
    for (const auto& s : scales) {
      errs.push_back(cs_mse(w, gptq_quantize_fixed_scale(w, h, s, 31)));
      min_err = std::min(min_err, errs.back());
    }
    // The candidates differ (the search has something to choose), and the winner is the
    // minimum to rounding (fp32 means in another order).
    EXPECT_GT(*std::max_element(errs.begin(), errs.end()), min_err * 1.01) << seed;
    EXPECT_LE(errs[best.candidate], min_err * (1 + 1e-5)) << seed;
    const auto fixed = gptq_quantize_fixed_scale(w, h, scales[best.candidate], 31);
    EXPECT_TRUE(best.codes.q.equal(fixed.q)) << seed;
    EXPECT_TRUE(best.codes.scale.equal(fixed.scale)) << seed;
    EXPECT_GE(best.codes.q.min().item<int>(), -31);
    EXPECT_LE(best.codes.q.max().item<int>(), 31);
  }
  EXPECT_THROW(gptq_quantize_fixed_scale(torch::ones({4, 8}), torch::eye(8),
                                         torch::ones({3}), 31),
               Error);
}

TEST(GptqClipSearchTest, MixedQuantizeRoutesLikeThe1122Record) {
  torch::manual_seed(7);
  const core::NamedTensors flat = {{"blocks.0.mlp.fc.weight", torch::randn({96, 64}) * 0.05},
                                   {"blocks.0.attn.c_q.weight", torch::randn({64, 64}) * 0.05},
                                   {"bigram.embed.weight", torch::randn({40, 64}) * 0.05},
                                   {"blocks.0.attn_scale", torch::ones({64})},
                                   {"tok_emb.weight", torch::randn({96, 64}) * 0.08}};
  const core::NamedTensors hess = {{"blocks.0.mlp.fc.weight", cs_hessian(64, 8)},
                                   {"blocks.0.attn.c_q.weight", cs_hessian(64, 9)}};
  config::QuantConfig c;
  c.quant_scheme = config::QuantScheme::kGptq;
  c.gptq_clip_search = config::GptqClipSearch::kPercentile5;
  c.int_cats = "mlp,attn";
  c.passthrough_max_numel = 1024;
  c.prune_pct = 0;  // the size model below does not model pruning
  const auto r = gptq_mixed_quantize(flat, hess, c);  // no Hessian needed outside INT_CATS
  std::map<std::string, std::string> kind;
  for (const auto& [n, e] : r.meta) kind[n] = e.kind;
  EXPECT_EQ(kind["blocks.0.attn_scale"], "passthrough (float16)");
  for (const char* n : {"tok_emb.weight", "bigram.embed.weight"}) {
    EXPECT_EQ(kind[n], "int8 (row quantile)") << n;
    EXPECT_EQ(gptq_route(n, *core::find_tensor(flat, n), c), GptqRoute::kInt8) << n;
    const auto want = quantize_clip_quantile(*core::find_tensor(flat, n), 127, kInt8ClipQuantile);
    EXPECT_TRUE(core::find_tensor(r.w, std::string(n) + ".q")->equal(want.q)) << n;
    EXPECT_TRUE(core::find_tensor(r.w, std::string(n) + ".scale")->equal(want.scale)) << n;
  }
  for (const char* n : {"blocks.0.mlp.fc.weight", "blocks.0.attn.c_q.weight"}) {
    EXPECT_EQ(kind[n], "gptq (int6)") << n;
    // The record's _finalize_hessians damping comes first: H + 0.01 mean(diag H) I.
    const auto& h = *core::find_tensor(hess, n);
    const auto damped = h + torch::eye(64) * (0.01 * torch::diag(h).mean());
    const auto want = gptq_quantize_percentile(*core::find_tensor(flat, n), damped, 31);
    EXPECT_TRUE(core::find_tensor(r.w, std::string(n) + ".q")->equal(want.codes.q)) << n;
  }
  EXPECT_TRUE(is_gptq_meta(r.meta));
  const auto deq = dequantize_gptq(r, flat, "test");
  for (size_t i = 0; i < flat.size(); ++i)
    EXPECT_LT((deq[i].second - flat[i].second).abs().max().item<double>(), 0.05) << flat[i].first;
  // The size model takes the same routes.
  const auto est = estimate_model_bytes(flat, c, SizeAssumptions{});
  std::map<std::string, std::string> ek;
  for (const auto& t : est.tensors) ek[t.name] = t.kind;
  EXPECT_EQ(ek["tok_emb.weight"], "int8 (row quantile)");
  EXPECT_EQ(ek["blocks.0.mlp.fc.weight"], "gptq (int6)");
  // SDClip (the default) keeps every big float tensor on GPTQ.
  c.gptq_clip_search = config::GptqClipSearch::kSdclip;
  EXPECT_EQ(gptq_route("tok_emb.weight", *core::find_tensor(flat, "tok_emb.weight"), c),
            GptqRoute::kGptq);
}

}  // namespace
}  // namespace pgolf::quant
