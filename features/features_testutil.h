// Small synthetic volumes for the features/ tests.
#ifndef FEDRAD_FEATURES_FEATURES_TESTUTIL_H_
#define FEDRAD_FEATURES_FEATURES_TESTUTIL_H_

#include <cmath>
#include <random>

#include "features/feature_value.h"
#include "features/volume.h"

namespace fedrad::features::testutil {

inline Geometry MakeGeometry(int nx, int ny, int nz, std::array<double, 3> spacing = {1, 1, 1}) {
  Geometry g;
  g.size = {nx, ny, nz};
  g.spacing = spacing;
  return g;
}

// A CT-like volume: smooth gradient plus seeded noise, integer HU.
inline ImageVolume MakeCtLike(const Geometry& g, uint64_t seed = 1) {
  ImageVolume v{g, std::vector<float>(g.NumVoxels())};
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> noise(0, 20);
  for (int z = 0; z < g.size[2]; ++z)
    for (int y = 0; y < g.size[1]; ++y)
      for (int x = 0; x < g.size[0]; ++x)
        v.at(x, y, z) = static_cast<float>(std::round(40 + 0.5 * x - 0.3 * y + z + noise(rng)));
  return v;
}

// A ball of `radius` voxels (in index units) centred at c.
inline LabelVolume MakeBall(const Geometry& g, std::array<double, 3> c, double radius,
                            int32_t label = 1) {
  LabelVolume m{g, std::vector<int32_t>(g.NumVoxels(), 0)};
  for (int z = 0; z < g.size[2]; ++z)
    for (int y = 0; y < g.size[1]; ++y)
      for (int x = 0; x < g.size[0]; ++x) {
        double d2 = (x - c[0]) * (x - c[0]) + (y - c[1]) * (y - c[1]) + (z - c[2]) * (z - c[2]);
        if (d2 <= radius * radius) m.at(x, y, z) = label;
      }
  return m;
}

inline std::vector<uint8_t> ToMask(const LabelVolume& l) {
  std::vector<uint8_t> m(l.voxels.size());
  for (size_t i = 0; i < m.size(); ++i) m[i] = l.voxels[i] > 0;
  return m;
}

inline const FeatureValue* Find(const FeatureList& list, const std::string& family,
                                const std::string& feature) {
  for (const auto& f : list)
    if (f.family == family && f.feature == feature) return &f;
  return nullptr;
}

}  // namespace fedrad::features::testutil

#endif  // FEDRAD_FEATURES_FEATURES_TESTUTIL_H_
