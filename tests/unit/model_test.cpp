// Unit tests for pgolf::model on small configurations: causality (GQA and MLA), GQA semantics for
// 1, 2 and num_heads KV heads, U-Net skips with odd and even depth, MLA shapes, the reference's
// state-dict order, the switches (bigram, smear, untied head, leaky_relu2), strict weight loading,
// and the FLOP count used by `pgolf bench`. The golden tests cover numerical equality with the
// reference; these tests cover the structure around it.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include <ATen/autocast_mode.h>

#include "pgolf/core/error.h"
#include "pgolf/model/compat.h"
#include "pgolf/model/flops.h"
#include "pgolf/model/gpt.h"
#include "pgolf/model/params.h"
#include "common/tiny_model.h"

namespace pgolf::model {
namespace {

constexpr int64_t kVocab = 64;

// The tiny model with 3 layers, 4 heads of 8 (2 KV heads); bigram 50 x 16 (with proj), smear and
// U-Net on.
config::ModelConfig small_config() {
  auto c = testing::tiny_model_config(kVocab, 3, 4, 2);
  c.bigram_vocab_size = 50;
  c.bigram_dim = 16;
  c.kv_rank = 12;
  return c;
}

// Every parameter ~ 0.3 N(0,1) (the reference init zeroes the output projections, which would
// make attention invisible), gates/scales included.
void randomize(GPTImpl& m, uint64_t seed) {
  torch::manual_seed(seed);
  testing::randomize_parameters(m, 0.3);
}

GPT make(const config::ModelConfig& c, uint64_t seed = 7) {
  torch::manual_seed(seed);
  GPT m(c);
  randomize(*m, seed + 1);
  m->eval();
  return m;
}

torch::Tensor ids_for(uint64_t seed, int64_t B = 2, int64_t T = 12) {
  torch::manual_seed(seed);
  return torch::randint(2, kVocab, {B, T}, torch::kLong);  // no BOS (id 1)
}

torch::Tensor logits(GPT& m, const torch::Tensor& ids) {
  torch::NoGradGuard no_grad;
  return m->forward_logits(ids);
}

std::vector<std::string> keys(const GPT& m) {
  std::vector<std::string> out;
  for (const auto& kv : m->state_dict()) out.push_back(kv.first);
  return out;
}

// By value: named_parameters() returns a temporary dict, so a reference into it would dangle.
torch::Tensor param(const GPT& m, const std::string& name) {
  for (const auto& kv : m->named_parameters())
    if (kv.key() == name) return kv.value();
  throw std::runtime_error("no parameter " + name);
}

void set_param(GPT& m, const std::string& name, const torch::Tensor& value) {
  torch::NoGradGuard no_grad;
  param(m, name).copy_(value);  // shares storage with the module's parameter
}

double max_diff(const torch::Tensor& a, const torch::Tensor& b) {
  return (a - b).abs().max().item<double>();
}

// Changing token t+1 leaves logits at positions <= t unchanged (bit for bit up to 1e-6) and
// changes position t+1.
void expect_causal(GPT& m) {
  const auto ids = ids_for(3);
  const auto base = logits(m, ids);
  const int64_t T = ids.size(1);
  for (int64_t t = 0; t + 1 < T; ++t) {
    auto changed = ids.clone();
    changed.select(1, t + 1).copy_((changed.select(1, t + 1) + 5) % kVocab);
    const auto out = logits(m, changed);
    EXPECT_LE(max_diff(out.narrow(1, 0, t + 1), base.narrow(1, 0, t + 1)), 1e-6)
        << "position <= " << t << " saw token " << t + 1;
    EXPECT_GT(max_diff(out.select(1, t + 1), base.select(1, t + 1)), 1e-4)
        << "position " << t + 1 << " ignored its own token";
  }
}

// Attention must carry information forward: with bigram and smear off, only attention links
// token 0 to the last position.
void expect_attention_reaches_back(config::ModelConfig c) {
  c.bigram_vocab_size = 0;
  c.smear_gate = false;
  auto m = make(c);
  const auto ids = ids_for(4);
  auto changed = ids.clone();
  changed.select(1, 0).copy_((changed.select(1, 0) + 5) % kVocab);
  const auto last = [&](const torch::Tensor& x) { return logits(m, x).select(1, -1); };
  EXPECT_GT(max_diff(last(ids), last(changed)), 1e-4) << "last position does not see token 0";
}

TEST(ModelTest, GqaIsCausal) {
  for (int64_t kv : {1, 2, 4}) {
    SCOPED_TRACE("num_kv_heads " + std::to_string(kv));
    auto c = small_config();
    c.num_kv_heads = kv;
    auto m = make(c);
    expect_causal(m);
    expect_attention_reaches_back(c);
  }
}

TEST(ModelTest, MlaIsCausal) {
  auto c = small_config();
  c.attention = config::Attention::kMla;
  auto m = make(c);
  expect_causal(m);
  expect_attention_reaches_back(c);
}

TEST(ModelTest, GqaShapes) {
  for (int64_t kv : {1, 2, 4}) {
    auto c = small_config();
    c.num_kv_heads = kv;
    auto m = make(c);
    const int64_t D = c.model_dim / c.num_heads;
    EXPECT_EQ(param(m, "blocks.0.attn.c_k.weight").sizes(), (std::vector<int64_t>{kv * D, 32}));
    EXPECT_EQ(param(m, "blocks.2.attn.c_v.weight").sizes(), (std::vector<int64_t>{kv * D, 32}));
    EXPECT_EQ(param(m, "blocks.1.attn.q_gain").sizes(), (std::vector<int64_t>{4}));
    EXPECT_EQ(logits(m, ids_for(1)).sizes(), (std::vector<int64_t>{2, 12, kVocab}));
  }
}

// GQA semantics: query head h reads KV head h / (H / Hkv). A 2-KV-head model must equal the
// 4-head model whose c_k/c_v repeat each KV head's rows for its group of query heads.
TEST(ModelTest, GqaEqualsMhaWithRepeatedKvHeads) {
  auto c = small_config();
  auto gqa = make(c);
  c.num_kv_heads = c.num_heads;
  GPT mha(c);
  mha->eval();
  const int64_t D = c.model_dim / c.num_heads, rep = 2;
  core::NamedTensors sd;
  for (const auto& [name, t] : gqa->state_dict()) {
    const bool kv =
        name.find("attn.c_k") != std::string::npos || name.find("attn.c_v") != std::string::npos;
    // (Hkv*D, dim) -> (Hkv, D, dim) -> repeat each head -> (H*D, dim)
    sd.emplace_back(
        name,
        kv ? t.view({-1, D, t.size(1)}).repeat_interleave(rep, 0).reshape({-1, t.size(1)}) : t);
  }
  mha->load_state_dict(sd);
  const auto ids = ids_for(5);
  EXPECT_LE(max_diff(logits(gqa, ids), logits(mha, ids)), 1e-5);
}

TEST(ModelTest, UnetSkipsOddAndEvenDepth) {
  for (int64_t layers : {3, 4, 5}) {
    SCOPED_TRACE("num_layers " + std::to_string(layers));
    auto c = small_config();
    c.num_layers = layers;
    auto m = make(c);
    EXPECT_EQ(m->num_encoder_layers(), layers / 2);
    EXPECT_EQ(m->num_decoder_layers(), layers - layers / 2);
    EXPECT_EQ(param(m, "skip_weights").sizes(), (std::vector<int64_t>{layers / 2, 32}));
    const auto ids = ids_for(6);
    const auto with_skips = logits(m, ids);
    EXPECT_EQ(with_skips.sizes(), (std::vector<int64_t>{2, 12, kVocab}));

    // Zero skip weights make the U-Net model equal to the plain stack with the same weights.
    auto plain_cfg = c;
    plain_cfg.unet_skips = false;
    GPT plain(plain_cfg);
    plain->eval();
    auto sd = m->state_dict();
    sd.erase(sd.begin());  // skip_weights is the first key
    plain->load_state_dict(sd);
    for (const auto& k : keys(plain)) EXPECT_NE(k, "skip_weights");
    EXPECT_GT(max_diff(with_skips, logits(plain, ids)), 1e-4) << "skip weights have no effect";
    set_param(m, "skip_weights", torch::zeros({layers / 2, 32}));
    EXPECT_LE(max_diff(logits(m, ids), logits(plain, ids)), 1e-6);
  }
}

TEST(ModelTest, UnetOneLayerHasEmptySkipWeights) {
  auto c = small_config();
  c.num_layers = 1;
  auto m = make(c);
  EXPECT_EQ(param(m, "skip_weights").sizes(), (std::vector<int64_t>{0, 32}));
  EXPECT_EQ(logits(m, ids_for(1)).sizes(), (std::vector<int64_t>{2, 12, kVocab}));
}

TEST(ModelTest, MlaShapesAndKeys) {
  auto c = small_config();
  c.attention = config::Attention::kMla;
  auto m = make(c);
  const int64_t kv_dim = c.num_kv_heads * (c.model_dim / c.num_heads);  // 16
  const std::vector<std::string> want = {
      "blocks.0.attn.q_gain",      "blocks.0.attn.c_q.weight",  "blocks.0.attn.kv_down.weight",
      "blocks.0.attn.k_up.weight", "blocks.0.attn.v_up.weight", "blocks.0.attn.proj.weight"};
  std::vector<std::string> got;
  for (const auto& k : keys(m))
    if (k.rfind("blocks.0.attn.", 0) == 0) got.push_back(k);
  EXPECT_EQ(got, want);
  EXPECT_EQ(param(m, "blocks.0.attn.kv_down.weight").sizes(), (std::vector<int64_t>{12, 32}));
  EXPECT_EQ(param(m, "blocks.0.attn.k_up.weight").sizes(), (std::vector<int64_t>{kv_dim, 12}));
  EXPECT_EQ(param(m, "blocks.0.attn.v_up.weight").sizes(), (std::vector<int64_t>{kv_dim, 12}));
  // Per block, MLA replaces 2*dim*kv_dim by dim*r + 2*r*kv_dim.
  auto g = small_config();
  const int64_t delta = c.num_layers * (32 * 12 + 2 * 12 * kv_dim - 2 * 32 * kv_dim);
  EXPECT_EQ(count_params(*m), count_params(*GPT(g)) + delta);
  EXPECT_EQ(logits(m, ids_for(1)).sizes(), (std::vector<int64_t>{2, 12, kVocab}));
}

// Expected order derived from the reference's GPT.__init__ (records/.../train_gpt.py): PyTorch's
// named_parameters() yields a module's own parameters (in assignment order) before its children
// (in assignment order). GPT owns skip_weights; children tok_emb, bigram (own: scale; children
// embed, proj), smear (gate), blocks (Block own: attn_scale, mlp_scale, resid_mix; children attn
// (own q_gain; c_q, c_k, c_v, proj), mlp (fc, proj)), final_norm (none), lm_head.
TEST(ModelTest, StateDictOrderEqualsReference) {
  auto c = small_config();
  c.num_layers = 2;
  c.tie_embeddings = false;
  std::vector<std::string> want = {"skip_weights",        "tok_emb.weight",     "bigram.scale",
                                   "bigram.embed.weight", "bigram.proj.weight", "smear.gate"};
  for (const char* b : {"blocks.0.", "blocks.1."})
    for (const char* leaf : {"attn_scale", "mlp_scale", "resid_mix", "attn.q_gain",
                             "attn.c_q.weight", "attn.c_k.weight", "attn.c_v.weight",
                             "attn.proj.weight", "mlp.fc.weight", "mlp.proj.weight"})
      want.push_back(std::string(b) + leaf);
  want.push_back("lm_head.weight");
  EXPECT_EQ(keys(GPT(c)), want);

  // bigram_dim == model_dim: BigramHash has no proj (bigram.proj absent), order otherwise equal.
  c.bigram_dim = c.model_dim;
  want.erase(std::find(want.begin(), want.end(), "bigram.proj.weight"));
  EXPECT_EQ(keys(GPT(c)), want);
}

TEST(ModelTest, BigramSwitch) {
  auto c = small_config();
  auto on = make(c);
  const auto ids = ids_for(2);
  const auto base = logits(on, ids);
  set_param(on, "bigram.embed.weight", torch::zeros({50, 16}));
  EXPECT_GT(max_diff(base, logits(on, ids)), 1e-4) << "bigram table has no effect";

  c.bigram_vocab_size = 0;
  auto off = make(c);
  for (const auto& k : keys(off)) EXPECT_EQ(k.find("bigram"), std::string::npos) << k;
  EXPECT_THROW(off->bigram_hash(ids), Error);
  // A zero table contributes nothing: bigram-on with zero table == bigram-off, same weights.
  auto sd = on->state_dict();
  core::NamedTensors rest;
  for (auto& kv : sd)
    if (kv.first.find("bigram") == std::string::npos) rest.push_back(kv);
  off->load_state_dict(rest);
  EXPECT_LE(max_diff(logits(on, ids), logits(off, ids)), 1e-6);
}

TEST(ModelTest, SmearSwitch) {
  auto c = small_config();
  auto on = make(c);
  c.smear_gate = false;
  GPT off(c);
  off->eval();
  core::NamedTensors rest;
  for (auto& kv : on->state_dict())
    if (kv.first != "smear.gate") rest.push_back(kv);
  off->load_state_dict(rest);
  for (const auto& k : keys(off)) EXPECT_NE(k, "smear.gate");
  const auto ids = ids_for(2);
  EXPECT_GT(max_diff(logits(on, ids), logits(off, ids)), 1e-4) << "smear has no effect";
  set_param(on, "smear.gate", torch::full({32}, -200.0));  // sigmoid -> 0: no smearing
  EXPECT_LE(max_diff(logits(on, ids), logits(off, ids)), 1e-6);
}

TEST(ModelTest, UntiedHead) {
  auto c = small_config();
  c.tie_embeddings = false;
  torch::manual_seed(1);
  GPT m(c);
  EXPECT_EQ(param(m, "lm_head.weight").sizes(), (std::vector<int64_t>{kVocab, 32}));
  // Reference init: lm_head zero (so logits are exactly 0) and tok_emb keeps N(0,1).
  EXPECT_EQ(logits(m, ids_for(1)).abs().max().item<double>(), 0.0);
  EXPECT_NEAR(param(m, "tok_emb.weight").std().item<double>(), 1.0, 0.1);
  c.tie_embeddings = true;
  GPT tied(c);
  EXPECT_NEAR(tied->tok_emb->weight.std().item<double>(), c.tied_embed_init_std, 0.001);
  // With a random head the untied logits use lm_head, not tok_emb.
  randomize(*m, 3);
  const auto ids = ids_for(1);
  const auto before = logits(m, ids);
  set_param(m, "lm_head.weight", torch::zeros({kVocab, 32}));
  EXPECT_EQ(logits(m, ids).abs().max().item<double>(), 0.0);
  EXPECT_GT(before.abs().max().item<double>(), 1e-3);
}

TEST(ModelTest, Activations) {
  torch::manual_seed(0);
  const auto x = torch::randn({2, 5, 8});
  MLP relu(8, 16, config::Activation::kRelu2), leaky(8, 16, config::Activation::kLeakyRelu2);
  torch::NoGradGuard no_grad;
  leaky->fc->weight.copy_(torch::randn({16, 8}));
  leaky->proj->weight.copy_(torch::randn({8, 16}));
  relu->fc->weight.copy_(leaky->fc->weight);
  relu->proj->weight.copy_(leaky->proj->weight);
  const auto h = torch::matmul(x, leaky->fc->weight.t());
  const auto want_leaky =
      torch::matmul(torch::where(h > 0, h, 0.5 * h).square(), leaky->proj->weight.t());
  const auto want_relu = torch::matmul(h.clamp_min(0).square(), relu->proj->weight.t());
  EXPECT_LE(max_diff(leaky(x), want_leaky), 1e-4);
  EXPECT_LE(max_diff(relu(x), want_relu), 1e-4);
  EXPECT_GT(max_diff(leaky(x), relu(x)), 1e-2);

  auto c = small_config();
  c.activation = config::Activation::kLeakyRelu2;
  auto m = make(c);
  c.activation = config::Activation::kRelu2;
  auto r = make(c);  // same seeds, same weights
  const auto ids = ids_for(1);
  EXPECT_GT(max_diff(logits(m, ids), logits(r, ids)), 1e-4);
}

std::string load_error(GPT& m, const core::NamedTensors& sd, bool strict = true) {
  try {
    m->load_state_dict(sd, strict);
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInput);
    return e.what();
  }
  return "";
}

TEST(ModelTest, StrictLoadNamesTheKey) {
  auto m = make(small_config());
  const auto full = m->state_dict();
  auto missing = full;
  missing.erase(missing.begin() + 3);  // bigram.embed.weight
  EXPECT_NE(load_error(m, missing).find("missing key 'bigram.embed.weight'"), std::string::npos);
  EXPECT_EQ(load_error(m, missing, /*strict=*/false), "");

  auto extra = full;
  extra.emplace_back("blocks.9.attn.c_q.weight", torch::zeros({32, 32}));
  EXPECT_NE(load_error(m, extra).find("unexpected key 'blocks.9.attn.c_q.weight'"),
            std::string::npos);

  auto wrong = full;
  for (auto& kv : wrong)
    if (kv.first == "blocks.1.mlp.fc.weight") kv.second = torch::zeros({64, 31});
  const auto msg = load_error(m, wrong);
  EXPECT_NE(msg.find("blocks.1.mlp.fc.weight"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[64, 32]"), std::string::npos) << msg;
  EXPECT_NE(load_error(m, wrong, /*strict=*/false), "") << "shape checks apply when not strict";

  // A valid load copies the values (and converts bf16 to the fp32 parameters).
  auto other = make(small_config(), 99);
  auto bf = other->state_dict();
  for (auto& kv : bf) kv.second = kv.second.to(torch::kBFloat16);
  EXPECT_EQ(load_error(m, bf), "");
  EXPECT_EQ(param(m, "blocks.0.attn.c_q.weight").scalar_type(), torch::kFloat32);
  EXPECT_TRUE(torch::equal(
      param(m, "blocks.0.attn.c_q.weight"),
      param(other, "blocks.0.attn.c_q.weight").to(torch::kBFloat16).to(torch::kFloat32)));
}

// FLOPs per token (flops.h) against a hand count for the small config, and the PR #180 figure.
TEST(ModelTest, FlopsPerToken) {
  auto c = small_config();  // dim 32, hidden 64, kv_dim 16, bigram proj 16->32, V 64, L 3
  const int64_t per_layer = 32 * 32 + 2 * 32 * 16 + 32 * 32 + 2 * 32 * 64;  // q, k+v, proj, mlp
  const int64_t mm = 3 * per_layer + 16 * 32 + 32 * kVocab;
  const auto f = flops_per_token(c, /*seq_len=*/12);
  EXPECT_EQ(f.matmul_params, mm);
  // causal attention: QK^T and AV over (T+1)/2 keys on average, 2 FLOPs per MAC, all layers.
  EXPECT_DOUBLE_EQ(f.attention, 3 * 2.0 * 2.0 * 32 * (12 + 1) / 2.0);
  EXPECT_DOUBLE_EQ(f.forward, 2.0 * mm + f.attention);
  EXPECT_DOUBLE_EQ(f.forward_backward, 3.0 * f.forward);

  c.attention = config::Attention::kMla;
  EXPECT_EQ(flops_per_token(c, 12).matmul_params,
            mm - 3 * (2 * 32 * 16) + 3 * (32 * 12 + 2 * 12 * 16));

  // PR #180: every parameter except tok_emb (a lookup, reused as the head), bigram.embed and
  // the control tensors is a matmul weight; the tied head adds vocab*dim.
  const config::ModelConfig pr180{};
  const auto p = flops_per_token(pr180, 2048);
  EXPECT_EQ(p.matmul_params,
            25517137 - 524288 - 1310720 - 1 - 2560 - 512 - 10 * (8 + 1024 + 1024) + 524288);
}

// SMEAR_BOS_MASK (issue #6): at a BOS position the smear must not mix in the previous document's
// last token; everywhere else, and always without the mask, it does.
TEST(SmearGateTest, BosMaskDropsOnlyThePreviousTokenAtBos) {
  torch::manual_seed(7);
  const auto x = torch::randn({1, 5, 8});
  const auto ids = torch::tensor({{5, 6, 1, 7, 8}}, torch::kLong);  // BOS (id 1) at position 2
  SmearGate masked(8, /*bos_mask=*/true), plain(8, /*bos_mask=*/false);
  torch::NoGradGuard no_grad;
  masked->gate.fill_(0.3);
  plain->gate.fill_(0.3);
  const auto g = torch::sigmoid(torch::tensor(0.3)).item<float>();
  const auto ym = masked(x, ids), yp = plain(x, ids);
  EXPECT_TRUE(torch::allclose(ym[0][2], (1 - g) * x[0][2]));  // no x[1] term at BOS
  EXPECT_TRUE(torch::allclose(yp[0][2], (1 - g) * x[0][2] + g * x[0][1]));
  EXPECT_TRUE(torch::allclose(ym[0][3], (1 - g) * x[0][3] + g * x[0][2]));  // after BOS: smeared
  EXPECT_TRUE(torch::allclose(ym[0][1], yp[0][1]));
}


// ---------------------------------------------------------------- PR #354 switches

// GATED_MLP: out = proj(relu(gate x)^2 * up x), composed by hand from the three weights.
TEST(Pr354Test, GatedMlpEqualsHandComposition) {
  torch::manual_seed(3);
  const auto x = torch::randn({2, 5, 8});
  MLP gated(8, 16, config::Activation::kRelu2, /*gated=*/true);
  ASSERT_TRUE(gated->gate && gated->up && gated->proj);
  EXPECT_FALSE(gated->fc);
  torch::NoGradGuard no_grad;
  gated->gate->weight.copy_(torch::randn({16, 8}));
  gated->up->weight.copy_(torch::randn({16, 8}));
  gated->proj->weight.copy_(torch::randn({8, 16}));
  const auto g = torch::matmul(x, gated->gate->weight.t()).clamp_min(0).square();
  const auto u = torch::matmul(x, gated->up->weight.t());
  const auto want = torch::matmul(g * u, gated->proj->weight.t());
  EXPECT_LE(max_diff(gated(x), want), 1e-4);
  // Not the ungated MLP with the same gate/proj weights (up matters).
  const auto ungated = torch::matmul(g, gated->proj->weight.t());
  EXPECT_GT(max_diff(gated(x), ungated), 1e-2);
}

TEST(Pr354Test, GatedMlpKeysParamsAndFlops) {
  auto c = small_config();  // dim 32, hidden 64, 3 layers
  c.gated_mlp = true;
  auto m = make(c);
  std::vector<std::string> got;
  for (const auto& k : keys(m))
    if (k.rfind("blocks.1.mlp.", 0) == 0) got.push_back(k);
  EXPECT_EQ(got, (std::vector<std::string>{"blocks.1.mlp.gate.weight", "blocks.1.mlp.up.weight",
                                           "blocks.1.mlp.proj.weight"}));
  EXPECT_EQ(param(m, "blocks.1.mlp.up.weight").sizes(), (std::vector<int64_t>{64, 32}));
  EXPECT_EQ(count_params(*m), count_params(*GPT(small_config())) + 3 * 64 * 32);
  EXPECT_EQ(param_group("blocks.1.mlp.gate.weight", {"attn_scale"}), "mlp");
  // proj is zero-initialised, gate and up are not.
  torch::manual_seed(1);
  GPT fresh(c);
  EXPECT_EQ(param(fresh, "blocks.0.mlp.proj.weight").abs().max().item<double>(), 0.0);
  EXPECT_GT(param(fresh, "blocks.0.mlp.up.weight").abs().max().item<double>(), 0.0);
  // One more dim x hidden matmul per layer in the FLOP count.
  auto plain = c;
  plain.gated_mlp = false;
  EXPECT_EQ(flops_per_token(c, 12).matmul_params,
            flops_per_token(plain, 12).matmul_params + 3 * 32 * 64);
}

// BIGRAM_HASH=mult: (prev*1000003 + cur) mod V, prev = 0 at position 0, int64 arithmetic.
TEST(Pr354Test, MultBigramHashHandComputed) {
  BigramHash h(50, 16, 32, /*mult=*/true);
  const auto ids = torch::tensor({{5, 7, 3, 63}, {0, 0, 1, 2}}, torch::kLong);
  // (0*1000003+5)%50 = 5, (5*1000003+7)%50 = 5000022%50 = 22, 7000024%50 = 24, 3000072%50 = 22;
  // 0, 0, 1, 1000005%50 = 5.
  EXPECT_TRUE(torch::equal(h->hash(ids),
                           torch::tensor({{5, 22, 24, 22}, {0, 0, 1, 5}}, torch::kLong)));
  // Ids near 2^16: prev*1000003 exceeds int32 (65535*1000003 = 65,535,196,605).
  BigramHash wide(10240, 16, 32, /*mult=*/true);
  EXPECT_TRUE(torch::equal(wide->hash(torch::tensor({{65535, 65534, 0, 65535}}, torch::kLong)),
                           torch::tensor({{4095, 9659, 9082, 4095}}, torch::kLong)));
  // PR #180's XOR hash stays the default: position 0 -> reserved bucket V-1, then
  // ((36313*7) XOR (27191*5)) mod 49 = 8, ((36313*3) XOR (27191*7)) mod 49 = 6.
  EXPECT_EQ(config::ModelConfig{}.bigram_hash, config::BigramHash::kXor);
  BigramHash x(50, 16, 32);
  EXPECT_TRUE(torch::equal(x->hash(torch::tensor({{5, 7, 3}}, torch::kLong)),
                           torch::tensor({{49, 8, 6}}, torch::kLong)));
}

TEST(Pr354Test, MultBigramModuleInitAndForward) {
  auto c = small_config();
  c.bigram_hash = config::BigramHash::kMult;
  c.bigram_vocab_size = 4000;
  c.bigram_dim = c.model_dim;  // proj even when the widths match
  torch::manual_seed(5);
  GPT m(c);
  std::vector<std::string> got;
  for (const auto& k : keys(m))
    if (k.find("bigram") != std::string::npos) got.push_back(k);
  EXPECT_EQ(got, (std::vector<std::string>{"bigram.table.weight", "bigram.proj.weight"}));
  EXPECT_FALSE(m->bigram->scale.defined());
  EXPECT_NEAR(param(m, "bigram.table.weight").std().item<double>(), 0.02, 0.001);
  EXPECT_EQ(param(m, "bigram.proj.weight").abs().max().item<double>(), 0.0);
  // forward = proj(table[hash]) with no scale.
  randomize(*m, 6);
  const auto ids = ids_for(2);
  torch::NoGradGuard no_grad;
  const auto want = torch::matmul(
      torch::embedding(param(m, "bigram.table.weight"), m->bigram_hash(ids)),
      param(m, "bigram.proj.weight").t());
  EXPECT_LE(max_diff(m->bigram(ids, torch::kFloat), want), 1e-5);
  // One parameter less than the XOR variant with the same widths (no scale), proj counted.
  c.bigram_hash = config::BigramHash::kXor;
  c.bigram_dim = 16;
  auto xor_m = GPT(c);
  c.bigram_hash = config::BigramHash::kMult;
  EXPECT_EQ(count_params(*GPT(c)), count_params(*xor_m) - 1);
  EXPECT_EQ(param_group("bigram.table.weight", {"bigram.scale"}), "bigram");
}

// ORTHO_INIT_GAIN=inv_sqrt_dim: c_q, kv_down, k_up, v_up, gate, up orthogonal with every singular
// value model_dim^-0.5, whatever their size (k_up is 32x16 here); the projections stay zero.
TEST(Pr354Test, OrthoGainInvSqrtDimGivesSingularValues) {
  config::ModelConfig c;
  c.vocab_size = kVocab;
  c.num_layers = 2;
  c.model_dim = 64;
  c.num_heads = 4;
  c.num_kv_heads = 2;  // kv_dim 32
  c.attention = config::Attention::kMla;
  c.kv_rank = 16;
  c.gated_mlp = true;
  c.bigram_hash = config::BigramHash::kMult;
  c.bigram_vocab_size = 50;
  c.bigram_dim = 16;
  c.ortho_init_gain = config::OrthoInitGain::kInvSqrtDim;
  torch::manual_seed(11);
  GPT m(c);
  const double gain = 1.0 / 8.0;  // 64^-0.5
  for (const char* leaf : {"attn.c_q", "attn.kv_down", "attn.k_up", "attn.v_up", "mlp.gate",
                           "mlp.up"}) {
    const auto w = param(m, std::string("blocks.1.") + leaf + ".weight");
    const auto sv = torch::linalg_svdvals(w.to(torch::kDouble));
    EXPECT_LE((sv - gain).abs().max().item<double>(), 1e-6) << leaf << " " << sv;
  }
  for (const char* name : {"blocks.1.attn.proj.weight", "blocks.1.mlp.proj.weight",
                           "bigram.proj.weight"})
    EXPECT_EQ(param(m, name).abs().max().item<double>(), 0.0) << name;
  // Default gain one: the 64-wide matrices get singular values 1, k_up (32x16) keeps U(+-1/4).
  c.ortho_init_gain = config::OrthoInitGain::kOne;
  torch::manual_seed(11);
  GPT d(c);
  const auto sv_q = torch::linalg_svdvals(param(d, "blocks.1.attn.c_q.weight").to(torch::kDouble));
  EXPECT_LE((sv_q - 1.0).abs().max().item<double>(), 1e-6);
  const auto sv_k = torch::linalg_svdvals(param(d, "blocks.1.attn.k_up.weight").to(torch::kDouble));
  EXPECT_GT((sv_k - sv_k.mean()).abs().max().item<double>(), 1e-2);  // not orthogonal
}

// DTYPE=reference: the record's `.bfloat16()` model keeps tok_emb and bigram.embed in bf16, so
// their gradients (the tied head's included) accumulate in bf16; other policies restore fp32.
TEST(ModelTest, ReferencePolicyKeepsEmbeddingTablesInBf16) {
  torch::manual_seed(3);
  GPT m(small_config());
  randomize(*m, 4);
  const auto fp32_emb = m->tok_emb->weight.detach().clone();
  m->set_dtype_policy(DtypePolicy::kReference);
  EXPECT_EQ(m->tok_emb->weight.scalar_type(), torch::kBFloat16);
  EXPECT_EQ(m->bigram->embed->weight.scalar_type(), torch::kBFloat16);
  EXPECT_EQ(m->bigram->proj->weight.scalar_type(), torch::kFloat);  // CastedLinear stays fp32
  EXPECT_TRUE(torch::equal(m->tok_emb->weight.detach(), fp32_emb.to(torch::kBFloat16)));
  // Still registered parameters (the same objects), with bf16 gradients.
  const auto named = m->state_dict();
  EXPECT_EQ(core::find_tensor(named, "tok_emb.weight")->scalar_type(), torch::kBFloat16);
  const auto ids = torch::randint(0, kVocab, {2, 6}, torch::kLong);
  m->forward(ids, ids).backward();
  EXPECT_EQ(m->tok_emb->weight.grad().scalar_type(), torch::kBFloat16);
  EXPECT_EQ(m->bigram->embed->weight.grad().scalar_type(), torch::kBFloat16);
  m->zero_grad();
  m->set_dtype_policy(DtypePolicy::kFp32);
  EXPECT_EQ(m->tok_emb->weight.scalar_type(), torch::kFloat);
  EXPECT_EQ(m->bigram->embed->weight.scalar_type(), torch::kFloat);
}

// The CPU attention kernel rule (compat.h): bf16/fp16 up to 256 positions on the CPU run the fp32
// kernel; fp32, CUDA and longer sequences keep their own.
TEST(CpuAttentionTest, Fp32KernelRule) {
  EXPECT_TRUE(compat::cpu_attention_in_fp32(true, torch::kBFloat16, 128));
  EXPECT_TRUE(compat::cpu_attention_in_fp32(true, torch::kHalf, 256));
  EXPECT_FALSE(compat::cpu_attention_in_fp32(true, torch::kBFloat16, 257));
  EXPECT_FALSE(compat::cpu_attention_in_fp32(true, torch::kFloat32, 128));
  EXPECT_FALSE(compat::cpu_attention_in_fp32(false, torch::kBFloat16, 128));
}

// bf16 causal GQA attention through the fp32 kernel: bf16 out, and output and input gradients
// within bf16 rounding of the exact (fp64, explicit softmax) attention.
TEST(CpuAttentionTest, Bf16ThroughFp32KernelMatchesFp64) {
  torch::manual_seed(3);
  const int64_t B = 2, H = 4, Hkv = 2, T = 96, D = 16;
  auto q = torch::randn({B, H, T, D}).to(torch::kBFloat16).requires_grad_();
  auto k = torch::randn({B, Hkv, T, D}).to(torch::kBFloat16).requires_grad_();
  auto v = torch::randn({B, Hkv, T, D}).to(torch::kBFloat16).requires_grad_();
  const auto go = torch::randn({B, H, T, D}).to(torch::kBFloat16);
  const auto y = compat::causal_attention(q, k, v);
  ASSERT_EQ(y.scalar_type(), torch::kBFloat16);
  y.backward(go);
  auto q64 = q.detach().to(torch::kFloat64).requires_grad_();
  auto k64 = k.detach().to(torch::kFloat64).requires_grad_();
  auto v64 = v.detach().to(torch::kFloat64).requires_grad_();
  const auto kk = k64.repeat_interleave(H / Hkv, 1), vv = v64.repeat_interleave(H / Hkv, 1);
  const auto mask = torch::ones({T, T}, torch::kBool).triu(1);
  const auto p = (q64.matmul(kk.transpose(-2, -1)) / std::sqrt(static_cast<double>(D)))
                     .masked_fill(mask, -INFINITY)
                     .softmax(-1);
  const auto y64 = p.matmul(vv);
  y64.backward(go.to(torch::kFloat64));
  EXPECT_LT((y.to(torch::kFloat64) - y64).abs().max().item<double>(), 1.6e-2);
  for (const auto& [g, g64] : {std::pair{q.grad(), q64.grad()}, std::pair{k.grad(), k64.grad()},
                               std::pair{v.grad(), v64.grad()}}) {
    const double rel = (g.to(torch::kFloat64) - g64).norm().item<double>() / g64.norm().item<double>();
    EXPECT_LT(rel, 1e-2);
  }
}

// Under CPU autocast (DTYPE=bf16) the fp32 kernel must really run: autocast would cast fp32
// inputs back to bf16. The output equals the fp32 kernel's, rounded to bf16, not the bf16 one's.
TEST(CpuAttentionTest, AutocastDoesNotUndoTheFp32Kernel) {
  torch::manual_seed(4);
  const auto q = torch::randn({2, 4, 64, 16}), k = torch::randn({2, 2, 64, 16}),
             v = torch::randn({2, 2, 64, 16});
  torch::Tensor y;
  {
    at::autocast::set_autocast_enabled(at::kCPU, true);
    at::autocast::set_autocast_dtype(at::kCPU, torch::kBFloat16);
    y = compat::causal_attention(q.to(torch::kBFloat16), k.to(torch::kBFloat16), v.to(torch::kBFloat16));
    at::autocast::set_autocast_enabled(at::kCPU, false);
  }
  ASSERT_EQ(y.scalar_type(), torch::kBFloat16);
  const auto q16 = q.to(torch::kBFloat16), k16 = k.to(torch::kBFloat16), v16 = v.to(torch::kBFloat16);
  const auto via32 = at::scaled_dot_product_attention(q16.to(torch::kFloat32), k16.to(torch::kFloat32),
                                                      v16.to(torch::kFloat32), std::nullopt, 0.0,
                                                      true, std::nullopt, true)
                         .to(torch::kBFloat16);
  const auto bf16_kernel =
      at::scaled_dot_product_attention(q16, k16, v16, std::nullopt, 0.0, true, std::nullopt, true);
  EXPECT_TRUE(torch::equal(y, via32));
  EXPECT_FALSE(torch::equal(y, bf16_kernel));
}

}  // namespace
}  // namespace pgolf::model
