// Feature selection tests. Reference numbers: models/testdata/reference.json
// from make_fixtures.R (R survival coxph(..., iter.max = 0)$score for each
// covariate alone with strata(site); stats::cor on the pooled rows).
#include "models/selection.h"

#include <cmath>

#include "core/testing/status_matchers.h"
#include "gtest/gtest.h"
#include "models/cox.h"
#include "models/data.h"
#include "models/newton.h"
#include "models/testutil.h"

namespace fedrad::models {
namespace {

using testing::Covariates;
using testing::Reference;
using testing::SiteNames;
using testing::SurvivalRows;

TEST(ScoreScreening, UnivariateScoreTestsFromSiteSumsMatchCoxph) {
  nlohmann::json ref = Reference()["score_tests"];
  Derivatives sum = Derivatives::Zero(4);
  for (const auto& site : SiteNames()) {
    ModelRows r = SurvivalRows(site);
    sum.Add(CoxDerivatives(*CoxStratum::Create(r.time, r.status, r.x), Eigen::VectorXd::Zero(4),
                           Ties::kBreslow));
  }
  std::vector<ScoreTest> t = UnivariateScoreTests(sum);
  for (size_t j = 0; j < 4; ++j) {
    EXPECT_NEAR(t[j].chi2, ref[Covariates()[j]].get<double>(), 1e-9) << Covariates()[j];
  }
  std::vector<int> order = OrderByScore(t);
  EXPECT_EQ(t[static_cast<size_t>(order[0])].chi2, std::max({t[0].chi2, t[1].chi2, t[2].chi2, t[3].chi2}));
}

TEST(CorrelationFilter, PooledCorrelationFromSiteSumsMatchesCor) {
  nlohmann::json ref = Reference()["pooled_correlation"];
  CrossProducts cp = CrossProducts::Zero(4);
  for (const auto& site : SiteNames()) cp.Add(ComputeCrossProducts(SurvivalRows(site).x));
  Eigen::MatrixXd corr = CorrelationFromCrossProducts(cp);
  EXPECT_TRUE(corr.isApprox(testing::ToMatrix(ref), 1e-10)) << corr;
}

TEST(CorrelationFilter, DropsTheWeakerOfTwoCorrelatedCovariates) {
  Eigen::MatrixXd corr = Eigen::MatrixXd::Identity(3, 3);
  corr(0, 2) = corr(2, 0) = 0.95;
  // Order by strength: 2, 0, 1 -> 0 is dropped (|r| = 0.95 with 2).
  EXPECT_EQ(CorrelationFilter(corr, {2, 0, 1}, 0.9), (std::vector<int>{2, 1}));
}

TEST(ChooseLambdaByLoso, PicksTheLambdaWithSmallestHeldOutDeviance) {
  // Ridge Cox over the three fixture sites; the held-out deviance is the
  // site's own partial likelihood at the coefficients fitted without it.
  std::map<std::string, CoxStratum> strata;
  for (const auto& site : SiteNames()) {
    ModelRows r = SurvivalRows(site);
    strata[site] = *CoxStratum::Create(r.time, r.status, r.x);
  }
  auto fit = [&](double lambda, const std::string& out) -> absl::StatusOr<Eigen::VectorXd> {
    Evaluator eval = [&](const Eigen::VectorXd& b) -> absl::StatusOr<Derivatives> {
      Derivatives sum = Derivatives::Zero(4);
      for (const auto& [name, s] : strata) {
        if (name != out) sum.Add(CoxDerivatives(s, b, Ties::kBreslow));
      }
      return sum;
    };
    NewtonOptions opt = CoxphControl();
    opt.penalty.lambda = lambda;
    auto f = FitNewton(eval, Covariates(), Eigen::VectorXd::Zero(4), opt);
    if (!f.ok()) return f.status();
    return f->beta;
  };
  auto deviance = [&](const std::string& site, const Eigen::VectorXd& b) -> absl::StatusOr<double> {
    return -2 * CoxDerivatives(strata.at(site), b, Ties::kBreslow).loglik;
  };
  std::vector<double> grid = {0.0, 1.0, 10.0, 1000.0};
  ASSERT_OK_AND_ASSIGN(auto c, ChooseLambdaByLoso(grid, SiteNames(), fit, deviance));
  ASSERT_EQ(c.cv_deviance.size(), 4u);
  size_t best = 0;
  for (size_t i = 1; i < 4; ++i)
    if (c.cv_deviance[i] < c.cv_deviance[best]) best = i;
  EXPECT_EQ(c.lambda, grid[best]);
  // A huge penalty shrinks everything to ~0: worse than a small one here.
  EXPECT_GT(c.cv_deviance[3], c.cv_deviance[0]);
}

}  // namespace
}  // namespace fedrad::models
