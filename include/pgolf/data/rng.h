// numpy's random stream, bit for bit, for the loaders that follow records drawing from
// np.random.default_rng / Generator(PCG64(seed)): the shuffled (1.0856-1.0798) and coprime
// (1.1122/1.0979) loaders. SeedSequence mixes the seed into the generator's words; PCG64 is the
// 128-bit LCG with the XSL-RR output, including numpy's one-word buffer for 32-bit draws (the
// high half of a 64-bit draw is kept for the next 32-bit one). The Generator methods the records
// call are in np_random.h. tests/unit/numpy_rng_test.cpp checks all of it against numpy's own
// output (tests/data/numpy_rng_vectors.json, scripts/gen_numpy_rng_vectors.py).
#pragma once

#include <array>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace pgolf::data {

using uint128 = unsigned __int128;

// np.random.SeedSequence(entropy) with no spawn key: `entropy` as numpy coerces a Python int
// (its 32-bit words, least significant first; [0] for 0) mixed into the 4-word pool.
std::vector<uint32_t> seed_entropy_words(uint64_t entropy);
std::array<uint32_t, 4> seed_sequence_pool(const std::vector<uint32_t>& entropy);
// SeedSequence.generate_state(n_words, np.uint32 / np.uint64).
std::vector<uint32_t> seed_sequence_state32(const std::array<uint32_t, 4>& pool, size_t n_words);
std::vector<uint64_t> seed_sequence_state64(const std::array<uint32_t, 4>& pool, size_t n_words);

// np.random.PCG64: the generator whose whole state (128-bit state and increment, the buffered
// 32-bit half) fits a checkpoint, so the loaders resume exactly.
class Pcg64 {
 public:
  explicit Pcg64(uint64_t seed = 0);       // np.random.PCG64(seed)
  Pcg64(uint128 initstate, uint128 initseq);  // pcg64_set_seed
  uint64_t next_u64();
  uint32_t next_u32();     // the low half of a fresh 64-bit draw, then its high half
  double next_double();    // Generator.random(): 53 bits in [0, 1)
  void advance(uint128 delta);  // PCG64.advance: as if delta 64-bit draws were made

  uint128 state() const { return state_; }
  uint128 inc() const { return inc_; }
  bool has_uint32() const { return has_uint32_; }
  uint32_t uinteger() const { return uinteger_; }

  // [state_hi, state_lo, inc_hi, inc_lo, has_uint32, uinteger]
  nlohmann::json to_json() const;
  static Pcg64 from_json(const nlohmann::json& j);  // input error unless that form

 private:
  void step() { state_ = state_ * kMultiplier + inc_; }
  static constexpr uint128 kMultiplier =
      (static_cast<uint128>(0x2360ED051FC65DA4ULL) << 64) | 0x4385DF649FCCF645ULL;
  uint128 state_ = 0, inc_ = 1;
  bool has_uint32_ = false;
  uint32_t uinteger_ = 0;
};

// FNV-1a style over `text`, folded into `seed` (the coprime record's seed: from 0 over the
// bytes of each path, modulo 2^64).
uint64_t fnv1a(const std::string& text, uint64_t seed = 1469598103934665603ULL);
// str(pathlib.Path(p)) for a POSIX path: empty and "." components dropped, repeated slashes
// collapsed, ".." kept ("./data//a.bin" -> "data/a.bin"; "" -> ".").
std::string pathlib_str(const std::string& path);

}  // namespace pgolf::data
