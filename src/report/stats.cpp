// Seed statistics and the record t-test (see stats.h). The incomplete beta follows the classic
// continued fraction (Numerical Recipes §6.4), evaluated with the modified Lentz method.
#include "pgolf/report/stats.h"

#include <cmath>
#include <limits>

#include "pgolf/core/error.h"

namespace pgolf::report {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

double guard(double v) {
  constexpr double kTiny = 1e-300;
  return std::fabs(v) < kTiny ? kTiny : v;
}

// Continued fraction for I_x(a, b); converges fast for x < (a + 1) / (a + b + 2).
double betacf(double a, double b, double x) {
  const double qab = a + b, qap = a + 1.0, qam = a - 1.0;
  double c = 1.0;
  double d = 1.0 / guard(1.0 - qab * x / qap);
  double h = d;
  for (int m = 1; m < 10000; ++m) {
    const int m2 = 2 * m;
    double aa = m * (b - m) * x / ((qam + m2) * (a + m2));
    d = 1.0 / guard(1.0 + aa * d);
    c = guard(1.0 + aa / c);
    h *= d * c;
    aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
    d = 1.0 / guard(1.0 + aa * d);
    c = guard(1.0 + aa / c);
    const double delta = d * c;
    h *= delta;
    if (std::fabs(delta - 1.0) < 1e-15) return h;
  }
  PGOLF_FAIL("incomplete beta did not converge (a=" << a << ", b=" << b << ", x=" << x << ")");
}

}  // namespace

double mean(const std::vector<double>& xs) {
  if (xs.empty()) return kNaN;
  double s = 0.0;
  for (double x : xs) s += x;
  return s / static_cast<double>(xs.size());
}

double sample_std(const std::vector<double>& xs) {
  if (xs.size() < 2) return kNaN;
  const double m = mean(xs);
  double ss = 0.0;
  for (double x : xs) ss += (x - m) * (x - m);
  return std::sqrt(ss / static_cast<double>(xs.size() - 1));
}

double betainc(double a, double b, double x) {
  PGOLF_CHECK_INPUT(a > 0 && b > 0, "betainc: a and b must be > 0, found a=" << a << " b=" << b);
  PGOLF_CHECK_INPUT(x >= 0.0 && x <= 1.0, "betainc: x must be in [0, 1], found " << x);
  if (x == 0.0 || x == 1.0) return x;
  const double log_front = std::lgamma(a + b) - std::lgamma(a) - std::lgamma(b) + a * std::log(x) +
                           b * std::log1p(-x);
  if (x < (a + 1.0) / (a + b + 2.0)) return std::exp(log_front) * betacf(a, b, x) / a;
  return 1.0 - std::exp(log_front) * betacf(b, a, 1.0 - x) / b;
}

double t_cdf(double t, double df) {
  PGOLF_CHECK_INPUT(df > 0, "t_cdf: df must be > 0, found " << df);
  if (std::isinf(t)) return t > 0 ? 1.0 : 0.0;
  // P(T > |t|) = I_{df/(df+t^2)}(df/2, 1/2) / 2.
  const double tail = 0.5 * betainc(df / 2.0, 0.5, df / (df + t * t));
  return t > 0 ? 1.0 - tail : tail;
}

RecordTest record_test(const std::vector<double>& losses, double baseline_nats,
                       double margin_nats) {
  RecordTest r;
  r.n = static_cast<int>(losses.size());
  r.df = r.n - 1;
  r.mean_nats = mean(losses);
  r.sd_nats = sample_std(losses);
  r.threshold_nats = baseline_nats - margin_nats;
  r.improvement_nats = baseline_nats - r.mean_nats;
  if (r.n < 2) return r;
  r.defined = true;
  const double gap = r.mean_nats - r.threshold_nats;
  if (r.sd_nats == 0.0) {
    r.t = gap < 0 ? -kInf : (gap > 0 ? kInf : 0.0);
    r.p_value = gap < 0 ? 0.0 : (gap > 0 ? 1.0 : 0.5);
  } else {
    r.t = gap / (r.sd_nats / std::sqrt(static_cast<double>(r.n)));
    r.p_value = t_cdf(r.t, r.df);
  }
  return r;
}

}  // namespace pgolf::report
