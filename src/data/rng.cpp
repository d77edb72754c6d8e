// numpy's SeedSequence and PCG64 (rng.h) and the Generator's integer draws (np_random.h), written
// from numpy's documented algorithms; the unit test holds them to numpy's own output.
#include "pgolf/data/rng.h"

#include "pgolf/core/error.h"
#include "pgolf/data/np_random.h"

namespace pgolf::data {
namespace {

// SeedSequence's hash constants (numpy/random/bit_generator.pyx).
constexpr uint32_t kSsInitA = 0x43b0d7e5, kSsMultA = 0x931e8875;
constexpr uint32_t kSsInitB = 0x8b51f9dd, kSsMultB = 0x58f38ded;
constexpr uint32_t kSsMixL = 0xca01f9dd, kSsMixR = 0x4973f715;
constexpr int kSsShift = 16;

// The pool's hash: `hash_const` advances with every word hashed, across the whole mixing.
uint32_t ss_hashmix(uint32_t value, uint32_t& hash_const) {
  value ^= hash_const;
  hash_const *= kSsMultA;
  value *= hash_const;
  return value ^ (value >> kSsShift);
}

uint32_t ss_mix(uint32_t x, uint32_t y) {
  const uint32_t r = kSsMixL * x - kSsMixR * y;
  return r ^ (r >> kSsShift);
}

uint64_t rotr64(uint64_t v, unsigned rot) { return (v >> rot) | (v << ((64 - rot) & 63)); }

}  // namespace

// ---- SeedSequence -----------------------------------------------------------------------------

std::vector<uint32_t> seed_entropy_words(uint64_t entropy) {
  std::vector<uint32_t> words;
  do {
    words.push_back(static_cast<uint32_t>(entropy));
    entropy >>= 32;
  } while (entropy != 0);
  return words;
}

std::array<uint32_t, 4> seed_sequence_pool(const std::vector<uint32_t>& entropy) {
  std::array<uint32_t, 4> pool{};
  uint32_t hash_const = kSsInitA;
  for (size_t i = 0; i < pool.size(); ++i)
    pool[i] = ss_hashmix(i < entropy.size() ? entropy[i] : 0u, hash_const);
  for (size_t src = 0; src < pool.size(); ++src)  // late words reach the early ones
    for (size_t dst = 0; dst < pool.size(); ++dst)
      if (src != dst) pool[dst] = ss_mix(pool[dst], ss_hashmix(pool[src], hash_const));
  for (size_t src = pool.size(); src < entropy.size(); ++src)
    for (auto& word : pool) word = ss_mix(word, ss_hashmix(entropy[src], hash_const));
  return pool;
}

std::vector<uint32_t> seed_sequence_state32(const std::array<uint32_t, 4>& pool, size_t n_words) {
  std::vector<uint32_t> out(n_words);
  uint32_t hash_const = kSsInitB;
  for (size_t i = 0; i < n_words; ++i) {
    uint32_t v = pool[i % pool.size()] ^ hash_const;
    hash_const *= kSsMultB;
    v *= hash_const;
    out[i] = v ^ (v >> kSsShift);
  }
  return out;
}

std::vector<uint64_t> seed_sequence_state64(const std::array<uint32_t, 4>& pool, size_t n_words) {
  // numpy views the 2n 32-bit words as n little-endian 64-bit ones.
  const auto w = seed_sequence_state32(pool, 2 * n_words);
  std::vector<uint64_t> out(n_words);
  for (size_t i = 0; i < n_words; ++i) out[i] = (static_cast<uint64_t>(w[2 * i + 1]) << 32) | w[2 * i];
  return out;
}

// ---- PCG64 ------------------------------------------------------------------------------------

Pcg64::Pcg64(uint64_t seed) {
  const auto v = seed_sequence_state64(seed_sequence_pool(seed_entropy_words(seed)), 4);
  *this = Pcg64((static_cast<uint128>(v[0]) << 64) | v[1], (static_cast<uint128>(v[2]) << 64) | v[3]);
}

Pcg64::Pcg64(uint128 initstate, uint128 initseq) : state_(0), inc_((initseq << 1) | 1) {
  step();
  state_ += initstate;
  step();
}

uint64_t Pcg64::next_u64() {
  step();  // numpy's PCG64 outputs the advanced state
  return rotr64(static_cast<uint64_t>(state_ >> 64) ^ static_cast<uint64_t>(state_),
                static_cast<unsigned>(state_ >> 122));
}

uint32_t Pcg64::next_u32() {
  if (has_uint32_) {
    has_uint32_ = false;
    return uinteger_;
  }
  const uint64_t v = next_u64();
  has_uint32_ = true;
  uinteger_ = static_cast<uint32_t>(v >> 32);
  return static_cast<uint32_t>(v);
}

double Pcg64::next_double() { return static_cast<double>(next_u64() >> 11) * (1.0 / 9007199254740992.0); }

void Pcg64::advance(uint128 delta) {
  // The LCG's jump by squaring (Brown, "Random number generation with arbitrary strides").
  uint128 acc_mult = 1, acc_plus = 0, cur_mult = kMultiplier, cur_plus = inc_;
  for (; delta > 0; delta >>= 1) {
    if (delta & 1) {
      acc_mult *= cur_mult;
      acc_plus = acc_plus * cur_mult + cur_plus;
    }
    cur_plus = (cur_mult + 1) * cur_plus;
    cur_mult *= cur_mult;
  }
  state_ = acc_mult * state_ + acc_plus;
  has_uint32_ = false;  // numpy drops the buffered half on advance
  uinteger_ = 0;
}

nlohmann::json Pcg64::to_json() const {
  return nlohmann::json::array({static_cast<uint64_t>(state_ >> 64), static_cast<uint64_t>(state_),
                                static_cast<uint64_t>(inc_ >> 64), static_cast<uint64_t>(inc_),
                                has_uint32_ ? 1 : 0, uinteger_});
}

Pcg64 Pcg64::from_json(const nlohmann::json& j) {
  PGOLF_CHECK_INPUT(j.is_array() && j.size() == 6,
                    "loader state: expected \"rng\" as the 6 PCG64 words [state_hi, state_lo, "
                    "inc_hi, inc_lo, has_uint32, uinteger], found " << j.dump());
  uint64_t w[6];
  for (size_t i = 0; i < 6; ++i) {
    PGOLF_CHECK_INPUT(j[i].is_number_unsigned() || (j[i].is_number_integer() && j[i] >= 0),
                      "loader state: rng word " << i << " is not an unsigned integer: " << j.dump());
    w[i] = j[i].get<uint64_t>();
  }
  PGOLF_CHECK_INPUT((w[3] & 1) == 1 && w[4] <= 1 && w[5] <= 0xFFFFFFFFULL,
                    "loader state: rng " << j.dump()
                                         << " is no PCG64 state (odd increment, has_uint32 0/1, "
                                            "a 32-bit uinteger)");
  Pcg64 r;
  r.state_ = (static_cast<uint128>(w[0]) << 64) | w[1];
  r.inc_ = (static_cast<uint128>(w[2]) << 64) | w[3];
  r.has_uint32_ = w[4] != 0;
  r.uinteger_ = static_cast<uint32_t>(w[5]);
  return r;
}

// ---- names ------------------------------------------------------------------------------------

uint64_t fnv1a(const std::string& text, uint64_t seed) {
  for (unsigned char c : text) seed = (seed ^ c) * 1099511628211ULL;
  return seed;
}

std::string pathlib_str(const std::string& path) {
  std::string out;
  if (!path.empty() && path[0] == '/')  // POSIX keeps exactly two leading slashes, else one
    out = (path.size() > 1 && path[1] == '/' && (path.size() == 2 || path[2] != '/')) ? "//" : "/";
  size_t i = 0;
  while (i < path.size()) {
    const size_t j = std::min(path.find('/', i), path.size());
    const std::string part = path.substr(i, j - i);
    if (!part.empty() && part != ".") {
      if (!out.empty() && out.back() != '/') out += '/';
      out += part;
    }
    i = j + 1;
  }
  return out.empty() ? "." : out;
}

// ---- Generator: integers ----------------------------------------------------------------------

namespace np {

uint64_t interval(Pcg64& rng, uint64_t max) {
  if (max == 0) return 0;
  uint64_t mask = max;  // the smallest all-ones mask covering max
  for (int s = 1; s < 64; s <<= 1) mask |= mask >> s;
  uint64_t v;
  if (max <= 0xFFFFFFFFULL) {
    while ((v = (rng.next_u32() & mask)) > max) {
    }
  } else {
    while ((v = (rng.next_u64() & mask)) > max) {
    }
  }
  return v;
}

int64_t integers(Pcg64& rng, int64_t low, int64_t high) {
  PGOLF_CHECK(low < high, "np::integers: low " << low << " >= high " << high);
  const uint64_t range = static_cast<uint64_t>(high) - static_cast<uint64_t>(low) - 1;  // inclusive
  const uint64_t off = static_cast<uint64_t>(low);
  if (range == 0) return low;  // no draw
  uint64_t v;
  if (range == 0xFFFFFFFFULL) {
    v = rng.next_u32();
  } else if (range < 0xFFFFFFFFULL) {  // Lemire on 32-bit draws (numpy's buffered path)
    const uint32_t excl = static_cast<uint32_t>(range) + 1;
    uint64_t m = static_cast<uint64_t>(rng.next_u32()) * excl;
    if (static_cast<uint32_t>(m) < excl) {
      const uint32_t threshold = (0xFFFFFFFFu - static_cast<uint32_t>(range)) % excl;
      while (static_cast<uint32_t>(m) < threshold) m = static_cast<uint64_t>(rng.next_u32()) * excl;
    }
    v = m >> 32;
  } else if (range == ~0ULL) {
    v = rng.next_u64();
  } else {  // Lemire on 64-bit draws
    const uint64_t excl = range + 1;
    uint128 m = static_cast<uint128>(rng.next_u64()) * excl;
    if (static_cast<uint64_t>(m) < excl) {
      const uint64_t threshold = (~0ULL - range) % excl;
      while (static_cast<uint64_t>(m) < threshold) m = static_cast<uint128>(rng.next_u64()) * excl;
    }
    v = static_cast<uint64_t>(m >> 64);
  }
  return static_cast<int64_t>(off + v);
}

std::vector<int64_t> permutation(Pcg64& rng, int64_t n) {
  std::vector<int64_t> v(static_cast<size_t>(std::max<int64_t>(n, 0)));
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<int64_t>(i);
  shuffle(rng, v);
  return v;
}

}  // namespace np
}  // namespace pgolf::data
