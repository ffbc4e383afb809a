// A discretised region of interest: the input of every texture family.
//
// `levels` holds one grey level per voxel of the (cropped) grid, x fastest,
// then y, then z (z is the slice axis for 2D and 2.5D aggregation). Levels
// run from 1 to `num_levels`; 0 marks a voxel outside the intensity mask.
// `num_levels` is Ng, the number of discretised grey levels, which may exceed
// the highest level present (IBSI digital phantom: Ng = 6).
// `morph_mask` (same layout, 1 inside) is the morphological mask, used by
// GLDZM's distance map; when empty the intensity mask is used.
#ifndef FEDRAD_FEATURES_DISCRETE_VOLUME_H_
#define FEDRAD_FEATURES_DISCRETE_VOLUME_H_

#include <array>
#include <cstdint>
#include <vector>

namespace fedrad::features {

struct DiscreteVolume {
  int nx = 0, ny = 0, nz = 0;
  std::array<double, 3> spacing{1.0, 1.0, 1.0};  // mm, x y z
  int num_levels = 0;
  std::vector<int32_t> levels;     // size nx*ny*nz, 0 = outside
  std::vector<uint8_t> morph_mask; // size nx*ny*nz or empty

  size_t Index(int x, int y, int z) const {
    return (static_cast<size_t>(z) * ny + y) * nx + x;
  }
};

}  // namespace fedrad::features

#endif  // FEDRAD_FEATURES_DISCRETE_VOLUME_H_
