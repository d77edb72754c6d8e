// RECORD_BANKS (issue 19): the PR #180 GPT's weights files in the 1.1122 record's banks
// (quant::bank_state_dict, train::file_state_dict / load_file_state_dict), and AUX_PROJ_ADAM.
// The expected keys, shapes and order are read off the record's train_gpt.py (GPT.__init__:
// skip_weights, qo_bank (2L,d,d), kv_bank (2L,kv,d), mlp_up_bank (L,h,d), mlp_down_bank (L,d,h)
// registered on the GPT before its submodules; _unbank_state_dict: slice i of qo_bank is
// blocks.i.attn.c_q, slice L+i blocks.i.attn.proj, kv_bank c_k then c_v).
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "common/tiny_model.h"
#include "pgolf/config/resolve.h"
#include "pgolf/core/error.h"
#include "pgolf/core/tensor_io.h"
#include "pgolf/model/any_gpt.h"
#include "pgolf/optim/param_groups.h"
#include "pgolf/quant/gptq_mixed.h"
#include "pgolf/train/weights.h"

namespace pgolf {
namespace {

using Shape = std::vector<int64_t>;

// 3 layers of width 32, 4 heads (2 KV: kv width 16), MLP x3, BigramHash 40x8, VE 8 on layers 1,2.
config::ModelConfig small_cfg(bool record_banks) {
  auto c = testing::tiny_model_config(64);
  c.num_layers = 3;
  c.num_heads = 4;
  c.num_kv_heads = 2;
  c.mlp_mult = 3.0;
  c.bigram_vocab_size = 40;
  c.bigram_dim = 8;
  c.ve_enabled = true;
  c.ve_dim = 8;
  c.ve_layers = "1,2";
  c.record_banks = record_banks;
  return c;
}

model::AnyGPT make_random(const config::ModelConfig& c, uint64_t seed) {
  torch::manual_seed(seed);
  model::AnyGPT m(c);
  torch::manual_seed(seed + 1);
  testing::randomize_parameters(m.module(), 0.3);
  m.eval();
  return m;
}

torch::Tensor sample_ids(int64_t vocab) {
  torch::manual_seed(5);
  return torch::randint(vocab, {2, 12}, torch::kLong);
}

const torch::Tensor& get(const core::NamedTensors& sd, const std::string& key) {
  const auto* t = core::find_tensor(sd, key);
  if (!t) throw std::runtime_error("no key " + key);
  return *t;
}

TEST(RecordBanksTest, PresetKeysShapesAndOrderAreTheRecords) {
  const char* src = std::getenv("PGOLF_SOURCE_DIR");
  if (!src) GTEST_SKIP() << "PGOLF_SOURCE_DIR not set";
  config::Layers layers;
  layers.files = {std::string(src) + "/configs/frontier_1_1122.json"};
  config::Resolved r;
  const auto unknown = config::apply_layers(layers, r);
  ASSERT_TRUE(unknown.empty()) << unknown.front();
  const auto invalid = config::validate(r.cfg, /*world_size=*/8);
  ASSERT_TRUE(invalid.empty()) << invalid.front();
  ASSERT_TRUE(r.cfg.model.record_banks);
  torch::manual_seed(1337);
  model::AnyGPT m(r.cfg.model);
  // The record's GPT(...).state_dict() at its defaults (vocab 1024, d 512, 8 heads / 4 KV,
  // MLP 3x = 1536, BigramHash 2816x112, VE 128 on 9,10, tied embeddings: no lm_head).
  std::vector<std::pair<std::string, Shape>> want = {
      {"skip_weights", {5, 512}},        {"qo_bank", {22, 512, 512}},
      {"kv_bank", {22, 256, 512}},       {"mlp_up_bank", {11, 1536, 512}},
      {"mlp_down_bank", {11, 512, 1536}}, {"tok_emb.weight", {1024, 512}},
      {"bigram.scale", {}},              {"bigram.embed.weight", {2816, 112}},
      {"bigram.proj.weight", {512, 112}}, {"smear.gate", {512}}};
  for (int i = 0; i < 11; ++i) {
    const std::string b = "blocks." + std::to_string(i) + ".";
    want.push_back({b + "attn_scale", {512}});
    want.push_back({b + "mlp_scale", {512}});
    want.push_back({b + "resid_mix", {2, 512}});
    want.push_back({b + "attn.q_gain", {8}});
  }
  want.push_back({"ve_shared.scale", {}});
  want.push_back({"ve_shared.embed.weight", {1024, 128}});
  want.push_back({"ve_shared.proj.weight", {256, 128}});
  want.push_back({"ve_layer_scales.0", {1}});
  want.push_back({"ve_layer_scales.1", {1}});
  const auto sd = train::file_state_dict(m);
  ASSERT_EQ(sd.size(), want.size());
  int64_t n = 0;
  for (size_t i = 0; i < sd.size(); ++i) {
    EXPECT_EQ(sd[i].first, want[i].first) << "entry " << i;
    EXPECT_EQ(sd[i].second.sizes().vec(), want[i].second) << sd[i].first;
    n += sd[i].second.numel();
  }
  EXPECT_EQ(n, 27038812);  // the record's model_params:27038812
}

TEST(RecordBanksTest, BankSlicesAndRoundTripAreBitExact) {
  auto m = make_random(small_cfg(true), 3);
  const auto flat = m->state_dict();
  const auto banked = quant::bank_state_dict(flat, "test");
  const int64_t L = 3;
  for (int64_t i = 0; i < L; ++i) {
    const std::string b = "blocks." + std::to_string(i) + ".";
    EXPECT_TRUE(torch::equal(get(banked, "qo_bank")[i], get(flat, b + "attn.c_q.weight")));
    EXPECT_TRUE(torch::equal(get(banked, "qo_bank")[L + i], get(flat, b + "attn.proj.weight")));
    EXPECT_TRUE(torch::equal(get(banked, "kv_bank")[i], get(flat, b + "attn.c_k.weight")));
    EXPECT_TRUE(torch::equal(get(banked, "kv_bank")[L + i], get(flat, b + "attn.c_v.weight")));
    EXPECT_TRUE(torch::equal(get(banked, "mlp_up_bank")[i], get(flat, b + "mlp.fc.weight")));
    EXPECT_TRUE(torch::equal(get(banked, "mlp_down_bank")[i], get(flat, b + "mlp.proj.weight")));
  }
  // per-layer -> banks -> per-layer: the same tensors under the same names.
  const auto back = quant::unbank_state_dict(banked);
  ASSERT_EQ(back.size(), flat.size());
  for (const auto& [k, t] : flat) EXPECT_TRUE(torch::equal(get(back, k), t)) << k;
  // banks -> per-layer -> banks: the same list, order included.
  const auto again = quant::bank_state_dict(back, "test");
  ASSERT_EQ(again.size(), banked.size());
  for (size_t i = 0; i < banked.size(); ++i) {
    EXPECT_EQ(again[i].first, banked[i].first);
    EXPECT_TRUE(torch::equal(again[i].second, banked[i].second)) << banked[i].first;
  }
}

TEST(RecordBanksTest, BankedFileLoadsAndScoresAsThePerLayerModel) {
  const auto c = small_cfg(true);
  auto a = make_random(c, 3);
  const auto ids = sample_ids(c.vocab_size);
  const auto targets = ids.roll(-1, 1);
  const auto loss_a = a.forward(ids, targets);
  const auto path = (std::filesystem::temp_directory_path() /
                     ("record_banks_" + std::to_string(::getpid()) + ".pt")).string();
  core::save_tensors(path, train::file_state_dict(a));
  EXPECT_NE(core::find_tensor(core::load_tensors(path), "qo_bank"), nullptr);
  for (bool knob : {true, false}) {  // loading takes the banked form whatever RECORD_BANKS says
    auto b = make_random(small_cfg(knob), 99);
    EXPECT_FALSE(torch::equal(b.forward(ids, targets), loss_a));
    EXPECT_EQ(train::load_weights(path, b), train::WeightsKind::kStateDict);
    EXPECT_TRUE(torch::equal(b.forward(ids, targets), loss_a)) << "record_banks=" << knob;
    for (const auto& [k, t] : a->state_dict()) EXPECT_TRUE(torch::equal(get(b->state_dict(), k), t));
  }
  std::filesystem::remove(path);
}

TEST(RecordBanksTest, OffByDefaultTheFileIsTheStateDict) {
  EXPECT_FALSE(config::ModelConfig{}.record_banks);
  EXPECT_FALSE(config::OptimConfig{}.aux_proj_adam);
  auto m = make_random(small_cfg(false), 3);
  const auto sd = m->state_dict();
  const auto file = train::file_state_dict(m);
  ASSERT_EQ(file.size(), sd.size());
  for (size_t i = 0; i < sd.size(); ++i) EXPECT_EQ(file[i].first, sd[i].first);
}

TEST(RecordBanksTest, MissingLayerMatrixIsAnInputErrorNamingIt) {
  auto m = make_random(small_cfg(true), 3);
  core::NamedTensors flat;
  for (const auto& [k, t] : m->state_dict())
    if (k != "blocks.1.attn.c_v.weight") flat.emplace_back(k, t);
  try {
    quant::bank_state_dict(flat, "ckpt.pt");
    FAIL() << "expected an input error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInput);
    EXPECT_NE(std::string(e.what()).find("blocks.1.attn.c_v.weight"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("ckpt.pt"), std::string::npos) << e.what();
  }
}

TEST(RecordBanksTest, ValidationRefusesTheBankedGptAndMla) {
  const auto mentions_knob = [](const std::vector<std::string>& errs) {
    for (const auto& e : errs)
      if (e.find("record_banks") != std::string::npos) return true;
    return false;
  };
  config::Config cfg;
  cfg.model.record_banks = true;
  EXPECT_FALSE(mentions_knob(config::validate(cfg, 1)));
  cfg.model.attention = config::Attention::kMla;
  EXPECT_TRUE(mentions_knob(config::validate(cfg, 1)));
  cfg.model.attention = config::Attention::kGqa;
  cfg.model.gated_mlp = true;
  EXPECT_TRUE(mentions_knob(config::validate(cfg, 1)));
}

// The record's init scales only its bank slices (out, down: zero anyway), so bigram.proj and
// ve_shared.proj keep orthogonal gain 1; pgolf's default scales every ".proj" by 1/sqrt(2L).
TEST(RecordBanksTest, AuxProjectionsKeepGainOneUnderRecordBanks) {
  auto c = small_cfg(false);
  c.model_dim = 64;  // orthogonal init needs both sides >= 64
  c.bigram_dim = 64 + 8;
  c.ve_dim = 64 + 8;
  c.num_heads = 2;
  c.num_kv_heads = 2;  // kv width 64
  for (bool knob : {false, true}) {
    c.record_banks = knob;
    torch::manual_seed(7);
    model::AnyGPT m(c);
    const double want = knob ? 1.0 : 1.0 / (2.0 * c.num_layers);  // squared singular values
    for (const char* key : {"bigram.proj.weight", "ve_shared.proj.weight"}) {
      const auto w = get(m->state_dict(), key).to(torch::kDouble);
      const auto gram = w.mm(w.t());  // rows (64) <= cols (72): W W^T = gain^2 I
      EXPECT_TRUE(torch::allclose(gram, want * torch::eye(64, torch::kDouble), 1e-5, 1e-6))
          << key << " record_banks=" << knob;
    }
  }
}

TEST(RecordBanksTest, AuxProjAdamMovesBothProjectionsToTheScalarGroup) {
  auto m = make_random(small_cfg(false), 3);
  const auto sd = m->state_dict();
  config::OptimConfig oc;
  const auto in = [](const std::vector<std::string>& v, const std::string& k) {
    return std::find(v.begin(), v.end(), k) != v.end();
  };
  for (bool knob : {false, true}) {
    oc.aux_proj_adam = knob;
    const auto plan = optim::build_param_groups(sd, oc, {"attn_scale", "mlp_scale", "resid_mix",
                                                         "q_gain", "skip_weight", "smear"});
    for (const char* key : {"bigram.proj.weight", "ve_shared.proj.weight"}) {
      EXPECT_EQ(in(plan.muon, key), !knob) << key;
      EXPECT_EQ(in(plan.scalar, key), knob) << key;
    }
    EXPECT_TRUE(in(plan.muon, "blocks.0.attn.c_q.weight"));
  }
}

}  // namespace
}  // namespace pgolf
