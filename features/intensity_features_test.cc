#include "features/intensity_features.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <utility>

#include <gtest/gtest.h>

#include "features/features_testutil.h"

namespace fedrad::features {
namespace {

using features::testutil::Find;
using features::testutil::MakeGeometry;

// The digital phantom's ROI grey levels (tests/data/ibsi/README.md): 50 x 1,
// 1 x 3, 16 x 4, 7 x 6. Reference values from the IBSI manual (rounded to 3
// significant digits there).
std::vector<double> PhantomValues() {
  std::vector<double> v;
  v.insert(v.end(), 50, 1);
  v.insert(v.end(), 1, 3);
  v.insert(v.end(), 16, 4);
  v.insert(v.end(), 7, 6);
  return v;
}

TEST(Percentile, InterpolatesLinearlyBetweenOrderStatistics) {
  std::vector<double> v = {1, 2, 3, 4};
  EXPECT_DOUBLE_EQ(Percentile(v, 0.0), 1);
  EXPECT_DOUBLE_EQ(Percentile(v, 0.5), 2.5);
  EXPECT_DOUBLE_EQ(Percentile(v, 0.9), 3.7);
  EXPECT_DOUBLE_EQ(Percentile(v, 1.0), 4);
}

TEST(IntensityStatistics, MatchesTheIbsiDigitalPhantom) {
  FeatureList f = IntensityStatistics(PhantomValues());
  ASSERT_EQ(f.size(), 18u);
  EXPECT_NEAR(Find(f, "stat", "mean")->value, 2.15, 0.005);
  EXPECT_NEAR(Find(f, "stat", "variance")->value, 3.05, 0.005);
  EXPECT_NEAR(Find(f, "stat", "skewness")->value, 1.08, 0.005);
  EXPECT_NEAR(Find(f, "stat", "kurtosis")->value, -0.355, 0.0005);
  EXPECT_EQ(Find(f, "stat", "p90")->value, 4);
  EXPECT_NEAR(Find(f, "stat", "robust_mean_absolute_deviation")->value, 1.11, 0.005);
  EXPECT_NEAR(Find(f, "stat", "median_absolute_deviation")->value, 1.15, 0.005);
  EXPECT_EQ(Find(f, "stat", "energy")->value, 567);
  EXPECT_EQ(Find(f, "stat", "minimum")->ibsi_code, "1GSF");
}

TEST(IntensityStatistics, ConstantValuesGiveZeroSkewnessAndKurtosis) {
  FeatureList f = IntensityStatistics({5, 5, 5});
  EXPECT_EQ(Find(f, "stat", "skewness")->value, 0);
  EXPECT_EQ(Find(f, "stat", "kurtosis")->value, 0);
}

// Order statistics by sorting, the textbook definition the bucketed
// selection in IntensityStatistics / counting in IntensityHistogram replace.
struct SortedReference {
  double p10, p25, median, p75, p90, robust_mad, medad;
};
SortedReference ReferenceBySorting(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  SortedReference r;
  r.p10 = Percentile(v, 0.10);
  r.p25 = Percentile(v, 0.25);
  r.median = Percentile(v, 0.50);
  r.p75 = Percentile(v, 0.75);
  r.p90 = Percentile(v, 0.90);
  double rsum = 0, rn = 0, meddev = 0;
  for (double x : v) {
    if (x >= r.p10 && x <= r.p90) {
      rsum += x;
      ++rn;
    }
    meddev += std::abs(x - r.median);
  }
  double rdev = 0;
  for (double x : v) {
    if (x >= r.p10 && x <= r.p90) rdev += std::abs(x - rsum / rn);  // rn > 0 here
  }
  r.robust_mad = rn > 0 ? rdev / rn : 0;  // as the implementation: no voxel in [p10, p90]
  r.medad = meddev / v.size();
  return r;
}

void ExpectMatchesReference(const FeatureList& f, const char* family,
                            const std::vector<double>& v) {
  SortedReference r = ReferenceBySorting(v);
  EXPECT_EQ(Find(f, family, "p10")->value, r.p10);
  EXPECT_EQ(Find(f, family, "p90")->value, r.p90);
  EXPECT_EQ(Find(f, family, "median")->value, r.median);
  EXPECT_EQ(Find(f, family, "interquartile_range")->value, r.p75 - r.p25);
  EXPECT_NEAR(Find(f, family, "robust_mean_absolute_deviation")->value, r.robust_mad,
              1e-9 * std::abs(r.robust_mad));
  EXPECT_NEAR(Find(f, family, "median_absolute_deviation")->value, r.medad,
              1e-9 * std::abs(r.medad));
}

TEST(IntensityStatistics, OrderStatisticsMatchSortingForTiesSkewAndOutliers) {
  std::mt19937 rng(7);
  std::normal_distribution<double> normal(40, 300);
  std::vector<std::vector<double>> cases;
  for (size_t n : {1u, 2u, 3u, 10u, 101u, 5000u}) {
    std::vector<double> real, integer, skewed;
    for (size_t i = 0; i < n; ++i) {
      real.push_back(normal(rng));
      integer.push_back(std::round(normal(rng) / 50));  // heavy ties
      double x = normal(rng);
      skewed.push_back(i % 97 == 0 ? 1e9 : x);          // one bucket holds most
    }
    cases.push_back(real);
    cases.push_back(integer);
    cases.push_back(skewed);
  }
  for (const auto& v : cases) {
    SCOPED_TRACE(v.size());
    ExpectMatchesReference(IntensityStatistics(v), "stat", v);
  }
}

TEST(IntensityHistogram, OrderStatisticsMatchSorting) {
  std::mt19937 rng(11);
  for (int ng : {1, 2, 7, 32}) {
    std::uniform_int_distribution<int> level(1, ng);
    for (size_t n : {1u, 2u, 5u, 1000u}) {
      std::vector<int> levels;
      std::vector<double> v;
      for (size_t i = 0; i < n; ++i) {
        levels.push_back(std::min(level(rng), level(rng)));  // skewed
        v.push_back(levels.back());
      }
      SCOPED_TRACE(ng);
      FeatureList f = IntensityHistogram(levels, ng);
      ExpectMatchesReference(f, "ih", v);
      FeatureList s = IntensityStatistics(v);
      for (const char* name : {"mean", "variance", "skewness", "kurtosis", "minimum", "maximum",
                               "mean_absolute_deviation"}) {
        EXPECT_NEAR(Find(f, "ih", name)->value, Find(s, "stat", name)->value,
                    1e-9 * (1 + std::abs(Find(s, "stat", name)->value)))
            << name;
      }
    }
  }
}

TEST(IntensityHistogram, GradientRunsOverEveryLevelIncludingEmptyOnes) {
  std::vector<int> levels;
  for (double v : PhantomValues()) levels.push_back(static_cast<int>(v));
  FeatureList f = IntensityHistogram(levels, 6);
  ASSERT_EQ(f.size(), 23u);
  // H = 50 0 1 16 0 7: H'(1) = -50 (minimum), H'(3) = (16 - 0) / 2 = 8 (maximum).
  EXPECT_EQ(Find(f, "ih", "maximum_gradient")->value, 8);
  EXPECT_EQ(Find(f, "ih", "maximum_gradient_intensity")->value, 3);
  EXPECT_EQ(Find(f, "ih", "minimum_gradient")->value, -50);
  EXPECT_EQ(Find(f, "ih", "minimum_gradient_intensity")->value, 1);
  EXPECT_EQ(Find(f, "ih", "mode")->value, 1);
  EXPECT_NEAR(Find(f, "ih", "entropy")->value, 1.27, 0.005);
  EXPECT_NEAR(Find(f, "ih", "uniformity")->value, 0.512, 0.0005);
}

TEST(IntensityVolumeHistogram, MatchesTheIbsiDigitalPhantom) {
  FeatureList f = IntensityVolumeHistogram(PhantomValues(), 1, 6, 1);
  ASSERT_EQ(f.size(), 6u);
  EXPECT_NEAR(f[0].value, 0.324, 0.0005);   // V10
  EXPECT_NEAR(f[1].value, 0.0946, 0.00005); // V90
  EXPECT_EQ(f[2].value, 5);                 // I10
  EXPECT_EQ(f[3].value, 2);                 // I90
  EXPECT_EQ(f[4].feature, "v10_minus_v90");
  EXPECT_EQ(f[5].value, 3);
}

TEST(LocalIntensity, ConstantImageGivesTheConstant) {
  Geometry g = MakeGeometry(9, 9, 9, {1, 1, 1});
  ImageVolume image{g, std::vector<float>(g.NumVoxels(), 7)};
  std::vector<uint8_t> roi(g.NumVoxels(), 0);
  roi[g.Index(4, 4, 4)] = 1;
  FeatureList f = LocalIntensity(image, roi, 6.2035);
  ASSERT_EQ(f.size(), 2u);
  EXPECT_FLOAT_EQ(f[0].value, 7);
  EXPECT_FLOAT_EQ(f[1].value, 7);
}

TEST(LocalIntensity, SphereUsesVoxelCentresWithinTheRadiusAndTheWholeImage) {
  // 1-D row with 2 mm spacing, radius 6.2 mm: offsets -3..3 voxels (6 mm).
  Geometry g = MakeGeometry(11, 1, 1, {2, 2, 2});
  ImageVolume image{g, {0, 0, 1, 2, 3, 4, 5, 6, 7, 0, 0}};
  std::vector<uint8_t> roi(11, 0);
  roi[5] = 1;  // value 4; its sphere: indices 2..8 -> mean of 1..7 = 4
  roi[9] = 1;  // value 0; its sphere: indices 6..10 (clipped) -> (5+6+7+0+0)/5
  FeatureList f = LocalIntensity(image, roi, 6.2035);
  EXPECT_DOUBLE_EQ(f[0].value, 4);  // local: centred on the maximum (4)
  EXPECT_DOUBLE_EQ(f[1].value, 4);  // global: max(4, 3.6)
}

// The IBSI 3.2 definition evaluated naively: for every ROI voxel, the mean
// of every image voxel whose centre lies within the radius.
std::pair<double, double> NaivePeaks(const ImageVolume& image, const std::vector<uint8_t>& roi,
                                     double radius) {
  const Geometry& g = image.geometry;
  double max_value = -1e300, local = -1e300, global = -1e300;
  for (size_t i = 0; i < roi.size(); ++i) {
    if (roi[i]) max_value = std::max<double>(max_value, image.voxels[i]);
  }
  for (int z = 0; z < g.size[2]; ++z)
    for (int y = 0; y < g.size[1]; ++y)
      for (int x = 0; x < g.size[0]; ++x) {
        if (!roi[g.Index(x, y, z)]) continue;
        double sum = 0;
        int count = 0;
        for (int c = 0; c < g.size[2]; ++c)
          for (int b = 0; b < g.size[1]; ++b)
            for (int a = 0; a < g.size[0]; ++a) {
              double dx = (a - x) * g.spacing[0], dy = (b - y) * g.spacing[1],
                     dz = (c - z) * g.spacing[2];
              if (dx * dx + dy * dy + dz * dz > radius * radius) continue;
              sum += image.voxels[g.Index(a, b, c)];
              ++count;
            }
        double mean = sum / count;
        global = std::max(global, mean);
        if (image.voxels[g.Index(x, y, z)] == max_value) local = std::max(local, mean);
      }
  return {local, global};
}

TEST(LocalIntensity, MatchesTheNaiveSphereMeanForIntegerAndRealImagesNearBorders) {
  // Integer images take the 32-bit integer path, the others the double one;
  // the ROI touches the image border so the sphere is clipped.
  std::mt19937 rng(3);
  Geometry g = MakeGeometry(17, 13, 9, {0.9, 1.1, 2.0});
  for (bool integer : {true, false}) {
    SCOPED_TRACE(integer);
    std::uniform_real_distribution<double> u(-1000, 1000);
    ImageVolume image{g, std::vector<float>(g.NumVoxels())};
    for (float& v : image.voxels) v = integer ? std::round(u(rng)) : static_cast<float>(u(rng));
    std::vector<uint8_t> roi(g.NumVoxels(), 0);
    for (int z = 0; z < g.size[2]; ++z)
      for (int y = 0; y < g.size[1]; ++y)
        for (int x = 0; x < g.size[0]; ++x)
          roi[g.Index(x, y, z)] = (x + 2 * y + 3 * z) % 5 != 0 && y < 10 ? 1 : 0;
    FeatureList f = LocalIntensity(image, roi, 6.2035);
    auto [local, global] = NaivePeaks(image, roi, 6.2035);
    EXPECT_NEAR(Find(f, "loc", "peak_local")->value, local, 1e-9);
    EXPECT_NEAR(Find(f, "loc", "peak_global")->value, global, 1e-9);
  }
}

}  // namespace
}  // namespace fedrad::features
