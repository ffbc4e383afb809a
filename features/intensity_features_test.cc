#include "features/intensity_features.h"

#include <cmath>

#include <gtest/gtest.h>

#include "features/features_testutil.h"

namespace fedrad::features {
namespace {

using features::testutil::Find;
using features::testutil::MakeGeometry;

// The digital phantom's ROI grey levels (../shared/ibsi/README.md): 50 x 1,
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

}  // namespace
}  // namespace fedrad::features
