// The Gabor filter of IBSI chapter 2 (arXiv:2006.05470, section 2.7): a 2D
// complex kernel applied in image planes, by FFT; the response map is the
// modulus of the complex response.
//
//   GaborParams p;  p.sigma_mm = 5;  p.lambda_mm = 2;  p.gamma = 1.5;
//   p.theta_step_deg = 22.5;         // rotation invariant, mean pooling
//   p.orthogonal_planes = true;      // IBSI-2 "3D": axial, coronal, sagittal
//   FEDRAD_ASSIGN_OR_RETURN(ImageVolume response, GaborResponse(ct, p));
//
// Kernel, in voxel units of the plane (spacing = the plane's largest),
// with u the row (slow) and v the column (fast) offset of the plane:
//   y' = -cos(theta) u + sin(theta) v,  x' = sin(theta) u + cos(theta) v,
//   g = exp(-(x'^2 + gamma^2 y'^2) / (2 sigma^2)) exp(i 2 pi x' / lambda),
// as the IBSI-2 reference maps (cases 4.a, 4.b). The kernel's half-width is
// ceil(truncation * sigma / min(gamma, 1)) voxels, at most half the plane's
// largest dimension (so that the phantom cases use the whole plane, as the
// reference implementations do).
// Thread safe (FFTW planning is serialised).
#ifndef FEDRAD_FEATURES_FILTERS_GABOR_H_
#define FEDRAD_FEATURES_FILTERS_GABOR_H_

#include "absl/status/statusor.h"
#include "features/filters/padding.h"
#include "features/volume.h"

namespace fedrad::features::filters {

struct GaborParams {
  double sigma_mm = 1.0;
  double lambda_mm = 1.0;
  double gamma = 1.0;
  double theta_deg = 0.0;
  // > 0: responses for theta, theta + step, ... (< theta + 360) are pooled.
  double theta_step_deg = 0.0;
  bool max_pooling = false;  // default mean pooling
  // Pool over the axial, coronal and sagittal planes too (else axial only).
  bool orthogonal_planes = false;
  double truncation = 4.0;
  Padding padding = Padding::kMirror;
};

absl::StatusOr<ImageVolume> GaborResponse(const ImageVolume& image, const GaborParams& p);

// Half-width (voxels) of the kernel in a plane of spacing `spacing_mm` and
// largest dimension `plane_max_dim`.
int GaborRadius(const GaborParams& p, double spacing_mm, int plane_max_dim);

}  // namespace fedrad::features::filters

#endif  // FEDRAD_FEATURES_FILTERS_GABOR_H_
