// Test helpers for features/texture: the IBSI digital phantom as a
// DiscreteVolume, a seeded CT-like synthetic volume, and feature lookup.
//
//   absl::StatusOr<DiscreteVolume> phantom = LoadDigitalPhantom();
//   DiscreteVolume ct = MakeCtLikeSphere(64, 24, 32, /*seed=*/7);
#ifndef FEDRAD_FEATURES_TEXTURE_TEXTURE_TESTUTIL_H_
#define FEDRAD_FEATURES_TEXTURE_TEXTURE_TESTUTIL_H_

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "core/csv.h"
#include "core/status.h"
#include "features/discrete_volume.h"
#include "features/feature_value.h"

namespace fedrad::features::testing {

// The IBSI digital phantom (5x4x4 voxels, 2 mm; tests/data/ibsi/README.md):
// grey level = intensity inside the ROI, Ng = 6, morphological mask = ROI.
inline absl::StatusOr<DiscreteVolume> LoadDigitalPhantom(
    const std::string& path = std::string(FEDRAD_TEST_DATA_DIR) + "/ibsi/digital_phantom_voxels.csv") {
  FEDRAD_ASSIGN_OR_RETURN(CsvTable table, ReadCsv(path));
  FEDRAD_ASSIGN_OR_RETURN(auto xs, table.NumericColumn("x", MissingValues::kReject));
  FEDRAD_ASSIGN_OR_RETURN(auto ys, table.NumericColumn("y", MissingValues::kReject));
  FEDRAD_ASSIGN_OR_RETURN(auto zs, table.NumericColumn("z", MissingValues::kReject));
  FEDRAD_ASSIGN_OR_RETURN(auto values, table.NumericColumn("intensity", MissingValues::kReject));
  FEDRAD_ASSIGN_OR_RETURN(auto in_roi, table.NumericColumn("in_roi", MissingValues::kReject));
  DiscreteVolume v;
  v.nx = 5, v.ny = 4, v.nz = 4;
  v.spacing = {2.0, 2.0, 2.0};
  v.num_levels = 6;
  v.levels.assign(80, 0);
  v.morph_mask.assign(80, 0);
  if (xs.size() != 80) return absl::DataLossError(absl::StrCat(path, ": expected 80 voxels"));
  for (size_t r = 0; r < xs.size(); ++r) {
    const size_t k =
        v.Index(static_cast<int>(xs[r]), static_cast<int>(ys[r]), static_cast<int>(zs[r]));
    if (in_roi[r] != 0) {
      v.levels[k] = static_cast<int32_t>(values[r]);
      v.morph_mask[k] = 1;
    }
  }
  return v;
}

// A CT-like test volume: n^3 voxels, a sphere of `radius` voxels at the
// centre as ROI, grey levels 1..num_levels from a smooth random field plus
// noise (so zones and runs have realistic sizes). Deterministic for a seed.
inline DiscreteVolume MakeCtLikeSphere(int n, double radius, int num_levels, uint32_t seed) {
  DiscreteVolume v;
  v.nx = v.ny = v.nz = n;
  v.num_levels = num_levels;
  v.levels.assign(static_cast<size_t>(n) * n * n, 0);
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> phase(0.0, 6.283185307179586);
  std::normal_distribution<double> noise(0.0, 0.35);
  double p[6];
  for (double& q : p) q = phase(rng);
  const double c = (n - 1) / 2.0;
  for (int z = 0; z < n; ++z) {
    for (int y = 0; y < n; ++y) {
      for (int x = 0; x < n; ++x) {
        const double dx = x - c, dy = y - c, dz = z - c;
        if (dx * dx + dy * dy + dz * dz > radius * radius) continue;
        // Tissue-like low-frequency structure in [-1, 1] plus voxel noise.
        const double s = 0.5 * std::sin(0.11 * x + p[0]) * std::cos(0.07 * y + p[1]) +
                         0.3 * std::sin(0.05 * z + 0.04 * x + p[2]) +
                         0.2 * std::cos(0.23 * y - 0.17 * z + p[3]);
        const double t = 0.5 + 0.45 * s + 0.08 * noise(rng);
        const int level = 1 + static_cast<int>(std::floor(t * num_levels));
        v.levels[v.Index(x, y, z)] = std::clamp(level, 1, num_levels);
      }
    }
  }
  return v;
}

// The value of (family, code, aggregation), or NaN when absent.
inline double FindFeature(const FeatureList& list, const std::string& family,
                          const std::string& code, const std::string& aggregation) {
  for (const FeatureValue& f : list) {
    if (f.family == family && f.ibsi_code == code && f.aggregation == aggregation) return f.value;
  }
  return std::nan("");
}

}  // namespace fedrad::features::testing

#endif  // FEDRAD_FEATURES_TEXTURE_TEXTURE_TESTUTIL_H_
