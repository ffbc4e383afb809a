// Logistic regression tests. Reference numbers: models/testdata/reference.json
// from make_fixtures.R (R 4.2 glm(recur2y ~ x1 + x2 + x3 + x4, binomial) with
// glm.control(epsilon = 1e-12), and an L2-penalised fit by optim/BFGS).
#include "models/logistic.h"

#include <cmath>

#include "core/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "models/newton.h"
#include "models/testutil.h"

namespace fedrad::models {
namespace {

using ::fedrad::models::testing::BinaryRows;
using ::fedrad::models::testing::Covariates;
using ::fedrad::models::testing::Reference;
using ::fedrad::models::testing::SiteNames;
using ::fedrad::models::testing::ToVector;
using ::fedrad::models::testing::WithIntercept;
using ::testing::HasSubstr;

std::vector<LogisticData> Sites(int64_t* excluded = nullptr) {
  std::vector<LogisticData> out;
  for (const auto& site : SiteNames()) {
    ModelRows rows = BinaryRows(site);
    if (excluded) *excluded += rows.n_excluded;
    out.push_back(*LogisticData::Create(rows.y, WithIntercept(rows.x)));
  }
  return out;
}

Evaluator SumOver(const std::vector<LogisticData>& sites) {
  return [&sites](const Eigen::VectorXd& b) -> absl::StatusOr<Derivatives> {
    Derivatives sum = Derivatives::Zero(static_cast<int>(b.size()));
    for (const auto& s : sites) sum.Add(LogisticDerivatives(s, b));
    return sum;
  };
}

std::vector<std::string> Names() {
  std::vector<std::string> n = {"intercept"};
  for (const auto& c : Covariates()) n.push_back(c);
  return n;
}

TEST(LogisticFit, MatchesGlmBinomial) {
  nlohmann::json ref = Reference()["logistic"];
  int64_t excluded = 0;
  std::vector<LogisticData> sites = Sites(&excluded);
  ASSERT_OK_AND_ASSIGN(auto fit,
                       FitNewton(SumOver(sites), Names(), Eigen::VectorXd::Zero(5), GlmControl()));
  const std::vector<std::string> r_names = {"(Intercept)", "x1", "x2", "x3", "x4"};
  for (int j = 0; j < 5; ++j) {
    EXPECT_NEAR(fit.beta[j], ref["coefficients"][r_names[j]].get<double>(), 1e-6) << j;
    EXPECT_NEAR(fit.std_errors[j], ref["std_errors"][r_names[j]].get<double>(), 1e-6) << j;
  }
  EXPECT_NEAR(fit.loglik, ref["loglik"].get<double>(), 1e-6);
  EXPECT_EQ(fit.last.n, ref["n"].get<int64_t>());
  EXPECT_EQ(excluded, ref["n_excluded"].get<int64_t>());
  // loglik at beta = 0 is n log(1/2), not the intercept-only model.
  EXPECT_NEAR(fit.loglik_null, ref["n"].get<double>() * std::log(0.5), 1e-9);
}

TEST(LogisticFit, RidgeWithUnpenalisedInterceptMatchesOptim) {
  std::vector<LogisticData> sites = Sites();
  NewtonOptions opt = GlmControl();
  opt.eps = 1e-14;
  opt.max_iterations = 100;
  opt.penalty.lambda = 3.0;
  opt.penalty.penalized = {false, true, true, true, true};
  ASSERT_OK_AND_ASSIGN(auto fit, FitNewton(SumOver(sites), Names(), Eigen::VectorXd::Zero(5), opt));
  Eigen::VectorXd ref = ToVector(Reference()["logistic_ridge_lambda3"]["coefficients"]);
  for (int j = 0; j < 5; ++j) EXPECT_NEAR(fit.beta[j], ref[j], 1e-6) << j;
}

TEST(LogisticDerivatives, PerSiteAtZeroSumToPooled) {
  // At beta = 0: U = X^T (y - 1/2), I = X^T X / 4, l = n log(1/2) per site.
  Derivatives sum = Derivatives::Zero(5);
  for (const auto& site : SiteNames()) {
    ModelRows r = BinaryRows(site);
    Eigen::MatrixXd x = WithIntercept(r.x);
    Eigen::VectorXd y = Eigen::Map<const Eigen::VectorXd>(r.y.data(), static_cast<Eigen::Index>(r.y.size()));
    Derivatives d = LogisticDerivatives(*LogisticData::Create(r.y, x), Eigen::VectorXd::Zero(5));
    EXPECT_TRUE(d.gradient.isApprox(x.transpose() * (y.array() - 0.5).matrix(), 1e-12));
    EXPECT_TRUE(d.information.isApprox(x.transpose() * x / 4.0, 1e-12));
    EXPECT_NEAR(d.loglik, static_cast<double>(r.y.size()) * std::log(0.5), 1e-10);
    sum.Add(d);
  }
  std::vector<LogisticData> sites = Sites();
  Derivatives pooled = *SumOver(sites)(Eigen::VectorXd::Zero(5));
  EXPECT_TRUE(sum.information.isApprox(pooled.information, 1e-14));
}

TEST(LogisticFit, SeparationIsReportedByName) {
  std::vector<double> y;
  Eigen::MatrixXd x(30, 3);
  for (int i = 0; i < 30; ++i) {
    x(i, 0) = 1.0;
    x(i, 1) = i;            // y = 1 exactly when i >= 15
    x(i, 2) = std::cos(i * 2.3);
    y.push_back(i >= 15 ? 1.0 : 0.0);
  }
  LogisticData d = *LogisticData::Create(y, x);
  Evaluator eval = [&](const Eigen::VectorXd& b) -> absl::StatusOr<Derivatives> {
    return LogisticDerivatives(d, b);
  };
  auto fit = FitNewton(eval, {"intercept", "lesion_count", "noise"}, Eigen::VectorXd::Zero(3),
                       GlmControl());
  EXPECT_EQ(fit.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(fit.status().message(), HasSubstr("lesion_count"));
}

}  // namespace
}  // namespace fedrad::models

namespace fedrad::models {
namespace {

TEST(LogisticFit, StepHalvingRecoversFromAnOvershootingNewtonStep) {
  // A strong, nearly separating covariate: the full Newton step from a far
  // start lowers the likelihood, so the optimiser halves it (coxfit6's rule)
  // and still reaches the maximum (score ~ 0).
  std::vector<double> y;
  Eigen::MatrixXd x(200, 2);
  for (int i = 0; i < 200; ++i) {
    const double v = (i - 100) / 10.0;
    x(i, 0) = 1.0;
    x(i, 1) = v;
    y.push_back((v + 1.5 * std::sin(i * 0.77)) > 0 ? 1.0 : 0.0);
  }
  LogisticData d = *LogisticData::Create(y, x);
  Evaluator eval = [&](const Eigen::VectorXd& b) -> absl::StatusOr<Derivatives> {
    return LogisticDerivatives(d, b);
  };
  Eigen::VectorXd start(2);
  start << 3.0, -4.0;  // far on the wrong side
  NewtonOptions opt = GlmControl();
  opt.max_iterations = 100;
  auto fit = FitNewton(eval, {"intercept", "v"}, start, opt);
  ASSERT_OK(fit);
  EXPECT_GT(fit->halvings, 0);
  EXPECT_LT(fit->last.gradient.norm(), 1e-4);
  EXPECT_GT(fit->beta[1], 0);
}

}  // namespace
}  // namespace fedrad::models
