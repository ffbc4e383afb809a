// Simoncelli wavelet against the IBSI-2 phase-1 consensus response maps
// 8.a.1-3 (checkerboard, levels 1-3, periodic; tests/data/ibsi2,
// theibsi/ibsi_2_reference_data, CC0) and its defining properties.
#include "features/filters/simoncelli.h"

#include <cmath>

#include "core/testing/status_matchers.h"
#include "features/filters/reference_map_testutil.h"
#include "gtest/gtest.h"

namespace fedrad::features::filters {
namespace {

using ::fedrad::testing::StatusIs;

using testing::LoadPhantom;
using testing::ExpectMatchesReferenceMap;

TEST(SimoncelliIbsi2, Cases8aLevels1To3Checkerboard) {
  const ImageVolume image = LoadPhantom("checkerboard");
  for (int level = 1; level <= 3; ++level) {
    SimoncelliParams p;
    p.level = level;
    p.padding = Padding::kPeriodic;
    ASSERT_OK_AND_ASSIGN(auto r, SimoncelliResponse(image, p));
    ExpectMatchesReferenceMap(r, "8_a_" + std::to_string(level));
  }
}

// psi is 0 at nu = 0, so a constant image gives 0 (any padding), and the
// filter is isotropic: transposing x and y of a cube transposes the result.
TEST(SimoncelliResponse, ConstantGivesZeroAndTransposeCommutes) {
  ImageVolume c;
  c.geometry.size = {10, 10, 7};
  c.voxels.assign(c.geometry.NumVoxels(), 5.0f);
  for (Padding pad : {Padding::kPeriodic, Padding::kMirror, Padding::kNearest}) {
    SimoncelliParams p;
    p.padding = pad;
    ASSERT_OK_AND_ASSIGN(auto r, SimoncelliResponse(c, p));
    for (float v : r.voxels) ASSERT_NEAR(v, 0.0, 1e-4);
  }
  ImageVolume f = c, t = c;
  for (int z = 0; z < 7; ++z)
    for (int y = 0; y < 10; ++y)
      for (int x = 0; x < 10; ++x) {
        f.at(x, y, z) = static_cast<float>((x * 7 + y * y * 3 + z * 5) % 13);
      }
  for (int z = 0; z < 7; ++z)
    for (int y = 0; y < 10; ++y)
      for (int x = 0; x < 10; ++x) t.at(y, x, z) = f.at(x, y, z);
  SimoncelliParams p;
  p.level = 2;
  auto a = SimoncelliResponse(f, p);
  auto b = SimoncelliResponse(t, p);
  ASSERT_OK(a);
  ASSERT_OK(b);
  for (int z = 0; z < 7; ++z)
    for (int y = 0; y < 10; ++y)
      for (int x = 0; x < 10; ++x) ASSERT_NEAR(b->at(y, x, z), a->at(x, y, z), 1e-4);
}

TEST(SimoncelliResponse, BadSettingsAreRefusedByName) {
  ImageVolume v;
  v.geometry.size = {4, 4, 4};
  v.voxels.assign(64, 1.0f);
  SimoncelliParams p;
  p.level = 0;
  auto r = SimoncelliResponse(v, p);
  ASSERT_THAT(
      r, StatusIs(absl::StatusCode::kInvalidArgument, ::testing::HasSubstr("simoncelli level 0")));
  ImageVolume flat;
  flat.geometry.size = {4, 4, 1};
  flat.voxels.assign(16, 1.0f);
  auto f = SimoncelliResponse(flat, SimoncelliParams{});
  ASSERT_THAT(f, StatusIs(absl::StatusCode::kInvalidArgument, ::testing::HasSubstr("in_plane")));
  SimoncelliParams two_d;
  two_d.in_plane = true;
  EXPECT_OK(SimoncelliResponse(flat, two_d));
  EXPECT_THAT(SimoncelliResponse(ImageVolume{}, two_d),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace fedrad::features::filters
