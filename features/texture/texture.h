// IBSI texture features of a discretised ROI: GLCM, GLRLM, GLSZM, GLDZM,
// NGTDM and NGLDM, with every IBSI aggregation.
//
//   DiscreteVolume volume = ...;            // levels 1..Ng, 0 outside the ROI
//   TextureOptions options;                 // IBSI defaults, all families
//   FEDRAD_ASSIGN_OR_RETURN(FeatureList features,
//                           ComputeTextureFeatures(volume, options));
//   // features[k] = {"glcm", "joint_maximum", "GYBY", "3D merged", 0.509}
//
// Definitions follow the IBSI reference manual (chapter "Image features",
// sections on the six texture matrices); the feature names are the manual's
// names in snake_case, the codes its four-character identifiers, and the
// aggregation labels exactly the manual's:
//   GLCM, GLRLM: "2D averaged", "2D slice-merged", "2.5D direction-merged",
//                "2.5D merged", "3D averaged", "3D merged";
//   GLSZM, GLDZM, NGTDM, NGLDM: "2D", "2.5D", "3D".
// z is the slice axis: 2D and 2.5D work on (x, y) planes at fixed z. 2D
// directions are the 4 in-plane ones, 3D directions the 13 unique ones.
//
// Matrix conventions (IBSI):
//  * GLCM: Chebyshev distance `glcm_distance` along each direction (the voxel
//    pair k, k + d*m for unit direction m); symmetric by default.
//  * GLRLM: runs along each direction; voxels outside the ROI end a run. The
//    run percentage of a merged matrix uses the summed voxel counts of the
//    matrices merged (equivalently, sum of run length times count).
//  * GLSZM/GLDZM: zones are 26-connected in 3D, 8-connected in 2D.
//  * GLDZM: a voxel's distance is its city-block distance to the nearest voxel
//    outside the morphological mask (4-connectivity in 2D, 6 in 3D); the
//    image border counts as outside, so border voxels have distance 1. A zone's
//    distance is the smallest distance of its voxels.
//  * NGTDM: neighbourhood of Chebyshev radius `ngtdm_distance` (in-plane for
//    2D) excluding the centre; only ROI voxels count, and a voxel without any
//    ROI neighbour is left out of the matrix.
//  * NGLDM: dependence count = 1 (the centre) + number of ROI neighbours
//    within Chebyshev radius `ngldm_distance` whose grey level differs from
//    the centre's by at most `ngldm_alpha`.
//
// Degenerate inputs (documented behaviour, tested in texture_test.cc):
//  * Slices without ROI voxels (and slice/direction combinations without any
//    voxel pair or run) are skipped when averaging over slices or directions.
//  * An aggregation with no non-empty matrix at all (e.g. GLCM of a one-voxel
//    ROI, NGTDM of isolated voxels) is still emitted, with value NaN, so that
//    every ROI yields the same feature columns.
//  * A single grey level: GLCM correlation is 1 (PyRadiomics' convention for
//    a flat region; the IBSI formula is 0/0), information correlation 1 and 2
//    are 0; NGTDM contrast, busyness, complexity and strength are 0 and
//    coarseness is 10^6 when sum(p_i s_i) = 0 (IBSI).
//
// Thread safety: all functions are pure and may run concurrently.
// Cost: linear in the ROI bounding box; the 200^3 voxel benchmark
// (texture_benchmark.cc) runs all six families in a few hundred ms.
#ifndef FEDRAD_FEATURES_TEXTURE_TEXTURE_H_
#define FEDRAD_FEATURES_TEXTURE_TEXTURE_H_

#include "absl/status/statusor.h"
#include "features/discrete_volume.h"
#include "features/feature_value.h"

namespace fedrad::features {

struct TextureOptions {
  // Which families to compute (ComputeTextureFeatures only).
  bool glcm = true, glrlm = true, glszm = true, gldzm = true, ngtdm = true, ngldm = true;
  // Which aggregations to emit: 2D = "2D averaged", "2D slice-merged", "2D";
  // 2.5D = "2.5D direction-merged", "2.5D merged", "2.5D"; 3D = "3D ...".
  bool compute_2d = true, compute_25d = true, compute_3d = true;
  int glcm_distance = 1;   // Chebyshev distance delta, 1..64
  int ngtdm_distance = 1;  // neighbourhood radius, 1..8
  int ngldm_distance = 1;  // neighbourhood radius, 1..8
  int ngldm_alpha = 0;     // coarseness parameter, >= 0
  bool glcm_symmetric = true;
};

// Computes the families selected in `options`, in the order GLCM, GLRLM,
// GLSZM, GLDZM, NGTDM, NGLDM; within a family, aggregation by aggregation in
// the order listed above, features in IBSI order.
// Errors (InvalidArgument): non-positive grid size, `levels` or `morph_mask`
// size not nx*ny*nz, num_levels outside 1..1024 (the matrices are dense;
// texture discretisations use tens of levels), a level outside
// 0..num_levels, an empty ROI, distances outside 1..64 (GLCM) or 1..8
// (NGTDM, NGLDM), a negative alpha;
// GLDZM only: an intensity-mask voxel outside a given morphological mask.
absl::StatusOr<FeatureList> ComputeTextureFeatures(const DiscreteVolume& volume,
                                                   const TextureOptions& options);

// One family each; the family flags in `options` are ignored, the rest apply.
// Same errors as ComputeTextureFeatures.
absl::StatusOr<FeatureList> ComputeGlcmFeatures(const DiscreteVolume& volume,
                                                const TextureOptions& options);
absl::StatusOr<FeatureList> ComputeGlrlmFeatures(const DiscreteVolume& volume,
                                                 const TextureOptions& options);
absl::StatusOr<FeatureList> ComputeGlszmFeatures(const DiscreteVolume& volume,
                                                 const TextureOptions& options);
absl::StatusOr<FeatureList> ComputeGldzmFeatures(const DiscreteVolume& volume,
                                                 const TextureOptions& options);
absl::StatusOr<FeatureList> ComputeNgtdmFeatures(const DiscreteVolume& volume,
                                                 const TextureOptions& options);
absl::StatusOr<FeatureList> ComputeNgldmFeatures(const DiscreteVolume& volume,
                                                 const TextureOptions& options);

}  // namespace fedrad::features

#endif  // FEDRAD_FEATURES_TEXTURE_TEXTURE_H_
