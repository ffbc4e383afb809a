#include "models/descriptive.h"

#include <cmath>
#include <algorithm>
#include <iostream>
#include <random>

#include "gtest/gtest.h"

namespace fedrad::models {
namespace {

std::vector<double> Normal(int n, double mean, double sd, unsigned seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> d(mean, sd);
  std::vector<double> v(n);
  for (double& x : v) x = d(rng);
  return v;
}

// Sample SD of {2,4,4,4,5,5,7,9}: sum of squared deviations 32 over 7.
TEST(Descriptive, StandardDeviationUsesNMinusOne) {
  ColumnMoments m = ComputeMoments({2, 4, 4, 4, 5, 5, 7, 9});
  EXPECT_EQ(m.n, 8);
  EXPECT_DOUBLE_EQ(m.mean, 5.0);
  EXPECT_NEAR(StandardDeviation(m), std::sqrt(32.0 / 7.0), 1e-15);
  EXPECT_FALSE(m.binary);
}

TEST(Descriptive, MissingValuesAreCountedNotUsed) {
  double nan = std::nan("");
  ColumnMoments m = ComputeMoments({1, nan, 0, 1, nan});
  EXPECT_EQ(m.n, 3);
  EXPECT_EQ(m.n_missing, 2);
  EXPECT_TRUE(m.binary);
  EXPECT_EQ(m.count_one, 2);
}

TEST(Descriptive, CombinedMomentsEqualOneTable) {
  std::vector<double> a = Normal(137, 60, 11, 1), b = Normal(45, 70, 5, 2), c = Normal(301, 55, 20, 3);
  std::vector<double> all = a;
  all.insert(all.end(), b.begin(), b.end());
  all.insert(all.end(), c.begin(), c.end());
  ColumnMoments pooled = ComputeMoments(all);
  ColumnMoments combined = CombineMoments({ComputeMoments(a), ComputeMoments(b), ComputeMoments(c)});
  EXPECT_EQ(combined.n, pooled.n);
  EXPECT_NEAR(combined.mean, pooled.mean, 1e-12 * std::abs(pooled.mean));
  EXPECT_NEAR(StandardDeviation(combined), StandardDeviation(pooled), 1e-12 * StandardDeviation(pooled));
}

TEST(Descriptive, BinaryCountsAdd) {
  ColumnMoments c = CombineMoments({ComputeMoments({0, 1, 1}), ComputeMoments({1, 0}), ComputeMoments({})});
  EXPECT_TRUE(c.binary);
  EXPECT_EQ(c.count_one, 3);
  EXPECT_EQ(c.n, 5);
}

TEST(Descriptive, QuantileEstimateIsWithinStatedRankError) {
  std::vector<double> v = Normal(2000, 10, 3, 7);
  QuantileSearch::Options options;
  auto est = PooledQuantiles(v, {0.25, 0.5, 0.75}, options);
  ASSERT_EQ(est.size(), 3u);
  for (const auto& e : est) {
    int64_t c = CountAtOrBelow(v, {e.value})[0];
    EXPECT_LE(std::abs(c - e.probability * v.size()) / v.size(), e.rank_error + 1e-12);
    EXPECT_LE(e.rank_error, options.rank_error);
    EXPECT_LE(e.bracket_low, e.value);
    EXPECT_GE(e.bracket_high, e.value);
  }
  EXPECT_LT(est[0].value, est[1].value);
  EXPECT_LT(est[1].value, est[2].value);
}

TEST(Descriptive, FederatedQuantilesEqualPooled) {
  std::vector<double> a = Normal(80, 50, 10, 11), b = Normal(120, 58, 12, 12), c = Normal(40, 45, 8, 13);
  std::vector<double> all = a;
  all.insert(all.end(), b.begin(), b.end());
  all.insert(all.end(), c.begin(), c.end());
  QuantileSearch::Options options;
  auto pooled = PooledQuantiles(all, {0.25, 0.5, 0.75}, options);

  QuantileSearch search(CombineMoments({ComputeMoments(a), ComputeMoments(b), ComputeMoments(c)}),
                        {0.25, 0.5, 0.75}, options);
  while (!search.done()) {
    const auto& t = search.NextThresholds();
    auto ca = CountAtOrBelow(a, t), cb = CountAtOrBelow(b, t), cc = CountAtOrBelow(c, t);
    std::vector<int64_t> sum(t.size());
    for (size_t i = 0; i < t.size(); ++i) sum[i] = ca[i] + cb[i] + cc[i];
    search.Update(sum);
  }
  auto federated = search.Estimates();
  for (size_t i = 0; i < pooled.size(); ++i) {
    EXPECT_NEAR(federated[i].value, pooled[i].value, 1e-9 * std::abs(pooled[i].value));
    EXPECT_EQ(federated[i].rank_error, pooled[i].rank_error);
  }
}

TEST(Descriptive, TiedDiscreteValuesStillTerminateWithBracket) {
  // 40% zeros, 35% ones, 25% twos: the median is exactly 1.
  std::vector<double> v;
  for (int i = 0; i < 40; ++i) v.push_back(0);
  for (int i = 0; i < 35; ++i) v.push_back(1);
  for (int i = 0; i < 25; ++i) v.push_back(2);
  auto est = PooledQuantiles(v, {0.5}, QuantileSearch::Options{});
  EXPECT_LE(est[0].bracket_low, 1.0);
  EXPECT_GE(est[0].bracket_high, 1.0);
  EXPECT_NEAR(est[0].value, 1.0, 1e-2);
}

TEST(Descriptive, QuantileOutsideInitialBracketIsFound) {
  // A skewed sample: 85 zeros and 15 values near 1000; the 0.9 quantile sits in the far tail.
  std::vector<double> v(100, 0.0);
  for (int i = 0; i < 15; ++i) v[i] = 1000.0 + i;
  auto est = PooledQuantiles(v, {0.9}, QuantileSearch::Options{});
  int64_t c = CountAtOrBelow(v, {est[0].value})[0];
  EXPECT_LE(std::abs(c - 90.0), 0.01 * 100 + 1e-9 + est[0].rank_error * 100);
}

TEST(Descriptive, ConstantAndEmptyColumns) {
  auto est = PooledQuantiles({3, 3, 3}, {0.5}, QuantileSearch::Options{});
  EXPECT_EQ(est[0].value, 3.0);
  auto empty = PooledQuantiles({}, {0.5}, QuantileSearch::Options{});
  EXPECT_TRUE(std::isnan(empty[0].value));
  EXPECT_TRUE(std::isnan(StandardDeviation(ComputeMoments({4.0}))));
}

// ---- Site-fixed grids -----------------------------------------------------

// The lattice is three significant digits (0 and ±m·10^e, m = 100..999):
// values worked out by hand.
TEST(SiteGrid, LatticeCeilIsTheNextThreeSignificantDigitValue) {
  EXPECT_DOUBLE_EQ(LatticeCeil(63.2), 63.2);
  EXPECT_DOUBLE_EQ(LatticeCeil(63.21), 63.3);
  EXPECT_DOUBLE_EQ(LatticeCeil(123), 123);
  EXPECT_DOUBLE_EQ(LatticeCeil(999.5), 1000);
  EXPECT_DOUBLE_EQ(LatticeCeil(1001), 1010);
  EXPECT_DOUBLE_EQ(LatticeCeil(0.012345), 0.0124);
  EXPECT_DOUBLE_EQ(LatticeCeil(-63.21), -63.2);
  EXPECT_DOUBLE_EQ(LatticeCeil(-100.5), -100);
  EXPECT_DOUBLE_EQ(LatticeCeil(-99.95), -99.9);
  EXPECT_EQ(LatticeCeil(0.0), 0.0);
  EXPECT_EQ(LatticeCeil(-1e-200), 0.0);
  EXPECT_DOUBLE_EQ(LatticeCeil(1e-200), 1e-99);
  EXPECT_TRUE(std::isinf(LatticeCeil(1e200)));
  EXPECT_DOUBLE_EQ(LatticeCeil(-1e200), -9.99e99);
  EXPECT_TRUE(std::isnan(LatticeCeil(std::nan(""))));
  // Idempotent on lattice points, and never below its argument.
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> u(-12, 12);
  for (int i = 0; i < 10000; ++i) {
    const double x = (i % 2 ? 1 : -1) * std::pow(10.0, u(rng));
    const double c = LatticeCeil(x);
    ASSERT_GE(c, x) << x;
    ASSERT_EQ(LatticeCeil(c), c) << x;
    ASSERT_LE(std::abs(c - x), 0.01 * std::abs(x) + 1e-300) << x;
  }
}

// The release rule: first count, every step and the count above the last
// point are each >= step; the counts are the true counts at the points.
void ExpectReleaseRule(const std::vector<double>& v, int64_t step) {
  GridCounts g = SiteGridCounts(v, step);
  ASSERT_EQ(g.points.size(), g.counts.size());
  std::vector<int64_t> truth = CountAtOrBelow(v, g.points);
  for (size_t i = 0; i < g.points.size(); ++i) {
    EXPECT_EQ(g.counts[i], truth[i]);
    EXPECT_EQ(LatticeCeil(g.points[i]), g.points[i]);
    const int64_t below = i == 0 ? 0 : g.counts[i - 1];
    EXPECT_GE(g.counts[i] - below, step) << i;
    if (i > 0) {
      EXPECT_GT(g.points[i], g.points[i - 1]);
    }
  }
  if (!g.points.empty()) {
    EXPECT_GE(g.n - g.counts.back(), step);
  }
}

TEST(SiteGrid, EveryReleasedStepHoldsAtLeastStepValues) {
  for (int n : {0, 1, 9, 19, 20, 21, 60, 135, 1000}) {
    SCOPED_TRACE(n);
    ExpectReleaseRule(Normal(n, 60, 10, 3 + n), 10);
    std::vector<double> ties(n);
    for (int i = 0; i < n; ++i) ties[i] = i % 4;  // heavy ties
    ExpectReleaseRule(ties, 10);
  }
  // Fewer than 2k values: nothing but n.
  GridCounts few = SiteGridCounts(Normal(19, 0, 1, 1), 10);
  EXPECT_EQ(few.n, 19);
  EXPECT_TRUE(few.points.empty());
  // A binary column never isolates its minority (here 5 ones of 40).
  std::vector<double> binary(40, 0.0);
  for (int i = 0; i < 5; ++i) binary[i] = 1.0;
  GridCounts b = SiteGridCounts(binary, 10);
  EXPECT_TRUE(b.points.empty());
  // 60 distinct values, k = 10: points at counts 10, 20, ..., 50 (the top
  // 10 stay above the last point).
  std::vector<double> v(60);
  for (int i = 0; i < 60; ++i) v[i] = 40 + i;
  GridCounts g = SiteGridCounts(v, 10);
  EXPECT_EQ(g.counts, (std::vector<int64_t>{10, 20, 30, 40, 50}));
  EXPECT_EQ(g.points, (std::vector<double>{49, 59, 69, 79, 89}));
}

TEST(SiteGrid, GridStepIsAtLeastKAndTheRankFraction) {
  EXPECT_EQ(GridStep(60, 10, 0.01), 10);
  EXPECT_EQ(GridStep(5000, 10, 0.01), 50);
  EXPECT_EQ(GridStep(5000, 10, 0.0), 10);
  EXPECT_EQ(GridStep(5000, 10, 1e9), 1250);  // fraction capped at 0.25
  EXPECT_EQ(GridStep(100000, 1, 0.0, 4096), 25);
  EXPECT_EQ(GridStep(10, 0, 0.0), 1);
}

// Exact sample quantile (R type 7), for comparison.
double Type7(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  const double h = (v.size() - 1) * p;
  const size_t lo = static_cast<size_t>(std::floor(h));
  const size_t hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (h - lo) * (v[hi] - v[lo]);
}

// The inverse of the empirical CDF (R type 1): the smallest value with at
// least p·n values at or below it — the quantile the brackets bound.
double Type1(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  const size_t i = static_cast<size_t>(std::ceil(p * v.size() - 1e-12));
  return v[std::max<size_t>(i, 1) - 1];
}

// The estimate is approximate to the grid: the exact sample quantile lies in
// the reported bracket (released points whose counts enclose p·n), the
// estimate lies in it too, so the error is at most the bracket's width —
// which is what the grid (steps of >= k values) allows.
TEST(SiteGrid, QuantilesLieInTheBracketTheReleasedCountsProve) {
  for (unsigned seed = 1; seed <= 20; ++seed) {
    std::vector<double> a = Normal(60, 62, 10, seed), b = Normal(45, 66, 9, 100 + seed),
                        c = Normal(30, 70, 11, 200 + seed);
    std::vector<GridPart> parts;
    std::vector<double> all;
    for (const auto* v : {&a, &b, &c}) {
      ColumnMoments m = ComputeMoments(*v);
      parts.push_back({SiteGridCounts(*v, GridStep(m.n, 10, 0.01)), m.mean, StandardDeviation(m)});
      all.insert(all.end(), v->begin(), v->end());
    }
    std::vector<QuantileEstimate> est = GridQuantiles(parts, {0.25, 0.5, 0.75});
    for (const QuantileEstimate& e : est) {
      SCOPED_TRACE(::testing::Message() << "seed " << seed << " p " << e.probability);
      const double exact = Type1(all, e.probability);
      // A bracket end is NaN when the released counts bound the quantile on
      // one side only (e.g. Q3 above every site's last point).
      ASSERT_TRUE(std::isfinite(e.bracket_low) || std::isfinite(e.bracket_high));
      if (std::isfinite(e.bracket_low)) {
        EXPECT_LT(e.bracket_low, exact);
        EXPECT_GE(e.value, e.bracket_low);
      }
      if (std::isfinite(e.bracket_high)) {
        EXPECT_GE(e.bracket_high, exact);
        EXPECT_LE(e.value, e.bracket_high);
      }
      // Three sites of 135 patients, steps of 10: the bracket spans at most
      // ~30 of 135 ranks, i.e. well under 1 SD here.
      EXPECT_LT(std::abs(e.value - exact), 10.0);
      EXPECT_LE(e.rank_error, 0.25);
    }
    // One site alone: same properties.
    std::vector<QuantileEstimate> one = GridQuantiles({parts[0]}, {0.5});
    const double exact = Type1(a, 0.5);
    EXPECT_LT(one[0].bracket_low, exact);
    EXPECT_GE(one[0].bracket_high, exact);
  }
}

// n = 60, k = 10 (the size the docs quote): how coarse the grid makes a
// site's quartiles, measured over 200 seeded normal samples (SD 1).
TEST(SiteGrid, QuartileErrorAtSixtyPatientsIsAFractionOfAnSd) {
  double worst = 0, sum = 0;
  int count = 0;
  for (unsigned seed = 1; seed <= 200; ++seed) {
    std::vector<double> v = Normal(60, 0, 1, seed);
    ColumnMoments m = ComputeMoments(v);
    std::vector<QuantileEstimate> est = GridQuantiles(
        {{SiteGridCounts(v, 10), m.mean, StandardDeviation(m)}}, {0.25, 0.5, 0.75});
    for (const QuantileEstimate& e : est) {
      const double err = std::abs(e.value - Type7(v, e.probability));
      worst = std::max(worst, err);
      sum += err;
      ++count;
    }
  }
  // Measured: mean error 0.057 SD, worst 0.34 SD (docs/results.md quotes these).
  EXPECT_LT(sum / count, 0.1);
  EXPECT_LT(worst, 0.5);
  std::cout << "grid quartile error at n=60, k=10: mean " << sum / count << " SD, worst " << worst
            << " SD\n";
}

// A count column with ties (number of lesions: 25 ones, 15 twos, 10 threes,
// 10 fours at one site, the same shifted at another): whole-number quartiles
// equal to the exact type-1 sample quartiles, never an interpolated 0.455 or
// a negative value from the extrapolated lower tail.
TEST(SiteGrid, WholeNumberColumnsGetWholeNumberQuartiles) {
  std::vector<double> a, b;
  for (int i = 0; i < 25; ++i) a.push_back(1);
  for (int i = 0; i < 15; ++i) a.push_back(2);
  for (int i = 0; i < 10; ++i) a.push_back(3);
  for (int i = 0; i < 10; ++i) a.push_back(4);
  for (int i = 0; i < 12; ++i) b.push_back(1);
  for (int i = 0; i < 20; ++i) b.push_back(2);
  for (int i = 0; i < 13; ++i) b.push_back(3);
  std::vector<GridPart> parts;
  std::vector<double> all;
  for (const auto* v : {&a, &b}) {
    ColumnMoments m = ComputeMoments(*v);
    ASSERT_TRUE(m.integer);
    GridPart part{SiteGridCounts(*v, GridStep(m.n, 10, 0.01)), m.mean, StandardDeviation(m)};
    part.integer = m.integer;
    parts.push_back(part);
    all.insert(all.end(), v->begin(), v->end());
  }
  for (const auto& set : {std::vector<GridPart>{parts[0]}, parts}) {
    const std::vector<double>& values = set.size() == 1 ? a : all;
    for (const QuantileEstimate& e : GridQuantiles(set, {0.25, 0.5, 0.75})) {
      SCOPED_TRACE(::testing::Message() << set.size() << " part(s), p " << e.probability);
      EXPECT_EQ(e.value, std::floor(e.value));
      EXPECT_EQ(e.value, Type1(values, e.probability));
    }
  }
  // The same counts read as continuous values interpolate (the old reading).
  GridPart continuous = parts[0];
  continuous.integer = false;
  EXPECT_LT(GridQuantiles({continuous}, {0.25})[0].value, 1.0);
  EXPECT_FALSE(ComputeMoments({1.5, 2.0}).integer);
}

TEST(SiteGrid, SmallPartsUseTheirMomentsAndEmptyInputIsNaN) {
  // A site with fewer than 2k values released no point: uniform over
  // mean ± √3 SD, so its median is its mean.
  GridPart small{SiteGridCounts(Normal(15, 5, 1, 9), 10), 5.0, 1.0};
  EXPECT_TRUE(small.grid.points.empty());
  EXPECT_NEAR(GridQuantiles({small}, {0.5})[0].value, 5.0, 1e-12);
  EXPECT_NEAR(GridQuantiles({small}, {0.25})[0].value, 5.0 - std::sqrt(3.0) / 2, 1e-12);
  std::vector<QuantileEstimate> none = GridQuantiles({}, {0.5});
  EXPECT_TRUE(std::isnan(none[0].value));
}

}  // namespace
}  // namespace fedrad::models
