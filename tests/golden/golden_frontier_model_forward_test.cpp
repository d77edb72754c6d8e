// Golden frontier_model_forward cases (golden-frontier/README.md): the 1.0611 record's GPT with
// random weights, against pgolf's banked GPT (model/gpt_banked.h). The model config is the
// record's run (configs/frontier_1_0611_model.json, its model section) with the case's
// config.model on top; weights are the case's sd.* tensors, loaded by name. Checked with the
// README's bounds: cu_seqlens/max_seqlen/layer lists/state-dict order exact; packed logits,
// act.* block outputs and dense logits max abs <= 1e-4; packed eval/train and dense losses abs
// <= 2e-5; every gradient per-tensor relative Frobenius <= 1e-3. fp32 only (the cases are fp32).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "frontier_case.h"
#include "golden_case.h"
#include "pgolf/config/resolve.h"
#include "pgolf/model/gpt_banked.h"

namespace pgolf::golden {
namespace {

constexpr double kLogitTol = 1e-4, kLossTol = 2e-5, kGradRel = 1e-3;

std::vector<int64_t> ints(const nlohmann::json& j) { return j.get<std::vector<int64_t>>(); }

double max_abs(const torch::Tensor& a, const torch::Tensor& b) {
  return (a - b).abs().max().item<double>();
}

model::BankedGPT build(const GoldenCase& gc) {
  auto m = frontier_case_gpt(gc);
  m->to(target().device);
  return m;
}

TEST(GoldenFrontierModelForward, CasesExist) {
  EXPECT_GE(discover("frontier_model_forward").size(), 1u) << "no frontier_model_forward case found";
}

TEST(GoldenFrontierModelForward, StructureMatches) {
  for (const auto& gc : discover("frontier_model_forward")) {
    SCOPED_TRACE(gc.name());
    auto m = build(gc);
    EXPECT_EQ(m->layers().encoder, ints(gc.manifest().at("encoder_indices")));
    EXPECT_EQ(m->layers().decoder, ints(gc.manifest().at("decoder_indices")));
    std::vector<std::string> keys;
    int64_t count = 0;
    for (const auto& [k, t] : m->state_dict()) {
      keys.push_back(k);
      count += t.numel();
    }
    EXPECT_EQ(keys, gc.manifest().at("state_dict_keys").get<std::vector<std::string>>());
    EXPECT_EQ(count, static_cast<int64_t>(gc.scalar("num_params")));
    const auto& c = gc.config();
    const auto [cu, max_len] = model::build_cu_seqlens(
        ints(c.at("packed_bos_positions")), c.at("packed_len").get<int64_t>(),
        c.at("max_doc_len").get<int64_t>(), c.at("cu_bucket_size").get<int64_t>());
    EXPECT_TRUE(exactly_equal("packed.cu_seqlens", cu, gc.tensor("packed.cu_seqlens")));
    EXPECT_EQ(max_len, static_cast<int64_t>(gc.scalar("packed.max_seqlen")));
  }
}

TEST(GoldenFrontierModelForward, PackedEvalLogitsActivationsAndLoss) {
  PGOLF_GOLDEN_REQUIRE_TARGET();
  if (target().bf16) GTEST_SKIP() << "NOT RUN: the frontier cases are fp32 (no bf16 bounds)";
  for (const auto& gc : discover("frontier_model_forward")) {
    SCOPED_TRACE(gc.name());
    auto m = build(gc);
    m->eval();
    torch::NoGradGuard no_grad;
    const auto ids = on_target(gc.tensor("packed.input_ids"));
    const auto cu = on_target(gc.tensor("packed.cu_seqlens"));
    model::BankedTrace trace;
    m->set_trace(&trace);
    const auto logits = m->forward_logits(ids, cu).cpu();
    m->set_trace(nullptr);
    EXPECT_TRUE(all_close_abs("packed.logits", logits, gc.tensor("packed.logits"), kLogitTol));
    double act_max = 0;
    const auto order = ints(gc.manifest().at("block_call_order"));
    ASSERT_EQ(trace.block_calls.size(), order.size());
    EXPECT_EQ(static_cast<int64_t>(order.size()), static_cast<int64_t>(gc.scalar("packed.block_call_count")));
    for (size_t n = 0; n < order.size(); ++n) {
      const std::string key = "act.block_call." + std::to_string(n) + ".layer" + std::to_string(order[n]);
      EXPECT_EQ(trace.block_calls[n].first, order[n]) << key;
      EXPECT_TRUE(all_close_abs(key, trace.block_calls[n].second.cpu(), gc.tensor(key), kLogitTol));
      act_max = std::max(act_max, max_abs(trace.block_calls[n].second.cpu(), gc.tensor(key)));
    }
    EXPECT_TRUE(all_close_abs("act.final_norm_in", trace.final_norm_in.cpu(),
                              gc.tensor("act.final_norm_in"), kLogitTol));
    EXPECT_TRUE(all_close_abs("act.final_norm_out", trace.final_norm_out.cpu(),
                              gc.tensor("act.final_norm_out"), kLogitTol));
    const double loss = m->forward(ids, on_target(gc.tensor("packed.target_ids")), cu).item<double>();
    EXPECT_NEAR(loss, gc.scalar("packed.loss_eval"), kLossTol) << "packed.loss_eval";
    std::cout << "[ info ] " << gc.name() << ": packed logits max abs err "
              << max_abs(logits, gc.tensor("packed.logits")) << ", act.* " << act_max
              << ", loss_eval err " << std::abs(loss - gc.scalar("packed.loss_eval")) << "\n";
  }
}

TEST(GoldenFrontierModelForward, PackedTrainLossAndEveryGradient) {
  PGOLF_GOLDEN_REQUIRE_TARGET();
  if (target().bf16) GTEST_SKIP() << "NOT RUN: the frontier cases are fp32 (no bf16 bounds)";
  for (const auto& gc : discover("frontier_model_forward")) {
    SCOPED_TRACE(gc.name());
    auto m = build(gc);
    m->train();
    const auto loss = m->forward(on_target(gc.tensor("packed.input_ids")),
                                 on_target(gc.tensor("packed.target_ids")),
                                 on_target(gc.tensor("packed.cu_seqlens")));
    EXPECT_NEAR(loss.item<double>(), gc.scalar("packed.loss_train"), kLossTol) << "packed.loss_train";
    loss.backward();
    double worst = 0;
    const auto params = m->named_parameters();
    for (const auto& name : gc.manifest().at("param_order").get<std::vector<std::string>>()) {
      const torch::Tensor* p = params.find(name);
      ASSERT_NE(p, nullptr) << name;
      if (gc.has_scalar("grad_is_none." + name)) {
        EXPECT_FALSE(p->grad().defined()) << name << ": the reference has no gradient here";
        continue;
      }
      ASSERT_TRUE(p->grad().defined()) << name << " has no gradient";
      EXPECT_TRUE(rel_frobenius("grad." + name, p->grad().cpu(), gc.tensor("grad." + name), kGradRel));
      const auto want = gc.tensor("grad." + name);
      worst = std::max(worst, (p->grad().cpu() - want).norm().item<double>() /
                                  std::max(want.norm().item<double>(), 1e-30));
    }
    std::cout << "[ info ] " << gc.name() << ": loss_train err "
              << std::abs(loss.item<double>() - gc.scalar("packed.loss_train"))
              << ", worst grad rel Frobenius " << worst << "\n";
  }
}

TEST(GoldenFrontierModelForward, DenseLogitsAndLoss) {
  PGOLF_GOLDEN_REQUIRE_TARGET();
  if (target().bf16) GTEST_SKIP() << "NOT RUN: the frontier cases are fp32 (no bf16 bounds)";
  for (const auto& gc : discover("frontier_model_forward")) {
    SCOPED_TRACE(gc.name());
    auto m = build(gc);
    m->eval();
    torch::NoGradGuard no_grad;
    const auto ids = on_target(gc.tensor("dense.input_ids"));
    const auto logits = m->forward_logits(ids).cpu();
    EXPECT_TRUE(all_close_abs("dense.logits", logits, gc.tensor("dense.logits"), kLogitTol));
    const double loss = m->forward(ids, on_target(gc.tensor("dense.target_ids"))).item<double>();
    EXPECT_NEAR(loss, gc.scalar("dense.loss"), kLossTol) << "dense.loss";
    std::cout << "[ info ] " << gc.name() << ": dense logits max abs err "
              << max_abs(logits, gc.tensor("dense.logits")) << ", loss err "
              << std::abs(loss - gc.scalar("dense.loss")) << "\n";
  }
}

}  // namespace
}  // namespace pgolf::golden
