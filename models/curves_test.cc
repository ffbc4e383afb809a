// Curve aggregate tests. Reference numbers: models/testdata/curves_reference.json,
// written by models/testdata/make_curve_fixtures.R with R 4.2 / survival 3.5:
// survfit(conf.type = "log") for 1 - KM(t) and its Greenwood interval per
// bin, prop.test(correct = FALSE) for the Wilson interval,
// summary(survfit, times = grid) for the risk-group curves and numbers at
// risk, and the explicit ROC formula. The k-rule tests use small explicit
// inputs whose expected output is written out in the test.
#include "models/curves.h"

#include <cmath>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "models/testutil.h"

namespace fedrad::models {
namespace {

using ::fedrad::models::testing::BinaryRows;
using ::fedrad::models::testing::SurvivalRows;
using ::fedrad::models::testing::TestdataPath;

nlohmann::json CurveReference() {
  auto text = ReadFileToString(TestdataPath("curves_reference.json"));
  EXPECT_TRUE(text.ok()) << text.status();
  return nlohmann::json::parse(*text);
}

std::vector<double> Lp(const ModelRows& rows) {
  std::vector<double> lp;
  for (Eigen::Index i = 0; i < rows.x.rows(); ++i) {
    lp.push_back(0.5 * rows.x(i, 0) - 0.3 * rows.x(i, 1) + 0.7 * rows.x(i, 2));
  }
  return lp;
}

// R writes NA as the string "NA"; C++ gives NaN.
void ExpectNumbersNear(const std::vector<double>& got, const nlohmann::json& want, double tol,
                       const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < got.size(); ++i) {
    if (want[i].is_string()) {
      EXPECT_TRUE(std::isnan(got[i])) << what << "[" << i << "] = " << got[i] << ", R: NA";
    } else {
      EXPECT_NEAR(got[i], want[i].get<double>(), tol) << what << "[" << i << "]";
    }
  }
}

TEST(CalibrationBins, CountIsMinOfTenAndNOverK) {
  EXPECT_EQ(CalibrationBinCount(9, 10, 10), 0);
  EXPECT_EQ(CalibrationBinCount(10, 10, 10), 1);
  EXPECT_EQ(CalibrationBinCount(39, 10, 10), 3);
  EXPECT_EQ(CalibrationBinCount(500, 10, 10), 10);
  EXPECT_EQ(CalibrationBinCount(70, 8, 10), 8);
  EXPECT_EQ(CalibrationBinCount(100, 0, 10), 0);
}

TEST(CalibrationBins, EqualCountBinsNeverHoldFewerThanKPatients) {
  for (int n = 10; n <= 260; n += 7) {
    std::vector<double> risk;
    for (int i = 0; i < n; ++i) risk.push_back(std::fmod(i * 0.37, 1.0));
    const int bins = CalibrationBinCount(n, 10, 10);
    std::vector<std::vector<int>> b = EqualCountBins(risk, bins);
    ASSERT_EQ(static_cast<int>(b.size()), bins);
    size_t total = 0;
    double last_max = -1;
    for (const auto& bin : b) {
      EXPECT_GE(bin.size(), 10u) << "n = " << n;
      total += bin.size();
      double lo = 2, hi = -1;
      for (int i : bin) {
        lo = std::min(lo, risk[static_cast<size_t>(i)]);
        hi = std::max(hi, risk[static_cast<size_t>(i)]);
      }
      EXPECT_GE(lo, last_max);  // consecutive in risk order
      last_max = hi;
    }
    EXPECT_EQ(total, static_cast<size_t>(n));
  }
}

TEST(SurvivalCalibration, MatchesRSurvfitPerBin) {
  const nlohmann::json ref = CurveReference();
  const nlohmann::json& want = ref["survival_calibration"];
  ModelRows rows = SurvivalRows("C");
  std::vector<double> risk;
  for (double lp : Lp(rows)) risk.push_back(1 - std::exp(-730.0 / 600 * std::exp(lp)));
  auto cal = SurvivalCalibration(rows.time, rows.status, risk, ref["t"].get<double>(),
                                 ref["k"].get<int>(), 10);
  ASSERT_TRUE(cal.ok()) << cal.status();
  EXPECT_FALSE(cal->suppressed);
  EXPECT_EQ(cal->n, want["n"].get<std::vector<int64_t>>());
  ExpectNumbersNear(cal->predicted, want["predicted"], 1e-12, "predicted");
  ExpectNumbersNear(cal->observed, want["observed"], 1e-12, "observed");
  ExpectNumbersNear(cal->ci_low, want["ci_low"], 1e-9, "ci_low");
  ExpectNumbersNear(cal->ci_high, want["ci_high"], 1e-9, "ci_high");
}

TEST(BinaryCalibration, MatchesRPropTestWilsonPerBin) {
  const nlohmann::json ref = CurveReference();
  const nlohmann::json& want = ref["binary_calibration"];
  ModelRows rows = BinaryRows("C");
  std::vector<double> p;
  for (double lp : Lp(rows)) p.push_back(1 / (1 + std::exp(-(lp - 0.4))));
  auto cal = BinaryCalibration(rows.y, p, ref["k"].get<int>(), 10);
  ASSERT_TRUE(cal.ok()) << cal.status();
  EXPECT_EQ(cal->n, want["n"].get<std::vector<int64_t>>());
  ExpectNumbersNear(cal->predicted, want["predicted"], 1e-12, "predicted");
  ExpectNumbersNear(cal->observed, want["observed"], 1e-12, "observed");
  ExpectNumbersNear(cal->ci_low, want["ci_low"], 1e-9, "ci_low");
  ExpectNumbersNear(cal->ci_high, want["ci_high"], 1e-9, "ci_high");
}

TEST(Calibration, FewerThanKPatientsIsSuppressedWithNoBin) {
  std::vector<double> time = {1, 2, 3, 4, 5, 6, 7, 8, 9};
  std::vector<int> status = {1, 0, 1, 0, 1, 0, 1, 0, 1};
  std::vector<double> risk = {.1, .2, .3, .4, .5, .6, .7, .8, .9};
  auto cal = SurvivalCalibration(time, status, risk, 5, 10, 10);
  ASSERT_TRUE(cal.ok());
  EXPECT_TRUE(cal->suppressed);
  EXPECT_TRUE(cal->n.empty());
  EXPECT_TRUE(cal->observed.empty());
  std::vector<double> y = {1, 0, 1, 0, 1, 0, 1, 0, 1};
  auto bin = BinaryCalibration(y, risk, 10, 10);
  ASSERT_TRUE(bin.ok());
  EXPECT_TRUE(bin->suppressed);
  EXPECT_TRUE(bin->predicted.empty());
}

TEST(Calibration, RefusesMismatchedSizesAndNonBinaryOutcomes) {
  EXPECT_FALSE(SurvivalCalibration({1, 2}, {1}, {.1, .2}, 1, 1, 10).ok());
  EXPECT_FALSE(BinaryCalibration({0, 2}, {.1, .2}, 1, 10).ok());
}

TEST(WilsonInterval, EqualsTheClosedForm) {
  // x = 3, n = 10, z = 1.96: centre (0.3 + 0.19208)/1.38416, half-width
  // 1.96/1.38416 * sqrt(0.021 + 0.0096040).
  double lo = 0, hi = 0;
  WilsonInterval(3, 10, 1.96, &lo, &hi);
  const double centre = (0.3 + 1.96 * 1.96 / 20) / (1 + 1.96 * 1.96 / 10);
  const double half = 1.96 / (1 + 1.96 * 1.96 / 10) * std::sqrt(0.3 * 0.7 / 10 + 1.96 * 1.96 / 400);
  EXPECT_NEAR(lo, centre - half, 1e-15);
  EXPECT_NEAR(hi, centre + half, 1e-15);
}

TEST(RiskGroupCurves, MatchRSurvfitOnTheGridAndStopBelowK) {
  const nlohmann::json ref = CurveReference();
  ModelRows rows = SurvivalRows("C");
  auto groups = RiskGroupCurves(rows.time, rows.status, Lp(rows),
                                ref["cuts"].get<std::vector<double>>(),
                                ref["grid"].get<std::vector<double>>(), ref["k"].get<int>());
  ASSERT_TRUE(groups.ok()) << groups.status();
  ASSERT_EQ(groups->size(), 3u);
  const int k = ref["k"].get<int>();
  for (size_t g = 0; g < 3; ++g) {
    SCOPED_TRACE(g);
    const nlohmann::json& want = ref["km_groups"][g];
    const RiskGroupCurve& c = (*groups)[g];
    EXPECT_EQ(c.n, want["n"].get<int64_t>());
    EXPECT_FALSE(c.suppressed);
    const int64_t events = want["events"].get<int64_t>();
    // The event count is released only with >= k events and >= k non-events.
    EXPECT_EQ(c.events, events >= k && c.n - events >= k ? events : -1);
    ExpectNumbersNear(c.time, want["time"], 0, "time");
    ExpectNumbersNear(c.survival, want["survival"], 1e-12, "survival");
    ExpectNumbersNear(c.n_at_risk, want["n_at_risk"], 0, "n_at_risk");
    for (double r : c.n_at_risk) EXPECT_GE(r, k);
  }
  EXPECT_EQ((*groups)[0].label, "low risk");
  EXPECT_EQ((*groups)[2].label, "high risk");
}

TEST(RiskGroupCurves, GroupBelowKIsSuppressedWithoutCurve) {
  // 12 patients: lp 0..11; cuts 1.5 and 9.5 -> low 2, intermediate 8, high 2.
  std::vector<double> time, lp;
  std::vector<int> status;
  for (int i = 0; i < 12; ++i) {
    time.push_back(10.0 * (i + 1));
    status.push_back(i % 2);
    lp.push_back(i);
  }
  auto groups = RiskGroupCurves(time, status, lp, {1.5, 9.5}, {5, 15, 25}, 3);
  ASSERT_TRUE(groups.ok());
  EXPECT_TRUE((*groups)[0].suppressed);
  EXPECT_EQ((*groups)[0].n, 2);
  EXPECT_TRUE((*groups)[0].time.empty());
  EXPECT_TRUE((*groups)[0].survival.empty());
  EXPECT_TRUE((*groups)[2].suppressed);
  const RiskGroupCurve& mid = (*groups)[1];
  EXPECT_FALSE(mid.suppressed);
  EXPECT_EQ(mid.n, 8);
  // Intermediate times 30..100, statuses 0,1,0,1,...: events 4, non-events 4 >= k = 3.
  EXPECT_EQ(mid.events, 4);
  // At risk at 5, 15, 25: all 8 (every time >= 30).
  EXPECT_THAT(mid.n_at_risk, ::testing::ElementsAre(8, 8, 8));
  EXPECT_THAT(mid.survival, ::testing::ElementsAre(1, 1, 1));
  EXPECT_FALSE(RiskGroupCurves(time, status, lp, {2.0, 1.0}, {5}, 3).ok());
}

TEST(RocAtThresholds, MatchesTheExplicitFormula) {
  const nlohmann::json ref = CurveReference();
  ModelRows rows = BinaryRows("C");
  std::vector<double> p;
  for (double lp : Lp(rows)) p.push_back(1 / (1 + std::exp(-(lp - 0.4))));
  auto roc = RocAtThresholds(rows.y, p, GridEvery(0.02, 1.0, 0.0), ref["k"].get<int>());
  ASSERT_TRUE(roc.ok()) << roc.status();
  EXPECT_EQ(roc->n_pos, ref["roc"]["n_pos"].get<int64_t>());
  EXPECT_EQ(roc->n_neg, ref["roc"]["n_neg"].get<int64_t>());
  // Ours starts with the corner (0, 0); R's first threshold (1.0) gives it too.
  std::vector<double> fpr(roc->fpr.begin() + 1, roc->fpr.end());
  std::vector<double> tpr(roc->tpr.begin() + 1, roc->tpr.end());
  ExpectNumbersNear(fpr, ref["roc"]["fpr"], 1e-15, "fpr");
  ExpectNumbersNear(tpr, ref["roc"]["tpr"], 1e-15, "tpr");
  EXPECT_EQ(roc->fpr.front(), 0);
  EXPECT_EQ(roc->tpr.back(), 1);
  for (size_t i = 1; i < roc->fpr.size(); ++i) EXPECT_GE(roc->fpr[i], roc->fpr[i - 1]);
}

TEST(TimeDependentRoc, MatchesTheIpcwFormulaInR) {
  const nlohmann::json ref = CurveReference();
  const nlohmann::json& want = ref["td_roc"];
  ModelRows rows = SurvivalRows("C");
  std::vector<double> risk;
  for (double lp : Lp(rows)) risk.push_back(1 - std::exp(-730.0 / 600 * std::exp(lp)));
  auto roc = TimeDependentRoc(rows.time, rows.status, risk, 730, GridEvery(0.02, 1.0, 0.0),
                              ref["k"].get<int>());
  ASSERT_TRUE(roc.ok()) << roc.status();
  EXPECT_FALSE(roc->suppressed);
  EXPECT_EQ(roc->n_pos, want["n_pos"].get<int64_t>());
  EXPECT_EQ(roc->n_neg, want["n_neg"].get<int64_t>());
  std::vector<double> fpr(roc->fpr.begin() + 1, roc->fpr.end());
  std::vector<double> tpr(roc->tpr.begin() + 1, roc->tpr.end());
  ExpectNumbersNear(fpr, want["fpr"], 1e-12, "fpr");
  ExpectNumbersNear(tpr, want["tpr"], 1e-12, "tpr");
  // Fewer than k cases or controls: counts only.
  auto small = TimeDependentRoc(rows.time, rows.status, risk, 730, {0, 0.5, 1},
                                static_cast<int>(want["n_neg"].get<int64_t>()) + 1);
  ASSERT_TRUE(small.ok());
  EXPECT_TRUE(small->suppressed);
  EXPECT_TRUE(small->fpr.empty());
  EXPECT_EQ(small->n_pos, want["n_pos"].get<int64_t>());
}

TEST(RocAtThresholds, FewerThanKEventsOrNonEventsIsSuppressed) {
  std::vector<double> y(30, 0.0), p(30, 0.3);
  for (int i = 0; i < 9; ++i) y[static_cast<size_t>(i)] = 1;  // 9 events < k = 10
  auto roc = RocAtThresholds(y, p, {0, 0.5, 1}, 10);
  ASSERT_TRUE(roc.ok());
  EXPECT_TRUE(roc->suppressed);
  EXPECT_TRUE(roc->fpr.empty());
  EXPECT_EQ(roc->n_pos, 9);
  EXPECT_EQ(roc->n_neg, 21);
  y[9] = 1;  // 10 events
  roc = RocAtThresholds(y, p, {0, 0.5, 1}, 10);
  ASSERT_TRUE(roc.ok());
  EXPECT_FALSE(roc->suppressed);
  // p = 0.3 for all: threshold 1 and 0.5 -> (0, 0); threshold 0 -> (1, 1).
  EXPECT_THAT(roc->fpr, ::testing::ElementsAre(0, 0, 0, 1));
  EXPECT_THAT(roc->tpr, ::testing::ElementsAre(0, 0, 0, 1));
}

TEST(GridEvery, IncludesBothEnds) {
  EXPECT_THAT(GridEvery(90, 360, 90), ::testing::ElementsAre(90, 180, 270, 360));
  EXPECT_EQ(GridEvery(0.02, 1.0, 0.0).size(), 51u);
  EXPECT_TRUE(GridEvery(0, 1, 0).empty());
}

}  // namespace
}  // namespace fedrad::models
