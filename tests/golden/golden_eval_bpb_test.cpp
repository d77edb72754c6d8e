// Golden checks for eval_bpb cases: the byte lookup tables built from the case's tokenizer must
// equal the reference's build_sentencepiece_luts output element for element (reference-spec §3.2).
#include <cmath>
#include <string>

#include "golden_case.h"
#include "pgolf/eval/model_adapter.h"
#include "pgolf/eval/sliding.h"
#include "pgolf/eval/standard.h"
#include "pgolf/model/dtype.h"
#include "pgolf/model/fused.h"
#include "pgolf/tokenizer/byte_luts.h"
#include "pgolf/tokenizer/tokenizer.h"

namespace pgolf::golden {
namespace {

TEST(GoldenEvalBpbTest, LutsEqualGolden) {
  const auto cases = discover("eval_bpb");
  ASSERT_FALSE(cases.empty()) << "no eval_bpb golden case found (a missing kind fails)";
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name());
    const std::string model = c.root() + "/" + c.config().at("tokenizer").get<std::string>();
    const int64_t vocab_size = c.config().at("vocab_size").get<int64_t>();
    tokenizer::Tokenizer tok(model);
    const auto luts = tokenizer::build_byte_luts(tok, vocab_size);

    EXPECT_TRUE(exactly_equal("lut.base_bytes", luts.base_bytes, c.tensor("lut.base_bytes")));
    EXPECT_TRUE(exactly_equal("lut.has_leading_space", luts.has_leading_space,
                              c.tensor("lut.has_leading_space")));
    EXPECT_TRUE(exactly_equal("lut.is_boundary_token", luts.is_boundary,
                              c.tensor("lut.is_boundary_token")));

    int64_t byte_tokens = 0;
    for (int id = 0; id < tok.vocab_size(); ++id) byte_tokens += tok.is_byte(id);
    const auto count = [](const torch::Tensor& t) {
      return t.to(torch::kLong).sum().item<int64_t>();
    };
    const auto scalar = [&](const char* name) { return static_cast<int64_t>(c.scalar(name)); };
    if (c.has_scalar("lut.num_byte_tokens")) {
      EXPECT_EQ(byte_tokens, scalar("lut.num_byte_tokens"));
    }
    if (c.has_scalar("lut.base_bytes_sum")) {
      EXPECT_EQ(count(luts.base_bytes), scalar("lut.base_bytes_sum"));
    }
    if (c.has_scalar("lut.has_leading_space_count")) {
      EXPECT_EQ(count(luts.has_leading_space), scalar("lut.has_leading_space_count"));
    }
    if (c.has_scalar("lut.is_boundary_count")) {
      EXPECT_EQ(count(luts.is_boundary), scalar("lut.is_boundary_count"));
    }
  }
}

// ---- eval_val / eval_val_sliding (golden/README.md case 8): our evaluators driven by our GPT with
// the case's state dict, stream (val_tokens_used) and LUTs must reproduce the reference's figures,
// on the golden target (PGOLF_GOLDEN_DEVICE / PGOLF_GOLDEN_DTYPE, golden_case.h). Token and byte
// counts stay exact in every setting. bf16 bound on loss and bpb: relative kBf16EvalRel instead of
// 1e-6. CPU bf16 autocast measured 1.8e-6 (sliding) and 3e-7 (standard): per-token errors average
// out over the case's tokens; the bound is ~5x that (CUDA's bf16 not measured, no GPU).

constexpr double kBf16EvalRel = 1e-5;
// The case's GPT: ModelConfig from the manifest (golden_case's model_config), weights from the
// bare state-dict keys.
model::GPT eval_case_model(const GoldenCase& c) {
  model::GPT gpt(model_config(c.config()));
  core::NamedTensors sd;
  for (const auto& key : c.manifest().at("state_dict_keys")) {
    sd.emplace_back(key.get<std::string>(), c.tensor(key.get<std::string>()));
  }
  gpt->load_state_dict(sd, /*strict=*/true);
  gpt->to(target().device);
  gpt->set_dtype_policy(target().bf16 ? model::DtypePolicy::kBf16 : model::DtypePolicy::kFp32);
  model::fused::set_enabled(target().fused_kernels);
  return gpt;
}

eval::ByteLuts case_luts(const GoldenCase& c) {
  return {on_target(c.tensor("lut.base_bytes")), on_target(c.tensor("lut.has_leading_space")),
          on_target(c.tensor("lut.is_boundary_token"))};
}

::testing::AssertionResult rel_close(const char* what, double actual, double expected,
                                     double rtol) {
  if (std::abs(actual - expected) <= rtol * std::abs(expected))
    return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << what << ": " << actual << " vs golden " << expected << " (rel "
         << std::abs(actual - expected) / std::abs(expected) << " > " << rtol << ")";
}

TEST(GoldenEvalBpbTest, StandardEvalMatchesReference) {
  PGOLF_GOLDEN_REQUIRE_TARGET();
  const double rtol = tolerance(1e-6, kBf16EvalRel);
  const auto cases = discover("eval_bpb");
  ASSERT_FALSE(cases.empty()) << "no eval_bpb golden case found (a missing kind fails)";
  torch::set_num_threads(1);  // tiny matmuls: extra threads only contend on a busy host
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name());
    const auto& j = c.config();
    eval::StandardEvalOptions o;
    o.seq_len = j.at("train_seq_len").get<int64_t>();
    o.val_batch_size = j.at("val_batch_size").get<int64_t>();
    o.grad_accum_steps = j.at("grad_accum_steps").get<int64_t>();
    o.device = target().device;
    ASSERT_EQ(j.at("world_size").get<int64_t>(), 1)
        << "multi-rank golden cases are not simulated here";
    const auto tokens = c.tensor("val_tokens_used");
    const auto r =
        eval::eval_standard(eval::gpt_logits_fn(eval_case_model(c)), tokens, case_luts(c), o);
    EXPECT_TRUE(rel_close("eval_val.loss", r.val_loss, c.scalar("eval_val.loss"), rtol));
    EXPECT_TRUE(rel_close("eval_val.bpb", r.val_bpb, c.scalar("eval_val.bpb"), rtol));
    EXPECT_EQ(r.sums.tokens, c.scalar("eval_val.token_count"));
    EXPECT_EQ(r.sums.bytes, c.scalar("eval_val.byte_count"));
  }
}

TEST(GoldenEvalBpbTest, SlidingEvalReferenceModeMatchesAndExactModeScoresOnce) {
  PGOLF_GOLDEN_REQUIRE_TARGET();
  const double rtol = tolerance(1e-6, kBf16EvalRel);
  const auto cases = discover("eval_bpb");
  ASSERT_FALSE(cases.empty()) << "no eval_bpb golden case found (a missing kind fails)";
  torch::set_num_threads(1);  // tiny matmuls: extra threads only contend on a busy host
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name());
    const auto& j = c.config();
    eval::SlidingEvalOptions o;
    o.seq_len = j.at("train_seq_len").get<int64_t>();
    o.stride = j.at("eval_stride").get<int64_t>();
    o.batch_seqs = j.at("eval_batch_seqs").get<int64_t>();
    o.device = target().device;
    const auto tokens = c.tensor("val_tokens_used");
    const auto logits = eval::gpt_logits_fn(eval_case_model(c));
    const auto r = eval::eval_sliding(logits, tokens, case_luts(c), o);
    EXPECT_EQ(r.mode, "reference");
    EXPECT_TRUE(
        rel_close("eval_val_sliding.loss", r.val_loss, c.scalar("eval_val_sliding.loss"), rtol));
    EXPECT_TRUE(
        rel_close("eval_val_sliding.bpb", r.val_bpb, c.scalar("eval_val_sliding.bpb"), rtol));
    EXPECT_EQ(r.units, static_cast<int64_t>(c.scalar("eval_val_sliding.num_windows")));
    EXPECT_EQ(r.sums.tokens, c.scalar("eval_val_sliding.token_count"));
    EXPECT_EQ(r.sums.bytes, c.scalar("eval_val_sliding.byte_count"));

    // Exact mode scores every target once: the same stream gives the standard eval's counts.
    o.mode = eval::SlidingMode::kExact;
    const auto e = eval::eval_sliding(logits, tokens, case_luts(c), o);
    EXPECT_EQ(e.sums.tokens, static_cast<double>(tokens.numel() - 1));
    EXPECT_EQ(e.sums.bytes, c.scalar("eval_val.byte_count"));
  }
}

}  // namespace
}  // namespace pgolf::golden
