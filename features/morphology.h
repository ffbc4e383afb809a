// IBSI chapter 1 morphological features (family "morph", IBSI 3.1): a
// triangle mesh from the morphological mask (marching cubes, in
// features/internal/marching_cubes.cc), its convex hull, PCA axes, bounding volumes and the spatial
// autocorrelation of the intensity mask.
//
//   MorphologyInput in{geometry, morph_mask, intensity_mask, intensities};
//   FeatureList f = MorphologyFeatures(in, MorphologyOptions{});
//
// Positions are in mm on the grid's own axes (index * spacing); the
// direction matrix is orthonormal, so it changes none of these features.
// Pure and thread safe.
#ifndef FEDRAD_FEATURES_MORPHOLOGY_H_
#define FEDRAD_FEATURES_MORPHOLOGY_H_

#include <array>
#include <cstdint>
#include <vector>

#include "features/feature_value.h"
#include "features/volume.h"

namespace fedrad::features {

// A closed, outward-oriented triangle mesh in mm.
struct Mesh {
  std::vector<std::array<double, 3>> vertices;
  std::vector<std::array<int, 3>> triangles;
  double Volume() const;  // signed tetrahedra (IBSI 3.1.1), > 0
  double Area() const;    // IBSI 3.1.3
};

// Marching cubes at iso-level 0.5 on the binary `mask` (geometry.size,
// x fastest), padded with one empty voxel on every side so the mesh is
// closed. Vertices sit on voxel-edge midpoints. Ambiguous faces join the
// inside corners (a rule that depends only on the face, so the mesh is
// watertight). Vertices are shared between triangles.
Mesh MarchingCubes(const Geometry& geometry, const std::vector<uint8_t>& mask);

// Convex hull of `points`; returns its triangles (indices into points),
// outward oriented. Exact for points on a half-voxel lattice.
struct Hull {
  std::vector<std::array<double, 3>> vertices;
  std::vector<std::array<int, 3>> triangles;
  double Volume() const;
  double Area() const;
};
Hull ConvexHullOfMesh(const Mesh& mesh, const std::array<double, 3>& spacing);

struct MorphologyInput {
  Geometry geometry;                     // the grid of the three vectors
  std::vector<uint8_t> morph_mask;       // 1 inside the morphological mask
  std::vector<uint8_t> intensity_mask;   // 1 inside the intensity mask
  std::vector<float> intensities;        // every voxel of the grid
};

struct MorphologyOptions {
  // Moran's I and Geary's C (weights 1/distance over all voxel pairs of the
  // intensity mask):
  //  * up to `spatial_autocorrelation_direct_max_voxels` voxels: exact, by
  //    the O(N^2) pair sum;
  //  * above that, exact by FFT convolution when N <=
  //    `spatial_autocorrelation_max_voxels`, or when the zero-padded
  //    bounding box (about 8x its cells) has at most
  //    `spatial_autocorrelation_fft_max_cells` cells;
  //  * otherwise the mean over `spatial_autocorrelation_repeats` random
  //    subsets of `spatial_autocorrelation_sample_voxels` voxels (fixed
  //    seed), an approximation IBSI allows for large ROIs.
  int64_t spatial_autocorrelation_max_voxels = 10000;
  int64_t spatial_autocorrelation_sample_voxels = 4000;
  int64_t spatial_autocorrelation_direct_max_voxels = 3000;
  int64_t spatial_autocorrelation_fft_max_cells = 8000000;
  int spatial_autocorrelation_repeats = 3;
  uint64_t seed = 42;
};

// The 25 morphology features with IBSI reference values, plus volume (voxel
// counting). Empty list for an empty morphological mask.
FeatureList MorphologyFeatures(const MorphologyInput& input,
                               const MorphologyOptions& options);

}  // namespace fedrad::features

#endif  // FEDRAD_FEATURES_MORPHOLOGY_H_
