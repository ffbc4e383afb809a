// Private building blocks of features/morphology: the marching-cubes mesh
// (features/internal/marching_cubes.cc) and the small vector helpers, mask
// bounding box and lattice type that the convex hull
// (features/internal/convex_hull.cc), the spatial autocorrelation
// (features/internal/spatial_autocorrelation.cc) and MorphologyFeatures
// (features/morphology.cc) share with it. Not part of the public API.
//
//   Lattice lattice;
//   Mesh mesh = BuildMesh(geometry, mask, &lattice);  // lattice: optional
//   Hull hull = BuildHull(lattice, geometry.spacing);  // convex_hull.h
#ifndef FEDRAD_FEATURES_INTERNAL_MARCHING_CUBES_H_
#define FEDRAD_FEATURES_INTERNAL_MARCHING_CUBES_H_

#include <array>
#include <cmath>
#include <cstdint>
#include <vector>

#include "features/morphology.h"
#include "features/volume.h"

namespace fedrad::features::morphology_internal {

using Vec3 = std::array<double, 3>;

inline Vec3 Sub(const Vec3& a, const Vec3& b) { return {a[0] - b[0], a[1] - b[1], a[2] - b[2]}; }
inline Vec3 Cross(const Vec3& a, const Vec3& b) {
  return {a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]};
}
inline double Dot(const Vec3& a, const Vec3& b) { return a[0] * b[0] + a[1] * b[1] + a[2] * b[2]; }
inline double Norm(const Vec3& a) { return std::sqrt(Dot(a, a)); }

// Signed volume (sum of signed tetrahedra) and total area of a closed
// triangle mesh; used by Mesh and Hull.
double SignedVolume(const std::vector<Vec3>& v, const std::vector<std::array<int, 3>>& t);
double TotalArea(const std::vector<Vec3>& v, const std::vector<std::array<int, 3>>& t);

// Inclusive bounding box of the nonzero voxels of `mask`; hi[0] < 0 when
// there are none. Also used by preprocess.cc (the ROI crop).
void MaskBox(const Geometry& g, const std::vector<uint8_t>& mask, std::array<int, 3>* lo,
             std::array<int, 3>* hi);

// Integer lattice coordinates (twice the voxel index) of mesh vertices.
struct Lattice {
  std::vector<std::array<int32_t, 3>> points;
};

// Marching cubes on `mask` (see MarchingCubes in features/morphology.h); when
// `lattice` is not null, also appends each vertex's lattice position.
Mesh BuildMesh(const Geometry& g, const std::vector<uint8_t>& mask,
               Lattice* lattice);

}  // namespace fedrad::features::morphology_internal

#endif  // FEDRAD_FEATURES_INTERNAL_MARCHING_CUBES_H_
