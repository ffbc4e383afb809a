#include "features/preprocess.h"

#include <cmath>
#include <limits>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/testing/status_matchers.h"
#include "features/features_testutil.h"

namespace fedrad::features {
namespace {

using ::fedrad::testing::StatusIs;

using features::testutil::MakeBall;
using features::testutil::MakeCtLike;
using features::testutil::MakeGeometry;
using features::testutil::ToMask;

TEST(AlignedGrid, KeepsTheGridCentreAndUsesCeilOfTheExtent) {
  // IBSI CT phantom in-plane: 204 x 0.977 mm -> ceil(99.65) = 100 voxels of 2 mm.
  Geometry g = MakeGeometry(204, 201, 60, {0.977, 0.977, 3.0});
  g.origin = {-100, -50, 20};
  Geometry a = AlignedGrid(g, {2, 2, 0});
  EXPECT_EQ(a.size, (std::array<int, 3>{100, 99, 60}));
  EXPECT_EQ(a.spacing, (std::array<double, 3>{2, 2, 3}));
  for (int d = 0; d < 3; ++d) {
    double old_centre = g.origin[d] + 0.5 * (g.size[d] - 1) * g.spacing[d];
    double new_centre = a.origin[d] + 0.5 * (a.size[d] - 1) * a.spacing[d];
    EXPECT_NEAR(old_centre, new_centre, 1e-9) << "axis " << d;
  }
}

TEST(PrepareRoiGrid, WithoutResamplingCropsToTheRoiPlusMargin) {
  Geometry g = MakeGeometry(30, 30, 30, {1, 1, 2});
  ImageVolume image = MakeCtLike(g);
  auto roi = ToMask(MakeBall(g, {15, 15, 15}, 3));
  auto grid = PrepareRoiGrid(image, roi, ResamplingOptions{}, 4.0);
  ASSERT_OK(grid);
  // ROI spans 12..18 in every axis; margin 4 voxels in x, y and 2 (4 mm) in z.
  EXPECT_EQ(grid->geometry.size, (std::array<int, 3>{15, 15, 11}));
  EXPECT_EQ(grid->geometry.origin, (std::array<double, 3>{8, 8, 20}));
  EXPECT_EQ(grid->intensities[0], image.at(8, 8, 10));
}

TEST(PrepareRoiGrid, RoundsSourceIntensitiesLikeNearbyint) {
  // Halves go to even, signs (and -0) are kept, large and non-finite values
  // pass through: the same as std::nearbyint in the default rounding mode.
  const std::vector<float> values = {2.5f,     -2.5f,     3.5f,  -0.4f,     0.4f,
                                     -1.6f,    1023.49f,  -1e9f, 8388609.f, 12345.5f,
                                     -0.0f,    0.5f,      -0.5f, 1.5f,      -1024.5f,
                                     std::numeric_limits<float>::infinity(), 7.0f};
  Geometry g = MakeGeometry(static_cast<int>(values.size()), 1, 1, {1, 1, 1});
  ImageVolume image{g, values};
  std::vector<uint8_t> roi(values.size(), 1);
  ResamplingOptions r;
  r.round_source = true;
  ASSERT_OK_AND_ASSIGN(auto grid, PrepareRoiGrid(image, roi, r, 0.0));
  ASSERT_EQ(grid.intensities.size(), values.size());
  for (size_t i = 0; i < values.size(); ++i) {
    const float want = std::nearbyint(values[i]);
    EXPECT_EQ(grid.intensities[i], want) << values[i];
    EXPECT_EQ(std::signbit(grid.intensities[i]), std::signbit(want)) << values[i];
  }
}

TEST(PrepareRoiGrid, ResamplingACropEqualsResamplingTheWholeImage) {
  Geometry g = MakeGeometry(40, 36, 20, {0.8, 0.8, 2.5});
  g.origin = {-7, 3, 11};
  ImageVolume image = MakeCtLike(g, 7);
  auto small = ToMask(MakeBall(g, {20, 18, 10}, 4));
  std::vector<uint8_t> all(g.NumVoxels(), 1);
  for (Interpolator interp : {Interpolator::kNearest, Interpolator::kLinear, Interpolator::kBSpline3}) {
    ResamplingOptions r;
    r.enabled = true;
    r.spacing = {2, 2, 2};
    r.image_interpolator = interp;
    r.round_intensities = false;
    auto full = PrepareRoiGrid(image, all, r, 0);
    auto crop = PrepareRoiGrid(image, small, r, 3);
    ASSERT_OK(full);
    ASSERT_OK(crop);
    // Index of the crop's first voxel in the full grid.
    std::array<int, 3> off;
    for (int d = 0; d < 3; ++d) {
      double o = (crop->geometry.origin[d] - full->geometry.origin[d]) / 2.0;
      off[d] = static_cast<int>(std::lround(o));
      ASSERT_NEAR(o, off[d], 1e-9);
    }
    double worst = 0;
    const Geometry& cg = crop->geometry;
    for (int z = 0; z < cg.size[2]; ++z)
      for (int y = 0; y < cg.size[1]; ++y)
        for (int x = 0; x < cg.size[0]; ++x) {
          double a = crop->intensities[cg.Index(x, y, z)];
          double b = full->intensities[full->geometry.Index(x + off[0], y + off[1], z + off[2])];
          worst = std::max(worst, std::abs(a - b));
        }
    EXPECT_LT(worst, interp == Interpolator::kBSpline3 ? 1e-3 : 1e-9) << static_cast<int>(interp);
  }
}

TEST(PrepareRoiGrid, SameSpacingLinearResamplingReproducesTheImage) {
  Geometry g = MakeGeometry(12, 10, 8, {1, 1, 1});
  ImageVolume image = MakeCtLike(g);
  std::vector<uint8_t> all(g.NumVoxels(), 1);
  ResamplingOptions r;
  r.enabled = true;
  r.spacing = {1, 1, 1};
  ASSERT_OK_AND_ASSIGN(auto grid, PrepareRoiGrid(image, all, r, 0));
  EXPECT_EQ(grid.intensities, image.voxels);
  EXPECT_EQ(grid.mask, all);
}

TEST(PrepareRoiGrid, MaskPartialVolumeThresholdIsInclusive) {
  // Old grid 4 x 1 mm, new spacing 2 mm: 2 samples at old index 0.5 and 2.5.
  // Mask 0 1 0 0 interpolates to 0.5 and 0: the first is in the ROI at the
  // IBSI threshold 0.5 (>=), and out at 0.6.
  Geometry g = MakeGeometry(4, 1, 1, {1, 1, 1});
  ImageVolume image{g, {10, 20, 30, 40}};
  std::vector<uint8_t> roi = {0, 1, 0, 0};
  ResamplingOptions r;
  r.enabled = true;
  r.spacing = {2, 0, 0};
  ASSERT_OK_AND_ASSIGN(auto grid, PrepareRoiGrid(image, roi, r, 0));
  ASSERT_EQ(grid.geometry.size[0], 2);
  EXPECT_EQ(grid.mask, (std::vector<uint8_t>{1, 0}));
  EXPECT_EQ(grid.intensities, (std::vector<float>{15, 35}));
  r.partial_volume_threshold = 0.6;
  ASSERT_OK_AND_ASSIGN(auto strict, PrepareRoiGrid(image, roi, r, 0));
  EXPECT_EQ(strict.mask, (std::vector<uint8_t>{0, 0}));
}

TEST(PrepareRoiGrid, EmptyRoiIsInvalidArgument) {
  Geometry g = MakeGeometry(4, 4, 4);
  ImageVolume image = MakeCtLike(g);
  auto grid = PrepareRoiGrid(image, std::vector<uint8_t>(64, 0), ResamplingOptions{}, 1);
  EXPECT_EQ(grid.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(Resegment, AppliesRangeThenOutlierFilter) {
  RoiGrid grid;
  grid.geometry = MakeGeometry(12, 1, 1);
  grid.intensities = {-2000, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 300};
  grid.mask = std::vector<uint8_t>(12, 1);
  grid.mask[1] = 0;
  auto range_only = Resegment(grid, {-1000.0, 400.0}, 0);
  EXPECT_EQ(range_only[0], 0);  // below the range
  EXPECT_EQ(range_only[1], 0);  // outside the ROI
  EXPECT_EQ(range_only[11], 1);
  // Mean of {0 x9, 300} = 30, SD = 90: 300 is 3 SD from the mean exactly
  // (kept: the filter keeps mean +- 3 SD inclusive), dropped at 2.9 SD.
  auto three = Resegment(grid, {-1000.0, 400.0}, 3);
  EXPECT_EQ(three[11], 1);
  auto tighter = Resegment(grid, {-1000.0, 400.0}, 2.9);
  EXPECT_EQ(tighter[11], 0);
}

TEST(Discretise, FixedBinSizeIsAnchoredAtTheRangeMinimum) {
  std::vector<float> v = {-1000, -976, 399, 400, -939};
  std::vector<uint8_t> m(5, 1);
  Discretisation d{Discretisation::Method::kFixedBinSize, 0, 25};
  auto r = Discretise(v, m, d, {-1000.0, 400.0});
  ASSERT_OK(r);
  // IBSI 2.8: floor((X - Xmin) / w) + 1 with Xmin = -1000.
  EXPECT_EQ(r->levels, (std::vector<int32_t>{1, 1, 56, 57, 3}));
  EXPECT_EQ(r->num_levels, 57);
  // Without a range the anchor is the ROI minimum.
  auto r2 = Discretise(v, m, d, {});
  EXPECT_EQ(r2->levels[4], 3);
}

TEST(Discretise, FixedBinNumberPutsTheMaximumInTheTopBin) {
  std::vector<float> v = {0, 2, 4, 6, 8};
  std::vector<uint8_t> m = {1, 1, 1, 1, 1};
  Discretisation d{Discretisation::Method::kFixedBinNumber, 4, 0};
  auto r = Discretise(v, m, d, {});
  ASSERT_OK(r);
  EXPECT_EQ(r->levels, (std::vector<int32_t>{1, 2, 3, 4, 4}));
  EXPECT_EQ(r->num_levels, 4);
}

TEST(Discretise, NoneNeedsPositiveIntegers) {
  std::vector<float> v = {1, 2, 0.5};
  std::vector<uint8_t> m = {1, 1, 1};
  Discretisation d{Discretisation::Method::kNone, 0, 0};
  EXPECT_THAT(Discretise(v, m, d, {}), StatusIs(absl::StatusCode::kInvalidArgument));
  m[2] = 0;
  auto r = Discretise(v, m, d, {});
  ASSERT_OK(r);
  EXPECT_EQ(r->num_levels, 2);
}

}  // namespace
}  // namespace fedrad::features
