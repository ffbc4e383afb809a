// In-memory 3-D images and label maps, free of ITK types.
//
//   FEDRAD_ASSIGN_OR_RETURN(ImageVolume ct, ReadImage("ct.nii.gz"));
//   float hu = ct.at(10, 20, 3);
//
// Voxels are stored x fastest, then y, then z (z is the slice axis). The
// geometry follows ITK/DICOM (LPS): the physical position of index (i,j,k) is
// origin + direction * (spacing .* (i,j,k)).
#ifndef FEDRAD_FEATURES_VOLUME_H_
#define FEDRAD_FEATURES_VOLUME_H_

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace fedrad::features {

struct Geometry {
  std::array<int, 3> size{0, 0, 0};
  std::array<double, 3> spacing{1.0, 1.0, 1.0};  // mm
  std::array<double, 3> origin{0.0, 0.0, 0.0};   // mm, centre of voxel (0,0,0)
  std::array<double, 9> direction{1, 0, 0, 0, 1, 0, 0, 0, 1};  // row-major

  size_t NumVoxels() const {
    return static_cast<size_t>(size[0]) * size[1] * size[2];
  }
  size_t Index(int x, int y, int z) const {
    return (static_cast<size_t>(z) * size[1] + y) * size[0] + x;
  }
};

// Empty string when `a` and `b` describe the same grid (size exactly;
// spacing, origin and direction within `tolerance` relative to the spacing),
// otherwise a message naming the first field that differs and both values.
std::string GeometryMismatch(const Geometry& a, const Geometry& b,
                             double tolerance = 1e-4);

template <typename T>
struct Volume {
  Geometry geometry;
  std::vector<T> voxels;  // geometry.NumVoxels() values

  T& at(int x, int y, int z) { return voxels[geometry.Index(x, y, z)]; }
  const T& at(int x, int y, int z) const {
    return voxels[geometry.Index(x, y, z)];
  }
};

using ImageVolume = Volume<float>;    // intensities (HU for CT)
using LabelVolume = Volume<int32_t>;  // 0 = background, >0 = label

}  // namespace fedrad::features

#endif  // FEDRAD_FEATURES_VOLUME_H_
