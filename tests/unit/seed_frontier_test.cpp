// The March 2026 records' pieces in the PR #180 GPT (model/gpt.h), one at a time: XSA_LAST_N,
// ROPE_DIMS, LN_SCALE, ROPE_TRAIN_SEQ_LEN (NTK RoPE) and value embeddings (VE_ENABLED, VE_DIM,
// VE_LAYERS): their effect, their keys/init/optimiser group, their validation. Each is off by
// default; the golden seed tests keep the defaults bit-identical.
#include <cmath>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "common/tiny_model.h"
#include "pgolf/config/resolve.h"
#include "pgolf/core/error.h"
#include "pgolf/model/flops.h"
#include "pgolf/model/gpt.h"
#include "pgolf/model/params.h"
#include "pgolf/optim/param_groups.h"

namespace pgolf::model {
namespace {

constexpr int64_t kVocab = 64;

// 3 layers of width 32, 4 heads of 8 (2 KV heads: kv width 16), no bigram, smear on.
config::ModelConfig small() { return testing::tiny_model_config(kVocab, 3, 4, 2); }

GPT make(const config::ModelConfig& c, uint64_t seed = 11) {
  torch::manual_seed(seed);
  GPT m(c);
  torch::manual_seed(seed + 1);
  testing::randomize_parameters(*m, 0.3);
  m->eval();
  return m;
}

torch::Tensor ids_for(uint64_t seed, int64_t T = 10) {
  torch::manual_seed(seed);
  return torch::randint(2, kVocab, {2, T}, torch::kLong);
}

torch::Tensor logits(GPT& m, const torch::Tensor& ids) {
  torch::NoGradGuard no_grad;
  return m->forward_logits(ids);
}

double max_diff(const torch::Tensor& a, const torch::Tensor& b) {
  return (a - b).abs().max().item<double>();
}

torch::Tensor param(const GPT& m, const std::string& name) {
  for (const auto& kv : m->named_parameters())
    if (kv.key() == name) return kv.value();
  throw std::runtime_error("no parameter " + name);
}

std::vector<std::string> keys(const GPT& m) {
  std::vector<std::string> out;
  for (const auto& kv : m->state_dict()) out.push_back(kv.first);
  return out;
}

// Loads `from`'s values for every key `to` has.
void copy_common(const GPT& from, GPT& to) {
  core::NamedTensors sd;
  for (const auto& kv : from->state_dict())
    for (const auto& k : keys(to))
      if (k == kv.first) sd.push_back(kv);
  to->load_state_dict(sd, /*strict=*/false);
}

// One attention (dim 32, 4 heads of 8, 2 KV heads) with random weights and tables for T tokens.
struct AttnCase {
  Attention attn{nullptr};
  torch::Tensor x, cos, sin;
  AttnCase(const AttentionOptions& o, int64_t T, int64_t rope_dims_table) {
    torch::manual_seed(5);
    attn = Attention(o);
    testing::randomize_parameters(*attn, 0.3);
    x = torch::randn({2, T, o.dim});
    Rotary rot(rope_dims_table, 10000.0);
    std::tie(cos, sin) = rot.tables(T, torch::kCPU, torch::kFloat32, false);
  }
};

AttentionOptions attn_options() {
  AttentionOptions o;
  o.dim = 32;
  o.num_heads = 4;
  o.num_kv_heads = 2;
  return o;
}

TEST(SeedFrontierTest, XsaOutputIsOrthogonalToTheOwnGroupValue) {
  auto o = attn_options();
  o.xsa = true;
  AttnCase c(o, 6, 8);
  torch::NoGradGuard no_grad;
  c.attn->proj->weight.copy_(torch::eye(32));  // the output is the pre-projection y
  const auto v = c.attn->c_v(c.x).reshape({2, 6, 2, 8});
  const auto check = [&](const torch::Tensor& y, bool want_orthogonal) {
    const auto yh = y.reshape({2, 6, 4, 8});
    for (int64_t h = 0; h < 4; ++h) {
      const auto dot = (yh.select(2, h) * v.select(2, h / 2)).sum(-1).abs().max().item<double>();
      if (want_orthogonal)
        EXPECT_LT(dot, 1e-5) << "head " << h;
      else
        EXPECT_GT(dot, 1e-3) << "head " << h;
    }
  };
  check(c.attn(c.x, c.cos, c.sin), true);
  o.xsa = false;
  AttnCase plain(o, 6, 8);
  plain.attn->proj->weight.copy_(torch::eye(32));
  check(plain.attn(plain.x, plain.cos, plain.sin), false);
}

TEST(SeedFrontierTest, PartialRopeLeavesTheTailDimsPositionFree) {
  // q/k only in the tail dims 4..7 of each head: with ROPE_DIMS=4 the rotation touches only the
  // (zero) dims 0..3, so the last position's output ignores the order of the earlier tokens.
  // With full RoPE the same weights are position-dependent.
  for (int64_t rope_dims : {4, 0}) {
    auto o = attn_options();
    o.rope_dims = rope_dims;
    AttnCase c(o, 6, rope_dims > 0 ? rope_dims : 8);
    torch::NoGradGuard no_grad;
    for (auto* w : {&c.attn->c_q->weight, &c.attn->c_k->weight})
      for (int64_t h = 0; h < w->size(0) / 8; ++h) w->narrow(0, h * 8, 4).zero_();
    const auto perm = torch::tensor({3, 0, 4, 1, 2, 5}, torch::kLong);
    const auto last = [&](const torch::Tensor& x) {
      return c.attn(x, c.cos, c.sin).select(1, -1);
    };
    const double d = max_diff(last(c.x), last(c.x.index_select(1, perm)));
    if (rope_dims == 4)
      EXPECT_LT(d, 1e-5);
    else
      EXPECT_GT(d, 1e-4);
  }
}

TEST(SeedFrontierTest, AttentionWithAllPiecesEqualsHandComposition) {
  auto o = attn_options();
  o.rope_dims = 4;
  o.xsa = true;
  const int64_t T = 5;
  AttnCase c(o, T, 4);
  torch::NoGradGuard no_grad;
  const auto ve = 0.5 * torch::randn({2, T, 16});
  const auto out = c.attn(c.x, c.cos, c.sin, nullptr, nullptr, ve);
  // By hand: v += ve; RMSNorm q/k; rotate-half on dims 0..3; q_gain; causal softmax(q k^T/sqrt 8)
  // with head h reading KV head h/2; minus the projection on the normalised own value; proj.
  const auto rms = [](const torch::Tensor& t) {
    return t * torch::rsqrt(t.pow(2).mean(-1, true) + 1.1920928955078125e-07);
  };
  auto q = rms(c.attn->c_q(c.x).reshape({2, T, 4, 8}));
  auto k = rms(c.attn->c_k(c.x).reshape({2, T, 2, 8}));
  const auto v = (c.attn->c_v(c.x) + ve).reshape({2, T, 2, 8});
  const auto cs = c.cos.view({1, T, 1, 2}), sn = c.sin.view({1, T, 1, 2});
  const auto rot = [&](const torch::Tensor& t) {
    const auto a = t.narrow(-1, 0, 2), b = t.narrow(-1, 2, 2);
    return torch::cat({a * cs + b * sn, -a * sn + b * cs, t.narrow(-1, 4, 4)}, -1);
  };
  q = rot(q) * c.attn->q_gain.view({1, 1, 4, 1});
  k = rot(k);
  const auto kr = k.repeat_interleave(2, 2), vr = v.repeat_interleave(2, 2);  // (2,T,4,8)
  auto s = torch::einsum("bthd,bshd->bhts", {q, kr}) / std::sqrt(8.0);
  s = s.masked_fill(torch::ones({T, T}, torch::kBool).triu(1), -INFINITY);
  auto y = torch::einsum("bhts,bshd->bthd", {torch::softmax(s, -1), vr});
  const auto vn = vr / vr.norm(2, -1, true);
  y = y - (y * vn).sum(-1, true) * vn;
  const auto want = c.attn->proj(y.reshape({2, T, 32}));
  EXPECT_LT(max_diff(out, want), 2e-5);
}

TEST(SeedFrontierTest, LnScaleMultipliesBothNormedInputs) {
  auto o = attn_options();
  torch::manual_seed(3);
  Block b(o, 64, config::Activation::kRelu2, false, 0.5);
  testing::randomize_parameters(*b, 0.3);
  Rotary rot(8, 10000.0);
  const auto [cos, sin] = rot.tables(4, torch::kCPU, torch::kFloat32, false);
  const auto x = torch::randn({1, 4, 32}), x0 = torch::randn({1, 4, 32});
  torch::NoGradGuard no_grad;
  const auto rms = [](const torch::Tensor& t) {
    return t * torch::rsqrt(t.pow(2).mean(-1, true) + 1.1920928955078125e-07);
  };
  auto h = b->resid_mix[0] * x + b->resid_mix[1] * x0;
  h = h + b->attn_scale * b->attn(rms(h) * 0.5, cos, sin);
  h = h + b->mlp_scale * b->mlp(rms(h) * 0.5);
  EXPECT_LT(max_diff(b(x, x0, cos, sin), h), 1e-5);
  // In the GPT layer 0's factor is 1: one layer with LN_SCALE equals one layer without.
  auto c = small();
  c.num_layers = 1;
  c.ln_scale = true;
  auto on = make(c);
  c.ln_scale = false;
  auto off = make(c);
  const auto ids = ids_for(2);
  EXPECT_EQ(max_diff(logits(on, ids), logits(off, ids)), 0.0);
  c.num_layers = 2;
  auto off2 = make(c);
  c.ln_scale = true;
  auto on2 = make(c);
  EXPECT_GT(max_diff(logits(on2, ids), logits(off2, ids)), 1e-4);
}

TEST(SeedFrontierTest, XsaOnlyInTheLastLayersAndRopeDimsEqualHeadDimIsFullRope) {
  auto c = small();
  const auto ids = ids_for(4);
  auto base = make(c);
  c.rope_dims = 8;  // = head_dim: the whole head, as rope_dims 0
  auto full = make(c);
  EXPECT_EQ(max_diff(logits(base, ids), logits(full, ids)), 0.0);
  c.rope_dims = 0;
  c.xsa_last_n = 1;
  auto xsa = make(c);
  EXPECT_GT(max_diff(logits(base, ids), logits(xsa, ids)), 1e-4);
  // XSA in the last layer only: with that layer's attention output zeroed it has no effect.
  torch::NoGradGuard no_grad;
  for (auto* m : {&base, &xsa}) param(*m, "blocks.2.attn.proj.weight").zero_();
  EXPECT_EQ(max_diff(logits(base, ids), logits(xsa, ids)), 0.0);
}

TEST(SeedFrontierTest, NtkRotaryRescalesTheBaseAboveItsLength) {
  Rotary plain(8, 10000.0), ntk(8, 10000.0, 4);
  const auto [c4, s4] = plain.tables(4, torch::kCPU, torch::kFloat32, false);
  const auto [n4, m4] = ntk.tables(4, torch::kCPU, torch::kFloat32, false);
  EXPECT_TRUE(torch::equal(c4, n4) && torch::equal(s4, m4)) << "T <= ntk_len must be unchanged";
  const auto [n8, m8] = ntk.tables(8, torch::kCPU, torch::kFloat32, false);
  const double base = 10000.0 * std::pow(2.0, 8.0 / 6.0);
  const auto inv = torch::reciprocal(torch::pow(base, torch::arange(0, 8, 2, torch::kFloat32) / 8.0));
  const auto f = torch::outer(torch::arange(8, torch::kFloat32), inv);
  EXPECT_LT(max_diff(n8.view({8, 4}), f.cos()), 1e-6);
  EXPECT_LT(max_diff(m8.view({8, 4}), f.sin()), 1e-6);
  const auto [p8, q8] = plain.tables(8, torch::kCPU, torch::kFloat32, false);
  EXPECT_GT(max_diff(p8, n8), 1e-3);
}

TEST(SeedFrontierTest, ValueEmbeddingKeysInitAndCount) {
  auto c = small();
  c.tie_embeddings = false;
  c.ve_enabled = true;
  c.ve_dim = 8;
  c.ve_layers = "1,2";
  torch::manual_seed(1);
  GPT on(c);
  const auto k = keys(on);
  const std::vector<std::string> tail = {"ve_shared.scale", "ve_shared.embed.weight",
                                         "ve_shared.proj.weight", "ve_layer_scales.0",
                                         "ve_layer_scales.1", "lm_head.weight"};
  ASSERT_GE(k.size(), tail.size());
  EXPECT_EQ(std::vector<std::string>(k.end() - 6, k.end()), tail);
  EXPECT_EQ(k[k.size() - 7].rfind("blocks.2.", 0), 0u) << "ve_* must follow the blocks";
  EXPECT_FLOAT_EQ(param(on, "ve_shared.scale").item<float>(), 0.1f);
  EXPECT_TRUE(torch::equal(param(on, "ve_layer_scales.1"), torch::ones({1})));
  const auto table = param(on, "ve_shared.embed.weight");
  EXPECT_EQ(table.sizes(), (torch::IntArrayRef{kVocab, 8}));
  EXPECT_NEAR(table.std().item<double>(), 0.01, 0.002);
  EXPECT_EQ(param(on, "ve_shared.proj.weight").sizes(), (torch::IntArrayRef{16, 8}));
  EXPECT_TRUE(param(on, "ve_layer_scales.0").requires_grad());
  c.ve_enabled = false;
  torch::manual_seed(1);
  GPT off(c);
  EXPECT_EQ(count_params(*on) - count_params(*off), kVocab * 8 + 8 * 16 + 1 + 2);
  // The projection is one more matmul per token (pgolf bench's FLOPs): ve_dim x kv width.
  c.ve_enabled = true;
  const auto with = flops_per_token(c, 16), without = flops_per_token(off->config(), 16);
  EXPECT_EQ(with.matmul_params - without.matmul_params, 8 * 16);
  // ve_dim equal to the kv width: no projection.
  c.ve_dim = 16;
  for (const auto& key : keys(GPT(c))) EXPECT_NE(key, "ve_shared.proj.weight");
}

TEST(SeedFrontierTest, ValueEmbeddingEntersOnlyTheListedLayers) {
  auto c = small();
  const auto ids = ids_for(6);
  auto off = make(c);
  c.ve_enabled = true;
  c.ve_dim = 8;
  for (const char* layers : {"2", "0"}) {
    c.ve_layers = layers;
    auto on = make(c);
    copy_common(off, on);
    EXPECT_GT(max_diff(logits(on, ids), logits(off, ids)), 1e-4) << layers;
    torch::NoGradGuard no_grad;
    // Silence layer 2's attention: VE listed for layer 2 only then has no effect at all.
    for (auto* m : {&on, &off}) param(*m, "blocks.2.attn.proj.weight").zero_();
    const double d = max_diff(logits(on, ids), logits(off, ids));
    if (std::string(layers) == "2")
      EXPECT_EQ(d, 0.0);
    else
      EXPECT_GT(d, 1e-4) << "VE on layer 0 must reach the logits";
    param(on, "ve_layer_scales.0").zero_();  // a zero layer scale: exactly VE off
    EXPECT_EQ(max_diff(logits(on, ids), logits(off, ids)), 0.0);
    off = make(small());
  }
}

TEST(SeedFrontierTest, ValueEmbeddingOptimiserGroups) {
  auto c = small();
  c.ve_enabled = true;
  c.ve_dim = 8;
  c.ve_layers = "0,2";
  GPT m(c);
  core::NamedTensors named;
  for (const auto& kv : m->named_parameters()) named.emplace_back(kv.key(), kv.value());
  config::OptimConfig o;
  const auto plan = optim::build_param_groups(named, o, config::split_list(
                                                           config::QuantConfig{}.control_tensor_name_patterns));
  const auto in = [](const std::vector<std::string>& v, const std::string& s) {
    return std::find(v.begin(), v.end(), s) != v.end();
  };
  EXPECT_TRUE(in(plan.tok, "ve_shared.embed.weight"));
  EXPECT_TRUE(in(plan.muon, "ve_shared.proj.weight"));
  EXPECT_EQ(plan.muon.back(), "ve_shared.proj.weight");  // after the blocks', as the record
  for (const char* s : {"ve_shared.scale", "ve_layer_scales.0", "ve_layer_scales.1"})
    EXPECT_TRUE(in(plan.scalar, s)) << s;
}

std::string validation_errors(const config::ModelConfig& m) {
  config::Config c;
  c.model = m;
  std::string all;
  for (const auto& e : config::validate(c, 8)) all += e + "\n";
  return all;
}

TEST(SeedFrontierTest, KnobsAreValidatedWithTheKeyAndWhatWasFound) {
  auto m = small();
  m.xsa_last_n = 3;
  m.rope_dims = 4;
  m.ln_scale = true;
  m.rope_train_seq_len = 1024;
  m.ve_enabled = true;
  m.ve_layers = "0, 2";
  EXPECT_EQ(validation_errors(m), "") << "the PR #180 GPT takes the March records' knobs";
  m.ve_layers = "1,3";
  EXPECT_NE(validation_errors(m).find("ve_layers: expected comma-separated layer indices in 0..2, "
                                      "found '3' in '1,3'"),
            std::string::npos)
      << validation_errors(m);
  m.ve_layers = "1,x";
  EXPECT_NE(validation_errors(m).find("found 'x'"), std::string::npos);
  m.ve_layers = "2,2";
  EXPECT_NE(validation_errors(m).find("ve_layers: layer 2 is listed twice"), std::string::npos);
  m.ve_layers = " ";
  EXPECT_NE(validation_errors(m).find("ve_layers: expected at least one layer"), std::string::npos);
  m.ve_layers = "9,10";
  m.ve_enabled = false;  // unused while off
  m.ve_dim = 0;
  EXPECT_EQ(validation_errors(m), "");
  m.ve_enabled = true;
  m.ve_layers = "1";
  EXPECT_NE(validation_errors(m).find("ve_dim: expected >= 1, found 0"), std::string::npos);
  m.ve_dim = 8;
  m.rope_dims = 6 + 4;
  EXPECT_NE(validation_errors(m).find("rope_dims: expected an even number in 0..head_dim (8)"),
            std::string::npos);
  m.rope_dims = 0;
  m.xsa_last_n = 4;
  EXPECT_NE(validation_errors(m).find("xsa_last_n: expected 0..num_layers (3), found 4"),
            std::string::npos);
  EXPECT_THROW(config::parse_layer_list("ve_layers", "0,-1", 3), Error);
  EXPECT_EQ(config::parse_layer_list("ve_layers", "2, 0", 3), (std::vector<int64_t>{2, 0}));
}

}  // namespace
}  // namespace pgolf::model
