// The frontier evaluation (issue 21): varlen attention against each document alone (CPU, and
// flash varlen against the CPU mask on CUDA), the doc_lora pieces (adapter draw order, batches,
// phase boundaries), sidecar bytes, and the legality of every TTT mode: a target's score does not
// change when every token scored after it is replaced (BOS positions, which fix the documents and
// so the schedule, are kept).
#include <gtest/gtest.h>

#include <torch/torch.h>

#include <cmath>
#include <functional>

#include "common/tiny_banked.h"
#include "pgolf/core/error.h"
#include "pgolf/eval/doc_lora.h"
#include "pgolf/eval/gpt_lora.h"
#include "pgolf/eval/standard.h"
#include "pgolf/eval/ttt.h"
#include "pgolf/eval/ttt_doc.h"
#include "pgolf/eval/ttt_sgd.h"
#include "pgolf/model/gpt.h"
#include "pgolf/model/gpt_banked.h"

namespace pgolf {
namespace {

constexpr int64_t kVocab = 48;

config::ModelConfig tiny_banked() {
  return testing::tiny_1_0611_config(kVocab, /*heads=*/4, /*kv_heads=*/2, /*rope_dims=*/4);
}

// Every parameter moved off its (often zero) init, so every path carries signal.
model::BankedGPT random_banked(uint64_t seed) {
  torch::manual_seed(seed);
  model::BankedGPT m(tiny_banked());
  m->set_looping(true);
  torch::NoGradGuard g;
  for (auto& p : m->parameters()) p.add_(torch::randn_like(p) * 0.1);
  m->eval();
  return m;
}

// A stream of docs: BOS (1) then ids in [2, V).
torch::Tensor stream_of(const std::vector<int64_t>& lens, uint64_t seed) {
  torch::manual_seed(seed);
  std::vector<torch::Tensor> parts;
  for (int64_t n : lens) {
    parts.push_back(torch::ones({1}, torch::kInt64));
    parts.push_back(torch::randint(2, kVocab, {n - 1}, torch::kInt64));
  }
  return torch::cat(parts);
}

TEST(FrontierVarlen, PackedBatchEqualsEachDocumentAlone) {
  auto m = random_banked(3);
  const std::vector<int64_t> lens = {7, 12, 5};
  const auto ids = stream_of(lens, 4).unsqueeze(0);
  const auto cu = model::build_cu_seqlens({0, 7, 19}, 24, 0, 8).first;
  torch::NoGradGuard g;
  const auto packed = m->forward_logits(ids, cu);
  const auto dense = m->forward_logits(ids);  // crosses documents: must differ
  int64_t at = 0;
  for (int64_t n : lens) {
    const auto alone = m->forward_logits(ids.narrow(1, at, n));
    EXPECT_LT((packed.narrow(1, at, n) - alone).abs().max().item<double>(), 2e-5) << "doc at " << at;
    at += n;
  }
  EXPECT_GT((packed - dense).abs().max().item<double>(), 1e-3);
}

TEST(FrontierVarlenCuda, FlashVarlenMatchesTheCpuMask) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "NOT RUN: no CUDA device";
  torch::manual_seed(5);
  const int64_t N = 40, H = 4, Hkv = 2, D = 16;
  auto q = torch::randn({1, N, H, D}), k = torch::randn({1, N, Hkv, D}), v = torch::randn({1, N, Hkv, D});
  const auto cu = model::build_cu_seqlens({0, 9, 30}, N, 16, 8);
  const auto ref = model::banked_causal_attention(q, k, v, model::segment_ids(cu.first, N));
  const auto bf = [](const torch::Tensor& t) { return t.to(torch::kCUDA, torch::kBFloat16); };
  const auto got = model::varlen_attention(bf(q), bf(k), bf(v),
                                           model::make_segments(cu.first.cuda(), N));
  EXPECT_LT((got.to(torch::kCPU, torch::kFloat32) - ref).abs().max().item<double>(), 3e-2);
}

TEST(FrontierDocLora, DrawsEveryAInTheRecordsOrder) {
  auto m = random_banked(6);
  eval::DocLoraOptions o;
  o.rank = 2;
  o.alpha = 8;
  o.k = o.o = o.mlp = true;
  torch::manual_seed(11);
  eval::DocLora lora(*m, 3, o, torch::kCPU);
  torch::manual_seed(11);
  const auto head_a = torch::empty({3, 2, 32}).uniform_(-1.0 / std::sqrt(32.0), 1.0 / std::sqrt(32.0));
  const auto q0_a = torch::empty({3, 2, 32}).uniform_(-1.0 / std::sqrt(32.0), 1.0 / std::sqrt(32.0));
  const auto params = lora.parameters();
  EXPECT_TRUE(torch::equal(params[0], head_a));
  EXPECT_TRUE(torch::equal(params[2], q0_a));
  const int64_t slots = m->num_slots();  // 3 layers, layer 1 looped twice: 4 slots
  EXPECT_EQ(slots, 4);
  EXPECT_EQ(params.size(), static_cast<size_t>(2 + 2 * 5 * slots));
  // B starts at zero: the adapters change nothing until trained; alpha/rank scales the output.
  const auto x = torch::randn({3, 5, 32});
  EXPECT_EQ(lora.delta(0, model::AdapterSite::kQ, x).abs().max().item<double>(), 0.0);
  EXPECT_FALSE(eval::DocLora(*m, 1, eval::DocLoraOptions{}, torch::kCPU)
                   .delta(0, model::AdapterSite::kK, x.narrow(0, 0, 1))
                   .defined());
}

TEST(FrontierDocTtt, BatchesByLengthLongestFirstAndPhaseBoundaries) {
  std::vector<eval::Document> docs = {{0, 5, 0}, {5, 9, 1}, {14, 3, 2}, {17, 9, 3}, {26, 4, 4}};
  const auto db = eval::doc_batches(docs, 2);
  ASSERT_EQ(db.batches.size(), 3u);
  EXPECT_EQ(db.batches[0], (std::vector<int64_t>{2, 4}));  // lengths 3, 4
  EXPECT_EQ(db.batches[1], (std::vector<int64_t>{0, 1}));  // 5, 9 (stable: doc 1 before doc 3)
  EXPECT_EQ(db.batches[2], (std::vector<int64_t>{3}));
  EXPECT_EQ(db.order, (std::vector<int64_t>{1, 2, 0}));  // longest 9, 9 (stable), then 4
  EXPECT_EQ(eval::phase_boundaries(8, 4, 2), (std::vector<int64_t>{2, 4}));
  EXPECT_EQ(eval::phase_boundaries(3, 2500, 3), (std::vector<int64_t>{1, 2, 3}));
  EXPECT_EQ(eval::phase_boundaries(8, 0, 1), (std::vector<int64_t>{0}));
}

TEST(FrontierBytes, SidecarReplacesTheLuts) {
  auto m = random_banked(7);
  const auto tokens = stream_of({10, 7, 16}, 8).slice(0, 0, 33);
  eval::StandardEvalOptions o;
  o.seq_len = 8;
  o.val_batch_size = 16;
  o.varlen_logits = [&](const torch::Tensor& ids, const torch::Tensor& cu) {
    return m->forward_logits(ids, cu);
  };
  o.byte_sidecar = torch::arange(33, torch::kInt32) % 3;  // bytes of token i: i mod 3
  torch::NoGradGuard g;
  const auto r = eval::eval_standard({}, tokens, {}, o);
  EXPECT_EQ(r.sums.tokens, 32.0);
  EXPECT_EQ(r.sums.bytes, (torch::arange(1, 33) % 3).sum().item<double>());  // targets 1..32
  o.byte_sidecar = torch::ones({10}, torch::kInt32);
  EXPECT_THROW(eval::eval_standard({}, tokens, {}, o), Error);  // shorter than the stream
}

// ---- Legality (issue #1017, condition 3): score before update, for every TTT mode ----

// `tokens` with every non-BOS token p for which replace(p) holds drawn anew from [2, V).
torch::Tensor replaced(const torch::Tensor& tokens, const std::function<bool(int64_t)>& replace) {
  torch::manual_seed(99);
  auto out = tokens.clone();
  const auto fresh = torch::randint(2, kVocab, {tokens.numel()}, torch::kInt64);
  for (int64_t p = 0; p < tokens.numel(); ++p)
    if (out[p].item<int64_t>() != 1 && replace(p)) {
      int64_t v = fresh[p].item<int64_t>();
      if (v == out[p].item<int64_t>()) v = v + 1 < kVocab ? v + 1 : 2;
      out[p] = v;
    }
  return out;
}

// Targets where `keep` holds score identically; some of the others change (the test can fail).
void expect_prefix_scores_kept(const torch::Tensor& a, const torch::Tensor& b,
                               const torch::Tensor& keep) {
  const auto scored = a.isnan().logical_not().logical_and(keep);
  ASSERT_GT(scored.sum().item<int64_t>(), 0);
  EXPECT_TRUE(torch::equal(a.masked_select(scored), b.masked_select(scored)));
  const auto later = a.isnan().logical_not().logical_and(keep.logical_not());
  ASSERT_GT(later.sum().item<int64_t>(), 0);
  EXPECT_FALSE(torch::equal(a.masked_select(later), b.masked_select(later)));
}

eval::DocTttOptions legality_doc_options() {
  eval::DocTttOptions o;
  o.lora = {2, 4.0, true, true, true, /*warm_start_a=*/true};
  o.lr = 0.05;
  o.chunk_size = 4;
  o.eval_seq_len = 8;
  o.batch_size = 2;
  o.weight_decay = 0.5;
  o.beta2 = 0.99;
  o.phased = true;
  o.prefix_docs = 4;
  o.num_phases = 2;
  o.global.lr = 0.05;
  o.global.chunk_tokens = 16;
  o.global.batch_seqs = 2;
  o.global.seq_len = 8;
  return o;
}

TEST(FrontierLegality, DocLoraPhasedScoresNeverSeeLaterScoredTokens) {
  const auto tokens = stream_of({13, 9, 21, 6, 17, 11, 8}, 12);
  auto run = [&](const torch::Tensor& t, torch::Tensor* nll, torch::Tensor* step) {
    auto m = random_banked(13);
    auto o = legality_doc_options();
    o.per_target_nll = nll;
    o.score_step = step;
    torch::manual_seed(14);
    return eval::eval_ttt_doc(*m, t, eval::ByteSource{{}, torch::ones({t.numel()}, torch::kInt32)}, o);
  };
  torch::Tensor nll_a, step, nll_b, unused;
  run(tokens, &nll_a, &step);
  const int64_t k = step.max().item<int64_t>() / 2;  // mid-way, after the first phase
  // Token p is target p-1: replace every token whose target was scored after step k.
  const auto t2 = replaced(tokens, [&](int64_t p) { return p >= 1 && step[p - 1].item<int64_t>() > k; });
  run(t2, &nll_b, &unused);
  expect_prefix_scores_kept(nll_a, nll_b, step.le(k).logical_and(step.ge(0)));
}

TEST(FrontierLegality, ChunkSgdScoresNeverSeeLaterTokens) {
  const auto tokens = stream_of({20, 15, 30}, 15).slice(0, 0, 61);
  auto run = [&](const torch::Tensor& t, torch::Tensor* nll) {
    auto m = random_banked(16);
    eval::ChunkSgdOptions o;
    o.sgd.lr = 0.05;
    o.sgd.chunk_tokens = 16;
    o.sgd.batch_seqs = 2;
    o.sgd.seq_len = 8;
    o.sgd.respect_doc_boundaries = false;
    o.stride = 4;
    o.batch_seqs = 3;
    o.per_target_nll = nll;
    eval::ByteSource bytes{{}, torch::ones({t.numel()}, torch::kInt32)};
    return eval::eval_chunk_sgd(*m, t, bytes, o);
  };
  torch::Tensor a, b;
  run(tokens, &a);
  const int64_t cut = 29;  // targets 0..28 (tokens 1..29) must not move
  run(replaced(tokens, [&](int64_t p) { return p > cut; }), &b);
  expect_prefix_scores_kept(a, b, torch::arange(a.numel()).lt(cut));
}

TEST(FrontierLegality, Pr289LoraScoresNeverSeeLaterTokens) {
  auto c = testing::model_shape(kVocab, 2, 32, 4, 2);
  c.bigram_vocab_size = 0;
  const auto tokens = stream_of({13, 9, 21, 6, 17}, 17);
  eval::ByteLuts luts{torch::ones({kVocab}, torch::kInt16), torch::zeros({kVocab}, torch::kBool),
                      torch::zeros({kVocab}, torch::kBool)};
  auto run = [&](const torch::Tensor& t, torch::Tensor* nll) {
    torch::manual_seed(18);
    model::GPT gpt(c);
    {
      torch::NoGradGuard g;
      for (auto& p : gpt->parameters()) p.add_(torch::randn_like(p) * 0.1);
    }
    gpt->eval();
    for (auto& p : gpt->parameters()) p.set_requires_grad(false);
    eval::GptLoraModel lm(gpt, model::DtypePolicy::kFp32, torch::kCPU);
    eval::TttOptions o;
    o.lora_rank = 2;
    o.lora_lr = 0.05;
    o.chunk_size = 4;
    o.eval_seq_len = 8;
    o.batch_size = 2;
    o.per_target_nll = nll;
    return eval::eval_ttt_lora(lm, t, luts, o);
  };
  torch::Tensor a, b;
  run(tokens, &a);
  const int64_t cut = 30;
  run(replaced(tokens, [&](int64_t p) { return p > cut; }), &b);
  expect_prefix_scores_kept(a, b, torch::arange(a.numel()).lt(cut));
}

}  // namespace
}  // namespace pgolf
