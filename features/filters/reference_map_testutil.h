// Test helpers for the IBSI-2 phase-1 response maps (tests/data/ibsi2/):
// reading a digital phantom and a consensus response map, and comparing a
// computed map with it under the IBSI-2 rule (every voxel within 1 % of the
// reference map's range, tolerance from response_map_ranges.csv).
//
//   ImageVolume image = LoadPhantom("impulse");
//   ...
//   EXPECT_TRUE(MatchesReferenceMap(response, "5_a_1"));
#ifndef FEDRAD_FEATURES_FILTERS_REFERENCE_MAP_TESTUTIL_H_
#define FEDRAD_FEATURES_FILTERS_REFERENCE_MAP_TESTUTIL_H_

#include <algorithm>
#include <cmath>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

#include "core/testing/status_matchers.h"
#include "features/image_io.h"
#include "features/volume.h"
#include "gtest/gtest.h"

namespace fedrad::features::filters::testing {

inline std::string Ibsi2Dir() { return std::string(FEDRAD_TEST_DATA_DIR) + "/ibsi2"; }

// The phantom `name` (impulse, sphere, checkerboard, pattern_1, ...).
inline ImageVolume LoadPhantom(const std::string& name) {
  absl::StatusOr<ImageVolume> image = ReadImage(
      Ibsi2Dir() + "/digital_phantoms/" + name + "/image/" + name + ".nii.gz");
  EXPECT_OK(image);
  return image.ok() ? *std::move(image) : ImageVolume{};
}

// The consensus map of case `id` (e.g. "5_a_1").
inline ImageVolume LoadReferenceMap(const std::string& id) {
  absl::StatusOr<ImageVolume> map =
      ReadImage(Ibsi2Dir() + "/reference_response_maps/" + id + "-ValidCRM.nii.gz");
  EXPECT_OK(map);
  return map.ok() ? *std::move(map) : ImageVolume{};
}

// The pass tolerance of case `id` (1 % of max - min of the reference map),
// from response_map_ranges.csv; NaN when the case is not listed.
inline double ReferenceTolerance(const std::string& id) {
  std::ifstream in(Ibsi2Dir() + "/response_map_ranges.csv");
  std::string line;
  const std::string key = id + "-ValidCRM.nii,";
  while (std::getline(in, line)) {
    if (line.rfind(key, 0) != 0) continue;
    std::stringstream fields(line);
    std::string field;
    for (int i = 0; i < 4 && std::getline(fields, field, ','); ++i) {
    }
    return std::stod(field);
  }
  return std::nan("");
}

// Success when every voxel of `response` is within the tolerance of case
// `id`; otherwise the largest difference, where, and how many voxels fail.
inline ::testing::AssertionResult MatchesReferenceMap(const ImageVolume& response,
                                                      const std::string& id) {
  const ImageVolume ref = LoadReferenceMap(id);
  const double tolerance = ReferenceTolerance(id);
  if (std::isnan(tolerance)) {
    return ::testing::AssertionFailure() << "no tolerance for " << id;
  }
  if (ref.geometry.size != response.geometry.size) {
    return ::testing::AssertionFailure() << id << ": size differs from the reference";
  }
  double worst = 0.0;
  size_t worst_at = 0, failing = 0;
  for (size_t i = 0; i < ref.voxels.size(); ++i) {
    const double diff = std::abs(static_cast<double>(response.voxels[i]) - ref.voxels[i]);
    if (diff > tolerance) ++failing;
    if (diff > worst) {
      worst = diff;
      worst_at = i;
    }
  }
  const int nx = ref.geometry.size[0], ny = ref.geometry.size[1];
  std::stringstream where;
  where << id << ": max |difference| " << worst << " (tolerance " << tolerance
        << ") at (" << worst_at % nx << "," << (worst_at / nx) % ny << ","
        << worst_at / (static_cast<size_t>(nx) * ny) << "): ours "
        << response.voxels[worst_at] << ", reference " << ref.voxels[worst_at]
        << "; " << failing << " voxels out of tolerance";
  if (failing == 0) return ::testing::AssertionSuccess() << where.str();
  return ::testing::AssertionFailure() << where.str();
}

// EXPECT_TRUE(MatchesReferenceMap(...)) that also prints the margin when it
// passes (the test log then records how close each case is).
inline void ExpectMatchesReferenceMap(const ImageVolume& response, const std::string& id) {
  const ::testing::AssertionResult result = MatchesReferenceMap(response, id);
  EXPECT_TRUE(result);
  if (result) std::cout << "[ matches  ] " << result.message() << std::endl;
}

}  // namespace fedrad::features::filters::testing

#endif  // FEDRAD_FEATURES_FILTERS_REFERENCE_MAP_TESTUTIL_H_
