// The separable spatial filters of IBSI chapter 2 (arXiv:2006.05470,
// sections 2.4-2.6): mean, Laplacian of Gaussian and Laws kernels, in 3D or
// slice by slice (2D, in_plane), with IBSI-2 padding.
//
//   LoGParams p;  p.sigma_mm = 1.5;  p.padding = Padding::kMirror;
//   FEDRAD_ASSIGN_OR_RETURN(ImageVolume response, LoGResponse(ct, p));
//
// Each function returns the response map on the image's grid (same
// geometry). Errors: InvalidArgument naming the parameter for a bad value
// (support < 1 or even, sigma <= 0, unknown Laws kernel...), a kernel larger
// than the image, or a 3D filter on a one-slice image. Thread safe.
#ifndef FEDRAD_FEATURES_FILTERS_SEPARABLE_FILTERS_H_
#define FEDRAD_FEATURES_FILTERS_SEPARABLE_FILTERS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "features/filters/padding.h"
#include "features/volume.h"

namespace fedrad::features::filters {

// Mean filter (IBSI-2 2.4): average over a cube (square when in_plane) of
// `support` voxels per side (odd).
struct MeanParams {
  int support = 3;
  Padding padding = Padding::kMirror;
  bool in_plane = false;
};
absl::StatusOr<ImageVolume> MeanResponse(const ImageVolume& image, const MeanParams& p);

// Laplacian of Gaussian (IBSI-2 2.5), in voxel units as the IBSI-2
// reference maps: sigma_i = sigma_mm / spacing_i, kernel
//   G(x) * sum_i (x_i^2 / sigma_i^4 - 1 / sigma_i^2), G the normalised
// Gaussian, truncated to 1 + 2 floor(truncation * sigma_i + 0.5) voxels per
// axis. Computed as the sum of separable terms (exact, no approximation).
struct LoGParams {
  double sigma_mm = 1.0;
  double truncation = 4.0;
  Padding padding = Padding::kMirror;
  bool in_plane = false;
};
absl::StatusOr<ImageVolume> LoGResponse(const ImageVolume& image, const LoGParams& p);
// Kernel length (voxels) of the LoG along an axis of spacing `spacing_mm`.
int LoGKernelSize(double sigma_mm, double truncation, double spacing_mm);

// Laws kernels (IBSI-2 2.6): `kernel` names one 1D kernel per axis, x first
// ("E5L5S5" 3D, "L5S5" 2D with in_plane); each 1D kernel is normalised to
// unit L2 norm. rotation_invariant pools (max or mean) over the 24 right-angle
// rotations in 3D (4 in 2D), identical kernel sets counted once.
// energy_distance delta > 0 then replaces the response by its energy map:
// the mean of |response| over a (2 delta + 1) cube (square in 2D).
constexpr int kMaxEnergyDistance = 100000;
struct LawsParams {
  std::string kernel;
  int energy_distance = 0;
  bool rotation_invariant = false;
  bool max_pooling = true;  // false = mean
  Padding padding = Padding::kMirror;
  bool in_plane = false;
};
absl::StatusOr<ImageVolume> LawsResponse(const ImageVolume& image, const LawsParams& p);
// The 1D kernels of a Laws name, x first; InvalidArgument naming the bad part
// (known: L3 E3 S3 L5 E5 S5 W5 R5) or a count other than 3 (3D) / 2 (2D).
absl::StatusOr<std::vector<std::vector<double>>> LawsKernels(const std::string& name,
                                                             bool in_plane);

}  // namespace fedrad::features::filters

#endif  // FEDRAD_FEATURES_FILTERS_SEPARABLE_FILTERS_H_
