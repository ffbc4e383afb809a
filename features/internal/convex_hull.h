// Private building block of features/morphology: the exact convex hull of
// marching-cubes lattice points (quickhull with integer predicates), in
// features/internal/convex_hull.cc. Not part of the public API.
//
//   Lattice lattice;
//   Mesh mesh = BuildMesh(geometry, mask, &lattice);
//   Hull hull = BuildHull(lattice, geometry.spacing);
#ifndef FEDRAD_FEATURES_INTERNAL_CONVEX_HULL_H_
#define FEDRAD_FEATURES_INTERNAL_CONVEX_HULL_H_

#include <array>

#include "features/internal/marching_cubes.h"
#include "features/morphology.h"

namespace fedrad::features::morphology_internal {

// Convex hull of the lattice points, outward oriented, vertices in mm
// (lattice position * 0.5 * spacing).
Hull BuildHull(const Lattice& lattice, const std::array<double, 3>& spacing);

}  // namespace fedrad::features::morphology_internal

#endif  // FEDRAD_FEATURES_INTERNAL_CONVEX_HULL_H_
