// Unit tests for eval: byte rule, standard and sliding-window sums against direct per-token
// computations with fake deterministic models, rank slicing, reference-mode double counting,
// progress/JSON output, and the TTT-LoRA driver (documents, chunk windows, score-before-update,
// causality, rank invariance) with a tiny causal attention model.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <limits>

#include "pgolf/core/error.h"
#include "pgolf/core/files.h"
#include "pgolf/eval/gpt_lora.h"
#include "pgolf/eval/sliding.h"
#include "pgolf/eval/standard.h"
#include "pgolf/eval/ttt.h"
#include "common/tiny_model.h"

namespace pgolf::eval {
namespace {

// Every tensor here is tiny: extra intra-op threads only add synchronisation (seconds on a busy
// host).
const bool kSingleThread = (torch::set_num_threads(1), true);

constexpr int64_t kVocab = 48;
constexpr int64_t kBos = 1;

// Ids 0..3 are control tokens (boundary, 0 bytes); the rest get 1..4 bytes, some with a leading
// space.
ByteLuts make_luts() {
  torch::manual_seed(11);
  ByteLuts l;
  l.base_bytes = torch::randint(1, 5, {kVocab}, torch::kInt16);
  l.has_leading_space = torch::rand({kVocab}) < 0.4;
  l.is_boundary = torch::zeros({kVocab}, torch::kBool);
  l.base_bytes.slice(0, 0, 4).fill_(0);
  l.has_leading_space.slice(0, 0, 4).fill_(false);
  l.is_boundary.slice(0, 0, 4).fill_(true);
  return l;
}

// Random ids in [4, V) with a BOS every ~40 tokens (first token BOS).
torch::Tensor make_stream(int64_t n, uint64_t seed) {
  torch::manual_seed(seed);
  torch::Tensor t = torch::randint(4, kVocab, {n}, torch::kInt64);
  t.masked_fill_(torch::rand({n}) < 0.025, kBos);
  t[0] = kBos;
  return t;
}

// Bytes of target p (token p+1 after token p), written with plain loops as an independent check.
double direct_bytes(const torch::Tensor& tok, const ByteLuts& l, int64_t p) {
  const int64_t prev = tok[p].item<int64_t>(), tgt = tok[p + 1].item<int64_t>();
  const bool space = l.has_leading_space[tgt].item<bool>() && !l.is_boundary[prev].item<bool>();
  return l.base_bytes[tgt].item<int16_t>() + (space ? 1.0 : 0.0);
}

// Context-free fake: logits of a position depend only on its input token.
struct Bigram {
  torch::Tensor table = (torch::manual_seed(5), torch::randn({kVocab, kVocab}) * 2.0);
  torch::Tensor operator()(const torch::Tensor& ids) const { return table.index({ids}); }
  double nll(int64_t prev, int64_t tgt) const {
    return -torch::log_softmax(table[prev], 0)[tgt].item<double>();
  }
};

// Causal context-dependent fake: token term plus the running mean of a second table over the
// window.
struct CausalMean {
  torch::Tensor a = (torch::manual_seed(6), torch::randn({kVocab, kVocab}));
  torch::Tensor b = torch::randn({kVocab, kVocab}) * 3.0;
  torch::Tensor operator()(const torch::Tensor& ids) const {
    const torch::Tensor pos = torch::arange(1, ids.size(1) + 1, torch::kFloat32).view({1, -1, 1});
    return a.index({ids}) + b.index({ids}).cumsum(1) / pos;  // (B,T,V)
  }
};

double nll_at(const torch::Tensor& logits_row, int64_t t, int64_t tgt) {
  return -torch::log_softmax(logits_row[t].to(torch::kFloat64), 0)[tgt].item<double>();
}

// Python-loop style sliding eval, one unpadded window per forward: the independent check.
BpbSums brute_sliding(const CausalMean& f, const torch::Tensor& tok, const ByteLuts& l, int64_t L,
                      int64_t stride, bool exact, int64_t* windows) {
  const int64_t T = tok.numel() - 1;
  BpbSums s;
  *windows = 0;
  for (int64_t ws = 0; ws < T; ws += stride) {
    const int64_t end = std::min(ws + L, T), wlen = end - ws;
    const bool keep = exact ? (ws + L - stride < T) : (wlen >= stride);
    if (!keep && ws != 0) continue;
    ++*windows;
    const torch::Tensor logits = f(tok.slice(0, ws, end).unsqueeze(0))[0];
    const int64_t begin = ws == 0 ? 0 : (exact ? L - stride : std::max<int64_t>(wlen - stride, 0));
    for (int64_t t = begin; t < wlen; ++t) {
      s.nll += nll_at(logits, t, tok[ws + t + 1].item<int64_t>());
      s.tokens += 1;
      s.bytes += direct_bytes(tok, l, ws + t);
    }
  }
  return s;
}

void expect_rel(double actual, double expected, double rtol, const char* what) {
  EXPECT_LE(std::abs(actual - expected), rtol * std::abs(expected))
      << what << ": " << actual << " vs " << expected;
}

TEST(EvalBytesTest, BadLutsAndIdsAreInputErrors) {
  ByteLuts l = make_luts();
  l.base_bytes = l.base_bytes.to(torch::kInt32);
  EXPECT_THROW(validate_luts(l, "luts"), Error);
  l = make_luts();
  l.is_boundary = l.is_boundary.slice(0, 0, 10);
  EXPECT_THROW(validate_luts(l, "luts"), Error);
  l = make_luts();
  try {
    check_ids_in_luts(torch::tensor({int64_t{1}, kVocab}, torch::kInt64), l, "val.bin");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInput);
    EXPECT_NE(std::string(e.what()).find("val.bin"), std::string::npos);
  }
}

TEST(EvalStandardTest, SumsMatchDirectPerTokenComputation) {
  const ByteLuts l = make_luts();
  const int64_t L = 32;
  const torch::Tensor tok = make_stream(10 * L + 1, 1);
  Bigram f;
  StandardEvalOptions o;
  o.seq_len = L;
  o.val_batch_size = 3 * L;  // 3 sequences per batch, last batch short
  const EvalResult r = eval_standard(std::ref(f), tok.to(torch::kInt32), l, o);
  double nll = 0, bytes = 0;
  for (int64_t p = 0; p < 10 * L; ++p) {
    nll += f.nll(tok[p].item<int64_t>(), tok[p + 1].item<int64_t>());
    bytes += direct_bytes(tok, l, p);
  }
  EXPECT_EQ(r.sums.tokens, 10 * L);
  EXPECT_EQ(r.sums.bytes, bytes);
  expect_rel(r.sums.nll, nll, 1e-6, "nll");
  expect_rel(r.val_bpb, nll / (std::log(2.0) * bytes), 1e-6, "bpb");
  EXPECT_EQ(r.units, 10);
  EXPECT_EQ(r.local_batches, 4);
}

TEST(EvalStandardTest, RankSlicesSumToSingleRankAndAllReduceIsUsed) {
  const ByteLuts l = make_luts();
  const int64_t L = 16;
  const torch::Tensor tok = make_stream(23 * L + 1, 2);
  CausalMean f;
  StandardEvalOptions o;
  o.seq_len = L;
  o.val_batch_size = 12 * L;
  o.grad_accum_steps = 2;
  const EvalResult one = eval_standard(std::ref(f), tok, l, o);
  for (int world : {2, 3}) {
    BpbSums sum;
    std::vector<BpbSums> parts;
    for (int r = 0; r < world; ++r) {
      const EvalResult part = eval_standard(std::ref(f), tok, l, o, DistContext{r, world, {}});
      parts.push_back(part.sums);
      sum.nll += part.sums.nll;
      sum.tokens += part.sums.tokens;
      sum.bytes += part.sums.bytes;
    }
    EXPECT_EQ(sum.tokens, one.sums.tokens) << "world " << world;
    EXPECT_EQ(sum.bytes, one.sums.bytes) << "world " << world;
    // Batch sizes shrink with the world size, so the fp32 batch means round differently.
    expect_rel(sum.nll, one.sums.nll, 1e-6, "nll");
    // Rank 0 with an all-reduce that adds the other ranks' sums gives the global figures.
    AllReduceFn add_others = [&](torch::Tensor& t) {
      for (int r = 1; r < world; ++r)
        t += torch::tensor({parts[r].nll, parts[r].tokens, parts[r].bytes}, torch::kFloat64);
    };
    const EvalResult r0 = eval_standard(std::ref(f), tok, l, o, DistContext{0, world, add_others});
    expect_rel(r0.val_loss, one.val_loss, 1e-6, "val_loss");
    expect_rel(r0.val_bpb, one.val_bpb, 1e-6, "val_bpb");
    EXPECT_EQ(r0.sums.tokens, one.sums.tokens);
    EXPECT_EQ(r0.sums.bytes, one.sums.bytes);
  }
}

TEST(EvalStandardTest, TooSmallValBatchIsInputError) {
  EXPECT_EQ(standard_local_batch_seqs(524288, 8, 1, 2048), 32);
  EXPECT_EQ(standard_local_batch_seqs(524288, 1, 8, 1024), 64);
  EXPECT_EQ(standard_local_batch_seqs(4096, 1, 8, 128), 4);
  try {
    standard_local_batch_seqs(4096, 4, 8, 256);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInput);
    EXPECT_NE(std::string(e.what()).find("VAL_BATCH_SIZE"), std::string::npos);
  }
}

TEST(EvalSlidingTest, WindowStartsAndScoredRanges) {
  // Golden eval_bpb geometry: T = 2944, L = 128, stride 32 -> 92 windows in reference mode.
  EXPECT_EQ(sliding_window_starts(2944, 128, 32, SlidingMode::kReference).size(), 92u);
  // Exact: ws + L - stride < T -> ws < 2848 -> 89 windows.
  EXPECT_EQ(sliding_window_starts(2944, 128, 32, SlidingMode::kExact).size(), 89u);
  // Primary record: T = 62,021,632, L = 2048, stride 64 -> 969,088 windows.
  EXPECT_EQ(sliding_window_starts(62021632, 2048, 64, SlidingMode::kReference).size(), 969088u);
  EXPECT_EQ(sliding_scored_begin(0, 128, 128, 32, SlidingMode::kReference), 0);
  EXPECT_EQ(sliding_scored_begin(64, 128, 128, 32, SlidingMode::kReference), 96);
  EXPECT_EQ(sliding_scored_begin(2880, 64, 128, 32, SlidingMode::kReference), 32);
  EXPECT_EQ(sliding_scored_begin(2816, 128, 128, 32, SlidingMode::kExact), 96);
  EXPECT_THROW(sliding_window_starts(100, 16, 16, SlidingMode::kExact), Error);
  SlidingMode mode = SlidingMode::kReference;
  EXPECT_FALSE(config::parse_choice("fast", mode));
  EXPECT_TRUE(config::parse_choice("exact", mode));
  EXPECT_EQ(mode, SlidingMode::kExact);
}

// Exact mode scores every target once: with a context-free model the sums equal the direct ones.
TEST(EvalSlidingTest, ExactModeScoresEveryTargetOnce) {
  const ByteLuts l = make_luts();
  Bigram f;
  for (int64_t n : {200, 257, 301, 40}) {  // T a multiple of the stride or not; T < L
    const torch::Tensor tok = make_stream(n, 3);
    const int64_t T = n - 1;
    double nll = 0, bytes = 0;
    for (int64_t p = 0; p < T; ++p) {
      nll += f.nll(tok[p].item<int64_t>(), tok[p + 1].item<int64_t>());
      bytes += direct_bytes(tok, l, p);
    }
    SlidingEvalOptions o;
    o.seq_len = 64;
    o.stride = 16;
    o.batch_seqs = 3;
    o.mode = SlidingMode::kExact;
    const EvalResult r = eval_sliding(std::ref(f), tok, l, o);
    EXPECT_EQ(r.sums.tokens, T) << "n " << n;
    EXPECT_EQ(r.sums.bytes, bytes) << "n " << n;
    expect_rel(r.sums.nll, nll, 1e-9, "nll");
    EXPECT_EQ(r.mode, "exact");
  }
}

// Reference mode: every tail window (start past T - L) scores the last `stride` targets again, on
// top of the full windows' cover. Count = (last full window end) + n_tail * stride.
TEST(EvalSlidingTest, ReferenceModeDoubleCountsTheTail) {
  const ByteLuts l = make_luts();
  Bigram f;
  const int64_t L = 64, stride = 16;
  for (int64_t n : {257, 301, 40}) {
    const torch::Tensor tok = make_stream(n, 4);
    const int64_t T = n - 1;
    int64_t last_full = 0, tails = 0;  // last full window start, windows with ws + L > T (ws > 0)
    for (int64_t ws = 0; ws < T; ws += stride) {
      if (ws + L <= T)
        last_full = ws;
      else if (ws > 0 && T - ws >= stride)
        ++tails;
    }
    const int64_t full_end = std::min(last_full + L, T);  // full windows cover [0, full_end) once
    const int64_t expected = full_end + tails * stride;
    double nll = 0;
    for (int64_t p = 0; p < full_end; ++p)
      nll += f.nll(tok[p].item<int64_t>(), tok[p + 1].item<int64_t>());
    for (int64_t p = T - stride; p < T; ++p) {
      nll += tails * f.nll(tok[p].item<int64_t>(), tok[p + 1].item<int64_t>());
    }
    SlidingEvalOptions o;
    o.seq_len = L;
    o.stride = stride;
    o.batch_seqs = 4;
    const EvalResult r = eval_sliding(std::ref(f), tok, l, o);
    EXPECT_EQ(r.sums.tokens, expected) << "n " << n;
    EXPECT_GT(r.sums.tokens, T) << "n " << n;
    expect_rel(r.sums.nll, nll, 1e-9, "nll");
  }
  // The golden case's figure: T = 2944 gives 3040 = T + 3 * 32.
  const torch::Tensor tok = make_stream(2945, 5);
  SlidingEvalOptions o;
  o.seq_len = 128;
  o.stride = 32;
  o.batch_seqs = 16;
  EXPECT_EQ(eval_sliding(std::ref(f), tok, l, o).sums.tokens, 3040);
}

// Batched, padded, rank-sliced evaluation equals the window-by-window computation in both modes.
TEST(EvalSlidingTest, MatchesBruteForceAcrossRanks) {
  const ByteLuts l = make_luts();
  CausalMean f;
  const torch::Tensor tok = make_stream(333, 6);
  for (SlidingMode mode : {SlidingMode::kReference, SlidingMode::kExact}) {
    int64_t windows = 0;
    const BpbSums want = brute_sliding(f, tok, l, 48, 16, mode == SlidingMode::kExact, &windows);
    SlidingEvalOptions o;
    o.seq_len = 48;
    o.stride = 16;
    o.batch_seqs = 4;
    o.mode = mode;
    for (int world : {1, 2, 3}) {
      BpbSums got;
      for (int r = 0; r < world; ++r) {
        const EvalResult part = eval_sliding(std::ref(f), tok, l, o, DistContext{r, world, {}});
        EXPECT_EQ(part.units, windows);
        got.nll += part.sums.nll;
        got.tokens += part.sums.tokens;
        got.bytes += part.sums.bytes;
      }
      EXPECT_EQ(got.tokens, want.tokens) << to_string(mode) << " world " << world;
      EXPECT_EQ(got.bytes, want.bytes) << to_string(mode) << " world " << world;
      expect_rel(got.nll, want.nll, 1e-6, "nll");
    }
  }
}

TEST(EvalReportTest, ProgressLinesAndEvalJson) {
  const ByteLuts l = make_luts();
  Bigram f;
  std::vector<EvalProgress> seen;
  SlidingEvalOptions o;
  o.seq_len = 32;
  o.stride = 8;
  o.batch_seqs = 2;
  o.mode = SlidingMode::kExact;
  o.progress = {[&](const EvalProgress& p) { seen.push_back(p); }, /*every=*/3};
  const torch::Tensor tok = make_stream(121, 7);
  const EvalResult r = eval_sliding(std::ref(f), tok, l, o);
  // T = 120, exact: starts 0..88 -> 12 windows in batches of 2 -> 6 batches; reports after batches
  // 0, 3 and 5 (the last).
  ASSERT_EQ(r.local_batches, 6);
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen.back().done, seen.back().total);
  expect_rel(seen.back().running_bpb, r.val_bpb, 1e-12, "final running bpb");
  const std::string line = progress_line(seen.back());
  EXPECT_NE(line.find("sliding_eval [100.0%] 12/12 windows running_bpb="), std::string::npos)
      << line;
  EXPECT_NE(line.find("tokens/s="), std::string::npos) << line;
  EXPECT_NE(result_line(r).find("eval_sliding mode:exact stride:8 val_loss:"), std::string::npos);

  const std::string path = ::testing::TempDir() + "/eval.json";
  write_eval_json(path, {r}, {{"checkpoint", "x.pt"}});
  const auto j = nlohmann::json::parse(core::read_text_file(path));
  EXPECT_EQ(j["checkpoint"], "x.pt");
  const auto& e = j["results"][0];
  EXPECT_EQ(e["method"], "sliding");
  EXPECT_EQ(e["mode"], "exact");
  EXPECT_EQ(e["token_count"].get<double>(), 120.0);
  EXPECT_EQ(e["windows"].get<int64_t>(), 12);
  EXPECT_DOUBLE_EQ(e["val_bpb"].get<double>(), r.val_bpb);
  EXPECT_EQ(e["settings"]["stride"], 8);
  EXPECT_TRUE(e.contains("seconds"));
  EXPECT_TRUE(e["local"].contains("tokens_per_second"));
}

// ---- TTT-LoRA ----

// One attention layer with the reference's adapter hooks: q and v get per-row LoRA deltas, the head
// gets a per-row delta before the softcap. `causal` = false makes a model that peeks ahead.
class TinyAttention : public LoraModel {
 public:
  static constexpr int64_t kDim = 8;
  explicit TinyAttention(bool causal = true) : causal_(causal) {
    torch::manual_seed(21);
    emb_ = torch::randn({kVocab, kDim});
    head_ = torch::randn({kVocab, kDim}) * 0.7;
  }
  LoraShapes lora_shapes() const override { return {kDim, kVocab, {kDim}, {kDim}}; }
  torch::Tensor logits(const torch::Tensor& ids, const LoraState& lora) override {
    const torch::Tensor n = emb_.index({ids});  // (B,T,D)
    const torch::Tensor q = n + lora.q[0].forward(n);
    const torch::Tensor v = n + lora.v[0].forward(n);
    torch::Tensor att = torch::matmul(q, n.transpose(1, 2)) / std::sqrt(double(kDim));  // (B,T,T)
    if (causal_) {
      const int64_t T = ids.size(1);
      att = att.masked_fill(torch::ones({T, T}, torch::kBool).triu(1), -INFINITY);
    }
    const torch::Tensor h = torch::matmul(torch::softmax(att, -1), v) + n;
    const torch::Tensor z = torch::matmul(h, head_.t()) + lora.head.forward(h);
    return 30.0 * torch::tanh(z / 30.0);
  }

 private:
  bool causal_;
  torch::Tensor emb_, head_;
};

TttOptions small_ttt(double lr) {
  TttOptions o;
  o.lora_rank = 2;
  o.lora_lr = lr;
  o.chunk_size = 8;
  o.eval_seq_len = 20;
  o.batch_size = 3;
  o.bos_id = kBos;
  o.seed = 77;
  return o;
}

TEST(EvalTttTest, FindDocumentsIncludesNextBos) {
  const torch::Tensor t = torch::tensor({5, 1, 7, 8, 1, 9, 1, 6, 4}, torch::kInt64);
  const auto docs = find_documents(t, kBos);
  ASSERT_EQ(docs.size(), 3u);
  EXPECT_EQ(docs[0].start, 1);
  EXPECT_EQ(docs[0].length, 4);  // 1 7 8 + next BOS
  EXPECT_EQ(docs[1].start, 4);
  EXPECT_EQ(docs[1].length, 3);
  EXPECT_EQ(docs[2].start, 6);
  EXPECT_EQ(docs[2].length, 3);  // last document ends with the stream
  EXPECT_EQ(docs[2].index, 2);
  const auto bare = find_documents(t, kBos, /*include_next_bos=*/false);
  EXPECT_EQ(bare[0].length, 3);
  EXPECT_EQ(bare[1].length, 2);
  EXPECT_THROW(find_documents(torch::tensor({5, 6, 7}, torch::kInt64), kBos), Error);
  EXPECT_THROW(find_documents(torch::tensor({1, 6, 1}, torch::kInt64), kBos),
               Error);  // lone final BOS
}

TEST(EvalTttTest, ChunkWindows) {
  auto check = [](int64_t ci, int64_t pred_len, ChunkWindow want) {
    const ChunkWindow w = ttt_chunk_window(ci, pred_len, 256, 1024);
    EXPECT_EQ(w.win_start, want.win_start) << ci << "/" << pred_len;
    EXPECT_EQ(w.win_len, want.win_len) << ci << "/" << pred_len;
    EXPECT_EQ(w.chunk_offset, want.chunk_offset) << ci << "/" << pred_len;
    EXPECT_EQ(w.chunk_len, want.chunk_len) << ci << "/" << pred_len;
  };
  check(0, 100, {0, 100, 0, 100});
  check(2, 1300, {0, 768, 512, 256});
  check(4, 1300, {256, 1024, 768, 256});
  check(5, 1300, {276, 1024, 1004, 20});  // short last chunk: its window ends at the document's end
  EXPECT_EQ(ttt_num_chunks(1300, 256), 6);
  EXPECT_EQ(ttt_num_chunks(256, 256), 1);
}

// With lr = 0 the adapters stay at B = 0, so TTT is the plain document-isolated chunked eval.
TEST(EvalTttTest, ZeroLrEqualsDocumentIsolatedChunkedEval) {
  const ByteLuts l = make_luts();
  const torch::Tensor tok = make_stream(700, 31);
  TinyAttention model;
  const TttOptions o = small_ttt(0.0);
  const EvalResult r = eval_ttt_lora(model, tok, l, o);
  const LoraState zero = make_lora(model.lora_shapes(), 2, {1}, torch::kCPU);
  torch::NoGradGuard no_grad;
  BpbSums want;
  for (const Document& d : find_documents(tok, kBos)) {
    const int64_t pred_len = d.length - 1;
    for (int64_t cs = 0; cs < pred_len; cs += o.chunk_size) {
      const int64_t ce = std::min(cs + o.chunk_size, pred_len);
      const int64_t ws = std::max<int64_t>(0, ce - o.eval_seq_len);
      const torch::Tensor logits =
          model.logits(tok.slice(0, d.start + ws, d.start + ce).unsqueeze(0), zero)[0];
      for (int64_t p = cs; p < ce; ++p) {
        want.nll += nll_at(logits, p - ws, tok[d.start + p + 1].item<int64_t>());
        want.bytes += direct_bytes(tok, l, d.start + p);
        want.tokens += 1;
      }
    }
  }
  EXPECT_EQ(r.sums.tokens, 699);  // every target of a stream that starts with BOS, once
  EXPECT_EQ(r.sums.tokens, want.tokens);
  EXPECT_EQ(r.sums.bytes, want.bytes);
  expect_rel(r.sums.nll, want.nll, 1e-6, "nll");
  EXPECT_EQ(r.method, "ttt_lora");
}

// The first chunk of every document is scored before any update; later chunks see trained adapters.
TEST(EvalTttTest, ScoresBeforeUpdating) {
  const ByteLuts l = make_luts();
  const torch::Tensor tok = make_stream(700, 32);
  TinyAttention model;
  torch::Tensor frozen, trained;
  TttOptions o0 = small_ttt(0.0), o1 = small_ttt(0.05);
  o0.per_target_nll = &frozen;
  o1.per_target_nll = &trained;
  const EvalResult r0 = eval_ttt_lora(model, tok, l, o0);
  const EvalResult r1 = eval_ttt_lora(model, tok, l, o1);
  EXPECT_EQ(r0.sums.tokens, r1.sums.tokens);
  EXPECT_NE(r0.sums.nll, r1.sums.nll);
  int64_t first = 0, later_changed = 0;
  for (const Document& d : find_documents(tok, kBos)) {
    for (int64_t p = 0; p < d.length - 1; ++p) {
      const double a = frozen[d.start + p].item<double>(), b = trained[d.start + p].item<double>();
      ASSERT_FALSE(std::isnan(a) || std::isnan(b)) << "target " << d.start + p << " not scored";
      if (p < o1.chunk_size) {
        EXPECT_EQ(a, b) << "first-chunk target " << d.start + p << " saw an update";
        ++first;
      } else if (a != b) {
        ++later_changed;
      }
    }
  }
  EXPECT_GT(first, 0);
  EXPECT_GT(later_changed, 0) << "the adapters never changed a score";
}

// Changing tokens from stream position k on never changes the score of a target before k.
bool prefix_scores_unchanged(LoraModel& model, const torch::Tensor& tok, const ByteLuts& l,
                             int64_t k) {
  torch::Tensor before, after;
  TttOptions o = small_ttt(0.05);
  o.per_target_nll = &before;
  eval_ttt_lora(model, tok, l, o);
  torch::manual_seed(static_cast<uint64_t>(k));
  torch::Tensor changed = tok.clone();
  const torch::Tensor fresh = torch::randint(4, kVocab, {tok.numel() - k}, torch::kInt64);
  // BOS positions stay put so the document split is the same; everything else is redrawn.
  changed.slice(0, k) = torch::where(tok.slice(0, k) == kBos, tok.slice(0, k), fresh);
  o.per_target_nll = &after;
  eval_ttt_lora(model, changed, l, o);
  // Target p predicts token p+1: targets p < k-1 must be identical.
  return torch::equal(before.slice(0, 0, k - 1), after.slice(0, 0, k - 1));
}

TEST(EvalTttTest, CausalityLaterTokensNeverChangeEarlierScores) {
  const ByteLuts l = make_luts();
  const torch::Tensor tok = make_stream(600, 33);
  TinyAttention causal;
  for (int64_t k : {5, 60, 123, 301, 450, 599}) {
    EXPECT_TRUE(prefix_scores_unchanged(causal, tok, l, k)) << "leak at k=" << k;
  }
  // The check can fail: a model that attends to later positions is caught when k falls inside a
  // chunk (the chunk's window then holds inputs from k on).
  int64_t k = 0;
  for (const Document& d : find_documents(tok, kBos)) {
    if (d.length > 3 * small_ttt(0).chunk_size) {
      k = d.start + small_ttt(0).chunk_size + 4;
      break;
    }
  }
  ASSERT_GT(k, 0) << "test stream has no document longer than 3 chunks";
  TinyAttention peeking(/*causal=*/false);
  EXPECT_FALSE(prefix_scores_unchanged(peeking, tok, l, k));
}

// The same guarantee with the real GPT (SmearGate on, randomised weights) behind GptLoraModel.
TEST(EvalTttTest, GptLoraModelIsCausalAndAdapts) {
  const auto cfg = testing::tiny_model_config(kVocab);
  torch::manual_seed(41);
  model::GPT gpt(cfg);
  {
    // Zero-initialised projections would make attention invisible; perturb every weight.
    torch::NoGradGuard no_grad;
    for (auto& p : gpt->parameters()) p.add_(torch::randn_like(p) * 0.2);
  }
  GptLoraModel model(gpt, model::DtypePolicy::kFp32, torch::kCPU);
  const LoraShapes shapes = model.lora_shapes();
  EXPECT_EQ(shapes.q_out, (std::vector<int64_t>{32, 32}));
  EXPECT_EQ(shapes.v_out, (std::vector<int64_t>{16, 16}));
  const ByteLuts l = make_luts();
  const torch::Tensor tok = make_stream(300, 36);
  for (int64_t k : {40, 170, 260}) {
    EXPECT_TRUE(prefix_scores_unchanged(model, tok, l, k)) << "leak at k=" << k;
  }
  torch::Tensor frozen, trained;
  TttOptions o0 = small_ttt(0.0), o1 = small_ttt(0.05);
  o0.per_target_nll = &frozen;
  o1.per_target_nll = &trained;
  eval_ttt_lora(model, tok, l, o0);
  eval_ttt_lora(model, tok, l, o1);
  EXPECT_FALSE(torch::equal(frozen, trained)) << "TTT never changed a score";
}

TEST(EvalTttTest, RankSlicesSumToSingleRank) {
  const ByteLuts l = make_luts();
  const torch::Tensor tok = make_stream(900, 34);
  TinyAttention model;
  const TttOptions o = small_ttt(0.05);
  const EvalResult one = eval_ttt_lora(model, tok, l, o);
  for (int world : {2, 3}) {
    BpbSums sum;
    for (int r = 0; r < world; ++r) {
      const EvalResult part = eval_ttt_lora(model, tok, l, o, DistContext{r, world, {}});
      sum.nll += part.sums.nll;
      sum.tokens += part.sums.tokens;
      sum.bytes += part.sums.bytes;
    }
    EXPECT_EQ(sum.tokens, one.sums.tokens) << "world " << world;
    EXPECT_EQ(sum.bytes, one.sums.bytes) << "world " << world;
    expect_rel(sum.nll, one.sums.nll, 1e-9, "nll");
  }
}

TEST(EvalTttTest, BadOptionsAreInputErrors) {
  const ByteLuts l = make_luts();
  TinyAttention model;
  TttOptions o = small_ttt(0.01);
  o.eval_seq_len = 4;  // < chunk_size
  EXPECT_THROW(eval_ttt_lora(model, make_stream(100, 35), l, o), Error);
  o = small_ttt(0.01);
  o.lora_rank = 0;
  EXPECT_THROW(eval_ttt_lora(model, make_stream(100, 35), l, o), Error);
}

// The sliding-or-standard rule (issue 18 §3), written once: the trainer's final eval and
// `pgolf eval`'s default method both ask sliding_enabled, and its answer is exactly the set of
// strides the sliding evaluator accepts, so neither caller can pick a method that then refuses.
TEST(EvalOptionsTest, SlidingRuleIsTheSlidingEvaluatorsDomain) {
  config::Config cfg;
  const int64_t seq = 128;
  for (const int64_t stride : {0, 1, 64, 127, 128, 129, 4096}) {
    cfg.eval.eval_stride = stride;
    const bool on = sliding_enabled(cfg.eval, seq);
    EXPECT_EQ(on, stride > 0 && stride < seq) << stride;
    const auto o = sliding_options(cfg.eval, seq);
    if (on) {
      EXPECT_FALSE(sliding_window_starts(1000, o.seq_len, o.stride, o.mode).empty()) << stride;
    } else {
      EXPECT_THROW(sliding_window_starts(1000, o.seq_len, o.stride, o.mode), Error) << stride;
    }
  }
}

TEST(EvalOptionsTest, FromConfig) {
  config::Config cfg;
  EXPECT_TRUE(sliding_enabled(cfg.eval, cfg.train.train_seq_len));
  const SlidingEvalOptions s = sliding_options(cfg.eval, cfg.train.train_seq_len);
  EXPECT_EQ(s.seq_len, 2048);
  EXPECT_EQ(s.stride, 64);
  EXPECT_EQ(s.batch_seqs, 32);
  EXPECT_EQ(s.mode, SlidingMode::kReference);
  cfg.eval.eval_stride = 2048;
  EXPECT_FALSE(sliding_enabled(cfg.eval, 2048));
  cfg.eval.sliding_mode = SlidingMode::kExact;
  EXPECT_EQ(sliding_options(cfg.eval, 2048).mode, SlidingMode::kExact);
  const StandardEvalOptions st = standard_options(cfg.train, 8);
  EXPECT_EQ(st.val_batch_size, 524288);
  EXPECT_EQ(st.grad_accum_steps, 8);
  cfg.optim.beta2 = 0.99;
  const TttOptions t = ttt_options(cfg.eval, cfg.optim);
  EXPECT_EQ(t.lora_rank, 8);
  EXPECT_EQ(t.chunk_size, 256);
  EXPECT_EQ(t.eval_seq_len, 1024);
  EXPECT_EQ(t.batch_size, 64);
  EXPECT_DOUBLE_EQ(t.lora_lr, 0.01);
  EXPECT_DOUBLE_EQ(t.beta1, 0.9);
  EXPECT_DOUBLE_EQ(t.beta2, 0.99);
  EXPECT_DOUBLE_EQ(t.adam_eps, 1e-10);
}

}  // namespace
}  // namespace pgolf::eval
