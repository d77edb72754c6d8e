// Seed statistics and the challenge's record test (README "Submission Process"): a new record must
// beat the current one by at least 0.005 nats with p < 0.01. The same statistic as scripts/stats.py:
//   H0: mean val_loss >= baseline_nats - margin,  t = (mean - (baseline - margin)) / (sd / sqrt(n)),
//   p = P(T_{n-1} <= t)  (one-sided, one-sample Student t).
#pragma once

#include <vector>

namespace pgolf::report {

double mean(const std::vector<double>& xs);  // NaN when empty
// Sample standard deviation (ddof 1); NaN for fewer than 2 values.
double sample_std(const std::vector<double>& xs);

// Regularised incomplete beta I_x(a, b), a, b > 0, 0 <= x <= 1 (continued fraction, Lentz).
double betainc(double a, double b, double x);
// P(T <= t) for Student's t with df > 0 degrees of freedom.
double t_cdf(double t, double df);

struct RecordTest {
  int n = 0;
  double mean_nats = 0.0;
  double sd_nats = 0.0;
  double threshold_nats = 0.0;    // baseline - margin: the mean must be below this
  double improvement_nats = 0.0;  // baseline - mean
  double t = 0.0;
  int df = 0;
  double p_value = 1.0;
  bool defined = false;  // false for n < 2 (no test possible)
  bool significant(double alpha) const { return defined && p_value < alpha; }
};

// One-sided one-sample t-test that mean(losses) < baseline_nats - margin_nats. A zero spread gives
// t = -inf / +inf (p = 0 / 1) on either side of the threshold, and p = 0.5 at it.
RecordTest record_test(const std::vector<double>& losses, double baseline_nats, double margin_nats);

}  // namespace pgolf::report
