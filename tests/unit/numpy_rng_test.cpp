// numpy's random stream in C++ (rng.h, np_random.h) against numpy's own output, committed in
// tests/data/numpy_rng_vectors.json by scripts/gen_numpy_rng_vectors.py: SeedSequence pools and
// states, PCG64 seeding, raw draws and advance, and a script of Generator calls (32-bit draws
// interleaved with 64-bit ones, integers over every range class, permutations, choice with and
// without replacement, binomial on both algorithms, multinomial) with the state left after it.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>

#include "pgolf/core/error.h"
#include "pgolf/data/np_random.h"
#include "pgolf/data/rng.h"

namespace pgolf::data {
namespace {

const nlohmann::json& vectors() {
  static const nlohmann::json doc = [] {
    const char* dir = std::getenv("PGOLF_TEST_DATA");
    const std::string path = std::string(dir ? dir : "tests/data") + "/numpy_rng_vectors.json";
    std::ifstream f(path);
    EXPECT_TRUE(f.good()) << "cannot read " << path;
    return f.good() ? nlohmann::json::parse(f) : nlohmann::json::object();
  }();
  return doc;
}

uint128 word128(const nlohmann::json& hi_lo) {
  return (static_cast<uint128>(hi_lo[0].get<uint64_t>()) << 64) | hi_lo[1].get<uint64_t>();
}

TEST(NumpyRngTest, SeedSequenceMatchesNumpy) {
  ASSERT_TRUE(vectors().contains("seed_sequence"));
  for (const auto& c : vectors()["seed_sequence"]) {
    const auto pool = seed_sequence_pool(seed_entropy_words(c["entropy"].get<uint64_t>()));
    EXPECT_EQ(nlohmann::json(pool), c["pool"]) << "entropy " << c["entropy"];
    EXPECT_EQ(nlohmann::json(seed_sequence_state32(pool, 6)), c["state32"]);
    EXPECT_EQ(nlohmann::json(seed_sequence_state64(pool, 3)), c["state64"]);
  }
}

TEST(NumpyRngTest, Pcg64SeedingRawDrawsAndAdvanceMatchNumpy) {
  ASSERT_TRUE(vectors().contains("pcg64"));
  for (const auto& c : vectors()["pcg64"]) {
    const uint64_t seed = c["seed"].get<uint64_t>();
    Pcg64 g(seed);
    EXPECT_EQ(g.to_json(), c["state"]) << "seed " << seed;
    for (const auto& raw : c["raw"]) ASSERT_EQ(g.next_u64(), raw.get<uint64_t>()) << "seed " << seed;
    for (const auto& a : c["advance"]) {
      Pcg64 h(seed);
      h.advance(word128(a["delta"]));
      EXPECT_EQ(h.to_json(), a["state"]) << "seed " << seed << " advance " << a["delta"];
      EXPECT_EQ(h.next_u64(), a["raw"].get<uint64_t>());
    }
  }
}

nlohmann::json run_op(Pcg64& g, const nlohmann::json& op) {
  const std::string kind = op[0];
  if (kind == "u32") return g.next_u32();
  if (kind == "u64") return g.next_u64();
  if (kind == "double") return g.next_double();
  if (kind == "integers") return np::integers(g, op[1].get<int64_t>(), op[2].get<int64_t>());
  if (kind == "permutation") return np::permutation(g, op[1].get<int64_t>());
  if (kind == "binomial") return np::binomial(g, op[1].get<int64_t>(), op[2].get<double>());
  if (kind == "multinomial")
    return np::multinomial(g, op[1].get<int64_t>(), op[2].get<std::vector<double>>());
  const auto p = op[1].get<std::vector<double>>();
  if (kind == "choice") return np::choice(g, p);
  if (kind == "choice_unique") return np::choice_unique(g, p, op[2].get<int64_t>());
  ADD_FAILURE() << "unknown op " << op.dump();
  return nullptr;
}

TEST(NumpyRngTest, GeneratorMethodsMatchNumpyDrawForDraw) {
  ASSERT_TRUE(vectors().contains("generator"));
  const auto& ops = vectors()["ops"];
  for (const auto& c : vectors()["generator"]) {
    Pcg64 g(c["seed"].get<uint64_t>());
    ASSERT_EQ(c["results"].size(), ops.size());
    for (size_t i = 0; i < ops.size(); ++i) {
      // Doubles compare exactly (the JSON keeps every bit).
      ASSERT_EQ(run_op(g, ops[i]), c["results"][i]) << "seed " << c["seed"] << " op " << i << " " << ops[i].dump();
    }
    EXPECT_EQ(g.to_json(), c["final_state"]) << "seed " << c["seed"];
  }
}

TEST(NumpyRngTest, PairwiseSumMatchesNumpy) {
  ASSERT_TRUE(vectors().contains("sums"));
  for (const auto& c : vectors()["sums"]) {
    const auto v = c["values"].get<std::vector<double>>();
    EXPECT_EQ(np::sum(v), c["sum"].get<double>()) << v.size() << " values";
  }
}

TEST(NumpyRngTest, StateRoundTripsAndBadStatesAreInputErrors) {
  Pcg64 g(5);
  g.next_u32();  // a buffered half is part of the state
  const Pcg64 back = Pcg64::from_json(nlohmann::json::parse(g.to_json().dump()));
  EXPECT_EQ(back.to_json(), g.to_json());
  Pcg64 a = g, b = back;
  for (int i = 0; i < 5; ++i) ASSERT_EQ(a.next_u32(), b.next_u32());
  auto words = g.to_json();
  words[3] = 2;  // an even increment is no PCG64 stream
  const auto expect_input = [](const nlohmann::json& j) {
    try {
      Pcg64::from_json(j);
      ADD_FAILURE() << "accepted " << j.dump();
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kInput) << e.what();
      EXPECT_NE(std::string(e.what()).find("PCG64"), std::string::npos) << e.what();
    }
  };
  expect_input(words);
  expect_input(nlohmann::json::array({1, 2, 3, 4}));  // an older build's xoshiro state
}

TEST(NumpyRngTest, PathsHashAsPathlibWritesThem) {
  EXPECT_EQ(pathlib_str("./data//datasets/./x.bin"), "data/datasets/x.bin");
  EXPECT_EQ(pathlib_str("/a/../b/"), "/a/../b");
  EXPECT_EQ(pathlib_str("//a"), "//a");
  EXPECT_EQ(pathlib_str("///a"), "/a");
  EXPECT_EQ(pathlib_str("./"), ".");
  EXPECT_EQ(fnv1a("ab", 0), ((0 ^ 'a') * 1099511628211ULL ^ 'b') * 1099511628211ULL);
}

}  // namespace
}  // namespace pgolf::data
