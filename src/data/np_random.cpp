// numpy's choice, binomial and multinomial on PCG64 (np_random.h), with numpy's floating-point
// steps in numpy's order, so the same doubles and the same draws come out.
#include <cmath>
#include <cstdlib>

#include "pgolf/core/error.h"
#include "pgolf/data/np_random.h"

// A fused multiply-add rounds once where numpy (built for baseline x86-64) rounds twice: keep
// GCC from fusing when this file is built for a target with FMA.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC push_options
#pragma GCC optimize("fp-contract=off")
#elif defined(__clang__)
#pragma clang fp contract(off)
#endif

namespace pgolf::data::np {
namespace {

double np_pairwise_sum(const double* a, size_t n) {
  if (n < 8) {
    double r = 0.;
    for (size_t i = 0; i < n; ++i) r += a[i];
    return r;
  }
  if (n <= 128) {
    double r[8];
    for (size_t j = 0; j < 8; ++j) r[j] = a[j];
    size_t i = 8;
    for (; i < n - (n % 8); i += 8)
      for (size_t j = 0; j < 8; ++j) r[j] += a[i + j];
    double res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    for (; i < n; ++i) res += a[i];
    return res;
  }
  size_t n2 = n / 2;
  n2 -= n2 % 8;
  return np_pairwise_sum(a, n2) + np_pairwise_sum(a + n2, n - n2);
}

// cumsum(p) / cumsum(p)[-1]: numpy's normalised cdf.
std::vector<double> np_cdf(const std::vector<double>& p) {
  PGOLF_CHECK(!p.empty(), "np::choice: empty probabilities");
  std::vector<double> cdf(p.size());
  double acc = 0;
  for (size_t i = 0; i < p.size(); ++i) {
    PGOLF_CHECK(p[i] >= 0, "np::choice: negative probability " << p[i]);
    cdf[i] = acc += p[i];
  }
  PGOLF_CHECK(acc > 0, "np::choice: the probabilities sum to " << acc);
  const double last = cdf.back();
  for (double& c : cdf) c /= last;
  return cdf;
}

// searchsorted(cdf, u, side="right"): the first index whose cdf exceeds u.
int64_t np_search_right(const std::vector<double>& cdf, double u) {
  size_t lo = 0, hi = cdf.size();
  while (lo < hi) {
    const size_t mid = lo + (hi - lo) / 2;
    if (cdf[mid] <= u) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return static_cast<int64_t>(lo);
}

int64_t np_binomial_inversion(Pcg64& rng, int64_t n, double p) {
  const double q = 1.0 - p;
  const double qn = std::exp(static_cast<double>(n) * std::log(q));
  const double np_ = static_cast<double>(n) * p;
  const auto bound =
      static_cast<int64_t>(std::fmin(static_cast<double>(n), np_ + 10.0 * std::sqrt(np_ * q + 1)));
  int64_t x = 0;
  double px = qn, u = rng.next_double();
  while (u > px) {
    ++x;
    if (x > bound) {  // ran past the table: start over
      x = 0;
      px = qn;
      u = rng.next_double();
    } else {
      u -= px;
      px = (static_cast<double>(n - x + 1) * p * px) / (static_cast<double>(x) * q);
    }
  }
  return x;
}

// BTPE (Kachitvichyanukul and Schmeiser 1988): the setup of numpy's random_binomial_btpe.
struct BtpeSetup {
  double r, q, fm, p1, xm, xl, xr, c, laml, lamr, p2, p3, p4;
  int64_t m;
};

BtpeSetup np_btpe_setup(int64_t n, double p) {
  BtpeSetup b{};
  const auto dn = static_cast<double>(n);
  b.r = std::fmin(p, 1.0 - p);
  b.q = 1.0 - b.r;
  b.fm = dn * b.r + b.r;
  b.m = static_cast<int64_t>(std::floor(b.fm));
  b.p1 = std::floor(2.195 * std::sqrt(dn * b.r * b.q) - 4.6 * b.q) + 0.5;
  b.xm = static_cast<double>(b.m) + 0.5;
  b.xl = b.xm - b.p1;
  b.xr = b.xm + b.p1;
  b.c = 0.134 + 20.5 / (15.3 + static_cast<double>(b.m));
  double a = (b.fm - b.xl) / (b.fm - b.xl * b.r);
  b.laml = a * (1.0 + a / 2.0);
  a = (b.xr - b.fm) / (b.xr * b.q);
  b.lamr = a * (1.0 + a / 2.0);
  b.p2 = b.p1 * (1.0 + 2.0 * b.c);
  b.p3 = b.p2 + b.c / b.laml;
  b.p4 = b.p3 + b.c / b.lamr;
  return b;
}

double np_stirling_tail(double v2, double v) {
  return (13680. - (462. - (132. - (99. - 140. / v2) / v2) / v2) / v2) / v / 166320.;
}

// BTPE's steps 50 and 52: whether candidate y (with its v) is accepted.
bool np_btpe_accept(const BtpeSetup& b, int64_t n, int64_t y, double v) {
  const double nrq = static_cast<double>(n) * b.r * b.q;
  const int64_t k = std::llabs(y - b.m);
  const auto dk = static_cast<double>(k);
  if (!(k > 20 && dk < nrq / 2.0 - 1)) {  // explicit evaluation of f(y) / f(m)
    const double s = b.r / b.q, a = s * static_cast<double>(n + 1);
    double f = 1.0;
    if (b.m < y) {
      for (int64_t i = b.m + 1; i <= y; ++i) f *= (a / static_cast<double>(i) - s);
    } else if (b.m > y) {
      for (int64_t i = y + 1; i <= b.m; ++i) f /= (a / static_cast<double>(i) - s);
    }
    return !(v > f);
  }
  const double rho = (dk / nrq) * ((dk * (dk / 3.0 + 0.625) + 0.16666666666666666) / nrq + 0.5);
  const double t = static_cast<double>(-k * k) / (2 * nrq);
  const double big_a = std::log(v);
  if (big_a < t - rho) return true;
  if (big_a > t + rho) return false;
  const auto x1 = static_cast<double>(y + 1), f1 = static_cast<double>(b.m + 1);
  const auto z = static_cast<double>(n + 1 - b.m), w = static_cast<double>(n - y + 1);
  const double bound = b.xm * std::log(f1 / x1) +
                       (static_cast<double>(n - b.m) + 0.5) * std::log(z / w) +
                       static_cast<double>(y - b.m) * std::log(w * b.r / (x1 * b.q)) +
                       np_stirling_tail(f1 * f1, f1) + np_stirling_tail(z * z, z) +
                       np_stirling_tail(x1 * x1, x1) + np_stirling_tail(w * w, w);
  return !(big_a > bound);
}

int64_t np_binomial_btpe(Pcg64& rng, int64_t n, double p) {
  const BtpeSetup b = np_btpe_setup(n, p);
  for (;;) {
    const double u = rng.next_double() * b.p4;
    double v = rng.next_double();
    int64_t y;
    if (u <= b.p1) {  // the triangle: accepted at once
      y = static_cast<int64_t>(std::floor(b.xm - b.p1 * v + u));
      return p > 0.5 ? n - y : y;
    }
    if (u <= b.p2) {  // the parallelograms
      const double x = b.xl + (u - b.p1) / b.c;
      v = v * b.c + 1.0 - std::fabs(static_cast<double>(b.m) - x + 0.5) / b.p1;
      if (v > 1.0) continue;
      y = static_cast<int64_t>(std::floor(x));
    } else if (u <= b.p3) {  // the left exponential tail
      if (v == 0.0) continue;
      y = static_cast<int64_t>(std::floor(b.xl + std::log(v) / b.laml));
      if (y < 0) continue;
      v = v * (u - b.p2) * b.laml;
    } else {  // the right one
      if (v == 0.0) continue;
      y = static_cast<int64_t>(std::floor(b.xr - std::log(v) / b.lamr));
      if (y > n) continue;
      v = v * (u - b.p3) * b.lamr;
    }
    if (np_btpe_accept(b, n, y, v)) return p > 0.5 ? n - y : y;
  }
}

}  // namespace

double sum(const std::vector<double>& v) { return 0. + np_pairwise_sum(v.data(), v.size()); }

int64_t choice(Pcg64& rng, const std::vector<double>& p) {
  const auto cdf = np_cdf(p);
  return np_search_right(cdf, rng.next_double());
}

std::vector<int64_t> choice_unique(Pcg64& rng, std::vector<double> p, int64_t size) {
  int64_t nonzero = 0;
  for (double v : p) nonzero += v > 0;
  PGOLF_CHECK(size >= 0 && size <= nonzero,
              "np::choice_unique: " << size << " draws from " << nonzero << " non-zero entries");
  std::vector<int64_t> found;
  while (static_cast<int64_t>(found.size()) < size) {
    std::vector<double> u(static_cast<size_t>(size) - found.size());
    for (double& x : u) x = rng.next_double();  // all uniforms of the round come first
    for (int64_t f : found) p[static_cast<size_t>(f)] = 0;
    const auto cdf = np_cdf(p);
    const size_t before = found.size();
    for (double x : u) {
      const int64_t idx = np_search_right(cdf, x);
      bool seen = false;  // first occurrences within this round, in draw order
      for (size_t i = before; i < found.size() && !seen; ++i) seen = found[i] == idx;
      if (!seen) found.push_back(idx);
    }
  }
  return found;
}

int64_t binomial(Pcg64& rng, int64_t n, double p) {
  PGOLF_CHECK(n >= 0 && p >= 0 && p <= 1, "np::binomial(" << n << ", " << p << ")");
  if (n == 0 || p == 0.0) return 0;
  if (p <= 0.5) {
    return p * static_cast<double>(n) <= 30.0 ? np_binomial_inversion(rng, n, p)
                                              : np_binomial_btpe(rng, n, p);
  }
  const double q = 1.0 - p;
  return n - (q * static_cast<double>(n) <= 30.0 ? np_binomial_inversion(rng, n, q)
                                                 : np_binomial_btpe(rng, n, q));
}

std::vector<int64_t> multinomial(Pcg64& rng, int64_t n, const std::vector<double>& pvals) {
  PGOLF_CHECK(!pvals.empty() && n >= 0, "np::multinomial(" << n << ", " << pvals.size() << " pvals)");
  std::vector<int64_t> out(pvals.size(), 0);
  double remaining_p = 1.0;
  int64_t dn = n;
  for (size_t j = 0; j + 1 < pvals.size(); ++j) {
    out[j] = binomial(rng, dn, std::fmin(pvals[j] / remaining_p, 1.0));
    dn -= out[j];
    if (dn <= 0) break;
    remaining_p -= pvals[j];
  }
  if (dn > 0) out.back() = dn;
  return out;
}

}  // namespace pgolf::data::np

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC pop_options
#endif
