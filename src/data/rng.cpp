// xoshiro256** (Blackman and Vigna) behind the checkpointable Rng of rng.h.
#include "pgolf/data/rng.h"

#include "pgolf/core/error.h"

namespace pgolf::data {
namespace {

uint64_t splitmix64(uint64_t& x) {
  uint64_t z = (x += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

}  // namespace

Rng::Rng(uint64_t seed) {
  for (auto& w : s_) w = splitmix64(seed);
}

uint64_t Rng::next_u64() {
  const uint64_t result = rotl(s_[1] * 5, 7) * 9;
  const uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = rotl(s_[3], 45);
  return result;
}

uint64_t Rng::below(uint64_t n) {
  PGOLF_CHECK(n > 0, "Rng::below(0)");
  // Lemire: the high word of x*n is uniform once the low word's biased range is rejected.
  unsigned __int128 m = static_cast<unsigned __int128>(next_u64()) * n;
  auto low = static_cast<uint64_t>(m);
  if (low < n) {
    const uint64_t threshold = (0 - n) % n;
    while (low < threshold) {
      m = static_cast<unsigned __int128>(next_u64()) * n;
      low = static_cast<uint64_t>(m);
    }
  }
  return static_cast<uint64_t>(m >> 64);
}

double Rng::uniform() { return static_cast<double>(next_u64() >> 11) * 0x1.0p-53; }

nlohmann::json Rng::to_json() const { return nlohmann::json::array({s_[0], s_[1], s_[2], s_[3]}); }

Rng Rng::from_json(const nlohmann::json& j) {
  PGOLF_CHECK_INPUT(j.is_array() && j.size() == 4,
                    "loader state: expected \"rng\" as 4 unsigned integers, found " << j.dump());
  Rng r;
  for (size_t i = 0; i < 4; ++i) {
    PGOLF_CHECK_INPUT(j[i].is_number_unsigned() || (j[i].is_number_integer() && j[i] >= 0),
                      "loader state: rng word " << i << " is not an unsigned integer");
    r.s_[i] = j[i].get<uint64_t>();
  }
  return r;
}

uint64_t fnv1a(const std::string& text, uint64_t seed) {
  for (unsigned char c : text) seed = (seed ^ c) * 1099511628211ULL;
  return seed;
}

uint64_t mix_seed(uint64_t a, uint64_t b) {
  uint64_t x = a ^ (b * 0xD6E8FEB86659FD93ULL);
  return splitmix64(x);
}

}  // namespace pgolf::data
