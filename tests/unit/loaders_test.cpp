// The LOADER kinds (issue 21): each resumes bit-exactly from its JSON state mid-run (through a
// dump/parse round trip, both ranks of two), and each keeps its record's sampling rules: shuffled
// windows stay on the rank's shards without repeats in a pass, coprime walks are permutations and
// the ranks split one global draw, docpack spans follow the stream from the first BOS with the
// record's cu_seqlens. Token values name their shard position, so a window says where it came from.
// The shuffled and coprime kinds also draw the records' own windows (numpy's stream, rng.h).
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "pgolf/core/error.h"
#include "pgolf/data/loader.h"
#include "pgolf/data/shard.h"
#include "pgolf/data/train_loader.h"

namespace pgolf::data {
namespace {

using config::Loader;

struct Corpus {
  std::vector<std::string> files;
  std::map<int64_t, std::pair<size_t, int64_t>> where;  // token value -> (shard, position)
  std::vector<std::vector<uint16_t>> tokens;
};

// Shards of the given sizes; token value 2 + running index (unique), BOS (1) every 37..300 tokens
// (documents of random length, some longer than the tests' seq_len).
Corpus make_corpus(const std::vector<int64_t>& sizes) {
  std::string dir = ::testing::TempDir() + "/pgolf_loaders_XXXXXX";
  EXPECT_NE(::mkdtemp(dir.data()), nullptr);
  Corpus c;
  uint32_t value = 2, lcg = 12345;
  for (size_t s = 0; s < sizes.size(); ++s) {
    std::vector<uint16_t> t;
    int64_t next_bos = 0;
    for (int64_t i = 0; i < sizes[s]; ++i) {
      if (i == next_bos) {
        t.push_back(1);
        lcg = lcg * 1103515245u + 12345u;
        next_bos = i + 37 + (lcg >> 16) % 264;
        continue;
      }
      c.where[value] = {s, i};
      t.push_back(static_cast<uint16_t>(value++));
    }
    c.files.push_back(dir + "/fineweb_train_" + std::to_string(100000 + s) + ".bin");
    write_shard(c.files.back(), t);
    c.tokens.push_back(std::move(t));
  }
  return c;
}

TrainLoaderOptions options(Loader kind, int rank, int world) {
  TrainLoaderOptions o;
  o.kind = kind;
  o.rank = rank;
  o.world_size = world;
  return o;
}

constexpr int64_t kSeq = 64, kGlobal = 2 * 4 * kSeq;  // 2 ranks x 4 rows, one micro-step

// Calls [0, n) uninterrupted equal calls [0, k) + state -> JSON text -> fresh loader -> [k, n).
void expect_exact_resume(Loader kind, const Corpus& c, int64_t n, int64_t k) {
  for (int rank = 0; rank < 2; ++rank) {
    auto full = make_train_loader(c.files, options(kind, rank, 2));
    std::vector<Batch> want;
    for (int64_t i = 0; i < n; ++i) want.push_back(full->next(kGlobal, kSeq, 1));
    auto first = make_train_loader(c.files, options(kind, rank, 2));
    for (int64_t i = 0; i < k; ++i) first->next(kGlobal, kSeq, 1);
    const std::string saved = first->state().dump();
    auto resumed = make_train_loader(c.files, options(kind, rank, 2));
    resumed->restore(nlohmann::json::parse(saved));
    for (int64_t i = k; i < n; ++i) {
      const Batch b = resumed->next(kGlobal, kSeq, 1);
      const Batch& w = want[size_t(i)];
      ASSERT_TRUE(torch::equal(b.x, w.x) && torch::equal(b.y, w.y))
          << config::choice_name(kind) << " rank " << rank << " call " << i;
      ASSERT_EQ(b.cu_seqlens.defined(), w.cu_seqlens.defined());
      if (w.cu_seqlens.defined()) {
        ASSERT_TRUE(torch::equal(b.cu_seqlens, w.cu_seqlens));
      }
      ASSERT_EQ(b.max_seqlen, w.max_seqlen);
    }
    EXPECT_EQ(resumed->state(), full->state()) << config::choice_name(kind);
  }
}

TEST(TrainLoaderTest, EveryKindResumesBitExactly) {
  const Corpus c = make_corpus({3000, 4100, 2500, 5000, 3300});
  // Past a shuffled pass (rank 0 holds ~10.8K tokens = ~165 windows = ~41 calls), past several
  // coprime walks and past docpack's move to later shards and its wrap to the first.
  for (Loader kind : {Loader::kStream, Loader::kShuffled, Loader::kCoprime, Loader::kDocpack}) {
    expect_exact_resume(kind, c, 60, 1);
    expect_exact_resume(kind, c, 60, 43);
  }
}

TEST(TrainLoaderTest, StreamKindIsTheReferenceLoaderWithItsCheckpointState) {
  const Corpus c = make_corpus({3000, 4100});
  auto viaKind = make_train_loader(c.files, options(Loader::kStream, 1, 2));
  DistributedTokenLoader direct(c.files, 1, 2);
  for (int i = 0; i < 20; ++i) {
    const Batch b = viaKind->next(kGlobal, kSeq, 1);
    auto [x, y] = direct.next_batch(kGlobal, kSeq, 1);
    ASSERT_TRUE(torch::equal(b.x, x) && torch::equal(b.y, y)) << "call " << i;
    ASSERT_TRUE(torch::equal(b.span.narrow(0, 1, b.span.numel() - 1).view({-1, kSeq}), y));
  }
  EXPECT_EQ(viaKind->state(), loader_state_to_json(direct.state()));  // old checkpoints load
}

TEST(TrainLoaderTest, ShuffledKeepsToItsShardsAndNeverRepeatsInAPass) {
  const Corpus c = make_corpus({3000, 4100, 2500, 5000, 3300});
  for (int rank = 0; rank < 2; ++rank) {
    auto l = make_train_loader(c.files, options(Loader::kShuffled, rank, 2));
    std::set<std::pair<size_t, int64_t>> seen;
    // At least this many windows in rank r's pass: (n - 1 - phase) / 64 per shard, phase < 64.
    int64_t windows = 0;
    for (size_t s = size_t(rank); s < c.files.size(); s += 2)
      windows += static_cast<int64_t>(c.tokens[s].size() - 1) / kSeq - 1;
    while (static_cast<int64_t>(seen.size()) < windows) {
      const Batch b = l->next(kGlobal, kSeq, 1);
      ASSERT_FALSE(b.span.defined());
      for (int64_t r = 0; r < b.x.size(0) && static_cast<int64_t>(seen.size()) < windows; ++r) {
        int64_t t = 0;  // first non-BOS token of the row names the window's place
        while (b.x[r][t].item<int64_t>() == 1) ++t;
        const auto [shard, pos] = c.where.at(b.x[r][t].item<int64_t>());
        ASSERT_EQ(shard % 2, size_t(rank)) << "a window from another rank's shard";
        ASSERT_TRUE(seen.insert({shard, pos - t}).second) << "window repeated within a pass";
        ASSERT_EQ(b.y[r][kSeq - 1].item<int64_t>(), c.tokens[shard][size_t(pos - t + kSeq)]);
      }
    }
  }
}

TEST(TrainLoaderTest, CoprimeWalkIsAPermutationAndRanksSplitOneDraw) {
  const Corpus one = make_corpus({4001});  // 62 or 61 blocks after the phase
  std::set<int64_t> starts;
  auto r0 = make_train_loader(one.files, options(Loader::kCoprime, 0, 2));
  auto r1 = make_train_loader(one.files, options(Loader::kCoprime, 1, 2));
  int64_t phase = -1;
  for (int call = 0; call < 7; ++call) {  // 7 x 8 = 56 windows, inside the first walk
    for (auto* l : {r0.get(), r1.get()}) {
      const Batch b = l->next(kGlobal, kSeq, 1);
      for (int64_t r = 0; r < b.x.size(0); ++r) {
        int64_t t = 0;
        while (b.x[r][t].item<int64_t>() == 1) ++t;
        const int64_t start = one.where.at(b.x[r][t].item<int64_t>()).second - t;
        if (phase < 0) phase = start % kSeq;
        ASSERT_EQ(start % kSeq, phase) << "windows of one walk share its phase";
        ASSERT_TRUE(starts.insert(start).second) << "block repeated within one walk";
      }
    }
  }
  EXPECT_EQ(starts.size(), 56u);
}

TEST(TrainLoaderTest, DocpackFollowsTheStreamWithTheRecordsCuSeqlens) {
  const Corpus c = make_corpus({3000, 4100});
  auto r1 = make_train_loader(c.files, options(Loader::kDocpack, 1, 2));
  const int64_t local = kGlobal / 2, piece = local + 1;
  int64_t cursor = 0;  // shard 0's first BOS is at 0
  for (int call = 0; call < 5; ++call, cursor += 2 * piece) {
    const Batch b = r1->next(kGlobal, kSeq, 1);
    ASSERT_EQ(b.x.sizes(), (std::vector<int64_t>{1, local}));
    const auto& t = c.tokens[0];
    std::vector<int64_t> starts;
    for (int64_t i = 0; i < local; ++i) {
      ASSERT_EQ(b.x[0][i].item<int64_t>(), t[size_t(cursor + piece + i)]) << "call " << call;
      if (t[size_t(cursor + piece + i)] == 1) starts.push_back(i);
    }
    auto [cu, longest] = pack_cu_seqlens(starts, local, kSeq, 64);
    ASSERT_TRUE(torch::equal(b.cu_seqlens, cu));
    ASSERT_EQ(b.cu_seqlens.numel() % 64, 0);
    ASSERT_EQ(b.max_seqlen, longest);
    ASSERT_LE(longest, kSeq);
  }
  // Shard 0 has 3000 tokens: the call whose span ends past 3000 moves to shard 1's first BOS.
  for (int call = 5; call < 5 + (3000 - cursor) / (2 * piece) + 1; ++call) r1->next(kGlobal, kSeq, 1);
  EXPECT_EQ(r1->state().at("file_index").get<int64_t>(), 1);
}

TEST(TrainLoaderTest, CuSeqlensMatchHandWorkedCases) {
  auto [cu, longest] = pack_cu_seqlens({3, 10}, 20, 4, 8);
  EXPECT_TRUE(torch::equal(cu, torch::tensor({0, 3, 7, 10, 14, 18, 20, 20}, torch::kInt32)));
  EXPECT_EQ(longest, 4);
  auto [cu2, longest2] = pack_cu_seqlens({0, 5}, 6, 0, 64);
  ASSERT_EQ(cu2.numel(), 64);
  EXPECT_EQ(cu2[0].item<int>(), 0);
  EXPECT_EQ(cu2[1].item<int>(), 5);
  EXPECT_EQ(cu2[2].item<int>(), 6);
  EXPECT_EQ(cu2[63].item<int>(), 6);
  EXPECT_EQ(longest2, 5);
}

TEST(TrainLoaderTest, StateOfAnotherKindOrShardsWithoutBosAreInputErrors) {
  const Corpus c = make_corpus({3000, 4100});
  auto shuffled = make_train_loader(c.files, options(Loader::kShuffled, 0, 1));
  shuffled->next(kGlobal, kSeq, 2);
  auto coprime = make_train_loader(c.files, options(Loader::kCoprime, 0, 1));
  const auto expect_input = [](auto&& fn, const std::string& needle) {
    try {
      fn();
      ADD_FAILURE() << "no error mentioning " << needle;
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kInput);
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  expect_input([&] { coprime->restore(shuffled->state()); }, "LOADER=shuffled");
  auto docpack = make_train_loader(c.files, options(Loader::kDocpack, 0, 1));
  auto stream = make_train_loader(c.files, options(Loader::kStream, 0, 1));
  expect_input([&] { docpack->restore(stream->state()); }, "LOADER=stream");
  EXPECT_EQ(stream->next_span(kGlobal, kSeq, 1).numel(), kGlobal + 1);
  expect_input([&] { shuffled->next_span(kGlobal, kSeq, 2); }, "separate windows");
  std::string dir = ::testing::TempDir() + "/pgolf_nobos_XXXXXX";
  ASSERT_NE(::mkdtemp(dir.data()), nullptr);
  write_shard(dir + "/fineweb_train_000000.bin", std::vector<uint16_t>(500, 7));
  expect_input([&] { make_train_loader({dir + "/fineweb_train_000000.bin"},
                                       options(Loader::kDocpack, 0, 1)); },
               "holds no BOS");
  expect_input([&] { make_train_loader({c.files[0]}, options(Loader::kShuffled, 1, 2)); },
               "gets none of the 1 train shards");
}

// ---- the records' draws (tests/data/loader_vectors.json, scripts/gen_loader_vectors.py) ------

// Runs in a fresh folder (the coprime seed hashes the relative paths, as the record's does).
struct CwdScope {
  std::string old;
  explicit CwdScope(const std::string& dir) : old(std::filesystem::current_path().string()) {
    std::filesystem::current_path(dir);
  }
  ~CwdScope() { std::filesystem::current_path(old); }
};

uint64_t windows_checksum(const std::vector<std::pair<int64_t, int64_t>>& w, uint64_t h) {
  for (const auto& [shard, start] : w) {
    h = (h ^ static_cast<uint64_t>(shard)) * 1099511628211ULL;
    h = (h ^ static_cast<uint64_t>(start)) * 1099511628211ULL;
  }
  return h;
}

// One vector case: shards of its sizes at its paths, token 2 + running index (no BOS), so a row's
// first token names its (shard, start); the windows of every call, ranks interleaved as the
// record's global list [rank::world], against the first calls kept and the checksum of all.
void expect_record_windows(const nlohmann::json& c, int64_t seq) {
  const auto paths = c["paths"].get<std::vector<std::string>>();
  const auto sizes = c["sizes"].get<std::vector<int64_t>>();
  std::map<int64_t, std::pair<int64_t, int64_t>> where;
  uint32_t value = 2;
  for (size_t s = 0; s < paths.size(); ++s) {
    std::filesystem::create_directories(std::filesystem::path(paths[s]).parent_path());
    std::vector<uint16_t> t;
    for (int64_t i = 0; i < sizes[s]; ++i, ++value) {
      where[value] = {static_cast<int64_t>(s), i};
      t.push_back(static_cast<uint16_t>(value));
    }
    write_shard(paths[s], t);
  }
  const std::string kind = c["kind"];
  const int world = c["world"], fixed_rank = c["rank"];
  const int64_t rows = c["rows"], calls = c["calls"], global = world * rows * seq;
  std::vector<std::unique_ptr<TrainLoader>> ranks;  // shuffled: the case's rank; coprime: all
  for (int r = 0; r < world; ++r)
    if (fixed_rank < 0 || r == fixed_rank)
      ranks.push_back(make_train_loader(paths, options(kind == "shuffled" ? Loader::kShuffled
                                                                          : Loader::kCoprime, r, world)));
  uint64_t h = 1469598103934665603ULL;
  for (int64_t call = 0; call < calls; ++call) {
    std::vector<Batch> b;
    for (auto& l : ranks) b.push_back(l->next(global, seq, 1));
    std::vector<std::pair<int64_t, int64_t>> w;
    for (int64_t i = 0; i < rows * static_cast<int64_t>(ranks.size()); ++i) {
      const Batch& bi = b[size_t(i) % ranks.size()];
      w.push_back(where.at(bi.x[i / int64_t(ranks.size())][0].item<int64_t>()));
    }
    if (call < static_cast<int64_t>(c["first_calls"].size())) {
      ASSERT_EQ(nlohmann::json(w), c["first_calls"][size_t(call)])
          << kind << " " << paths[0] << " rank " << fixed_rank << " call " << call;
    }
    h = windows_checksum(w, h);
  }
  EXPECT_EQ(h, c["checksum"].get<uint64_t>()) << kind << " " << paths[0] << " over " << calls;
}

TEST(TrainLoaderTest, ShuffledAndCoprimeDrawTheRecordsWindows) {
  const char* data = std::getenv("PGOLF_TEST_DATA");
  const std::string file =
      std::filesystem::absolute(std::string(data ? data : "tests/data") + "/loader_vectors.json");
  std::ifstream f(file);
  ASSERT_TRUE(f.good()) << "cannot read " << file;
  const auto doc = nlohmann::json::parse(f);
  std::string dir = ::testing::TempDir() + "/pgolf_loader_vectors_XXXXXX";
  ASSERT_NE(::mkdtemp(dir.data()), nullptr);
  CwdScope cwd(dir);
  ASSERT_EQ(doc["cases"].size(), 4u);
  for (const auto& c : doc["cases"]) {
    expect_record_windows(c, doc["seq_len"].get<int64_t>());
    if (::testing::Test::HasFatalFailure()) return;
  }
}

}  // namespace
}  // namespace pgolf::data
