// The Simoncelli wavelet of IBSI chapter 2 (arXiv:2006.05470, section 4.6
// "non-separable wavelets"): an isotropic band-pass filter defined in the
// Fourier domain, one decomposition level per call.
//
//   SimoncelliParams p;
//   p.level = 2;
//   p.padding = Padding::kPeriodic;
//   FEDRAD_ASSIGN_OR_RETURN(ImageVolume response, SimoncelliResponse(image, p));
//
// Definition: with nu the normalised frequency (about 1 at the Nyquist
// frequency; ||nu|| over x y z, or x y for in_plane) and
// nu_max = 2^-(level-1),
//   psi(nu) = cos(pi/2 log2(2 ||nu|| / nu_max))  if nu_max/4 <= ||nu|| <= nu_max,
//             0 otherwise,
// and the response is the real part of IDFT(DFT(image) psi). The frequency
// grid is that of the IBSI-2 reference implementation: on an axis of N
// samples nu = (i - (N-1)/2) / ((N-1)/2) at position i of the centred
// spectrum (details in internal/fourier.h); the exact DFT frequencies 2k/N
// fail the consensus maps 8.a.2 and 8.a.3. Periodic padding is the natural
// one (the DFT is circular); any other padding first extends each filtered
// axis on both sides with that mode by half the largest filtered size, at
// most 32 voxels (plus a few on the far side up to a fast FFT size), and the
// result is cropped back. Checked against the IBSI-2 maps 8.a.1-3 by
// simoncelli_test.cc.
//
// Errors (InvalidArgument, naming the setting): level < 1 or > 8, an empty
// image, a 3D filter on a one-slice image. Thread safe (FFTW planning is
// serialised internally).
#ifndef FEDRAD_FEATURES_FILTERS_SIMONCELLI_H_
#define FEDRAD_FEATURES_FILTERS_SIMONCELLI_H_

#include "absl/status/statusor.h"
#include "features/filters/padding.h"
#include "features/volume.h"

namespace fedrad::features::filters {

struct SimoncelliParams {
  int level = 1;  // 1..8
  Padding padding = Padding::kPeriodic;
  bool in_plane = false;  // 2D: each slice on its own
};

absl::StatusOr<ImageVolume> SimoncelliResponse(const ImageVolume& image,
                                               const SimoncelliParams& p);

}  // namespace fedrad::features::filters

#endif  // FEDRAD_FEATURES_FILTERS_SIMONCELLI_H_
