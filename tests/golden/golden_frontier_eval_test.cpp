// Golden frontier_eval cases (golden-frontier/README.md): the 1.0611 record's eval_val (varlen,
// byte sidecar) and eval_val_ttt_phased (per-document LoRA TTT with global SGD phases) on a tiny
// random banked GPT, against pgolf's eval_standard (VARLEN_ATTN + sidecar) and eval_ttt_doc. The
// model config is the record's run (configs/frontier_1_0611_model.json) with the case's
// config.model on top; the evaluation settings are the case's config.eval, plus the record's
// class-level TTT defaults the case does not list (TTT_LORA_ALPHA 144, TTT_WARM_START_A 1, Adam eps
// 1e-10). Bounds (README): eval loss/bpb abs <= 1e-5; TTT loss/bpb abs <= 1e-3; token/byte counts,
// documents and the phase log exact; the phased base weights max abs <= 1e-4 (the record's own
// float64 re-run noise on logits is 1.3e-5; the phases are two and three SGD steps of lr 1e-2).
#include <cmath>
#include <cstdio>
#include <fstream>
#include <regex>
#include <string>
#include <vector>

#include "frontier_case.h"
#include "golden_case.h"
#include "pgolf/config/resolve.h"
#include "pgolf/eval/standard.h"
#include "pgolf/eval/ttt_doc.h"
#include "pgolf/model/gpt_banked.h"

namespace pgolf::golden {
namespace {

constexpr double kEvalTol = 1e-5, kTttTol = 1e-3, kBaseTol = 1e-4;

// The record's eval settings of the case as pgolf's options.
eval::DocTttOptions ttt_options(const nlohmann::json& e) {
  eval::DocTttOptions o;
  o.lora.rank = e.at("ttt_lora_rank").get<int64_t>();
  o.lora.alpha = 144.0;  // BatchedLinearLoRA._ALPHA (TTT_LORA_ALPHA's default)
  o.lora.warm_start_a = true;  // BatchedLinearLoRA._WARM_START_A
  o.lora.k = e.at("ttt_k_lora").get<bool>();
  o.lora.o = e.at("ttt_o_lora").get<bool>();
  o.lora.mlp = e.at("ttt_mlp_lora").get<bool>();
  o.lr = e.at("ttt_lora_lr").get<double>();
  o.chunk_size = e.at("ttt_chunk_size").get<int64_t>();
  o.eval_seq_len = e.at("ttt_eval_seq_len").get<int64_t>();
  o.batch_size = e.at("ttt_batch_size").get<int64_t>();
  o.grad_steps = e.at("ttt_grad_steps").get<int64_t>();
  o.beta1 = e.at("ttt_beta1").get<double>();
  o.beta2 = e.at("ttt_beta2").get<double>();
  o.weight_decay = e.at("ttt_weight_decay").get<double>();
  o.optimizer = e.at("ttt_optimizer").get<std::string>() == "sgd" ? config::TttOptimizer::kSgd
                                                                  : config::TttOptimizer::kAdam;
  o.phased = true;
  o.prefix_docs = e.at("phased_ttt_prefix_docs").get<int64_t>();
  o.num_phases = e.at("phased_ttt_num_phases").get<int64_t>();
  auto& g = o.global;
  g.lr = e.at("global_ttt_lr").get<double>();
  g.momentum = e.at("global_ttt_momentum").get<double>();
  g.epochs = e.at("global_ttt_epochs").get<int64_t>();
  g.chunk_tokens = e.at("global_ttt_chunk_tokens").get<int64_t>();
  g.batch_seqs = e.at("global_ttt_batch_seqs").get<int64_t>();
  g.seq_len = e.at("eval_seq_len").get<int64_t>();
  g.warmup_start_lr = e.at("global_ttt_warmup_start_lr").get<double>();
  g.warmup_chunks = e.at("global_ttt_warmup_chunks").get<int64_t>();
  g.grad_clip = e.at("global_ttt_grad_clip").get<double>();
  g.respect_doc_boundaries = e.at("global_ttt_respect_doc_boundaries").get<bool>();
  return o;
}

void check_supported(const nlohmann::json& e) {
  EXPECT_EQ(e.at("ttt_eval_batches").get<std::string>(), "") << "TTT_EVAL_BATCHES not supported";
  EXPECT_EQ(e.at("val_doc_fraction").get<double>(), 1.0) << "VAL_DOC_FRACTION not supported";
}

TEST(GoldenFrontierEval, CasesExist) {
  EXPECT_GE(discover("frontier_eval").size(), 1u) << "no frontier_eval case found";
}

TEST(GoldenFrontierEval, EvalValVarlenWithByteSidecar) {
  for (const auto& gc : discover("frontier_eval")) {
    SCOPED_TRACE(gc.name());
    auto m = frontier_case_gpt(gc);
    m->eval();
    const auto& e = gc.config().at("eval");
    eval::StandardEvalOptions o;
    o.seq_len = e.at("eval_seq_len").get<int64_t>();
    o.val_batch_size = e.at("val_batch_tokens").get<int64_t>();
    o.grad_accum_steps = 8;  // the record: 8 / WORLD_SIZE, world 1
    o.varlen_logits = [&](const torch::Tensor& ids, const torch::Tensor& cu) {
      return m->forward_logits(ids, cu);
    };
    o.byte_sidecar = gc.tensor("val_bytes");
    const auto r = eval::eval_standard({}, gc.tensor("val_tokens"), {}, o);
    EXPECT_NEAR(r.val_loss, gc.scalar("eval_val.loss"), kEvalTol);
    EXPECT_NEAR(r.val_bpb, gc.scalar("eval_val.bpb"), kEvalTol);
    EXPECT_EQ(r.sums.tokens, gc.scalar("eval_val.token_count"));
    EXPECT_EQ(r.sums.bytes, gc.scalar("eval_val.byte_count"));
    std::printf("[ info ] %s eval_val: loss err %.3g, bpb err %.3g\n", gc.name().c_str(),
                std::abs(r.val_loss - gc.scalar("eval_val.loss")),
                std::abs(r.val_bpb - gc.scalar("eval_val.bpb")));
  }
}

TEST(GoldenFrontierEval, DocumentsMatchFindDocs) {
  for (const auto& gc : discover("frontier_eval")) {
    SCOPED_TRACE(gc.name());
    const auto docs = eval::find_documents(gc.tensor("val_tokens"), /*bos_id=*/1);
    std::vector<std::vector<int64_t>> got;
    for (const auto& d : docs) got.push_back({d.start, d.length});
    EXPECT_EQ(got, gc.manifest().at("docs").get<std::vector<std::vector<int64_t>>>());
  }
}

TEST(GoldenFrontierEval, PhasedTttScoresPhaseLogAndFinalBase) {
  for (const auto& gc : discover("frontier_eval")) {
    SCOPED_TRACE(gc.name());
    auto m = frontier_case_gpt(gc);
    const auto& e = gc.config().at("eval");
    check_supported(e);
    auto o = ttt_options(e);
    std::vector<std::string> log;
    o.log = &log;
    eval::ByteSource bytes{{}, gc.tensor("val_bytes")};
    torch::manual_seed(gc.config().at("ttt_torch_seed").get<int64_t>());  // A inits, as the case
    const auto r = eval::eval_ttt_doc(*m, gc.tensor("val_tokens"), bytes, o);
    EXPECT_EQ(r.units, static_cast<int64_t>(gc.scalar("ttt.num_docs")));
    EXPECT_NEAR(r.val_loss, gc.scalar("ttt.loss"), kTttTol);
    EXPECT_NEAR(r.val_bpb, gc.scalar("ttt.bpb"), kTttTol);
    EXPECT_EQ(r.sums.tokens, gc.scalar("ttt.token_count"));
    EXPECT_EQ(r.sums.bytes, gc.scalar("ttt.byte_count"));
    // The record's lines carry timings (" t:12.3s"); the case stores them without.
    std::vector<std::string> want;
    for (const auto& l : gc.manifest().at("ttt_log"))
      want.push_back(std::regex_replace(l.get<std::string>(), std::regex(" t:[0-9.]+s$"), ""));
    EXPECT_EQ(log, want);
    double worst = 0;
    const auto sd = m->state_dict();
    for (const auto& [key, t] : sd) {
      const auto want_t = gc.tensor("ttt.final_base." + key);
      EXPECT_TRUE(all_close_abs("ttt.final_base." + key, t.detach().cpu(), want_t, kBaseTol));
      worst = std::max(worst, (t.detach().cpu() - want_t).abs().max().item<double>());
    }
    std::printf("[ info ] %s ttt: loss err %.3g, bpb err %.3g, final base max abs err %.3g\n",
                gc.name().c_str(), std::abs(r.val_loss - gc.scalar("ttt.loss")),
                std::abs(r.val_bpb - gc.scalar("ttt.bpb")), worst);
  }
}

}  // namespace
}  // namespace pgolf::golden
