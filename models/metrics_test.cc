// Validation metric tests. Reference numbers: models/testdata/reference.json
// from make_fixtures.R: Harrell's C and the stratified C from R survival
// 3.5.3 concordance(..., reverse = TRUE); calibration slope from coxph(ties =
// "breslow"); binary calibration from glm(); Uno's C, IPCW AUC(t), IPCW Brier,
// integrated Brier, O/E, AUC and the Youden point by the explicit formulas
// written out in that script (R has no base function for them). The model is
// a coxph fit on sites A and B, validated on B and C.
#include "models/metrics.h"

#include <cmath>

#include "core/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "models/testutil.h"

namespace fedrad::models {
namespace {

using ::fedrad::models::testing::Reference;
using ::fedrad::models::testing::SurvivalRows;

SurvivalValidationInput InputFor(const std::string& site, const nlohmann::json& ref) {
  ModelRows rows = SurvivalRows(site);
  SurvivalValidationInput in;
  in.time = rows.time;
  in.status = rows.status;
  in.lp = ref["validation_survival"][site]["lp"].get<std::vector<double>>();
  in.grid = ref["baseline"]["times"].get<std::vector<double>>();
  in.cumhaz = ref["baseline"]["cumhaz"].get<std::vector<double>>();
  in.t = ref["validation_survival"]["t"].get<double>();
  in.tau = ref["validation_survival"]["tau"].get<double>();
  return in;
}

TEST(SurvivalMetrics, MatchRReferencesOnTwoValidationSites) {
  nlohmann::json ref = Reference();
  for (const std::string site : {"B", "C"}) {
    SurvivalValidationInput in = InputFor(site, ref);
    // The linear predictor in the fixture is x beta of the development fit.
    ModelRows rows = SurvivalRows(site);
    Eigen::VectorXd beta = testing::ToVector(ref["baseline"]["beta"]);
    Eigen::VectorXd lp = rows.x * beta;
    for (size_t i = 0; i < in.lp.size(); ++i) EXPECT_NEAR(lp[static_cast<Eigen::Index>(i)], in.lp[i], 1e-10);

    ASSERT_OK_AND_ASSIGN(auto m, ComputeSurvivalMetrics(in));
    const nlohmann::json& r = ref["validation_survival"][site];
    for (const std::string key : {"harrell_c", "uno_c", "auc_t", "brier_t", "integrated_brier",
                                  "oe_ratio_t", "calibration_slope", "concordant", "discordant",
                                  "tied_risk"}) {
      EXPECT_NEAR(m.at(key), r[key].get<double>(), 1e-9 * (1 + std::abs(r[key].get<double>())))
          << site << " " << key;
    }
  }
}

TEST(SurvivalMetrics, StratifiedHarrellFromSummedCountsMatchesConcordanceStrata) {
  nlohmann::json ref = Reference();
  ConcordanceCounts total;
  for (const std::string site : {"B", "C"}) {
    SurvivalValidationInput in = InputFor(site, ref);
    total.Add(HarrellCounts(in.time, in.status, in.lp));
  }
  EXPECT_NEAR(total.c(), ref["validation_survival"]["stratified_c"].get<double>(), 1e-12);
}

TEST(SurvivalMetrics, HarrellTieRules) {
  // Two events at time 5: not comparable. Event at 5 and censored at 5:
  // comparable. Equal risk: counts 1/2.
  std::vector<double> time = {5, 5, 5, 9};
  std::vector<int> status = {1, 1, 0, 0};
  std::vector<double> lp = {2, 1, 1, 1};
  ConcordanceCounts c = HarrellCounts(time, status, lp);
  // Comparable pairs: (0,2) (0,3) (1,2) (1,3).
  EXPECT_EQ(c.comparable(), 4);
  EXPECT_EQ(c.concordant, 2);
  EXPECT_EQ(c.tied_risk, 2);
  EXPECT_DOUBLE_EQ(c.c(), 0.75);
}

TEST(CensoringSurvival, LeftLimitExcludesTheTimeItself) {
  std::vector<double> time = {1, 2, 2, 3, 4};
  std::vector<int> status = {1, 0, 1, 0, 1};
  CensoringSurvival g(time, status);
  EXPECT_DOUBLE_EQ(g.At(1.5), 1.0);
  EXPECT_DOUBLE_EQ(g.At(2), 1.0 - 1.0 / 4.0);  // 4 at risk at 2, one censored
  EXPECT_DOUBLE_EQ(g.LeftLimit(2), 1.0);
  EXPECT_DOUBLE_EQ(g.LeftLimit(3), 0.75);
  EXPECT_DOUBLE_EQ(g.At(3), 0.75 * 0.5);
}

TEST(BinaryMetrics, MatchRReferences) {
  nlohmann::json r = Reference()["validation_binary"];
  ASSERT_OK_AND_ASSIGN(auto m, ComputeBinaryMetrics(r["y"].get<std::vector<double>>(),
                                                    r["p"].get<std::vector<double>>(), 0.5));
  for (const std::string key : {"auc", "sensitivity", "specificity", "youden_threshold",
                                "sensitivity_youden", "specificity_youden", "brier",
                                "calibration_intercept", "calibration_slope"}) {
    EXPECT_NEAR(m.at(key), r[key].get<double>(), 1e-7) << key;
  }
}

TEST(BinaryMetrics, RejectsSingleClass) {
  auto m = ComputeBinaryMetrics({1, 1, 1}, {0.2, 0.5, 0.7}, 0.5);
  EXPECT_EQ(m.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(Bootstrap, IsReproducibleAndBracketsThePointEstimate) {
  nlohmann::json ref = Reference();
  SurvivalValidationInput in = InputFor("C", ref);
  MetricFunction f = [&](const std::vector<int>& rows) -> absl::StatusOr<std::map<std::string, double>> {
    std::vector<double> t, lp;
    std::vector<int> s;
    for (int i : rows) {
      t.push_back(in.time[static_cast<size_t>(i)]);
      s.push_back(in.status[static_cast<size_t>(i)]);
      lp.push_back(in.lp[static_cast<size_t>(i)]);
    }
    return std::map<std::string, double>{{"harrell_c", HarrellCounts(t, s, lp).c()}};
  };
  BootstrapOptions opt;
  opt.replicates = 100;
  opt.seed = 42;
  auto a = Bootstrap(f, static_cast<int>(in.time.size()), opt);
  auto b = Bootstrap(f, static_cast<int>(in.time.size()), opt);
  ASSERT_OK(a);
  ASSERT_OK(b);
  const MetricEstimate& e = a->at("harrell_c");
  EXPECT_DOUBLE_EQ(e.value, ref["validation_survival"]["C"]["harrell_c"].get<double>());
  EXPECT_EQ(e.ci_low, b->at("harrell_c").ci_low);
  EXPECT_LT(e.ci_low, e.value);
  EXPECT_GT(e.ci_high, e.value);
  EXPECT_EQ(e.replicates_used, 100);
  EXPECT_GT(e.se_logit, 0);
}

TEST(Quantile, IsRType7) {
  // R: quantile(c(1, 2, 3, 4, 10), c(0.025, 0.5, 0.975)) = 1.1, 3, 9.4
  EXPECT_NEAR(Quantile({4, 2, 10, 1, 3}, 0.025), 1.1, 1e-12);
  EXPECT_NEAR(Quantile({4, 2, 10, 1, 3}, 0.5), 3.0, 1e-12);
  EXPECT_NEAR(Quantile({4, 2, 10, 1, 3}, 0.975), 9.4, 1e-12);
}

}  // namespace
}  // namespace fedrad::models
