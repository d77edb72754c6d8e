// The banked GPT's two-lane parallel residual forms (PARALLEL_LANES): the lane_merge form of the
// 1.0822 record (PR #1477; records/track_10min_16mb/2026-04-08_SP8192_ParallelResid_ScoreFirstTTT,
// also PR #1334) against its definition, the tensors each form registers (names, shapes, init),
// the optimiser group of lane_merge, a checkpoint round trip, and the knob's validation. Also the
// classic Newton-Schulz on banks (the 1.0810 preset: MUON_FORM=banked, MUON_NS_COEFFS=exact).
#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "common/tiny_banked.h"
#include "pgolf/config/resolve.h"
#include "pgolf/model/gpt_banked.h"
#include "pgolf/model/layers.h"
#include "pgolf/optim/muon.h"
#include "pgolf/optim/param_groups.h"

namespace pgolf {
namespace {

namespace F = torch::nn::functional;
using config::ParallelLanes;

config::ModelConfig lanes_config(ParallelLanes form, int64_t start) {
  auto m = testing::tiny_banked_config(64, 4);
  m.skip_gates_enabled = true;
  m.ln_scale = true;
  m.rope_dims = 4;
  m.parallel_lanes = form;
  m.parallel_start_layer = start;
  return m;
}

bool has_key(const model::BankedGPT& m, const std::string& key) {
  const auto sd = m->state_dict();
  return std::any_of(sd.begin(), sd.end(), [&](const auto& kv) { return kv.first == key; });
}

// Every parameter random (the record's init zeroes the out/down banks: blocks would be the
// identity and the lanes indistinguishable).
void randomize(model::BankedGPT& m) {
  torch::NoGradGuard no_grad;
  for (auto& p : m->parameters()) p.copy_(0.3 * torch::randn(p.sizes()));
}

model::LayerWeights layer_weights(const model::BankedGPT& m, int64_t i) {
  const int64_t n = m->config().num_layers;
  return {m->qo_bank[i], m->kv_bank[i], m->kv_bank[n + i], m->qo_bank[n + i], m->mlp_up_bank[i],
          m->mlp_down_bank[i]};
}

model::BankedContext context(const config::ModelConfig& cfg, int64_t T) {
  model::Rotary rotary(cfg.rope_dims, cfg.rope_base);
  auto [cos, sin] = rotary.tables(T, torch::kCPU, torch::kFloat32, /*faithful=*/false);
  model::BankedContext ctx;
  ctx.cos = cos.view({1, T, 1, -1});
  ctx.sin = sin.view({1, T, 1, -1});
  return ctx;
}

TEST(BankedLanesTest, EachFormRegistersItsRecordsTensors) {
  model::BankedGPT routed(lanes_config(ParallelLanes::kRouted, 0));
  EXPECT_TRUE(has_key(routed, "parallel_post_lambdas") && has_key(routed, "parallel_resid_lambdas"));
  EXPECT_TRUE(torch::equal(routed->parallel_resid_lambdas, torch::full({4, 2}, 1.1)));
  EXPECT_FALSE(has_key(routed, "lane_merge"));
  model::BankedGPT merge(lanes_config(ParallelLanes::kLaneMerge, 2));
  ASSERT_TRUE(has_key(merge, "lane_merge"));
  EXPECT_EQ(merge->lane_merge.dim(), 0);  // torch.tensor(0.5): a 0-d scalar
  EXPECT_EQ(merge->lane_merge.item<float>(), 0.5f);
  EXPECT_FALSE(has_key(merge, "parallel_post_lambdas") || has_key(merge, "parallel_resid_lambdas"));
  model::BankedGPT merge_off(lanes_config(ParallelLanes::kLaneMerge, 0));  // lanes off: no scalar
  model::BankedGPT none(lanes_config(ParallelLanes::kNone, 0));
  EXPECT_FALSE(has_key(merge_off, "lane_merge") || has_key(none, "parallel_post_lambdas"));
  const auto count = [](const model::BankedGPT& m) {
    int64_t n = 0;
    for (const auto& p : m->parameters()) n += p.numel();
    return n;
  };
  EXPECT_EQ(count(routed) - count(none), 4 * (4 + 2));  // L x (2x2 post + 2 resid)
  EXPECT_EQ(count(merge) - count(none), 1);
  EXPECT_EQ(count(merge_off), count(none));
}

TEST(BankedLanesTest, LaneBlockIsTheRecordsForwardAttnAndForwardMlp) {
  auto cfg = lanes_config(ParallelLanes::kLaneMerge, 2);
  torch::manual_seed(1);
  model::BankedGPT m(cfg);
  randomize(m);
  const int64_t T = 6;
  const auto ctx = context(cfg, T);
  const auto lane0 = torch::randn({2, T, 32}), lane1 = torch::randn({2, T, 32});
  const auto x0 = torch::randn({2, T, 32});
  auto& block = m->blocks->at<model::BankedBlockImpl>(3);
  const auto w = layer_weights(m, 3);
  torch::NoGradGuard no_grad;
  const auto [l0, l1] = block.forward_lanes(lane0, lane1, x0, w, ctx);
  const double ln = 1.0 / 2.0;  // LN scale of layer 3: 1/sqrt(4)
  const auto x_in = block.resid_mix[0] * lane0 + block.resid_mix[1] * x0;
  const auto a = block.attn->forward(torch::rms_norm(x_in, {32}) * ln, w.q, w.k, w.v, w.out,
                                     ctx.cos, ctx.sin, {}, {});
  const auto h = F::leaky_relu(F::linear(torch::rms_norm(lane1, {32}) * ln, w.up),
                               F::LeakyReLUFuncOptions().negative_slope(0.5));
  const auto mlp = F::linear(h.square(), w.down);
  EXPECT_TRUE(torch::allclose(l0, x_in + block.attn_scale * a, 1e-5, 1e-6));
  EXPECT_TRUE(torch::allclose(l1, lane1 + block.mlp_scale * mlp, 1e-5, 1e-6));
}

// L=4, no loops: encoder 0,1; decoder 2,3 both parallel. The record (PR #1477): the first
// parallel layer's skip enters x before the split, the second's lane 0; lm*lane0 + (1-lm)*lane1.
TEST(BankedLanesTest, DecoderSplitsAfterTheSkipAndMergesWithLaneMerge) {
  auto cfg = lanes_config(ParallelLanes::kLaneMerge, 2);
  torch::manual_seed(2);
  model::BankedGPT m(cfg);
  randomize(m);
  const auto ids = torch::randint(0, 64, {2, 7}, torch::kInt64);
  model::BankedTrace trace;
  m->set_trace(&trace);
  torch::NoGradGuard no_grad;
  m->forward_logits(ids);
  ASSERT_EQ(trace.block_calls.size(), 2u);  // the encoder's; the lane layers are not traced
  const auto s0 = trace.block_calls[0].second, s1 = trace.block_calls[1].second;
  const auto x0 = torch::rms_norm(torch::embedding(m->tok_emb->weight, ids), {32});
  const auto skip = [&](const torch::Tensor& x, const torch::Tensor& s, int64_t i) {
    return torch::lerp(m->skip_weights[i] * s, x, torch::sigmoid(m->skip_gates[i]));
  };
  const auto ctx = context(cfg, 7);
  const auto x = skip(s1, s1, 0);
  auto [l0, l1] = m->blocks->at<model::BankedBlockImpl>(2).forward_lanes(x, x, x0,
                                                                          layer_weights(m, 2), ctx);
  std::tie(l0, l1) = m->blocks->at<model::BankedBlockImpl>(3).forward_lanes(
      skip(l0, s0, 1), l1, x0, layer_weights(m, 3), ctx);
  const auto lm = m->lane_merge;
  EXPECT_TRUE(torch::allclose(trace.final_norm_in, lm * l0 + (1 - lm) * l1, 1e-5, 1e-6));
  // Lane 1 without the first skip (the routed form's order) gives another hidden: the check above
  // tells the two orders apart.
  auto [r0, r1] = m->blocks->at<model::BankedBlockImpl>(2).forward_lanes(x, s1, x0,
                                                                          layer_weights(m, 2), ctx);
  std::tie(r0, r1) = m->blocks->at<model::BankedBlockImpl>(3).forward_lanes(
      skip(r0, s0, 1), r1, x0, layer_weights(m, 3), ctx);
  EXPECT_FALSE(torch::allclose(trace.final_norm_in, lm * r0 + (1 - lm) * r1, 1e-3, 1e-4));
  m->set_trace(nullptr);
}

TEST(BankedLanesTest, LaneMergeTrainsInTheScalarGroupAndRoundTrips) {
  auto cfg = lanes_config(ParallelLanes::kLaneMerge, 2);
  torch::manual_seed(3);
  model::BankedGPT m(cfg);
  randomize(m);
  const auto ids = torch::randint(0, 64, {2, 5}, torch::kInt64);
  m->forward(ids, ids).backward();
  ASSERT_TRUE(m->lane_merge.grad().defined());
  EXPECT_GT(m->lane_merge.grad().abs().item<double>(), 0.0);
  const auto plan = optim::build_param_groups(m->state_dict(), config::OptimConfig{}, {});
  EXPECT_NE(std::find(plan.scalar.begin(), plan.scalar.end(), "lane_merge"), plan.scalar.end());
  model::BankedGPT back(cfg);
  back->load_state_dict(m->state_dict());
  torch::NoGradGuard no_grad;
  EXPECT_TRUE(torch::equal(back->forward_logits(ids), m->forward_logits(ids)));
}

TEST(BankedLanesTest, ValidationNamesTheKnob) {
  const auto errors = [](const config::ModelConfig& m) {
    config::Config c;
    c.model = m;
    std::string all;
    for (const auto& e : config::validate(c, 1)) all += e + "\n";
    return all;
  };
  EXPECT_EQ(errors(lanes_config(ParallelLanes::kLaneMerge, 2)).find("parallel_lanes"),
            std::string::npos);
  EXPECT_NE(errors(lanes_config(ParallelLanes::kNone, 2)).find("parallel_lanes=none"),
            std::string::npos);
  EXPECT_NE(errors(lanes_config(ParallelLanes::kLaneMerge, 4)).find("parallel_lanes=lane_merge"),
            std::string::npos);
  auto attn_lane = lanes_config(ParallelLanes::kLaneMerge, 2);
  attn_lane.parallel_final_lane = config::ParallelFinalLane::kAttn;
  EXPECT_NE(errors(attn_lane).find("parallel_final_lane"), std::string::npos);
  auto unbanked = config::ModelConfig{};
  unbanked.parallel_lanes = ParallelLanes::kNone;
  EXPECT_NE(errors(unbanked).find("parallel_lanes"), std::string::npos);
}

// The 1.0810 record orthogonalises each unbanked matrix with the classic NS5; on a bank that is
// each matrix alone (it threw "expected a 2-D matrix" before, so that preset could not train).
TEST(BankedClassicNsTest, NewtonSchulzOfABankIsEachMatrixAloneAndBankedMuonSteps) {
  torch::manual_seed(5);
  const auto g = torch::randn({3, 8, 16});
  const auto x = optim::newton_schulz5(g, 5, 1e-7, false, torch::kFloat32);
  ASSERT_EQ(x.sizes(), g.sizes());
  for (int64_t i = 0; i < 3; ++i)
    EXPECT_TRUE(torch::equal(x[i], optim::newton_schulz5(g[i], 5, 1e-7, false, torch::kFloat32)));
  optim::ParamGroup group;
  group.label = "muon";
  group.names = {"qo_bank"};
  group.params = {torch::zeros({2, 4, 4})};
  optim::MuonOptions opts;
  opts.banked = true;  // polar_express stays off: the classic coefficients
  optim::Muon muon({group}, opts, nullptr);
  muon.set_lr_scale(1.0);
  muon.groups()[0].lr = 0.1;
  muon.set_momentum(0.9);
  muon.groups()[0].params[0].mutable_grad() = torch::randn({2, 4, 4});
  muon.step();
  EXPECT_GT(muon.groups()[0].params[0].abs().sum().item<double>(), 0.0);
}

}  // namespace
}  // namespace pgolf
