// A small random generator whose whole state fits a checkpoint (the shuffled and coprime loaders
// resume from it exactly): xoshiro256** seeded through splitmix64, with unbiased bounded integers
// (Lemire's multiply-shift with rejection) and 53-bit uniform doubles. The records draw from
// numpy's PCG64; the loaders keep their sampling rules, not numpy's exact stream.
#pragma once

#include <array>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

namespace pgolf::data {

class Rng {
 public:
  explicit Rng(uint64_t seed = 0);
  uint64_t next_u64();
  uint64_t below(uint64_t n);  // uniform in [0, n); n > 0
  double uniform();            // uniform in [0, 1)

  nlohmann::json to_json() const;                 // the four state words
  static Rng from_json(const nlohmann::json& j);  // input error unless 4 unsigned integers

 private:
  std::array<uint64_t, 4> s_{};
};

// FNV-1a over `text`, folded into `seed`: stable seeds from file names.
uint64_t fnv1a(const std::string& text, uint64_t seed = 1469598103934665603ULL);
// splitmix64 of a value: independent seeds from (stream, index) pairs.
uint64_t mix_seed(uint64_t a, uint64_t b);

}  // namespace pgolf::data
