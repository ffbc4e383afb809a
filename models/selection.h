// Federated feature selection and penalty tuning, from aggregates only:
//  - univariate score tests at beta = 0 (each covariate alone), from the
//    summed site derivatives at 0: chi2_j = U_j^2 / I_jj (for the stratified
//    Cox model this is coxph(Surv ~ x_j + strata(site), iter.max = 0)$score);
//  - correlation filtering from the pooled correlation matrix (pooled sums of
//    x and x x^T, models/data.h): walk covariates from the strongest score
//    down; drop one whose |r| with an already kept covariate exceeds the
//    threshold;
//  - the penalty lambda by leave-one-site-out cross-validation: for each
//    lambda and each site s, fit on the other sites and add the held-out
//    deviance -2 l_s(beta_{-s}); the smallest total wins (ties: the larger
//    lambda).
//
//   std::vector<ScoreTest> t = UnivariateScoreTests(sum_at_zero);
//   std::vector<int> keep = CorrelationFilter(corr, OrderByScore(t), 0.9);
//
// Thread safety: pure functions; ChooseLambdaByLoso calls its callbacks
// serially.
#ifndef FEDRAD_MODELS_SELECTION_H_
#define FEDRAD_MODELS_SELECTION_H_

#include <functional>
#include <string>
#include <vector>

#include <Eigen/Dense>

#include "absl/status/statusor.h"
#include "models/derivatives.h"

namespace fedrad::models {

struct ScoreTest {
  double chi2 = 0;
  double p_value = 1;  // chi-square, 1 df
};
// One test per coefficient; a coefficient with I_jj == 0 gets chi2 0, p 1.
std::vector<ScoreTest> UnivariateScoreTests(const Derivatives& at_zero);

// Indices sorted by decreasing chi2 (stable).
std::vector<int> OrderByScore(const std::vector<ScoreTest>& tests);

// Greedy filter over `order`; returns kept indices in `order`'s order.
std::vector<int> CorrelationFilter(const Eigen::MatrixXd& correlation,
                                   const std::vector<int>& order, double max_abs_correlation);

struct LambdaChoice {
  double lambda = 0;
  std::vector<double> lambdas;
  std::vector<double> cv_deviance;  // summed over held-out sites, per lambda
};
// fit(lambda, held_out_site) -> coefficients fitted without that site;
// deviance(held_out_site, beta) -> -2 l of that site at beta. A fit error
// for a lambda makes that lambda's deviance +infinity (reported in the
// result); InvalidArgument if every lambda fails or the inputs are empty.
absl::StatusOr<LambdaChoice> ChooseLambdaByLoso(
    const std::vector<double>& lambdas, const std::vector<std::string>& sites,
    const std::function<absl::StatusOr<Eigen::VectorXd>(double, const std::string&)>& fit,
    const std::function<absl::StatusOr<double>(const std::string&, const Eigen::VectorXd&)>&
        deviance);

}  // namespace fedrad::models

#endif  // FEDRAD_MODELS_SELECTION_H_
