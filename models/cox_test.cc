// Cox model tests. Reference numbers: models/testdata/reference.json, made by
// models/testdata/make_fixtures.R with R 4.2, survival 3.5.3 coxph() on the
// seeded cohort models/testdata/site_{A,B,C}.csv (3 sites, 50/60/70 rows,
// tied times in 10-day units).
#include "models/cox.h"

#include <cmath>

#include "core/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "models/newton.h"
#include "models/testutil.h"

namespace fedrad::models {
namespace {

using ::fedrad::models::testing::Covariates;
using ::fedrad::models::testing::Reference;
using ::fedrad::models::testing::SiteNames;
using ::fedrad::models::testing::SurvivalRows;
using ::fedrad::models::testing::ToMatrix;
using ::fedrad::models::testing::ToVector;
using ::testing::HasSubstr;

std::vector<CoxStratum> Strata() {
  std::vector<CoxStratum> out;
  for (const auto& site : SiteNames()) {
    ModelRows rows = SurvivalRows(site);
    auto s = CoxStratum::Create(rows.time, rows.status, rows.x);
    EXPECT_OK(s);
    out.push_back(*s);
  }
  return out;
}

Evaluator SumOver(const std::vector<CoxStratum>& strata, Ties ties) {
  return [&strata, ties](const Eigen::VectorXd& b) -> absl::StatusOr<Derivatives> {
    Derivatives sum = Derivatives::Zero(static_cast<int>(b.size()));
    for (const auto& s : strata) sum.Add(CoxDerivatives(s, b, ties));
    return sum;
  };
}

// One table holding every site, as a single stratum per site but computed by
// a different decomposition (one CoxDerivatives call per site on a copy built
// from the concatenated rows): the pooled fit.
void ExpectMatchesCoxph(Ties ties, const std::string& key) {
  nlohmann::json ref = Reference()[key];
  std::vector<CoxStratum> strata = Strata();
  ASSERT_OK_AND_ASSIGN(auto fit, FitNewton(SumOver(strata, ties), Covariates(),
                                           Eigen::VectorXd::Zero(4), CoxphControl()));
  for (int j = 0; j < 4; ++j) {
    const std::string& name = Covariates()[static_cast<size_t>(j)];
    EXPECT_NEAR(fit.beta[j], ref["coefficients"][name].get<double>(), 1e-6) << name;
    EXPECT_NEAR(fit.std_errors[j], ref["std_errors"][j].get<double>(), 1e-6) << name;
  }
  EXPECT_NEAR(fit.loglik, ref["loglik"].get<double>(), 1e-6);
  EXPECT_NEAR(fit.loglik_null, ref["loglik_null"].get<double>(), 1e-9);
  EXPECT_EQ(fit.iterations, ref["iterations"].get<int>());
  EXPECT_TRUE(fit.last.information.isApprox(ToMatrix(ref["information"]), 1e-6));
}

TEST(CoxFit, StratifiedBreslowMatchesCoxph) { ExpectMatchesCoxph(Ties::kBreslow, "cox_breslow"); }

TEST(CoxFit, StratifiedEfronMatchesCoxph) { ExpectMatchesCoxph(Ties::kEfron, "cox_efron"); }

TEST(CoxDerivatives, PerSiteAtZeroMatchCoxphAndSumToPooled) {
  nlohmann::json ref = Reference();
  std::vector<CoxStratum> strata = Strata();
  for (Ties ties : {Ties::kBreslow, Ties::kEfron}) {
    const std::string key = ties == Ties::kBreslow ? "derivs0_breslow" : "derivs0_efron";
    Derivatives sum = Derivatives::Zero(4);
    for (size_t k = 0; k < strata.size(); ++k) {
      const nlohmann::json& r = ref[key][SiteNames()[k]];
      Derivatives d = CoxDerivatives(strata[k], Eigen::VectorXd::Zero(4), ties);
      EXPECT_NEAR(d.loglik, r["loglik"].get<double>(), 1e-9) << key << " " << k;
      EXPECT_TRUE(d.gradient.isApprox(ToVector(r["gradient"]), 1e-9)) << d.gradient.transpose();
      EXPECT_TRUE(d.information.isApprox(ToMatrix(r["information"]), 1e-9))
          << key << " site " << SiteNames()[k] << "\n" << d.information;
      sum.Add(d);
    }
    // The sum of the sites' pieces is the stratified model's derivatives at 0.
    Derivatives pooled = *SumOver(strata, ties)(Eigen::VectorXd::Zero(4));
    EXPECT_NEAR(sum.loglik, pooled.loglik, 1e-10);
    EXPECT_NEAR(sum.loglik, ref[ties == Ties::kBreslow ? "cox_breslow" : "cox_efron"]
                                ["loglik_null"].get<double>(),
                1e-9);
    EXPECT_EQ(sum.n, 180);
  }
}

TEST(CoxFit, FederatedEqualsPooledOneTableFit) {
  // Pooled: one table with a site column, strata rebuilt from it; federated:
  // per-site strata from per-site tables. Same optimiser, so equal to 1e-8.
  std::vector<CoxStratum> strata = Strata();
  Eigen::MatrixXd all_x(180, 4);
  std::vector<double> all_t;
  std::vector<int> all_s;
  std::vector<int> site_of;
  Eigen::Index row = 0;
  for (size_t k = 0; k < SiteNames().size(); ++k) {
    ModelRows r = SurvivalRows(SiteNames()[k]);
    all_x.middleRows(row, r.x.rows()) = r.x;
    row += r.x.rows();
    all_t.insert(all_t.end(), r.time.begin(), r.time.end());
    all_s.insert(all_s.end(), r.status.begin(), r.status.end());
    site_of.insert(site_of.end(), r.time.size(), static_cast<int>(k));
  }
  Evaluator pooled = [&](const Eigen::VectorXd& b) -> absl::StatusOr<Derivatives> {
    Derivatives sum = Derivatives::Zero(4);
    for (int k = 0; k < 3; ++k) {
      std::vector<double> t;
      std::vector<int> s;
      std::vector<int> rows;
      for (size_t i = 0; i < all_t.size(); ++i) {
        if (site_of[i] == k) rows.push_back(static_cast<int>(i));
      }
      Eigen::MatrixXd x(static_cast<Eigen::Index>(rows.size()), 4);
      for (size_t i = 0; i < rows.size(); ++i) {
        x.row(static_cast<Eigen::Index>(i)) = all_x.row(rows[i]);
        t.push_back(all_t[static_cast<size_t>(rows[i])]);
        s.push_back(all_s[static_cast<size_t>(rows[i])]);
      }
      sum.Add(CoxDerivatives(*CoxStratum::Create(t, s, x), b, Ties::kEfron));
    }
    return sum;
  };
  auto a = FitNewton(pooled, Covariates(), Eigen::VectorXd::Zero(4), CoxphControl());
  auto b = FitNewton(SumOver(strata, Ties::kEfron), Covariates(), Eigen::VectorXd::Zero(4),
                     CoxphControl());
  ASSERT_OK(a);
  ASSERT_OK(b);
  for (int j = 0; j < 4; ++j) EXPECT_NEAR(a->beta[j], b->beta[j], 1e-8 * (1 + std::abs(a->beta[j])));
  EXPECT_NEAR(a->loglik, b->loglik, 1e-8 * std::abs(a->loglik));
}

TEST(CoxFit, RidgeMatchesCoxphRidge) {
  // survival::ridge(theta = 5, scale = FALSE): penalty theta/2 * sum(beta^2).
  std::vector<CoxStratum> strata = Strata();
  NewtonOptions opt = CoxphControl();
  opt.eps = 1e-12;
  opt.max_iterations = 50;
  opt.penalty.lambda = 5.0;
  ASSERT_OK_AND_ASSIGN(auto fit, FitNewton(SumOver(strata, Ties::kBreslow), Covariates(),
                                           Eigen::VectorXd::Zero(4), opt));
  Eigen::VectorXd ref = ToVector(Reference()["cox_ridge_theta5"]["coefficients"]);
  for (int j = 0; j < 4; ++j) EXPECT_NEAR(fit.beta[j], ref[j], 1e-6);
}

TEST(CoxFit, ElasticNetSatisfiesKktConditions) {
  std::vector<CoxStratum> strata = Strata();
  NewtonOptions opt = CoxphControl();
  opt.eps = 1e-13;
  opt.max_iterations = 200;
  opt.penalty.lambda = 20.0;
  opt.penalty.l1_ratio = 0.7;
  ASSERT_OK_AND_ASSIGN(auto fit, FitNewton(SumOver(strata, Ties::kBreslow), Covariates(),
                                           Eigen::VectorXd::Zero(4), opt));
  const double l1 = 20.0 * 0.7, l2 = 20.0 * 0.3;
  int zeros = 0;
  for (int j = 0; j < 4; ++j) {
    const double g = fit.last.gradient[j] - l2 * fit.beta[j];
    if (fit.beta[j] == 0.0) {
      ++zeros;
      EXPECT_LE(std::abs(g), l1 + 1e-6);
    } else {
      EXPECT_NEAR(g, l1 * (fit.beta[j] > 0 ? 1 : -1), 1e-5) << j;
    }
  }
  EXPECT_GE(zeros, 1);  // x4 has no effect in the simulation and is dropped
}

TEST(CoxFit, ConstantCovariateIsReportedByName) {
  ModelRows r = SurvivalRows("A");
  Eigen::MatrixXd x(r.x.rows(), 2);
  x.col(0) = r.x.col(0);
  x.col(1).setConstant(3.0);
  CoxStratum s = *CoxStratum::Create(r.time, r.status, x);
  Evaluator eval = [&](const Eigen::VectorXd& b) -> absl::StatusOr<Derivatives> {
    return CoxDerivatives(s, b, Ties::kBreslow);
  };
  auto fit = FitNewton(eval, {"age", "scanner_const"}, Eigen::VectorXd::Zero(2), CoxphControl());
  EXPECT_EQ(fit.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(fit.status().message(), HasSubstr("scanner_const"));
}

TEST(CoxFit, CollinearCovariateIsReportedByName) {
  ModelRows r = SurvivalRows("B");
  Eigen::MatrixXd x(r.x.rows(), 3);
  x.col(0) = r.x.col(0);
  x.col(1) = r.x.col(1);
  x.col(2) = 2.0 * r.x.col(0) - r.x.col(1);
  CoxStratum s = *CoxStratum::Create(r.time, r.status, x);
  Evaluator eval = [&](const Eigen::VectorXd& b) -> absl::StatusOr<Derivatives> {
    return CoxDerivatives(s, b, Ties::kEfron);
  };
  auto fit = FitNewton(eval, {"a", "b", "a_minus_b"}, Eigen::VectorXd::Zero(3), CoxphControl());
  EXPECT_EQ(fit.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(fit.status().message(), HasSubstr("a_minus_b"));
}

TEST(CoxFit, MonotoneLikelihoodIsReportedNotReturned) {
  // Every event happens in the x = 1 group before anyone with x = 0 fails:
  // the partial likelihood increases monotonically in beta.
  std::vector<double> time;
  std::vector<int> status;
  Eigen::MatrixXd x(40, 2);
  for (int i = 0; i < 40; ++i) {
    const bool exposed = i % 2 == 0;
    time.push_back(exposed ? 10 + i : 200 + i);
    status.push_back(exposed ? 1 : 0);
    x(i, 0) = exposed ? 1.0 : 0.0;
    x(i, 1) = std::sin(i * 1.7);
  }
  CoxStratum s = *CoxStratum::Create(time, status, x);
  Evaluator eval = [&](const Eigen::VectorXd& b) -> absl::StatusOr<Derivatives> {
    return CoxDerivatives(s, b, Ties::kBreslow);
  };
  auto fit = FitNewton(eval, {"exposed", "noise"}, Eigen::VectorXd::Zero(2), CoxphControl());
  EXPECT_EQ(fit.status().code(), absl::StatusCode::kFailedPrecondition) << fit.status();
  EXPECT_THAT(fit.status().message(), HasSubstr("exposed"));
  EXPECT_THAT(fit.status().message(), ::testing::Not(HasSubstr("noise")));
}

TEST(CoxBaseline, GridSumsOverSitesEqualPooledBreslow) {
  // Reference: H0 from make_fixtures.R by the explicit Breslow formula with
  // the coxph fit on sites A and B (one risk set across the two sites).
  nlohmann::json ref = Reference()["baseline"];
  Eigen::VectorXd beta = ToVector(ref["beta"]);
  std::vector<double> grid = ref["times"].get<std::vector<double>>();
  std::vector<double> expected = ref["cumhaz"].get<std::vector<double>>();
  GridSums total{std::vector<double>(grid.size(), 0.0), std::vector<double>(grid.size(), 0.0)};
  for (const std::string site : {"A", "B"}) {
    ModelRows r = SurvivalRows(site);
    GridSums g = CoxGridSums(*CoxStratum::Create(r.time, r.status, r.x), beta, grid);
    for (size_t j = 0; j < grid.size(); ++j) {
      total.events[j] += g.events[j];
      total.risk_sum[j] += g.risk_sum[j];
    }
  }
  ASSERT_OK_AND_ASSIGN(auto h, BreslowFromGridSums(total));
  for (size_t j = 0; j < grid.size(); ++j)
    EXPECT_NEAR(h[j], expected[j], 1e-10 * (1 + expected[j]));
  EXPECT_EQ(CumulativeHazardAt(grid, h, grid[0] - 1), 0.0);
  EXPECT_EQ(CumulativeHazardAt(grid, h, grid[3] + 0.5), h[3]);
}

TEST(CoxStratum, RejectsBadStatus) {
  auto s = CoxStratum::Create({1, 2}, {1, 2}, Eigen::MatrixXd::Zero(2, 1));
  EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace fedrad::models
