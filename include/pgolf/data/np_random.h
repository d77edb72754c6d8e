// The numpy Generator methods the loader records call, bit for bit on a Pcg64 (rng.h): the same
// seed gives the same draws as np.random.default_rng(seed), or Generator(PCG64(seed)).
// Checked against numpy's output in tests/unit/numpy_rng_test.cpp. Floating-point steps use
// numpy's order of operations (sequential cumsum, pairwise sum), so the probabilities are the
// same doubles as numpy's.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "pgolf/data/rng.h"

namespace pgolf::data::np {

// Generator.integers(low, high) as one int64 (high excluded): Lemire's bounded draw, on one
// buffered 32-bit word when the range fits 32 bits; low + 0 without a draw when high == low + 1.
int64_t integers(Pcg64& rng, int64_t low, int64_t high);
// random_interval: masked rejection in [0, max] (32-bit words when max fits).
uint64_t interval(Pcg64& rng, uint64_t max);

// Generator.shuffle of a 1-D array: Fisher-Yates from the last element down to the second.
template <class T>
void shuffle(Pcg64& rng, std::vector<T>& v) {
  for (size_t i = v.size(); i-- > 1;) std::swap(v[i], v[interval(rng, i)]);
}
// Generator.permutation(n): shuffle(arange(n)).
std::vector<int64_t> permutation(Pcg64& rng, int64_t n);

// ndarray.sum of float64: numpy's pairwise summation (blocks of 128, 8 accumulators), from 0.
double sum(const std::vector<double>& v);

// Generator.choice(len(p), p=p): one index by the normalised cumulative sum and one uniform.
int64_t choice(Pcg64& rng, const std::vector<double>& p);
// Generator.choice(len(p), size, replace=False, p=p): rounds of uniforms, first occurrences
// kept, found entries' p zeroed before the next round.
std::vector<int64_t> choice_unique(Pcg64& rng, std::vector<double> p, int64_t size);

// Generator.binomial(n, p): inversion when min(p, 1-p) * n <= 30, else BTPE.
int64_t binomial(Pcg64& rng, int64_t n, double p);
// Generator.multinomial(n, pvals): a chain of conditional binomials; the last entry takes the rest.
std::vector<int64_t> multinomial(Pcg64& rng, int64_t n, const std::vector<double>& pvals);

}  // namespace pgolf::data::np
