// Curve aggregate tests. Reference numbers: models/testdata/curves_reference.json,
// written by models/testdata/make_curve_fixtures.R with R 4.2 / survival 3.5:
// survfit(conf.type = "log") for 1 - KM(t) and its Greenwood interval per
// bin, prop.test(correct = FALSE) for the Wilson interval,
// summary(survfit, times = grid) for the risk-group curves and numbers at
// risk, and the explicit ROC formula. The k-rule tests use small explicit
// inputs whose expected output is written out in the test.
#include "models/curves.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "models/testutil.h"

namespace fedrad::models {
namespace {

using ::fedrad::testing::StatusIs;

using ::fedrad::models::testing::BinaryRows;
using ::fedrad::models::testing::SurvivalRows;
using ::fedrad::models::testing::TestdataPath;

nlohmann::json CurveReference() {
  auto text = ReadFileToString(TestdataPath("curves_reference.json"));
  EXPECT_OK(text);
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
  ASSERT_OK_AND_ASSIGN(auto cal,
                       SurvivalCalibration(rows.time, rows.status, risk, ref["t"].get<double>(),
                                           ref["k"].get<int>(), 10));
  EXPECT_FALSE(cal.suppressed);
  EXPECT_EQ(cal.n, want["n"].get<std::vector<int64_t>>());
  ExpectNumbersNear(cal.predicted, want["predicted"], 1e-12, "predicted");
  ExpectNumbersNear(cal.observed, want["observed"], 1e-12, "observed");
  ExpectNumbersNear(cal.ci_low, want["ci_low"], 1e-9, "ci_low");
  ExpectNumbersNear(cal.ci_high, want["ci_high"], 1e-9, "ci_high");
}

TEST(BinaryCalibration, MatchesRPropTestWilsonPerBin) {
  const nlohmann::json ref = CurveReference();
  const nlohmann::json& want = ref["binary_calibration"];
  ModelRows rows = BinaryRows("C");
  std::vector<double> p;
  for (double lp : Lp(rows)) p.push_back(1 / (1 + std::exp(-(lp - 0.4))));
  ASSERT_OK_AND_ASSIGN(auto cal, BinaryCalibration(rows.y, p, ref["k"].get<int>(), 10));
  EXPECT_EQ(cal.n, want["n"].get<std::vector<int64_t>>());
  ExpectNumbersNear(cal.predicted, want["predicted"], 1e-12, "predicted");
  ExpectNumbersNear(cal.observed, want["observed"], 1e-12, "observed");
  ExpectNumbersNear(cal.ci_low, want["ci_low"], 1e-9, "ci_low");
  ExpectNumbersNear(cal.ci_high, want["ci_high"], 1e-9, "ci_high");
}

TEST(Calibration, FewerThanKPatientsIsSuppressedWithNoBin) {
  std::vector<double> time = {1, 2, 3, 4, 5, 6, 7, 8, 9};
  std::vector<int> status = {1, 0, 1, 0, 1, 0, 1, 0, 1};
  std::vector<double> risk = {.1, .2, .3, .4, .5, .6, .7, .8, .9};
  ASSERT_OK_AND_ASSIGN(auto cal, SurvivalCalibration(time, status, risk, 5, 10, 10));
  EXPECT_TRUE(cal.suppressed);
  EXPECT_TRUE(cal.n.empty());
  EXPECT_TRUE(cal.observed.empty());
  std::vector<double> y = {1, 0, 1, 0, 1, 0, 1, 0, 1};
  ASSERT_OK_AND_ASSIGN(auto bin, BinaryCalibration(y, risk, 10, 10));
  EXPECT_TRUE(bin.suppressed);
  EXPECT_TRUE(bin.predicted.empty());
}

TEST(Calibration, RefusesMismatchedSizesAndNonBinaryOutcomes) {
  EXPECT_THAT(SurvivalCalibration({1, 2}, {1}, {.1, .2}, 1, 1, 10),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(BinaryCalibration({0, 2}, {.1, .2}, 1, 10),
              StatusIs(absl::StatusCode::kInvalidArgument));
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

// The released points are a subset of the R grid (the ones ReleasedTimePoints
// keeps for the group); at each, S and the number at risk equal R's.
TEST(RiskGroupCurves, MatchRSurvfitAtTheReleasedGridPoints) {
  const nlohmann::json ref = CurveReference();
  ModelRows rows = SurvivalRows("C");
  const std::vector<double> grid = ref["grid"].get<std::vector<double>>();
  const int k = ref["k"].get<int>();
  ASSERT_OK_AND_ASSIGN(auto groups,
                       RiskGroupCurves(rows.time, rows.status, Lp(rows),
                                       ref["cuts"].get<std::vector<double>>(), grid, k));
  ASSERT_EQ(groups.size(), 3u);
  const std::vector<double> lp = Lp(rows);
  const std::vector<double> cuts = ref["cuts"].get<std::vector<double>>();
  size_t compared = 0;
  for (size_t g = 0; g < 3; ++g) {
    SCOPED_TRACE(g);
    const nlohmann::json& want = ref["km_groups"][g];
    const RiskGroupCurve& c = groups[g];
    EXPECT_EQ(c.n, want["n"].get<int64_t>());
    EXPECT_FALSE(c.suppressed);
    EXPECT_EQ(static_cast<int64_t>(c.rows.size()), c.n);
    const int64_t events = want["events"].get<int64_t>();
    // The event count is released only with >= k events and >= k non-events.
    EXPECT_EQ(c.events, events >= k && c.n - events >= k ? events : -1);
    std::vector<double> gt;
    for (int i : c.rows) gt.push_back(rows.time[static_cast<size_t>(i)]);
    EXPECT_EQ(c.time, ReleasedTimePoints(gt, grid, k));
    const std::vector<double> r_time = want["time"].get<std::vector<double>>();
    for (size_t j = 0; j < c.time.size(); ++j) {
      auto it = std::find(r_time.begin(), r_time.end(), c.time[j]);
      ASSERT_NE(it, r_time.end()) << c.time[j];
      const size_t r = static_cast<size_t>(it - r_time.begin());
      EXPECT_NEAR(c.survival[j], want["survival"][r].get<double>(), 1e-12);
      EXPECT_EQ(c.n_at_risk[j], want["n_at_risk"][r].get<double>());
      EXPECT_GE(c.n_at_risk[j], k);
      ++compared;
    }
  }
  EXPECT_GT(compared, 0u);
  EXPECT_EQ(groups[0].label, "low risk");
  EXPECT_EQ(groups[2].label, "high risk");
}

TEST(RiskGroupCurves, AGroupOfOneToKMinusOneSuppressesEveryGroup) {
  // 12 patients: lp 0..11; cuts 1.5 and 9.5 -> low 2, intermediate 8, high 2.
  std::vector<double> time, lp;
  std::vector<int> status;
  for (int i = 0; i < 12; ++i) {
    time.push_back(10.0 * (i + 1));
    status.push_back(i % 2);
    lp.push_back(i);
  }
  auto groups = RiskGroupCurves(time, status, lp, {1.5, 9.5}, {5, 15, 25}, 3);
  ASSERT_OK(groups);
  // With n known, releasing the intermediate group's size would give away
  // low + high = 4: every group is suppressed, with no rows and no curve.
  for (const RiskGroupCurve& c : *groups) {
    EXPECT_TRUE(c.suppressed) << c.label;
    EXPECT_TRUE(c.time.empty());
    EXPECT_TRUE(c.survival.empty());
    EXPECT_TRUE(c.rows.empty());
  }
  // Cuts 2.5 and 8.5 -> 3, 6, 3: all released.
  groups = RiskGroupCurves(time, status, lp, {2.5, 8.5}, {5, 15, 25}, 3);
  ASSERT_OK(groups);
  const RiskGroupCurve& mid = (*groups)[1];
  EXPECT_FALSE(mid.suppressed);
  EXPECT_EQ(mid.n, 6);
  // Intermediate: lp 3..8, times 40..90, statuses 1,0,1,0,1,0: 3 events, 3 non-events >= k.
  EXPECT_EQ(mid.events, 3);
  // Nobody leaves before 40: 5, 15, 25 are released with all 6 at risk.
  EXPECT_THAT(mid.n_at_risk, ::testing::ElementsAre(6, 6, 6));
  EXPECT_THAT(mid.survival, ::testing::ElementsAre(1, 1, 1));
  // An empty group (cut below every lp) is suppressed alone.
  groups = RiskGroupCurves(time, status, lp, {-1, 5.5}, {5}, 3);
  ASSERT_OK(groups);
  EXPECT_TRUE((*groups)[0].suppressed);
  EXPECT_FALSE((*groups)[1].suppressed);
  EXPECT_FALSE((*groups)[2].suppressed);
  EXPECT_THAT(RiskGroupCurves(time, status, lp, {2.0, 1.0}, {5}, 3),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(RiskGroupCurves(time, status, lp, {std::nan(""), 1.0}, {5}, 3),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(RocAtThresholds, MatchesTheExplicitFormula) {
  const nlohmann::json ref = CurveReference();
  ModelRows rows = BinaryRows("C");
  std::vector<double> p;
  for (double lp : Lp(rows)) p.push_back(1 / (1 + std::exp(-(lp - 0.4))));
  ASSERT_OK_AND_ASSIGN(auto roc,
                       RocAtThresholds(rows.y, p, GridEvery(0.02, 1.0, 0.0), ref["k"].get<int>()));
  EXPECT_EQ(roc.n_pos, ref["roc"]["n_pos"].get<int64_t>());
  EXPECT_EQ(roc.n_neg, ref["roc"]["n_neg"].get<int64_t>());
  // Ours starts with the corner (0, 0); R's first threshold (1.0) gives it too.
  std::vector<double> fpr(roc.fpr.begin() + 1, roc.fpr.end());
  std::vector<double> tpr(roc.tpr.begin() + 1, roc.tpr.end());
  ExpectNumbersNear(fpr, ref["roc"]["fpr"], 1e-15, "fpr");
  ExpectNumbersNear(tpr, ref["roc"]["tpr"], 1e-15, "tpr");
  EXPECT_EQ(roc.fpr.front(), 0);
  EXPECT_EQ(roc.tpr.back(), 1);
  for (size_t i = 1; i < roc.fpr.size(); ++i) EXPECT_GE(roc.fpr[i], roc.fpr[i - 1]);
}

TEST(TimeDependentRoc, MatchesTheIpcwFormulaInR) {
  const nlohmann::json ref = CurveReference();
  const nlohmann::json& want = ref["td_roc"];
  ModelRows rows = SurvivalRows("C");
  std::vector<double> risk;
  for (double lp : Lp(rows)) risk.push_back(1 - std::exp(-730.0 / 600 * std::exp(lp)));
  ASSERT_OK_AND_ASSIGN(auto roc, TimeDependentRoc(rows.time, rows.status, risk, 730,
                                                  GridEvery(0.02, 1.0, 0.0), ref["k"].get<int>()));
  EXPECT_FALSE(roc.suppressed);
  EXPECT_EQ(roc.n_pos, want["n_pos"].get<int64_t>());
  EXPECT_EQ(roc.n_neg, want["n_neg"].get<int64_t>());
  std::vector<double> fpr(roc.fpr.begin() + 1, roc.fpr.end());
  std::vector<double> tpr(roc.tpr.begin() + 1, roc.tpr.end());
  ExpectNumbersNear(fpr, want["fpr"], 1e-12, "fpr");
  ExpectNumbersNear(tpr, want["tpr"], 1e-12, "tpr");
  // Fewer than k cases or controls: counts only.
  auto small = TimeDependentRoc(rows.time, rows.status, risk, 730, {0, 0.5, 1},
                                static_cast<int>(want["n_neg"].get<int64_t>()) + 1);
  ASSERT_OK(small);
  EXPECT_TRUE(small->suppressed);
  EXPECT_TRUE(small->fpr.empty());
  EXPECT_EQ(small->n_pos, want["n_pos"].get<int64_t>());
}

TEST(RocAtThresholds, FewerThanKEventsOrNonEventsIsSuppressed) {
  std::vector<double> y(30, 0.0), p(30, 0.3);
  for (int i = 0; i < 9; ++i) y[static_cast<size_t>(i)] = 1;  // 9 events < k = 10
  auto roc = RocAtThresholds(y, p, {0, 0.5, 1}, 10);
  ASSERT_OK(roc);
  EXPECT_TRUE(roc->suppressed);
  EXPECT_TRUE(roc->fpr.empty());
  EXPECT_EQ(roc->n_pos, 9);
  EXPECT_EQ(roc->n_neg, 21);
  y[9] = 1;  // 10 events
  roc = RocAtThresholds(y, p, {0, 0.5, 1}, 10);
  ASSERT_OK(roc);
  EXPECT_FALSE(roc->suppressed);
  // p = 0.3 for all: threshold 1 and 0.5 -> (0, 0); threshold 0 -> (1, 1).
  EXPECT_THAT(roc->fpr, ::testing::ElementsAre(0, 0, 0, 1));
  EXPECT_THAT(roc->tpr, ::testing::ElementsAre(0, 0, 0, 1));
}

TEST(GridEvery, IncludesBothEnds) {
  EXPECT_THAT(GridEvery(90, 360, 90), ::testing::ElementsAre(90, 180, 270, 360));
  EXPECT_EQ(GridEvery(0.02, 1.0, 0.0).size(), 51u);
  EXPECT_TRUE(GridEvery(0, 1, 0).empty());
  // Bounded however far `end` is (found by tests/fuzz/fuzz_site_task: a
  // spec's tau of 1e15 days ran a site out of memory).
  EXPECT_EQ(GridEvery(1, 1e15, 1, 100).size(), 100u);
  EXPECT_EQ(GridEvery(1, std::numeric_limits<double>::infinity(), 1, 7).size(), 7u);
  EXPECT_TRUE(GridEvery(std::numeric_limits<double>::infinity(), 1, 0).empty());
}

// ---- Grids the site fixes ----------------------------------------------------

// Checks the rule of ReleasedTimePoints on its output: between released
// points, 0 or >= k left the risk set and 0 or >= k were counted; >= k at risk.
void ExpectStepsOfZeroOrK(const std::vector<double>& time, const std::vector<double>& points,
                          int k) {
  double prev = -std::numeric_limits<double>::infinity();
  for (double g : points) {
    int64_t left = 0, counted = 0, at_risk = 0;
    for (double t : time) {
      left += prev <= t && t < g;
      counted += prev < t && t <= g;
      at_risk += t >= g;
    }
    EXPECT_TRUE(left == 0 || left >= k) << "left " << left << " before " << g;
    EXPECT_TRUE(counted == 0 || counted >= k) << "counted " << counted << " at " << g;
    EXPECT_GE(at_risk, k) << g;
    prev = g;
  }
}

TEST(ReleasedTimePoints, OneDayLatticeReleasesOnlyStepsOfKPatients) {
  // 100 patients with distinct times 1..100 days: a 1-day lattice would show
  // every one; with k = 10 each released step covers 10 of them.
  std::vector<double> time;
  for (int i = 1; i <= 100; ++i) time.push_back(i);
  const std::vector<double> points = ReleasedTimePoints(time, GridEvery(1, 120, 1), 10);
  // Day 1: nobody left (T < 1), but 1 patient counted (T <= 1): not released.
  // Day 11: 10 left (T 1..10), 10 counted (1..10), ... up to day 91 (10 at risk).
  EXPECT_THAT(points, ::testing::ElementsAre(11, 21, 31, 41, 51, 61, 71, 81, 91));
  ExpectStepsOfZeroOrK(time, points, 10);
}

TEST(ReleasedTimePoints, TiesAndDominantWeightsAreCoarsened) {
  // 40 patients: 5 leave at each of 10, 20, ..., 80.
  std::vector<double> time;
  for (int j = 1; j <= 8; ++j) {
    for (int i = 0; i < 5; ++i) time.push_back(10.0 * j);
  }
  const std::vector<double> lattice = GridEvery(5, 80, 5);
  const std::vector<double> points = ReleasedTimePoints(time, lattice, 10);
  // 5 (nobody yet), then 25 (10 left: T = 10, 20), 45, 65; at 85 no lattice.
  EXPECT_THAT(points, ::testing::ElementsAre(5, 25, 45, 65));
  ExpectStepsOfZeroOrK(time, points, 10);
  // One patient (the last) carries much of the weight: a risk set where it
  // holds more than the allowed share of the sum is not released.
  std::vector<double> w(time.size(), 1.0);
  w.back() = 5.0;  // at risk until 80: 5 / (39 + 5) > 1/10 from the start
  EXPECT_TRUE(ReleasedTimePoints(time, lattice, 10, &w, 0.1).empty());
  // 3 / (39 + 3) and 3 / (29 + 3) <= 1/10 at 5 and 25; at 45 (20 at risk)
  // 3 / 22 > 1/10, and later risk sets are smaller still.
  w.back() = 3.0;
  EXPECT_THAT(ReleasedTimePoints(time, lattice, 10, &w, 0.1), ::testing::ElementsAre(5, 25));
  // The default share, one half: 20 / (39 + 20) and 20 / (29 + 20) <= 1/2 at
  // 5 and 25; 20 / (19 + 20) > 1/2 at 45.
  w.back() = 20.0;
  EXPECT_THAT(ReleasedTimePoints(time, lattice, 10, &w), ::testing::ElementsAre(5, 25));
}

TEST(CountSafeThresholds, ACovariateAsTheScoreGivesStepsOfKCasesOrControls) {
  // The attack: the "model" is one covariate, 0.01, 0.02, ..., 0.60 for 60
  // patients, cases alternating with controls; thresholds between every
  // value would link each patient's outcome to its covariate.
  std::vector<double> y, p;
  for (int i = 1; i <= 60; ++i) {
    p.push_back(i / 100.0);
    y.push_back(i % 2);
  }
  ASSERT_OK_AND_ASSIGN(auto roc, SiteBinaryRoc(y, p, 10));
  ASSERT_FALSE(roc.curve.suppressed);
  const RocCurve& c = roc.curve;
  ASSERT_GE(c.fpr.size(), 3u);
  for (size_t j = 1; j < c.fpr.size(); ++j) {
    const double dcases = std::round((c.tpr[j] - c.tpr[j - 1]) * 30);
    const double dcontrols = std::round((c.fpr[j] - c.fpr[j - 1]) * 30);
    EXPECT_TRUE(dcases == 0 || dcases >= 10) << j << ": " << dcases << " cases";
    EXPECT_TRUE(dcontrols == 0 || dcontrols >= 10) << j << ": " << dcontrols << " controls";
  }
  // Each released vertex's population holds the rows counted there (>= k).
  for (const auto& rows : roc.vertex_rows) EXPECT_GE(rows.size(), 10u);
  // Thresholds are lattice points (multiples of 0.01), never a patient's own
  // value unless it lies on the lattice.
  for (double t : c.threshold) {
    if (std::isfinite(t)) EXPECT_NEAR(t * 100, std::round(t * 100), 1e-9);
  }
}

TEST(CountSafeThresholds, FewerThanKCasesGivesNoThreshold) {
  EXPECT_TRUE(CountSafeThresholds({0.1, 0.2}, {0.3, 0.4, 0.5}, RiskThresholdLattice(), 3).empty());
  // 3 cases at 0.9, 3 controls at 0.1, k = 3: one vertex at (0, 1)... the
  // step from (0, 0) moves 3 cases and no control.
  EXPECT_THAT(CountSafeThresholds({0.9, 0.9, 0.9}, {0.1, 0.1, 0.1}, {0.0, 0.5, 1.0}, 3),
              ::testing::ElementsAre(0.5));
}

TEST(CountsOnLattice, ReleasesCumulativeCountsInStepsOfAtLeastK) {
  // The packed predictor attack: 1e4 * age + time gives every patient its
  // own value; counts at coordinator thresholds would show each. On the
  // site's lattice every released step adds >= k patients.
  std::vector<double> v;
  for (int i = 0; i < 50; ++i) v.push_back(1e4 * (40 + i % 25) + 30 * i);
  const LatticeCounts c = CountsOnLattice(v, 1.0, 10, 4096);
  EXPECT_GT(c.step, 1.0);  // raised until the lattice has at most 4096 points
  ASSERT_FALSE(c.grid.empty());
  double prev = 0;
  for (size_t j = 0; j < c.counts.size(); ++j) {
    EXPECT_GE(c.counts[j] - prev, 10);
    EXPECT_TRUE(50 - c.counts[j] == 0 || 50 - c.counts[j] >= 10);
    int64_t at_or_below = 0;
    for (double x : v) at_or_below += x <= c.grid[j];
    EXPECT_EQ(c.counts[j], at_or_below);
    prev = c.counts[j];
  }
}

TEST(QuantilesFromCounts, InterpolatesThePooledCounts) {
  // Site A: 10 at or below 1, 20 at or below 2 (n 30); site B: 10 at or
  // below 2, n 10. Pooled: C(1) = 10 + 10 (B below its first point counts
  // its first count), C(2) = 30, C(above) = 40. The median (20) is at 1.
  SiteCounts a{{1, 2}, {10, 20}, 30}, b{{2}, {10}, 10};
  std::vector<double> err;
  auto q = QuantilesFromCounts({a, b}, {0.5, 0.625}, &err);
  ASSERT_OK(q);
  EXPECT_DOUBLE_EQ((*q)[0], 1.0);
  // 25 of 40: halfway between C(1) = 20 and C(2) = 30.
  EXPECT_DOUBLE_EQ((*q)[1], 1.5);
  EXPECT_DOUBLE_EQ(err[1], 10.0 / 40 / 2);
  EXPECT_THAT(QuantilesFromCounts({SiteCounts{{2, 1}, {1, 2}, 3}}, {0.5}),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(QuantilesFromCounts({}, {0.5}), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(NiceStepAtMost, PicksOneTwoOrFiveTimesAPowerOfTen) {
  EXPECT_DOUBLE_EQ(NiceStepAtMost(0.37), 0.2);
  EXPECT_DOUBLE_EQ(NiceStepAtMost(7), 5);
  EXPECT_DOUBLE_EQ(NiceStepAtMost(1), 1);
  EXPECT_DOUBLE_EQ(NiceStepAtMost(0.0123), 0.01);
}

}  // namespace
}  // namespace fedrad::models
