#include "models/meta_analysis.h"

#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"

namespace fedrad::models {
namespace {

// Continued fraction for the incomplete beta (Numerical Recipes 6.4, Lentz).
double BetaContinuedFraction(double a, double b, double x) {
  const double tiny = 1e-300;
  double c = 1.0, d = 1.0 - (a + b) * x / (a + 1.0);
  if (std::abs(d) < tiny) d = tiny;
  d = 1.0 / d;
  double h = d;
  for (int m = 1; m <= 1000; ++m) {
    const double m2 = 2.0 * m;
    double aa = m * (b - m) * x / ((a + m2 - 1) * (a + m2));
    d = 1.0 + aa * d;
    if (std::abs(d) < tiny) d = tiny;
    c = 1.0 + aa / c;
    if (std::abs(c) < tiny) c = tiny;
    d = 1.0 / d;
    h *= d * c;
    aa = -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1));
    d = 1.0 + aa * d;
    if (std::abs(d) < tiny) d = tiny;
    c = 1.0 + aa / c;
    if (std::abs(c) < tiny) c = tiny;
    d = 1.0 / d;
    const double del = d * c;
    h *= del;
    if (std::abs(del - 1.0) < 1e-16) break;
  }
  return h;
}

double RegularizedIncompleteBeta(double a, double b, double x) {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const double front = std::exp(std::lgamma(a + b) - std::lgamma(a) - std::lgamma(b) +
                                a * std::log(x) + b * std::log1p(-x));
  if (x < (a + 1) / (a + b + 2)) return front * BetaContinuedFraction(a, b, x) / a;
  return 1.0 - front * BetaContinuedFraction(b, a, 1 - x) / b;
}

double StudentTCdf(double t, double df) {
  const double x = df / (df + t * t);
  const double tail = 0.5 * RegularizedIncompleteBeta(df / 2, 0.5, x);
  return t > 0 ? 1 - tail : tail;
}

}  // namespace

double StudentTQuantile(double p, double df) {
  if (!(p > 0 && p < 1) || !(df > 0)) return std::numeric_limits<double>::quiet_NaN();
  double lo = -1.0, hi = 1.0;
  while (StudentTCdf(lo, df) > p) lo *= 2;
  while (StudentTCdf(hi, df) < p) hi *= 2;
  for (int i = 0; i < 200 && hi - lo > 1e-14 * (1 + std::abs(lo)); ++i) {
    const double mid = 0.5 * (lo + hi);
    (StudentTCdf(mid, df) < p ? lo : hi) = mid;
  }
  return 0.5 * (lo + hi);
}

absl::StatusOr<MetaAnalysis> DerSimonianLaird(const std::vector<double>& y,
                                              const std::vector<double>& v) {
  if (y.size() != v.size()) {
    return absl::InvalidArgumentError("meta-analysis: estimates and variances differ in length");
  }
  if (y.size() < 2) {
    return absl::InvalidArgumentError(
        absl::StrCat("meta-analysis needs at least 2 sites, got ", y.size()));
  }
  for (size_t i = 0; i < y.size(); ++i) {
    if (!std::isfinite(y[i]) || !(v[i] > 0) || !std::isfinite(v[i])) {
      return absl::InvalidArgumentError(absl::StrCat(
          "meta-analysis: site ", i + 1, " has estimate ", y[i], " and variance ", v[i]));
    }
  }
  const int k = static_cast<int>(y.size());
  double sw = 0, sw2 = 0, swy = 0;
  for (int i = 0; i < k; ++i) {
    const double w = 1 / v[static_cast<size_t>(i)];
    sw += w;
    sw2 += w * w;
    swy += w * y[static_cast<size_t>(i)];
  }
  const double fixed = swy / sw;
  double q = 0;
  for (int i = 0; i < k; ++i) {
    const double d = y[static_cast<size_t>(i)] - fixed;
    q += d * d / v[static_cast<size_t>(i)];
  }
  MetaAnalysis m;
  m.k = k;
  m.q = q;
  m.tau2 = std::max(0.0, (q - (k - 1)) / (sw - sw2 / sw));
  m.i2 = q > 0 ? std::max(0.0, (q - (k - 1)) / q) : 0.0;
  double sws = 0, swsy = 0;
  for (int i = 0; i < k; ++i) {
    const double w = 1 / (v[static_cast<size_t>(i)] + m.tau2);
    sws += w;
    swsy += w * y[static_cast<size_t>(i)];
  }
  m.mu = swsy / sws;
  m.se = std::sqrt(1 / sws);
  const double z = 1.959963984540054;
  m.ci_low = m.mu - z * m.se;
  m.ci_high = m.mu + z * m.se;
  if (k >= 3) {
    const double half = StudentTQuantile(0.975, k - 2) * std::sqrt(m.tau2 + m.se * m.se);
    m.pi_low = m.mu - half;
    m.pi_high = m.mu + half;
  } else {
    m.pi_low = m.pi_high = std::numeric_limits<double>::quiet_NaN();
  }
  return m;
}

}  // namespace fedrad::models
