// Separable undecimated (stationary, "à trous") wavelet filters of IBSI
// chapter 2 (arXiv:2006.05470, section 4.5 "separable wavelets"): Haar,
// Daubechies and Coiflet families, one decomposition such as "LHL" per call.
//
//   WaveletParams p;
//   p.family = "db2";
//   p.decomposition = "LHL";   // x: low-pass, y: high-pass, z: low-pass
//   p.level = 1;
//   p.padding = Padding::kConstant;
//   FEDRAD_ASSIGN_OR_RETURN(ImageVolume response, WaveletResponse(image, p));
//
// Definition (the one the IBSI-2 reference response maps 5.a-7.a were made
// with; checked against them by wavelet_test.cc):
//   * the 1D kernels are the decomposition filters of PyWavelets ("dec_lo",
//     "dec_hi"; constants in wavelet.cc with their published source). An
//     even-length kernel h[0..n-1] gets a trailing zero so that it has a
//     centre c = n/2, and is applied as a true convolution:
//       out[i] = sum_k h[k] in[i + d (c - k)]     (dilation d = 2^(level-1)),
//   * level j >= 1, undecimated: the image is first convolved with the
//     low-pass kernel along every axis at dilations 1, 2, ..., 2^(j-2), then
//     with the decomposition's kernels at dilation 2^(j-1),
//   * padding (filters::Padding) is applied at every 1D pass,
//   * rotation invariance: the response is pooled (mean or max) over the 24
//     right-angle rotations of the 3D operator (4 in-plane rotations for a
//     2D filter): each rotation permutes the axes of the kernels and flips
//     some of them (about their centre), low-pass pre-filters included.
//     Mean pooling over the 24 rotations equals the mean over the distinct
//     rotated operators (each appears equally often).
// Computed in double; the result is float, on the input's grid.
//
// Errors (InvalidArgument, naming the setting): unknown family, a
// decomposition that is not 3 letters of L/H (2 when in_plane), level < 1 or
// > 8, a 3D filter on a one-slice image, an empty image.
// Thread safe (no shared state); uses up to 2 threads internally.
#ifndef FEDRAD_FEATURES_FILTERS_WAVELET_H_
#define FEDRAD_FEATURES_FILTERS_WAVELET_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "features/filters/padding.h"
#include "features/volume.h"

namespace fedrad::features::filters {

struct WaveletParams {
  enum class Pooling { kMean, kMax };
  // "haar" (= "db1"), "db2", "db3", "coif1" (case insensitive).
  std::string family = "haar";
  // One letter per axis in x y z order (x y when in_plane): L low-pass,
  // H high-pass. Case insensitive.
  std::string decomposition = "LLL";
  int level = 1;  // 1..8
  bool rotation_invariant = false;
  Pooling pooling = Pooling::kMean;  // used only when rotation_invariant
  Padding padding = Padding::kMirror;
  bool in_plane = false;  // 2D: each slice on its own, x and y only
};

// The response map of `image` under the wavelet decomposition `p`.
absl::StatusOr<ImageVolume> WaveletResponse(const ImageVolume& image,
                                            const WaveletParams& p);

// Several decompositions of the same family, level, padding and rotation
// settings (p.decomposition is ignored), in the order given: the same maps
// as one WaveletResponse call each, but the passes along x (and y) are
// shared between decompositions with the same leading letters, e.g. the 8
// first-level 3D decompositions cost 14 1D passes instead of 24.
absl::StatusOr<std::vector<ImageVolume>> WaveletResponses(
    const ImageVolume& image, const WaveletParams& p,
    const std::vector<std::string>& decompositions);

// How far, in voxels along each filtered axis, the response at a voxel
// reads the image: (kernel length / 2) (2^level - 1). Cropping an image to
// a region plus this margin leaves the response inside the region
// unchanged. InvalidArgument for an unknown family or a level out of range.
absl::StatusOr<int> WaveletReach(const WaveletParams& p);

// The names WaveletResponse accepts as `family`, for help texts.
std::vector<std::string> WaveletFamilies();

// The decomposition (dec_lo, dec_hi) kernels of `family` as PyWavelets lists
// them (no trailing zero). InvalidArgument for an unknown family. Exposed for
// tests and documentation.
absl::StatusOr<std::vector<double>> WaveletLowPass(const std::string& family);
absl::StatusOr<std::vector<double>> WaveletHighPass(const std::string& family);

}  // namespace fedrad::features::filters

#endif  // FEDRAD_FEATURES_FILTERS_WAVELET_H_
