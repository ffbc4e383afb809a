#include "models/descriptive.h"

#include <cmath>
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

}  // namespace
}  // namespace fedrad::models
