#include "models/selection.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "absl/strings/str_cat.h"

namespace fedrad::models {

std::vector<ScoreTest> UnivariateScoreTests(const Derivatives& at_zero) {
  std::vector<ScoreTest> out(static_cast<size_t>(at_zero.gradient.size()));
  for (Eigen::Index j = 0; j < at_zero.gradient.size(); ++j) {
    const double ijj = at_zero.information(j, j);
    if (!(ijj > 0)) continue;
    ScoreTest& t = out[static_cast<size_t>(j)];
    t.chi2 = at_zero.gradient[j] * at_zero.gradient[j] / ijj;
    t.p_value = std::erfc(std::sqrt(t.chi2 / 2));
  }
  return out;
}

std::vector<int> OrderByScore(const std::vector<ScoreTest>& tests) {
  std::vector<int> order(tests.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) {
    return tests[static_cast<size_t>(a)].chi2 > tests[static_cast<size_t>(b)].chi2;
  });
  return order;
}

std::vector<int> CorrelationFilter(const Eigen::MatrixXd& correlation,
                                   const std::vector<int>& order, double max_abs_correlation) {
  std::vector<int> kept;
  for (int j : order) {
    bool ok = true;
    for (int k : kept) {
      if (std::abs(correlation(j, k)) > max_abs_correlation) {
        ok = false;
        break;
      }
    }
    if (ok) kept.push_back(j);
  }
  return kept;
}

absl::StatusOr<LambdaChoice> ChooseLambdaByLoso(
    const std::vector<double>& lambdas, const std::vector<std::string>& sites,
    const std::function<absl::StatusOr<Eigen::VectorXd>(double, const std::string&)>& fit,
    const std::function<absl::StatusOr<double>(const std::string&, const Eigen::VectorXd&)>&
        deviance) {
  if (lambdas.empty() || sites.size() < 2) {
    return absl::InvalidArgumentError(
        "leave-one-site-out cross-validation needs a lambda grid and at least 2 sites");
  }
  LambdaChoice c;
  c.lambdas = lambdas;
  std::string last_error;
  for (double lambda : lambdas) {
    double total = 0;
    for (const std::string& site : sites) {
      auto beta = fit(lambda, site);
      absl::StatusOr<double> d = beta.ok() ? deviance(site, *beta)
                                           : absl::StatusOr<double>(beta.status());
      if (!d.ok()) {
        last_error = absl::StrCat("lambda ", lambda, ", without site ", site, ": ",
                                  d.status().message());
        total = std::numeric_limits<double>::infinity();
        break;
      }
      total += *d;
    }
    c.cv_deviance.push_back(total);
  }
  size_t best = lambdas.size();
  for (size_t i = 0; i < lambdas.size(); ++i) {
    if (!std::isfinite(c.cv_deviance[i])) continue;
    if (best == lambdas.size() || c.cv_deviance[i] < c.cv_deviance[best] ||
        (c.cv_deviance[i] == c.cv_deviance[best] && lambdas[i] > lambdas[best])) {
      best = i;
    }
  }
  if (best == lambdas.size()) {
    return absl::FailedPreconditionError(
        absl::StrCat("every lambda failed in cross-validation; last: ", last_error));
  }
  c.lambda = lambdas[best];
  return c;
}

}  // namespace fedrad::models
