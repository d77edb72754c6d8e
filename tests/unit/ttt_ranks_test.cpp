// The frontier TTT across ranks (issue 21): a real 2-rank Gloo world on loopback (this binary
// re-executed as two ranks, rank_spawn.h) against the one-rank run in the same process, at a tiny
// banked GPT. Where the record's distribution is deterministic the results agree within fp32
// rounding:
//  * doc_lora, one batch of every document (one rank scores it, the other waits), LoRA training on,
//    two phases: the bpb, and the base after the phase that runs, on both ranks;
//  * doc_lora, several batches claimed by both ranks, one phase over every document (due only
//    after the last batch, when one rank has already run out of claims): the bpb and the base.
//    The adapters do not learn here (TTT_LORA_LR=0): with TTT_WARM_START_A each rank carries its
//    own trained A from batch to batch, as the record's ranks do, so per-batch scores depend on
//    which rank ran which batch;
//  * chunk_sgd with 3 sequences per chunk (shares of 1 and 2): the bpb and the final weights; and
//    with one sequence per step (the ranks' shares need 1 and 2 steps) both ranks still finish
//    with the same weights.
// The SGD here trains whole rows (GLOBAL_TTT_RESPECT_DOC_BOUNDARIES=0). With document masking a
// rank's share that starts inside a document attends from the share's start, and its cuts at
// seq_len count from there (the record's split): a real difference from one rank, not rounding.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <unistd.h>
#include <vector>

#include "pgolf/dist/comm.h"
#include "pgolf/eval/ttt_doc.h"
#include "pgolf/eval/ttt_sgd.h"
#include "pgolf/model/gpt_banked.h"

#include "common/tiny_banked.h"
#include "rank_spawn.h"

namespace pgolf {
namespace {

constexpr int64_t kVocab = 40;
constexpr const char* kClaimEnv = "PGOLF_TTT_CLAIM_FILE";

model::BankedGPT tiny_model() {
  auto c = testing::tiny_banked_config(kVocab, 2, 16, 2, 1);
  c.mlp_mult = 2.0;
  c.rope_dims = 4;
  c.xsa_last_n = 2;
  c.smear_gate_enabled = true;
  torch::manual_seed(5);
  model::BankedGPT m(c);
  torch::NoGradGuard g;
  for (auto& p : m->parameters()) p.add_(torch::randn_like(p) * 0.1);  // every path carries signal
  m->eval();
  return m;
}

// Documents: BOS (1) then ids in [2, V).
torch::Tensor doc_stream(const std::vector<int64_t>& lens) {
  torch::manual_seed(6);
  std::vector<torch::Tensor> parts;
  for (int64_t n : lens) {
    parts.push_back(torch::ones({1}, torch::kInt64));
    parts.push_back(torch::randint(2, kVocab, {n - 1}, torch::kInt64));
  }
  return torch::cat(parts);
}

const std::vector<int64_t> kDocLens = {13, 9, 21, 6, 17, 11, 8, 15};

eval::DocTttOptions doc_options(int64_t batch_size, double lora_lr, int64_t phases) {
  eval::DocTttOptions o;
  o.lora = {2, 4.0, true, true, true, /*warm_start_a=*/true};
  o.lr = lora_lr;
  o.chunk_size = 4;
  o.eval_seq_len = 8;
  o.batch_size = batch_size;
  o.weight_decay = 0.5;
  o.beta2 = 0.99;
  o.phased = true;
  o.prefix_docs = static_cast<int64_t>(kDocLens.size());
  o.num_phases = phases;
  o.global.lr = 0.05;
  o.global.chunk_tokens = 24;  // 3 sequences of 8 per chunk: shares of 1 and 2
  o.global.batch_seqs = 8;     // one step per chunk
  o.global.seq_len = 8;
  o.global.respect_doc_boundaries = false;  // see the note at the top
  return o;
}

struct TttOut {
  double bpb = 0.0;
  core::NamedTensors weights;
};

eval::ByteSource unit_bytes(int64_t n) { return {{}, torch::ones({n}, torch::kInt32)}; }

TttOut run_doc(const eval::DocTttOptions& base, const eval::DistContext& dist) {
  auto m = tiny_model();
  auto o = base;
  if (dist.world > 1) o.claim_file = std::getenv(kClaimEnv);
  const auto tokens = doc_stream(kDocLens);
  torch::manual_seed(7);  // the adapters' A draws, the same on every rank
  const auto r = eval::eval_ttt_doc(*m, tokens, unit_bytes(tokens.numel()), o, dist);
  return {r.val_bpb, m->state_dict()};
}

TttOut run_chunk_sgd(int64_t batch_seqs, const eval::DistContext& dist) {
  auto m = tiny_model();
  eval::ChunkSgdOptions o;
  o.sgd.lr = 0.05;
  o.sgd.chunk_tokens = 24;  // 3 sequences of 8
  o.sgd.batch_seqs = batch_seqs;
  o.sgd.seq_len = 8;
  o.sgd.respect_doc_boundaries = false;
  o.stride = 4;
  o.batch_seqs = 3;
  const auto tokens = doc_stream({20, 15, 30, 12}).slice(0, 0, 73);
  const auto r = eval::eval_chunk_sgd(*m, tokens, unit_bytes(tokens.numel()), o, dist);
  return {r.val_bpb, m->state_dict()};
}

void expect_close(const TttOut& one, const TttOut& two, double weight_tol) {
  EXPECT_NEAR(two.bpb, one.bpb, 1e-6 * one.bpb);
  ASSERT_EQ(one.weights.size(), two.weights.size());
  for (size_t i = 0; i < one.weights.size(); ++i)
    EXPECT_LT((one.weights[i].second - two.weights[i].second).abs().max().item<double>(),
              weight_tol)
        << one.weights[i].first;
}

// The TTT moved the base (so equal weights say something).
void expect_moved(const TttOut& out) {
  const auto start = tiny_model()->state_dict();
  double moved = 0.0;
  for (size_t i = 0; i < start.size(); ++i)
    moved = std::max(moved, (start[i].second - out.weights[i].second).abs().max().item<double>());
  EXPECT_GT(moved, 1e-3);
}

TEST(TttRanksTest, TwoRanksEqualOneRank) {
  const std::string claim =
      ::testing::TempDir() + "/pgolf_ttt_ranks_claims_" + std::to_string(::getpid());
  for (const char* worker : {"TttRanksWorker.DocLoraOneBatch", "TttRanksWorker.DocLoraManyBatches",
                             "TttRanksWorker.ChunkSgd"})
    EXPECT_EQ(testing::run_ranks(2, worker, /*timeout_s=*/180, {{kClaimEnv, claim}}),
              std::vector<int>({0, 0}))
        << worker;
}

// ---- Inside the ranks (run_ranks): each computes the one-rank result too, then compares.

struct RankWorld {
  std::unique_ptr<dist::Comm> comm = dist::make_comm(config::DistBackend::kGloo, false);
  eval::DistContext ctx() {
    torch::set_num_threads(1);
    return {comm->rank(), comm->world_size(), [this](torch::Tensor& t) { comm->all_reduce_sum(t); }};
  }
};

PGOLF_RANK_WORKER_TEST(TttRanksWorker, DocLoraOneBatch) {
  RankWorld w;
  const auto o = doc_options(/*batch_size=*/8, /*lora_lr=*/0.05, /*phases=*/2);
  const TttOut two = run_doc(o, w.ctx());
  const TttOut one = run_doc(o, {});
  expect_moved(one);
  expect_close(one, two, 2e-5);
}

PGOLF_RANK_WORKER_TEST(TttRanksWorker, DocLoraManyBatches) {
  RankWorld w;
  const auto o = doc_options(/*batch_size=*/2, /*lora_lr=*/0.0, /*phases=*/1);
  const TttOut two = run_doc(o, w.ctx());
  const TttOut one = run_doc(o, {});
  expect_moved(one);
  expect_close(one, two, 2e-5);
}

PGOLF_RANK_WORKER_TEST(TttRanksWorker, ChunkSgd) {
  RankWorld w;
  const TttOut two = run_chunk_sgd(/*batch_seqs=*/4, w.ctx());
  const TttOut one = run_chunk_sgd(4, {});
  expect_moved(one);
  expect_close(one, two, 2e-5);
  // One sequence per step: shares of 1 and 2 sequences take the same 2 steps on both ranks.
  const TttOut uneven = run_chunk_sgd(/*batch_seqs=*/1, w.ctx());
  for (const auto& [name, t] : uneven.weights) {
    torch::Tensor sum = t.clone();
    w.comm->all_reduce_sum(sum);
    EXPECT_TRUE(torch::equal(sum, t * 2)) << name << " differs between the ranks";
  }
}

}  // namespace
}  // namespace pgolf
