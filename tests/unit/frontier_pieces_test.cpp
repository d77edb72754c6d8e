// The 1.0611 record's pieces one at a time (model/*_banked.h, optim/muon.h, their config knobs);
// the golden frontier_* tests check them together against the record's own outputs.
#include <cmath>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "common/tiny_banked.h"
#include "pgolf/config/resolve.h"
#include "pgolf/core/error.h"
#include "pgolf/model/gpt_banked.h"
#include "pgolf/model/layers.h"
#include "pgolf/optim/muon.h"

namespace pgolf {
namespace {

using model::VirtualLayers;

TEST(FrontierPiecesTest, VirtualLayersOfTheRecordAndWithoutLoops) {
  // 1.0611: 11 layers, loop 3..5 x3 -> 17 virtual layers (its log's loop_warmup line).
  const VirtualLayers rec = model::virtual_layers(11, 2, 3, 5);
  EXPECT_EQ(rec.encoder, (std::vector<int64_t>{0, 1, 2, 3, 4, 5, 3, 4}));
  EXPECT_EQ(rec.decoder, (std::vector<int64_t>{5, 3, 4, 5, 6, 7, 8, 9, 10}));
  const VirtualLayers plain = model::virtual_layers(5, 0, 0, 0);
  EXPECT_EQ(plain.encoder, (std::vector<int64_t>{0, 1}));
  EXPECT_EQ(plain.decoder, (std::vector<int64_t>{2, 3, 4}));
  EXPECT_THROW(model::virtual_layers(4, 1, 2, 4), Error);
}

TEST(FrontierPiecesTest, CuSeqlensSplitsLongDocumentsAndPads) {
  const auto [cu, longest] = model::build_cu_seqlens({5, 6}, 20, /*max_doc_len=*/4, /*bucket=*/8);
  // Docs [0,5) [5,6) [6,20) -> pieces 0,4 | 5 | 6,10,14,18; padded with 20 to 8 entries.
  EXPECT_TRUE(torch::equal(cu, torch::tensor({0, 4, 5, 6, 10, 14, 18, 20}, torch::kInt32)));
  EXPECT_EQ(longest, 4);
  const auto seg = model::segment_ids(torch::tensor({0, 3, 5, 5, 5}, torch::kInt32), 5);
  EXPECT_TRUE(torch::equal(seg, torch::tensor({0, 0, 0, 1, 1}, torch::kInt64)));
  EXPECT_THROW(model::segment_ids(torch::tensor({1, 5}, torch::kInt32), 5), Error);
}

TEST(FrontierPiecesTest, SegmentAttentionEqualsAttentionOfEachSegmentAlone) {
  torch::manual_seed(0);
  const auto q = torch::randn({1, 7, 4, 8}), k = torch::randn({1, 7, 2, 8}), v = torch::randn({1, 7, 2, 8});
  const auto seg = model::segment_ids(torch::tensor({0, 3, 7}, torch::kInt32), 7);
  const auto y = model::banked_causal_attention(q, k, v, seg);
  const auto a = model::banked_causal_attention(q.narrow(1, 0, 3), k.narrow(1, 0, 3), v.narrow(1, 0, 3), {});
  const auto b = model::banked_causal_attention(q.narrow(1, 3, 4), k.narrow(1, 3, 4), v.narrow(1, 3, 4), {});
  EXPECT_TRUE(torch::allclose(y, torch::cat({a, b}, 1), 1e-5, 1e-6));
}

TEST(FrontierPiecesTest, PartialRotaryTouchesOnlyItsDims) {
  torch::manual_seed(1);
  const auto x = torch::randn({1, 5, 2, 16});
  model::Rotary rot(/*head_dim=*/4, /*base=*/10000.0);
  auto [cos, sin] = rot.tables(5, torch::kCPU, torch::kFloat32, false);
  cos = cos.view({1, 5, 1, 2});
  sin = sin.view({1, 5, 1, 2});
  const auto y = model::partial_rotary(x, cos, sin, 4);
  EXPECT_TRUE(torch::equal(y.narrow(-1, 4, 12), x.narrow(-1, 4, 12)));
  // The rotated dims are pairs (i, i+2) of the first 4, each keeping its norm.
  const auto n = [](const torch::Tensor& t, int64_t i) {
    return t.narrow(-1, i, 1).square() + t.narrow(-1, i + 2, 1).square();
  };
  EXPECT_TRUE(torch::allclose(n(y, 0), n(x, 0), 1e-5, 1e-6));
  EXPECT_TRUE(torch::allclose(n(y, 1), n(x, 1), 1e-5, 1e-6));
  EXPECT_FALSE(torch::allclose(y.narrow(-1, 0, 4).narrow(1, 1, 4), x.narrow(-1, 0, 4).narrow(1, 1, 4)));
}

TEST(FrontierPiecesTest, XsaRemovesTheOwnValueDirectionPerKvGroup) {
  torch::manual_seed(2);
  const auto y = torch::randn({2, 3, 4, 8}), v = torch::randn({2, 3, 2, 8});
  const auto out = model::exclusive_self_attention(y, v);
  // Heads 0,1 read KV group 0 and heads 2,3 group 1: each output is orthogonal to its group's v.
  const auto vr = v.repeat_interleave(2, /*dim=*/2);
  EXPECT_LT((out * vr).sum(-1).abs().max().item<double>(), 1e-5);
  // What is left of y is y minus a multiple of v.
  const auto diff = y - out;
  const auto cosine = (diff * vr).sum(-1) / (diff.norm(2, -1) * vr.norm(2, -1) + 1e-12);
  EXPECT_GT(cosine.abs().min().item<double>(), 0.9999);
}

TEST(FrontierPiecesTest, SmearGateV2KeepsBosAndIsIdentityAtInit) {
  torch::manual_seed(3);
  const auto x = torch::randn({1, 4, 6});
  const auto ids = torch::tensor({{1, 5, 1, 7}}, torch::kInt64);
  EXPECT_TRUE(torch::equal(model::smear_gate_v2(x, ids, torch::zeros({1, 3}), torch::zeros({1})), x));
  const auto y = model::smear_gate_v2(x, ids, torch::zeros({1, 3}), torch::ones({1}));
  // sigmoid(0) = 0.5: non-BOS positions gain 0.5 x_{t-1}; BOS positions (0 and 2) unchanged.
  EXPECT_TRUE(torch::equal(y.select(1, 0), x.select(1, 0)));
  EXPECT_TRUE(torch::equal(y.select(1, 2), x.select(1, 2)));
  EXPECT_TRUE(torch::allclose(y.select(1, 3), x.select(1, 3) + 0.5 * x.select(1, 2)));
}

TEST(FrontierPiecesTest, LnScaleFactor) {
  EXPECT_DOUBLE_EQ(model::ln_scale_factor(3, true), 0.5);
  EXPECT_DOUBLE_EQ(model::ln_scale_factor(3, false), 1.0);
}

config::ModelConfig tiny_banked() { return testing::tiny_banked_config(64, 4); }

TEST(FrontierPiecesTest, BankedGptAtInitIsTheEmbeddingThroughZeroBlocks) {
  // Zero out/down banks: every block is the identity, so logits are the tied head of the
  // normed embedding; gates at their zero init change nothing.
  auto cfg = tiny_banked();
  cfg.num_loops = 1;
  cfg.loop_start = 1;
  cfg.loop_end = 2;
  cfg.sparse_attn_gate_enabled = true;
  cfg.smear_gate_enabled = true;
  cfg.skip_gates_enabled = true;
  cfg.parallel_start_layer = 2;
  torch::manual_seed(4);
  model::BankedGPT m(cfg);
  m->set_looping(true);
  const auto ids = torch::randint(2, 64, {2, 9}, torch::kInt64);
  torch::NoGradGuard no_grad;
  // Skips (all equal to x0 here) through a 0.5 gate and the lanes' 1.1 residual scale only
  // rescale x, which the final norm removes (x0 itself is not unit-RMS: the norm's eps is 0.5%
  // of an N(0, 0.005^2) embedding's mean square, so the final norm is kept).
  const auto w = m->tok_emb->weight;
  const auto h = torch::rms_norm(torch::rms_norm(torch::embedding(w, ids), {32}), {32});
  const auto want = 30.0 * torch::tanh(torch::nn::functional::linear(h, w) / 30.0);
  EXPECT_TRUE(torch::allclose(m->forward_logits(ids), want, 1e-4, 1e-5));
  EXPECT_EQ(m->state_dict().front().first, "qo_bank");
  EXPECT_EQ(m->qo_bank.size(0), 8);
}

TEST(FrontierPiecesTest, PresetHasTheRecordsParameterCount) {
  config::Layers layers;
  layers.files = {PGOLF_FRONTIER_PRESET};
  config::Resolved r;
  ASSERT_TRUE(config::apply_layers(layers, r).empty());
  EXPECT_TRUE(config::validate(r.cfg, /*world_size=*/8).empty());
  model::BankedGPT m(r.cfg.model);
  int64_t n = 0;
  for (const auto& [k, t] : m->state_dict()) n += t.numel();
  EXPECT_EQ(n, 35945671);  // the record's train_seed42.log: model_params:35945671
  EXPECT_EQ(m->layers().encoder, (std::vector<int64_t>{0, 1, 2, 3, 4, 5, 3, 4}));
}

TEST(FrontierPiecesTest, KnobsNeedParamBanksAndGatesAreExclusive) {
  config::Config c;
  c.model.skip_gates_enabled = true;  // XSA builds into both GPTs now; the skip gates do not
  auto errs = config::validate(c, 1);
  EXPECT_TRUE(std::any_of(errs.begin(), errs.end(),
                          [](const std::string& e) { return e.find("param_banks=1") != std::string::npos; }));
  c.model = tiny_banked();
  c.model.sparse_attn_gate_enabled = c.model.gated_attn_enabled = true;
  errs = config::validate(c, 1);
  EXPECT_TRUE(std::any_of(errs.begin(), errs.end(),
                          [](const std::string& e) { return e.find("mutually exclusive") != std::string::npos; }));
}

TEST(FrontierPiecesTest, PolarExpressBatchesPerMatrixAndOrthogonalises) {
  torch::manual_seed(5);
  const auto g = torch::randn({3, 16, 24});
  const auto batched = optim::polar_express_ns(g, 5, 1e-7, torch::kFloat32);
  for (int64_t i = 0; i < 3; ++i)
    EXPECT_TRUE(torch::allclose(batched[i], optim::polar_express_ns(g[i], 5, 1e-7, torch::kFloat32),
                                1e-5, 1e-6));
  // Near-orthogonal rows: singular values close to 1 (Polar Express leaves them in ~[0.7, 1.2]).
  const auto s = torch::linalg_svdvals(batched[0]);
  EXPECT_GT(s.min().item<double>(), 0.5);
  EXPECT_LT(s.max().item<double>(), 1.5);
  // Tall input: the transposed iteration gives the transpose of the wide one.
  const auto tall = optim::polar_express_ns(g[0].t(), 5, 1e-7, torch::kFloat32);
  EXPECT_TRUE(torch::allclose(tall, batched[0].t(), 1e-5, 1e-6));
}

TEST(FrontierPiecesTest, RowNormalizeGivesUnitRows) {
  const auto u = optim::row_normalize(torch::tensor({{3.0f, 4.0f}, {0.0f, 0.0f}}));
  EXPECT_TRUE(torch::allclose(u, torch::tensor({{0.6f, 0.8f}, {0.0f, 0.0f}})));
}

TEST(FrontierPiecesTest, BankedMuonTakesBanksThePr180FormDoesNot) {
  optim::ParamGroup g;
  g.label = "muon";
  g.names = {"qo_bank"};
  g.params = {torch::zeros({2, 4, 4})};
  EXPECT_THROW(optim::Muon({g}, optim::MuonOptions{}, nullptr), Error);
  optim::MuonOptions banked;
  banked.banked = banked.polar_express = true;
  optim::Muon muon({g}, banked, nullptr);
  muon.set_lr_scale(1.0);
  muon.groups()[0].lr = 0.1;
  muon.set_momentum(0.9);
  muon.groups()[0].params[0].mutable_grad() = torch::randn({2, 4, 4});
  muon.step();
  EXPECT_EQ(muon.state_tensors().at(0).second.scalar_type(), torch::kBFloat16);
  EXPECT_GT(muon.groups()[0].params[0].abs().sum().item<double>(), 0.0);
}

}  // namespace
}  // namespace pgolf
