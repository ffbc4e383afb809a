#include "models/meta_analysis.h"

#include <boost/math/distributions/students_t.hpp>
#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"
#include "models/internal/math_policy.h"

namespace fedrad::models {

// Boost.Math's quantile of students_t_distribution (the inverse of its
// regularised incomplete beta), as R's qt.
double StudentTQuantile(double p, double df) {
  if (!(p > 0 && p < 1) || !(df > 0)) return std::numeric_limits<double>::quiet_NaN();
  const boost::math::students_t_distribution<double, models_internal::NoThrowPolicy> t(df);
  return boost::math::quantile(t, p);
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
