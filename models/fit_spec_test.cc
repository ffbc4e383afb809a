// models::FitSpec, the fitting procedure shared by the coordinator and a site
// that fits alone, on the three-site fixture cohort. Reference numbers:
// models/testdata/reference.json (make_fixtures.R: survival 3.5.3 coxph with
// strata(site), glm), and models::FitNewton driven directly.
#include "models/fit_spec.h"

#include <map>
#include <string>
#include <vector>

#include "core/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "core/status.h"
#include "models/cox.h"
#include "models/logistic.h"
#include "models/testutil.h"

namespace fedrad::models {
namespace {

using testing::Reference;

std::vector<int> Indices(const std::vector<std::string>& all, const std::vector<std::string>& use) {
  std::vector<int> idx;
  for (const auto& c : use) {
    idx.push_back(static_cast<int>(std::find(all.begin(), all.end(), c) - all.begin()));
  }
  return idx;
}

// In-memory sites: each evaluation restricts, scales and sums like a round.
struct Sites {
  bool cox = true;
  std::map<std::string, ModelRows> rows;
  std::map<std::string, int> calls;  // evaluations each site answered

  FitSpecInput Input() {
    FitSpecInput in;
    in.candidates = testing::Covariates();
    in.pooled = CrossProducts::Zero(4);
    for (const auto& [site, r] : rows) {
      in.sites.push_back(site);
      in.pooled.Add(ComputeCrossProducts(r.x));
      for (int s : r.status) in.events += s;
      for (double y : r.y) in.events += y == 1.0;
    }
    in.evaluate = [this](const std::vector<std::string>& covs, const Scaling* scaling,
                         const std::vector<std::string>& sites,
                         const Eigen::VectorXd& beta) -> absl::StatusOr<Derivatives> {
      const std::vector<int> idx = Indices(testing::Covariates(), covs);
      Derivatives sum = Derivatives::Zero(static_cast<int>(beta.size()));
      for (const std::string& s : sites) {
        ++calls[s];
        const ModelRows& r = rows.at(s);
        Eigen::MatrixXd x(r.x.rows(), static_cast<Eigen::Index>(idx.size()));
        for (size_t j = 0; j < idx.size(); ++j) x.col(static_cast<Eigen::Index>(j)) = r.x.col(idx[j]);
        if (scaling != nullptr) x = ApplyScaling(x, *scaling);
        if (cox) {
          FEDRAD_ASSIGN_OR_RETURN(CoxStratum st, CoxStratum::Create(r.time, r.status, x));
          sum.Add(CoxDerivatives(st, beta, Ties::kBreslow));
        } else {
          FEDRAD_ASSIGN_OR_RETURN(LogisticData d, LogisticData::Create(r.y, testing::WithIntercept(x)));
          sum.Add(LogisticDerivatives(d, beta));
        }
      }
      return sum;
    };
    return in;
  }
};

Sites CoxSites() {
  Sites s;
  for (const auto& site : testing::SiteNames()) s.rows[site] = testing::SurvivalRows(site);
  return s;
}

TEST(FitSpec, PlainCoxEqualsCoxphAndFitNewton) {
  Sites sites = CoxSites();
  FitSpecOptions o;
  o.name = "cox";
  ASSERT_OK_AND_ASSIGN(SpecFit fit, FitSpec(o, sites.Input()));
  const nlohmann::json ref = Reference()["cox_breslow"];
  for (int j = 0; j < 4; ++j) {
    const std::string c = testing::Covariates()[static_cast<size_t>(j)];
    EXPECT_NEAR(fit.beta[j], ref["coefficients"][c].get<double>(), 1e-6) << c;
    EXPECT_NEAR(fit.std_errors[j], ref["std_errors"][j].get<double>(), 1e-6) << c;
  }
  EXPECT_EQ(fit.iterations, ref["iterations"].get<int>());
  EXPECT_NEAR(fit.loglik_null, ref["loglik_null"].get<double>(), 1e-9);
  EXPECT_EQ(fit.covariates, testing::Covariates());
  EXPECT_TRUE(fit.score_tests.empty());
  EXPECT_FALSE(fit.standardized);
}

TEST(FitSpec, StandardisingWithoutPenaltyIsAReparametrisation) {
  Sites sites = CoxSites();
  FitSpecOptions plain, std_opt;
  std_opt.standardize = true;
  absl::StatusOr<SpecFit> a = FitSpec(plain, sites.Input());
  absl::StatusOr<SpecFit> b = FitSpec(std_opt, sites.Input());
  ASSERT_OK(a);
  ASSERT_OK(b);
  EXPECT_TRUE(b->standardized);
  for (int j = 0; j < 4; ++j) {
    EXPECT_NEAR(a->beta[j], b->beta[j], 1e-7);
    EXPECT_NEAR(a->std_errors[j], b->std_errors[j], 1e-7);
  }
}

TEST(FitSpec, ScreeningKeepsTheStrongCovariates) {
  Sites sites = CoxSites();
  FitSpecOptions o;
  o.score_p_value = 0.05;  // x4 has chi2 8e-5 (reference.json score_tests)
  absl::StatusOr<SpecFit> fit = FitSpec(o, sites.Input());
  ASSERT_OK(fit);
  EXPECT_EQ(fit->covariates, (std::vector<std::string>{"x1", "x2", "x3"}));
  ASSERT_EQ(fit->score_tests.size(), 4u);
  const nlohmann::json ref = Reference()["score_tests"];
  for (int j = 0; j < 4; ++j) {
    const std::string c = testing::Covariates()[static_cast<size_t>(j)];
    EXPECT_NEAR(fit->score_tests[static_cast<size_t>(j)].chi2, ref[c].get<double>(), 1e-8) << c;
  }
}

TEST(FitSpec, LambdaGridNeedsTwoSites) {
  Sites sites = CoxSites();
  sites.rows.erase("B");
  sites.rows.erase("C");
  FitSpecOptions o;
  o.penalty = FitSpecOptions::PenaltyType::kL2;
  o.lambda_grid = {1, 10};
  absl::StatusOr<SpecFit> fit = FitSpec(o, sites.Input());
  EXPECT_EQ(fit.status().code(), absl::StatusCode::kInvalidArgument) << fit.status();
}

TEST(FitSpec, EvaluationsStayWithinTheBudget) {
  Sites sites = CoxSites();
  FitSpecOptions o;
  o.score_p_value = 0.5;
  o.penalty = FitSpecOptions::PenaltyType::kElasticNet;
  o.l1_ratio = 0.5;
  o.lambda_grid = {0.5, 5, 50};
  o.standardize = true;
  ASSERT_OK_AND_ASSIGN(SpecFit fit, FitSpec(o, sites.Input()));
  EXPECT_EQ(fit.cv_deviance.size(), 3u);
  const int64_t budget = MaxEvaluationsPerFit(o, 3);
  // 1 score round + 3 lambdas x (2 folds x 101 + 1) + 101.
  EXPECT_EQ(budget, 1 + 3 * (2 * 101 + 1) + 101);
  for (const auto& [site, n] : sites.calls) {
    EXPECT_LE(n, budget) << site;
    EXPECT_GT(n, 6) << site;  // the CV really ran through this site
  }
  FitSpecOptions plain;
  EXPECT_EQ(MaxEvaluationsPerFit(plain, 1), 21);  // coxph: iter.max 20, plus the start
}

TEST(FitSpec, LogisticOnOneSiteHoldingEveryRowEqualsGlm) {
  // glm has no site term, so one site holding the three fixture sites' rows
  // fits R's glm of the whole cohort.
  Sites one;
  one.cox = false;
  ModelRows all;
  std::vector<Eigen::MatrixXd> parts;
  Eigen::Index n = 0;
  for (const auto& site : testing::SiteNames()) {
    ModelRows r = testing::BinaryRows(site);
    all.y.insert(all.y.end(), r.y.begin(), r.y.end());
    parts.push_back(r.x);
    n += r.x.rows();
  }
  all.x.resize(n, 4);
  Eigen::Index at = 0;
  for (const auto& x : parts) {
    all.x.middleRows(at, x.rows()) = x;
    at += x.rows();
  }
  one.rows["ALL"] = all;
  FitSpecOptions o;
  o.cox = false;
  o.standardize = true;
  ASSERT_OK_AND_ASSIGN(SpecFit fit, FitSpec(o, one.Input()));
  const nlohmann::json ref = Reference()["logistic"];
  EXPECT_EQ(fit.names, (std::vector<std::string>{"intercept", "x1", "x2", "x3", "x4"}));
  const std::vector<std::string> r_names = {"(Intercept)", "x1", "x2", "x3", "x4"};
  for (int j = 0; j < 5; ++j) {
    EXPECT_NEAR(fit.beta[j], ref["coefficients"][r_names[static_cast<size_t>(j)]].get<double>(),
                1e-6);
    EXPECT_NEAR(fit.std_errors[j], ref["std_errors"][r_names[static_cast<size_t>(j)]].get<double>(),
                1e-6);
  }
  EXPECT_NEAR(fit.loglik, ref["loglik"].get<double>(), 1e-6);
  EXPECT_EQ(fit.n, ref["n"].get<int64_t>());
}

}  // namespace
}  // namespace fedrad::models
