// Unit tests for pgolf::optim and the QAT fake quantiser it trains through. Expectations come from
// the reference record (records/track_10min_16mb/2026-03-20_10L_Int5MLP_MuonWD04_SWA50/
// train_gpt.py: lr_mul, the momentum warmup, the SWA block and the optimiser construction in
// main()) and reference-spec §5-§6, written out here by hand rather than taken from our code:
//   * lr_mul in the iteration form (MAX_WALLCLOCK_SECONDS = 0) and the wallclock form, at the edges;
//   * the Muon momentum warmup endpoints;
//   * SWA collection steps (strict `scale < start_frac`, `step % every`) and EMA arithmetic;
//   * which optimiser owns which parameter, tied and untied, with lrs and weight decays;
//   * per-row int5/int6 fake quantisation values and its straight-through gradient;
//   * Muon/AdamW state save/load round trips (continuing after a reload is bit-identical);
//   * clip_grad_norm.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "pgolf/core/error.h"
#include "pgolf/core/tensor_io.h"
#include "pgolf/model/gpt.h"
#include "pgolf/model/layers.h"
#include "pgolf/optim/averaging.h"
#include "pgolf/optim/muon.h"
#include "pgolf/optim/optimizer_set.h"
#include "pgolf/optim/param_groups.h"
#include "pgolf/optim/schedule.h"
#include "common/tiny_model.h"

namespace pgolf::optim {
namespace {

using Names = std::vector<std::string>;

// ---------------------------------------------------------------------------------------------
// lr_mul

TEST(LrMulTest, IterationFormEdges) {
  // ITERATIONS 100, WARMDOWN_ITERS 30, no cap: 1 before step 70, (100 - step)/30 on [70, 100),
  // 1 again at and past 100 (the reference's `else 1.0`).
  const int64_t it = 100, wd = 30;
  EXPECT_EQ(lr_mul(0, 0.0, it, wd, 0.0), 1.0);
  EXPECT_EQ(lr_mul(69, 0.0, it, wd, 0.0), 1.0);
  EXPECT_EQ(lr_mul(70, 0.0, it, wd, 0.0), 1.0);  // first warmdown step: 30/30
  EXPECT_EQ(lr_mul(71, 0.0, it, wd, 0.0), 29.0 / 30.0);
  EXPECT_EQ(lr_mul(85, 0.0, it, wd, 0.0), 15.0 / 30.0);
  EXPECT_EQ(lr_mul(99, 0.0, it, wd, 0.0), 1.0 / 30.0);
  EXPECT_EQ(lr_mul(100, 0.0, it, wd, 0.0), 1.0);
  EXPECT_EQ(lr_mul(150, 0.0, it, wd, 0.0), 1.0);
  // Elapsed time is irrelevant without a cap; a negative cap means no cap too.
  EXPECT_EQ(lr_mul(85, 1e9, it, wd, 0.0), 0.5);
  EXPECT_EQ(lr_mul(85, 1e9, it, wd, -1.0), 0.5);
  // WARMDOWN_ITERS > ITERATIONS: warmdown_start = max(it - wd, 0) = 0, decay from the first step.
  EXPECT_EQ(lr_mul(0, 0.0, 10, 40, 0.0), 10.0 / 40.0);
  EXPECT_EQ(lr_mul(9, 0.0, 10, 40, 0.0), 1.0 / 40.0);
  // WARMDOWN_ITERS <= 0: always 1, in both forms.
  EXPECT_EQ(lr_mul(99, 0.0, it, 0, 0.0), 1.0);
  EXPECT_EQ(lr_mul(99, 5e5, it, -3, 6e5), 1.0);
  // WARMDOWN_ITERS == ITERATIONS: the whole run decays, step 0 at exactly 1.
  EXPECT_EQ(lr_mul(0, 0.0, 20, 20, 0.0), 1.0);
  EXPECT_EQ(lr_mul(1, 0.0, 20, 20, 0.0), 19.0 / 20.0);
}

TEST(LrMulTest, WallclockFormEdges) {
  // cap 600 s, WARMDOWN_ITERS 3000; at 100 ms/step warmdown_ms = 300 s, so the ramp covers the
  // last 300 s. `iterations` plays no part.
  const double cap = 600000.0;
  const int64_t wd = 3000, it = 20000;
  EXPECT_EQ(lr_mul(1000, 100000.0, it, wd, cap), 1.0);  // remaining 500 s > 300 s
  // remaining == warmdown_ms: the `<=` branch, remaining/warmdown_ms = 1 exactly.
  EXPECT_EQ(lr_mul(3000, 300000.0, it, wd, cap), 1.0);
  // Just before the boundary (remaining slightly above warmdown_ms): the `else 1.0` branch.
  {
    const double elapsed = 299999.0;  // step_ms = elapsed/3000; warmdown = elapsed < remaining
    EXPECT_EQ(lr_mul(3000, elapsed, it, wd, cap), 1.0);
  }
  // Just past it: remaining / warmdown_ms, below 1.
  {
    const double elapsed = 300003.0;
    const double warmdown_ms = wd * (elapsed / 3000.0);
    const double expect = (cap - elapsed) / warmdown_ms;
    EXPECT_LT(expect, 1.0);
    EXPECT_EQ(lr_mul(3000, elapsed, it, wd, cap), expect);
  }
  EXPECT_EQ(lr_mul(4500, 450000.0, it, wd, cap), 0.5);  // 150 s left of a 300 s ramp
  EXPECT_EQ(lr_mul(6000, 600000.0, it, wd, cap), 0.0);  // at the cap
  EXPECT_EQ(lr_mul(6100, 610000.0, it, wd, cap), 0.0);  // past it: remaining clamps to 0
  // step 0 divides by max(step, 1) = 1: elapsed 0 -> warmdown 0 < remaining -> 1.
  EXPECT_EQ(lr_mul(0, 0.0, it, wd, cap), 1.0);
  // step 0 with time already spent: step_ms = elapsed (not elapsed/0).
  EXPECT_EQ(lr_mul(0, 1.0, it, 1000, 1000.0), 999.0 / 1000.0);
  // A slower average step time makes the ramp start earlier: at 200 ms/step, 400 s remain.
  EXPECT_EQ(lr_mul(1000, 200000.0, it, wd, cap), 400000.0 / 600000.0);
  // The step counter has no upper bound in this form (only the cap stops the run).
  EXPECT_EQ(lr_mul(25000, 590000.0, it, wd, cap), 10000.0 / (wd * (590000.0 / 25000)));
}

TEST(MomentumTest, WarmupEndpoints) {
  // Primary: 0.92 -> 0.99 over 1500 steps; step = completed optimiser steps (0 for the first).
  EXPECT_EQ(muon_momentum(0, 0.92, 0.99, 1500), 0.92);
  EXPECT_EQ(muon_momentum(1500, 0.92, 0.99, 1500), 0.99);
  EXPECT_EQ(muon_momentum(100000, 0.92, 0.99, 1500), 0.99);
  const double f = 750.0 / 1500.0;
  EXPECT_EQ(muon_momentum(750, 0.92, 0.99, 1500), (1 - f) * 0.92 + f * 0.99);
  EXPECT_NEAR(muon_momentum(750, 0.92, 0.99, 1500), 0.955, 1e-15);
  const double g = 1.0 / 1500.0;
  EXPECT_EQ(muon_momentum(1, 0.92, 0.99, 1500), (1 - g) * 0.92 + g * 0.99);
  EXPECT_GT(muon_momentum(1499, 0.92, 0.99, 1500), 0.9899);
  EXPECT_LT(muon_momentum(1499, 0.92, 0.99, 1500), 0.99);
  // Baseline 0.85 -> 0.95 over 500; warmup_steps 0 means the final momentum from the start.
  EXPECT_EQ(muon_momentum(0, 0.85, 0.95, 500), 0.85);
  EXPECT_EQ(muon_momentum(500, 0.85, 0.95, 500), 0.95);
  EXPECT_EQ(muon_momentum(0, 0.85, 0.95, 0), 0.95);
}

TEST(LateQatTest, DueFromTheFractionOfTheRun) {
  // Iteration form: on once step / iterations >= frac (steps completed before the next forward).
  EXPECT_FALSE(late_qat_due(84, 0.0, 100, 0.85, 0.0));
  EXPECT_TRUE(late_qat_due(85, 0.0, 100, 0.85, 0.0));
  EXPECT_TRUE(late_qat_due(100, 0.0, 100, 0.85, 0.0));
  EXPECT_TRUE(late_qat_due(12, 0.0, 14, 0.85, 0.0));   // 12/14 = 0.857: the 13th step is QAT
  EXPECT_FALSE(late_qat_due(11, 0.0, 14, 0.85, 0.0));
  EXPECT_TRUE(late_qat_due(1, 0.0, 0, 0.5, 0.0));      // divides by max(iterations, 1)
  // Wallclock form (PR #286: 85% of the 600 s budget); the step count is irrelevant.
  EXPECT_FALSE(late_qat_due(99999, 509999.0, 100, 0.85, 600000.0));
  EXPECT_TRUE(late_qat_due(0, 510000.0, 100, 0.85, 600000.0));
  // Off.
  EXPECT_FALSE(late_qat_due(100, 1e9, 100, 0.0, 600000.0));
  EXPECT_FALSE(late_qat_due(100, 0.0, 100, 0.0, 0.0));
  EXPECT_FALSE(late_qat_due(0, 0.0, 100, 1e-9, 0.0));  // step 0 < 1e-7
}

// ---------------------------------------------------------------------------------------------
// SWA / EMA

core::NamedTensors snap(float a, float b) {
  return {{"w", torch::full({2, 2}, a)}, {"e", torch::full({3}, b).to(torch::kBFloat16)}};
}

TEST(SwaTest, CollectsOnlyBelowStartFracAndOnMultiples) {
  Swa swa(/*start_frac=*/0.4, /*every=*/50);
  EXPECT_FALSE(swa.after_step(50, 0.5, snap(1, 1)));   // scale >= start_frac
  EXPECT_FALSE(swa.after_step(50, 0.4, snap(1, 1)));   // strict: scale == start_frac is not <
  EXPECT_FALSE(swa.after_step(51, 0.39, snap(1, 1)));  // not a multiple of every
  EXPECT_EQ(swa.count(), 0);
  EXPECT_TRUE(swa.averaged(snap(0, 0)).empty());
  EXPECT_TRUE(swa.after_step(100, 0.39, snap(2, 4)));  // first snapshot -> "swa:start step:100"
  EXPECT_EQ(swa.count(), 1);
  EXPECT_TRUE(swa.averaged(snap(0, 0)).empty());        // applied only when count > 1
  EXPECT_FALSE(swa.after_step(149, 0.3, snap(9, 9)));
  EXPECT_FALSE(swa.after_step(150, 0.3, snap(4, 8)));  // collected, but not the first
  EXPECT_FALSE(swa.after_step(200, 0.0, snap(6, 3)));  // scale 0 at the very end still counts
  EXPECT_EQ(swa.count(), 3);
  EXPECT_EQ(swa.apply_line(), "swa:applying averaged 3 checkpoints");
  auto avg = swa.averaged(snap(0, 0));
  ASSERT_EQ(avg.size(), 2u);
  EXPECT_TRUE(torch::equal(avg[0].second, torch::full({2, 2}, 4.0f)));
  EXPECT_EQ(avg[1].second.scalar_type(), torch::kBFloat16);
  EXPECT_TRUE(torch::equal(avg[1].second, torch::full({3}, 5.0f).to(torch::kBFloat16)));
  // State round trip.
  Swa other(0.4, 50);
  other.load_state(swa.state_tensors(), swa.state_meta());
  EXPECT_EQ(other.count(), 3);
  EXPECT_TRUE(torch::equal(other.averaged(snap(0, 0))[0].second, avg[0].second));
  EXPECT_THROW(Swa(0.4, 0), Error);
}

TEST(SwaTest, SumsInTheTensorsOwnDtype) {
  // The reference sums bf16 tensors in bf16 (spec §6.1): 256 + 1 is not representable in bf16.
  Swa swa(1.0, 1);
  swa.add({{"e", torch::full({1}, 256.0f).to(torch::kBFloat16)}});
  swa.add({{"e", torch::full({1}, 1.0f).to(torch::kBFloat16)}});
  EXPECT_EQ(swa.state_tensors()[0].second.item<float>(), 256.0f);
}

TEST(EmaTest, UpdateIsDecayTimesShadowPlusRest) {
  core::NamedTensors w0 = {{"a", torch::tensor({1.0f, -2.0f})},
                           {"b", torch::tensor({8.0f}).to(torch::kBFloat16)}};
  Ema ema(0.75, w0);
  core::NamedTensors w1 = {{"a", torch::tensor({5.0f, 2.0f})},
                           {"b", torch::tensor({0.0f}).to(torch::kBFloat16)}};
  ema.update(w1);
  // 0.75 * 1 + 0.25 * 5 = 2; 0.75 * -2 + 0.25 * 2 = -1; 0.75 * 8 + 0 = 6 (fp32 shadow).
  auto sh = ema.state_tensors();
  EXPECT_TRUE(torch::equal(sh[0].second, torch::tensor({2.0f, -1.0f})));
  EXPECT_EQ(sh[1].second.scalar_type(), torch::kFloat32);
  EXPECT_EQ(sh[1].second.item<float>(), 6.0f);
  ema.update(w1);  // 0.75 * 2 + 1.25 = 2.75; 0.75 * -1 + 0.5 = -0.25; 4.5
  auto avg = ema.averaged(w1);
  EXPECT_TRUE(torch::equal(avg[0].second, torch::tensor({2.75f, -0.25f})));
  EXPECT_EQ(avg[1].second.scalar_type(), torch::kBFloat16);
  EXPECT_EQ(avg[1].second.item<float>(), 4.5f);
  // The returned tensors are copies, not the shadow.
  avg[0].second.fill_(0);
  EXPECT_EQ(ema.state_tensors()[0].second[0].item<float>(), 2.75f);
  // State round trip and validation.
  Ema other(0.75, w0);
  other.load_state(ema.state_tensors(), ema.state_meta());
  EXPECT_TRUE(torch::equal(other.state_tensors()[0].second, ema.state_tensors()[0].second));
  EXPECT_THROW(other.load_state({{"a", torch::zeros({2})}}, ema.state_meta()), Error);
  EXPECT_THROW(Ema(1.0, w0), Error);
  EXPECT_THROW(Ema(0.0, w0), Error);
}

// ---------------------------------------------------------------------------------------------
// Parameter groups, as the reference main() builds them.

config::ModelConfig small_model(bool tied, int64_t bigram_dim = 16) {
  auto c = testing::tiny_model_config();
  c.num_heads = 4;
  c.num_kv_heads = 2;
  c.tie_embeddings = tied;
  c.bigram_vocab_size = 40;
  c.bigram_dim = bigram_dim;
  return c;
}

model::GPT make_model(const config::ModelConfig& c, uint64_t seed = 3) {
  torch::set_num_threads(1);  // tiny tensors; threads only add contention on a busy box
  torch::manual_seed(seed);
  model::GPT m(c);
  testing::randomize_parameters(*m, 0.2);
  return m;
}

std::vector<std::string> control_patterns() {
  config::QuantConfig q;  // the reference's CONTROL_TENSOR_NAME_PATTERNS default
  std::vector<std::string> out;
  std::string cur;
  for (char ch : q.control_tensor_name_patterns + ",") {
    if (ch == ',') {
      if (!cur.empty()) out.push_back(cur);
      cur.clear();
    } else {
      cur += ch;
    }
  }
  return out;
}

// The reference's lists for 2 blocks, written from its main():
//   matrix_params = block params with ndim == 2 and no control pattern (per block, in
//     blocks.named_parameters() order: attn.c_q, attn.c_k, attn.c_v, attn.proj, mlp.fc, mlp.proj),
//     then bigram.proj.weight when bigram.proj exists;
//   scalar_params = block params with ndim < 2 or a control name (attn_scale, mlp_scale,
//     resid_mix, attn.q_gain), then skip_weights, smear.gate, bigram.scale;
//   tok = tok_emb.weight, bigram.embed.weight (token_lr = TIED_EMBED_LR tied, EMBED_LR untied);
//   head = lm_head.weight (Adam, HEAD_LR) only when untied.
Names ref_muon(bool bigram_proj) {
  Names out;
  for (int b = 0; b < 2; ++b)
    for (const char* n : {"attn.c_q.weight", "attn.c_k.weight", "attn.c_v.weight",
                          "attn.proj.weight", "mlp.fc.weight", "mlp.proj.weight"})
      out.push_back("blocks." + std::to_string(b) + "." + n);
  if (bigram_proj) out.push_back("bigram.proj.weight");
  return out;
}

std::set<std::string> ref_scalar() {
  std::set<std::string> out;
  for (int b = 0; b < 2; ++b)
    for (const char* n : {"attn_scale", "mlp_scale", "resid_mix", "attn.q_gain"})
      out.insert("blocks." + std::to_string(b) + "." + n);
  for (const char* n : {"skip_weights", "smear.gate", "bigram.scale"}) out.insert(n);
  return out;
}

config::OptimConfig distinct_lrs() {
  config::OptimConfig o;  // distinct values so a group landing at the wrong lr shows
  o.tied_embed_lr = 0.03;
  o.embed_lr = 0.6;
  o.head_lr = 0.008;
  o.matrix_lr = 0.02;
  o.scalar_lr = 0.015;
  o.weight_decay = 0.04;
  o.muon_weight_decay = 0.04;
  return o;
}

void expect_every_param_once(const GroupPlan& plan, const core::NamedTensors& params) {
  std::multiset<std::string> all;
  for (const auto* list : {&plan.tok, &plan.head, &plan.muon, &plan.scalar})
    all.insert(list->begin(), list->end());
  EXPECT_EQ(all.size(), params.size());
  for (const auto& [name, t] : params) EXPECT_EQ(all.count(name), 1u) << name;
}

TEST(ParamGroupsTest, TiedMembershipAndLrsMatchReference) {
  auto m = make_model(small_model(/*tied=*/true));
  const auto params = m->state_dict();
  const auto cfg = distinct_lrs();
  GroupPlan plan = build_param_groups(params, cfg, control_patterns());
  EXPECT_TRUE(plan.tied);
  EXPECT_EQ(plan.tok, (Names{"tok_emb.weight", "bigram.embed.weight"}));
  EXPECT_TRUE(plan.head.empty());
  EXPECT_EQ(plan.muon, ref_muon(true));  // order matters: it fixes Muon's rank sharding
  EXPECT_EQ(std::set<std::string>(plan.scalar.begin(), plan.scalar.end()), ref_scalar());
  expect_every_param_once(plan, params);
  EXPECT_EQ(plan.tok_lr, 0.03);
  EXPECT_EQ(plan.matrix_lr, 0.02);
  EXPECT_EQ(plan.scalar_lr, 0.015);
  EXPECT_EQ(describe(plan), "tok:2 head:0 muon:13 scalar:11");

  // The optimisers built from it: AdamW tok/scalar with WEIGHT_DECAY, Muon with its own decay.
  OptimizerSet set(params, cfg, control_patterns(), nullptr);
  EXPECT_EQ(set.find("head"), nullptr);
  auto* tok = dynamic_cast<AdamW*>(set.find("tok"));
  auto* scalar = dynamic_cast<AdamW*>(set.find("scalar"));
  auto* muon = dynamic_cast<Muon*>(set.find("muon"));
  ASSERT_TRUE(tok && scalar && muon);
  EXPECT_EQ(tok->groups()[0].base_lr, 0.03);
  EXPECT_EQ(scalar->groups()[0].base_lr, 0.015);
  EXPECT_EQ(muon->groups()[0].base_lr, 0.02);
  EXPECT_EQ(tok->options().weight_decay, 0.04);
  EXPECT_EQ(scalar->options().weight_decay, 0.04);
  EXPECT_EQ(tok->options().beta1, 0.9);
  EXPECT_EQ(tok->options().beta2, 0.95);
  EXPECT_EQ(tok->options().eps, 1e-8);
  EXPECT_EQ(muon->options().weight_decay, 0.04);
  EXPECT_TRUE(muon->options().nesterov);
  EXPECT_EQ(muon->options().backend_steps, 5);
  // Groups hold the model's own tensors (stepping moves the model).
  EXPECT_TRUE(tok->groups()[0].params[0].is_same(m->tok_emb->weight));
  // The schedule scales every group's base lr and sets Muon's momentum.
  set.set_schedule(0.5, 0.93);
  EXPECT_EQ(tok->groups()[0].lr, 0.015);
  EXPECT_EQ(scalar->groups()[0].lr, 0.0075);
  EXPECT_EQ(muon->groups()[0].lr, 0.01);
  EXPECT_EQ(muon->groups()[0].momentum, 0.93);
}

TEST(ParamGroupsTest, UntiedHeadUsesAdamAtHeadLr) {
  auto m = make_model(small_model(/*tied=*/false));
  const auto params = m->state_dict();
  const auto cfg = distinct_lrs();
  GroupPlan plan = build_param_groups(params, cfg, control_patterns());
  EXPECT_FALSE(plan.tied);
  EXPECT_EQ(plan.tok, (Names{"tok_emb.weight", "bigram.embed.weight"}));
  EXPECT_EQ(plan.head, (Names{"lm_head.weight"}));
  EXPECT_EQ(plan.muon, ref_muon(true));  // lm_head is 2-D but not a block param: not Muon
  EXPECT_EQ(std::set<std::string>(plan.scalar.begin(), plan.scalar.end()), ref_scalar());
  expect_every_param_once(plan, params);
  EXPECT_EQ(plan.tok_lr, 0.6);  // EMBED_LR when untied
  EXPECT_EQ(plan.head_lr, 0.008);
  OptimizerSet set(params, cfg, control_patterns(), nullptr);
  auto* head = dynamic_cast<AdamW*>(set.find("head"));
  ASSERT_NE(head, nullptr);
  EXPECT_EQ(head->groups()[0].base_lr, 0.008);
  EXPECT_EQ(head->options().weight_decay, 0.0);  // torch.optim.Adam: no decay
  EXPECT_EQ(dynamic_cast<AdamW*>(set.find("tok"))->groups()[0].base_lr, 0.6);
}

TEST(ParamGroupsTest, NoBigramProjWhenWidthsMatch) {
  // bigram_dim == model_dim: BigramHashEmbedding has no proj, so Muon gets only block matrices.
  auto m = make_model(small_model(/*tied=*/true, /*bigram_dim=*/32));
  const auto params = m->state_dict();
  GroupPlan plan = build_param_groups(params, distinct_lrs(), control_patterns());
  EXPECT_EQ(plan.muon, ref_muon(false));
  EXPECT_EQ(plan.tok, (Names{"tok_emb.weight", "bigram.embed.weight"}));
  expect_every_param_once(plan, params);
}

TEST(ParamGroupsTest, Pr354GatedMlpInMuonAndMultBigramInTok) {
  // PR #354: mlp.gate/up/proj are 2-D block matrices (Muon); its BigramHash (BIGRAM_HASH=mult)
  // puts table and proj, even with equal widths, in the embedding AdamW with tok_emb.
  auto c = small_model(/*tied=*/true, /*bigram_dim=*/32);
  c.gated_mlp = true;
  c.bigram_hash = config::BigramHash::kMult;
  auto m = make_model(c);
  const auto params = m->state_dict();
  GroupPlan plan = build_param_groups(params, distinct_lrs(), control_patterns());
  EXPECT_EQ(plan.tok, (Names{"tok_emb.weight", "bigram.table.weight", "bigram.proj.weight"}));
  for (const char* leaf : {"mlp.gate.weight", "mlp.up.weight", "mlp.proj.weight"})
    EXPECT_NE(std::find(plan.muon.begin(), plan.muon.end(), std::string("blocks.1.") + leaf),
              plan.muon.end())
        << leaf;
  for (const auto& n : plan.muon) EXPECT_EQ(n.rfind("blocks.", 0), 0u) << n;
  expect_every_param_once(plan, params);
}

TEST(ParamGroupsTest, ControlPatternsMatchBlockLocalNames) {
  // A 2-D block param whose name contains a control pattern goes to the scalar AdamW (the
  // reference tests patterns against names relative to `blocks`), and so does any 1-D param.
  core::NamedTensors params = {
      {"blocks.0.attn.c_q.weight", torch::zeros({4, 4})},
      {"blocks.0.resid_mix", torch::zeros({2, 4})},       // 2-D, control
      {"blocks.0.mlp.fc.weight", torch::zeros({8, 4})},
      {"blocks.0.norm.bias", torch::zeros({4})},          // 1-D, no pattern
      {"tok_emb.weight", torch::zeros({16, 4})},
      {"skip_weights", torch::zeros({1, 4})},             // 2-D but not in blocks
  };
  GroupPlan plan = build_param_groups(params, distinct_lrs(), control_patterns());
  EXPECT_EQ(plan.muon, (Names{"blocks.0.attn.c_q.weight", "blocks.0.mlp.fc.weight"}));
  EXPECT_EQ(std::set<std::string>(plan.scalar.begin(), plan.scalar.end()),
            (std::set<std::string>{"blocks.0.resid_mix", "blocks.0.norm.bias", "skip_weights"}));
  EXPECT_EQ(plan.tok, (Names{"tok_emb.weight"}));
  // With no patterns, a 2-D control tensor would be a Muon matrix.
  GroupPlan bare = build_param_groups(params, distinct_lrs(), {});
  EXPECT_NE(std::find(bare.muon.begin(), bare.muon.end(), "blocks.0.resid_mix"), bare.muon.end());
}

// ---------------------------------------------------------------------------------------------
// QAT fake quantisation (int5 MLP / int6 attention, per-row scale, straight-through gradient).

TEST(FakeQuantTest, Int5AndInt6ValuesPerRow) {
  // Row 0: max |w| 3.75 -> int5 scale 3.75/15 = 0.25; int6 scale 3.75/31.
  // Row 1: max |w| 0.5 -> int5 scale 1/30.  Row 2: zeros -> scale floored, stays 0.
  torch::Tensor w = torch::tensor({{0.375f, 0.625f, -3.75f, 0.1f},
                                   {0.5f, -0.25f, 0.01f, 0.0f},
                                   {0.0f, 0.0f, 0.0f, 0.0f}});
  torch::Tensor q5 = model::fake_quant_per_row(w, 15);
  // Row 0 exactly: 1.5 -> 2 and 2.5 -> 2 (round half to even), -15, 0.4 -> 0.
  EXPECT_TRUE(torch::equal(q5[0], torch::tensor({0.5f, 0.5f, -3.75f, 0.0f}))) << q5[0];
  EXPECT_TRUE(torch::equal(q5[2], torch::zeros({4})));
  // Generic rule: q = clamp(round(w/s), -(clip+1), clip) * s with s = max(rowmax/clip, fp16 tiny).
  for (int64_t clip : {15, 31}) {
    torch::Tensor got = model::fake_quant_per_row(w, clip);
    for (int r = 0; r < 3; ++r) {
      const float rowmax = w[r].abs().max().item<float>();
      const float s = std::max(rowmax / static_cast<float>(clip), 6.103515625e-05f);
      for (int c = 0; c < 4; ++c) {
        const float x = w[r][c].item<float>();
        float q = std::nearbyint(x / s);  // default rounding mode: half to even
        q = std::min(std::max(q, -static_cast<float>(clip + 1)), static_cast<float>(clip));
        EXPECT_EQ(got[r][c].item<float>(), q * s) << "clip " << clip << " at " << r << "," << c;
      }
    }
    // At most clip+1 distinct magnitudes per row; the row max is kept exactly.
    EXPECT_EQ(got[0][2].item<float>(), -3.75f);
  }
  // A tiny row uses the fp16-tiny floor: 1e-6 / 6.1e-5 rounds to 0.
  torch::Tensor tiny = torch::full({1, 3}, 1e-6f);
  EXPECT_TRUE(torch::equal(model::fake_quant_per_row(tiny, 31), torch::zeros({1, 3})));
  // The result keeps the input dtype.
  EXPECT_EQ(model::fake_quant_per_row(w.to(torch::kBFloat16), 15).scalar_type(), torch::kBFloat16);
  // Random matrix: every row has at most 2*clip+2 levels and the error is at most half a step.
  torch::manual_seed(5);
  torch::Tensor r = torch::randn({8, 64});
  torch::Tensor rq = model::fake_quant_per_row(r, 15);
  torch::Tensor step = r.abs().amax(1, true) / 15.0;
  EXPECT_TRUE(((rq - r).abs() <= step / 2 + 1e-6).all().item<bool>());
  for (int i = 0; i < 8; ++i)
    EXPECT_LE(std::get<0>(at::_unique(rq[i])).numel(), 32);
}

TEST(FakeQuantTest, StraightThroughGradientIsIdentity) {
  torch::manual_seed(11);
  torch::Tensor w = torch::randn({6, 10}).requires_grad_(true);
  torch::Tensor up = torch::randn({6, 10});
  for (int64_t clip : {15, 31}) {
    w.mutable_grad() = torch::Tensor();
    torch::Tensor y = model::fake_quant_per_row(w, clip);
    EXPECT_TRUE(y.requires_grad());
    (y * up).sum().backward();
    EXPECT_TRUE(torch::equal(w.grad(), up)) << "clip " << clip;
  }
}

// The model asks clip_of (the quantisation policy, quant/policy.h, in training) for each
// CastedLinear's weight name and applies the answer; it classifies no names itself.
TEST(FakeQuantTest, GptAppliesTheClipOfEachWeightName) {
  auto m = make_model(small_model(/*tied=*/false));
  model::QatSettings qat;
  std::vector<std::string> asked;
  qat.clip_of = [&](const std::string& name) -> int64_t {
    asked.push_back(name);
    if (name.find(".mlp.") != std::string::npos) return 15;
    if (name.find(".attn.") != std::string::npos || name == "bigram.proj.weight") return 31;
    return 0;
  };
  m->set_qat(qat);
  EXPECT_NE(std::find(asked.begin(), asked.end(), "blocks.0.mlp.fc.weight"), asked.end());
  EXPECT_NE(std::find(asked.begin(), asked.end(), "lm_head.weight"), asked.end());
  std::map<std::string, int64_t> clips;
  for (const auto& item : m->named_modules("", false))
    if (auto lin = std::dynamic_pointer_cast<model::CastedLinearImpl>(item.value()))
      clips[item.key()] = lin->qat_clip();
  EXPECT_EQ(clips.at("blocks.0.mlp.fc"), 15);
  EXPECT_EQ(clips.at("blocks.1.mlp.proj"), 15);
  EXPECT_EQ(clips.at("blocks.0.attn.c_q"), 31);
  EXPECT_EQ(clips.at("blocks.0.attn.c_k"), 31);
  EXPECT_EQ(clips.at("blocks.1.attn.c_v"), 31);
  EXPECT_EQ(clips.at("blocks.1.attn.proj"), 31);
  EXPECT_EQ(clips.at("bigram.proj"), 31);
  EXPECT_EQ(clips.at("lm_head"), 0);  // embeddings/head are kept in fp16 by the export

  // In training mode the QAT model computes exactly what a plain model holding the fake-quantised
  // weights computes, and its weight gradients equal that model's (straight through).
  auto plain = make_model(small_model(/*tied=*/false));
  {
    torch::NoGradGuard no_grad;
    auto src = m->named_parameters();
    for (auto& p : plain->named_parameters()) {
      torch::Tensor v = src[p.key()];
      const auto it = clips.find(p.key().substr(0, p.key().rfind('.')));
      if (it != clips.end() && it->second > 0) v = model::fake_quant_per_row(v, it->second);
      p.value().copy_(v);
    }
  }
  torch::manual_seed(12);
  torch::Tensor ids = torch::randint(2, 64, {2, 9}, torch::kLong);
  torch::Tensor tgt = torch::randint(2, 64, {2, 9}, torch::kLong);
  m->train();
  plain->train();
  torch::Tensor a = m->forward(ids, tgt), b = plain->forward(ids, tgt);
  EXPECT_EQ(a.item<float>(), b.item<float>());
  a.backward();
  b.backward();
  auto pa = m->named_parameters(), pb = plain->named_parameters();
  for (const auto& kv : pa) {
    const torch::Tensor& ga = kv.value().grad();
    const torch::Tensor& gb = pb[kv.key()].grad();
    ASSERT_TRUE(ga.defined() && gb.defined()) << kv.key();
    EXPECT_TRUE(torch::allclose(ga, gb, 1e-5, 1e-7)) << kv.key();
  }
  // Eval mode ignores QAT (the float weights are scored).
  m->eval();
  torch::NoGradGuard no_grad;
  auto off = make_model(small_model(/*tied=*/false));
  off->eval();
  EXPECT_EQ(m->forward(ids, tgt).item<float>(), off->forward(ids, tgt).item<float>());
  // And the quantised forward really differs from the float one.
  m->train();
  EXPECT_NE(m->forward(ids, tgt).item<float>(), off->forward(ids, tgt).item<float>());
}

// ---------------------------------------------------------------------------------------------
// Optimiser state round trip.

void set_grads(model::GPTImpl& m, uint64_t seed) {
  torch::manual_seed(seed);
  for (auto& p : m.parameters()) p.mutable_grad() = 0.1 * torch::randn(p.sizes());
}

TEST(OptimizerStateTest, SaveLoadContinuesBitIdentically) {
  const auto mcfg = small_model(/*tied=*/false);
  const auto ocfg = distinct_lrs();
  auto a = make_model(mcfg, 21);
  OptimizerSet sa(a->state_dict(), ocfg, control_patterns(), nullptr);
  for (int i = 0; i < 3; ++i) {
    set_grads(*a, 100 + i);
    sa.set_schedule(0.7, 0.95);
    sa.step();
    sa.zero_grad();
  }
  // Through a file, as a checkpoint would store it.
  const std::string path = ::testing::TempDir() + "/optim_state.pt";
  core::save_tensors(path, sa.state_tensors());
  const core::NamedTensors loaded = core::load_tensors(path);
  const nlohmann::json meta = nlohmann::json::parse(sa.state_meta().dump());
  // Every optimiser contributes state: AdamW m/v/step, Muon momentum buffers.
  std::set<std::string> labels;
  for (const auto& [k, t] : loaded) labels.insert(k.substr(0, k.find('/')));
  EXPECT_EQ(labels, (std::set<std::string>{"tok", "head", "muon", "scalar"}));
  EXPECT_NE(core::find_tensor(loaded, "muon/blocks.0.attn.c_q.weight.momentum_buffer"), nullptr);
  const torch::Tensor* st = core::find_tensor(loaded, "tok/tok_emb.weight.step");
  ASSERT_NE(st, nullptr);
  EXPECT_EQ(st->item<int64_t>(), 3);

  // A fresh model with a's weights and a fresh optimiser set, loaded from the file.
  auto b = make_model(mcfg, 99);
  {
    torch::NoGradGuard no_grad;
    auto src = a->named_parameters();
    for (auto& p : b->named_parameters()) p.value().copy_(src[p.key()]);
  }
  OptimizerSet sb(b->state_dict(), ocfg, control_patterns(), nullptr);
  sb.load_state(loaded, meta);
  EXPECT_EQ(dynamic_cast<Muon*>(sb.find("muon"))->step_count(), 3);
  EXPECT_EQ(dynamic_cast<AdamW*>(sb.find("scalar"))->step_count("smear.gate"), 3);
  // Two more steps on both: identical weights.
  for (int i = 0; i < 2; ++i) {
    for (auto* m : {&*a, &*b}) set_grads(*m, 200 + i);
    for (auto* s : {&sa, &sb}) {
      s->set_schedule(0.6, 0.96);
      s->step();
      s->zero_grad();
    }
  }
  auto pa = a->named_parameters(), pb = b->named_parameters();
  for (const auto& kv : pa) EXPECT_TRUE(torch::equal(kv.value(), pb[kv.key()])) << kv.key();
  // Whereas a set that starts fresh (reset) diverges: the state mattered.
  auto c = make_model(mcfg, 99);
  {
    torch::NoGradGuard no_grad;
    auto src = b->named_parameters();
    for (auto& p : c->named_parameters()) p.value().copy_(src[p.key()]);
  }
  OptimizerSet sc(c->state_dict(), ocfg, control_patterns(), nullptr);
  sc.load_state(sb.state_tensors(), sb.state_meta());
  sb.reset();
  for (auto* m : {&*b, &*c}) set_grads(*m, 300);
  for (auto* s : {&sb, &sc}) {
    s->set_schedule(1.0, 0.99);
    s->step();
  }
  EXPECT_FALSE(torch::equal(b->tok_emb->weight, c->tok_emb->weight));
}

TEST(OptimizerStateTest, MismatchedStateIsAnInputError) {
  const auto ocfg = distinct_lrs();
  auto a = make_model(small_model(true), 1);
  OptimizerSet sa(a->state_dict(), ocfg, control_patterns(), nullptr);
  set_grads(*a, 5);
  sa.step();
  auto expect_input = [](const std::function<void()>& f, const std::string& what) {
    try {
      f();
      ADD_FAILURE() << what << ": accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kInput) << what << ": " << e.what();
    }
  };
  // Untied model: has a head optimiser the tied state lacks.
  auto u = make_model(small_model(false), 1);
  OptimizerSet su(u->state_dict(), ocfg, control_patterns(), nullptr);
  expect_input([&] { su.load_state(sa.state_tensors(), sa.state_meta()); }, "tied into untied");
  // Wider model: shapes differ.
  auto wcfg = small_model(true);
  wcfg.model_dim = 48;
  wcfg.num_heads = 4;
  auto w = make_model(wcfg, 1);
  OptimizerSet sw(w->state_dict(), ocfg, control_patterns(), nullptr);
  expect_input([&] { sw.load_state(sa.state_tensors(), sa.state_meta()); }, "other shapes");
  // Muon state written by another rank layout.
  auto meta = sa.state_meta();
  meta["muon"]["world_size"] = 8;
  OptimizerSet s2(a->state_dict(), ocfg, control_patterns(), nullptr);
  expect_input([&] { s2.load_state(sa.state_tensors(), meta); }, "other world size");
  // Wrong dtype for a moment.
  auto tensors = sa.state_tensors();
  for (auto& [k, t] : tensors)
    if (k == "tok/tok_emb.weight.exp_avg") t = t.to(torch::kFloat64);
  expect_input([&] { s2.load_state(tensors, sa.state_meta()); }, "dtype");
}

// ---------------------------------------------------------------------------------------------
// clip_grad_norm (torch.nn.utils.clip_grad_norm_).

TEST(ClipGradNormTest, ScalesByMaxNormOverTotal) {
  auto make = [](std::vector<float> g) {
    torch::Tensor p = torch::zeros({static_cast<int64_t>(g.size())}).requires_grad_(true);
    p.mutable_grad() = torch::tensor(g);
    return p;
  };
  // Global norm of [3, 4] and [12] = 13.
  std::vector<torch::Tensor> ps = {make({3, 4}), make({12})};
  torch::Tensor no_grad_param = torch::zeros({2}).requires_grad_(true);  // skipped
  ps.push_back(no_grad_param);
  EXPECT_NEAR(clip_grad_norm(ps, 0.0), 13.0, 1e-6);  // max_norm 0: measure only
  EXPECT_TRUE(torch::equal(ps[0].grad(), torch::tensor({3.0f, 4.0f})));
  EXPECT_NEAR(clip_grad_norm(ps, 100.0), 13.0, 1e-6);  // below the limit: unchanged
  EXPECT_TRUE(torch::equal(ps[1].grad(), torch::tensor({12.0f})));
  EXPECT_NEAR(clip_grad_norm(ps, 6.5), 13.0, 1e-6);
  const float coef = 6.5f / (13.0f + 1e-6f);
  EXPECT_NEAR(ps[0].grad()[0].item<float>(), 3.0f * coef, 1e-6);
  EXPECT_NEAR(ps[0].grad()[1].item<float>(), 4.0f * coef, 1e-6);
  EXPECT_NEAR(ps[1].grad()[0].item<float>(), 12.0f * coef, 1e-6);
  EXPECT_FALSE(no_grad_param.grad().defined());
  EXPECT_NEAR(clip_grad_norm(ps, 0.0), 6.5, 1e-5);  // the new total is max_norm
  EXPECT_EQ(clip_grad_norm({no_grad_param}, 1.0), 0.0);
}

TEST(ClipGradNormTest, MixedDtypesAndNonFinite) {
  torch::Tensor a = torch::zeros({2}).requires_grad_(true);
  a.mutable_grad() = torch::tensor({6.0f, 8.0f});
  torch::Tensor b = torch::zeros({1}, torch::kBFloat16).requires_grad_(true);
  b.mutable_grad() = torch::tensor({0.0f}).to(torch::kBFloat16);
  EXPECT_NEAR(clip_grad_norm({a, b}, 5.0), 10.0, 1e-5);
  EXPECT_NEAR(a.grad()[1].item<float>(), 4.0f, 1e-5);
  EXPECT_EQ(b.grad().scalar_type(), torch::kBFloat16);
  // A non-finite gradient gives a non-finite total (the loop's non-finite checks rely on it).
  b.mutable_grad() = torch::tensor({std::numeric_limits<float>::infinity()}).to(torch::kBFloat16);
  EXPECT_FALSE(std::isfinite(clip_grad_norm({a, b}, 0.0)));
}

// ---------------------------------------------------------------------------------------------
// The CUDA-graph form of the step (src/optim/captured_step.cpp: device scalars, state made up
// front). Its capture needs a GPU; its arithmetic runs anywhere, so it is checked here on CPU
// against the eager step().

TEST(CapturedStepTest, GraphSafeClipEqualsClipGradNorm) {
  const auto make = [] {
    torch::Tensor a = torch::zeros({3}).requires_grad_(true);
    a.mutable_grad() = torch::tensor({3.0f, -4.0f, 1.5f});
    torch::Tensor b = torch::zeros({2}, torch::kBFloat16).requires_grad_(true);
    b.mutable_grad() = torch::tensor({12.0f, 0.25f}).to(torch::kBFloat16);
    torch::Tensor none = torch::zeros({1}).requires_grad_(true);  // no gradient: skipped
    return std::vector<torch::Tensor>{a, b, none};
  };
  auto eager = make(), graphed = make();
  const double total = clip_grad_norm(eager, 2.5);
  const torch::Tensor t = grad_total_norm(graphed);
  EXPECT_EQ(t.dim(), 0);
  EXPECT_EQ(t.item<double>(), total);
  clip_grads_with_norm(graphed, t, torch::tensor(2.5f));
  for (size_t i = 0; i < 2; ++i) EXPECT_TRUE(torch::equal(eager[i].grad(), graphed[i].grad())) << i;
  EXPECT_FALSE(graphed[2].grad().defined());
  // +inf max norm (no clipping): gradients unchanged, bit for bit.
  const auto before = graphed[0].grad().clone();
  clip_grads_with_norm(graphed, grad_total_norm(graphed),
                       torch::tensor(std::numeric_limits<float>::infinity()));
  EXPECT_TRUE(torch::equal(graphed[0].grad(), before));
  EXPECT_EQ(grad_total_norm({graphed[2]}).item<double>(), 0.0);
}

TEST(CapturedStepTest, MatchesTheEagerStepOnCpu) {
  const auto mcfg = small_model(/*tied=*/false);
  const auto ocfg = distinct_lrs();  // weight decay on in AdamW and Muon
  auto a = make_model(mcfg, 21), b = make_model(mcfg, 21);
  OptimizerSet sa(a->state_dict(), ocfg, control_patterns(), nullptr);
  OptimizerSet sb(b->state_dict(), ocfg, control_patterns(), nullptr);
  const auto initial = a->tok_emb->weight.detach().clone();
  set_grads(*b, 100);
  sb.prepare_captured_step();  // state made before the first step, as before a capture
  EXPECT_FALSE(sb.captured_state().empty());
  for (int i = 0; i < 3; ++i) {
    const double scale = 0.7 - 0.1 * i, momentum = 0.9 + 0.03 * i;  // the scalars change per step
    set_grads(*a, 100 + i);
    sa.set_schedule(scale, momentum);
    sa.step();
    set_grads(*b, 100 + i);
    sb.set_schedule(scale, momentum);
    sb.upload_step_scalars();
    sb.captured_step();
    sb.commit_captured_step();
  }
  EXPECT_FALSE(torch::equal(a->tok_emb->weight, initial));
  const auto& muon = sa.plan().muon;
  auto pa = a->named_parameters(), pb = b->named_parameters();
  for (const auto& kv : pa) {
    const bool is_muon = std::find(muon.begin(), muon.end(), kv.key()) != muon.end();
    if (is_muon) {
      // grad + momentum * buf: add() is an FMA on CPU, addcmul is not (one ulp before a bf16
      // Newton-Schulz, which can move a bf16 rounding); bounded by matrix_lr * 2^-7.
      const double diff = (kv.value() - pb[kv.key()]).abs().max().item<double>();
      EXPECT_LE(diff, ocfg.matrix_lr / 128) << kv.key();
    } else {
      EXPECT_TRUE(torch::equal(kv.value(), pb[kv.key()])) << kv.key() << " (AdamW: bit for bit)";
    }
  }
  // Host counters advanced by commit_captured_step(), state saved the same way.
  EXPECT_EQ(dynamic_cast<Muon*>(sb.find("muon"))->step_count(), 3);
  EXPECT_EQ(dynamic_cast<AdamW*>(sb.find("scalar"))->step_count("smear.gate"), 3);
  const auto ta = sa.state_tensors(), tb = sb.state_tensors();
  ASSERT_EQ(ta.size(), tb.size());
  for (size_t i = 0; i < ta.size(); ++i) {
    EXPECT_EQ(ta[i].first, tb[i].first);
    if (ta[i].first.rfind("muon/", 0) != 0) {
      EXPECT_TRUE(torch::equal(ta[i].second, tb[i].second)) << ta[i].first;
    }
  }
}

// MUON_NS_DTYPE=fp32 (the dist e2e test relies on it): the same iteration in fp32 returns fp32,
// orthogonalises like bf16 does (singular values in Newton-Schulz's band around 1, and close to
// the bf16 result), and a relative 1e-6 change of the input moves the output by about as much,
// where bf16 moves it by whole bf16 ulps.
TEST(NewtonSchulzFp32Test, SameIterationWithoutBf16Amplification) {
  torch::manual_seed(7);
  const torch::Tensor g = torch::randn({48, 80});
  const torch::Tensor g2 = g * (1 + 1e-6 * torch::randn({48, 80}));
  const torch::Tensor x32 = newton_schulz5(g, 5, 1e-7, false, torch::kFloat32);
  const torch::Tensor x16 = newton_schulz5(g, 5, 1e-7, false, torch::kBFloat16);
  ASSERT_EQ(x32.scalar_type(), torch::kFloat32);
  ASSERT_EQ(x16.scalar_type(), torch::kBFloat16);
  ASSERT_EQ(x32.sizes(), g.sizes());
  const torch::Tensor sv = torch::linalg_svdvals(x32);
  EXPECT_GT(sv.min().item<double>(), 0.5);
  EXPECT_LT(sv.max().item<double>(), 1.3);
  const auto rel = [](const torch::Tensor& a, const torch::Tensor& b) {
    return ((a.to(torch::kFloat32) - b.to(torch::kFloat32)).norm() / b.to(torch::kFloat32).norm())
        .item<double>();
  };
  EXPECT_LT(rel(x16, x32), 0.05);
  EXPECT_LT(rel(newton_schulz5(g2, 5, 1e-7, false, torch::kFloat32), x32), 1e-4);
  EXPECT_GT(rel(newton_schulz5(g2, 5, 1e-7, false, torch::kBFloat16), x16), 1e-3);
  EXPECT_THROW(newton_schulz5(g, 5, 1e-7, false, torch::kFloat16), Error);
}

// The CPU bf16 Newton-Schulz widens each bf16 operand once per iteration; it must equal the
// plain "every product widened to fp32, rounded once to bf16" iteration bit for bit, on both
// orientations (the golden newton_schulz cases hold that plain form).
TEST(NewtonSchulzBf16Test, WidenedOperandsEqualThePlainBf16Iteration) {
  torch::manual_seed(11);
  const auto f32 = torch::kFloat32;
  const auto bmm16 = [f32](const torch::Tensor& a, const torch::Tensor& b) {
    return a.to(f32).mm(b.to(f32)).to(torch::kBFloat16);
  };
  for (const auto& shape : {std::vector<int64_t>{24, 40}, std::vector<int64_t>{40, 24}}) {
    const torch::Tensor g = torch::randn(shape);
    torch::Tensor x = g.to(torch::kBFloat16);
    x = x / (x.norm() + 1e-7);
    const bool tr = shape[0] > shape[1];
    if (tr) x = x.t();
    for (int i = 0; i < 5; ++i) {
      const torch::Tensor a = bmm16(x, x.t());
      const torch::Tensor b = a * kNsB + bmm16(a * kNsC, a);
      x = x * kNsA + bmm16(b, x);
    }
    if (tr) x = x.t();
    EXPECT_TRUE(torch::equal(newton_schulz5(g, 5, 1e-7, false, torch::kBFloat16), x));
  }
}

// DTYPE=reference keeps tok_emb as a bf16 parameter: AdamW must update it as torch's
// AdamW(fused=True) does (bf16 weights and moments, fp32 arithmetic, one rounding per store),
// which for one step is the fp32 update of the bf16 values rounded once.
TEST(AdamWTest, Bf16ParamsTakeTheFusedPathWithBf16Moments) {
  torch::manual_seed(7);
  const auto w0 = torch::randn({6, 5}).to(torch::kBFloat16);
  const auto g0 = (0.1 * torch::randn({6, 5})).to(torch::kBFloat16);
  auto p = w0.clone().requires_grad_(true);
  p.mutable_grad() = g0.clone();
  ParamGroup grp{"tok", {"w"}, {p}, 0.03, 0.03, 0.0};
  AdamWOptions o;
  o.weight_decay = 0.04;
  AdamW opt({grp}, o);
  opt.step();
  EXPECT_EQ(p.scalar_type(), torch::kBFloat16);
  const auto state = opt.state_tensors();
  const torch::Tensor* m = core::find_tensor(state, "w.exp_avg");
  const torch::Tensor* v = core::find_tensor(state, "w.exp_avg_sq");
  ASSERT_TRUE(m && v);
  EXPECT_EQ(m->scalar_type(), torch::kBFloat16);
  EXPECT_EQ(v->scalar_type(), torch::kBFloat16);
  EXPECT_EQ(opt.step_count("w"), 1);
  // Step 1 in fp32: decay, m = 0.1 g, v = 0.05 g^2, p -= lr m/(1-b1) / (sqrt(v)/sqrt(1-b2) + eps).
  const auto w = w0.to(torch::kFloat), g = g0.to(torch::kFloat);
  const auto m1 = 0.1 * g, v1 = 0.05 * g * g;
  const auto want = w * (1 - 0.03 * 0.04) - 0.03 / 0.1 * m1 / (v1.sqrt() / std::sqrt(0.05) + 1e-8);
  EXPECT_TRUE(torch::equal(m->to(torch::kFloat), m1.to(torch::kBFloat16).to(torch::kFloat)));
  // One bf16 rounding of values whose fp32 arithmetic may differ in the last bit: <= 1 bf16 ulp.
  const auto err = (p.detach().to(torch::kFloat) - want).abs();
  EXPECT_TRUE((err <= want.abs() * (1.0 / 128) + 1e-6).all().item<bool>())
      << "max error " << err.max().item<float>();
}

}  // namespace
}  // namespace pgolf::optim
