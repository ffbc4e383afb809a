// Building blocks shared by the spatial filters of IBSI chapter 2
// (features/filters/): a voxel grid of doubles, 1D convolution along one
// axis with IBSI-2 padding (separable filters are a chain of these), a
// parallel loop, and the "kernel fits the image" check.
//
//   Grid g = ToGrid(image);
//   ConvolveAxis(&g, /*axis=*/0, {1 / 3.0, 1 / 3.0, 1 / 3.0}, Padding::kMirror);
//   ImageVolume response = ToImage(g, image.geometry);
//
// Convolution is the true convolution of IBSI-2 (eq. 2.1; scipy.ndimage
// convolve1d): out[i] = sum_j w[j] in[i + c - j], c = (len - 1) / 2, the
// input read outside [0, n) through PaddedIndex. Thread safe; the work is
// split over min(ThreadBudget(), 8) threads (features/threads.h).
#ifndef FEDRAD_FEATURES_FILTERS_CONVOLUTION_H_
#define FEDRAD_FEATURES_FILTERS_CONVOLUTION_H_

#include <array>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "features/filters/padding.h"
#include "features/volume.h"

namespace fedrad::features::filters {

// x fastest, then y, then z (as features::Volume).
struct Grid {
  std::array<int, 3> size{0, 0, 0};
  std::vector<double> v;
  // Work buffer of the passes along y and z, kept between passes so that
  // each pass does not allocate (and page-fault) a new volume.
  std::vector<double> scratch;
  size_t Index(int x, int y, int z) const {
    return (static_cast<size_t>(z) * size[1] + y) * size[0] + x;
  }
};

Grid ToGrid(const Volume<float>& image);
Volume<float> ToImage(const Grid& grid, const Geometry& geometry);

// Convolves every line of `grid` along `axis` (0 x, 1 y, 2 z) with `kernel`
// (odd length; an even kernel is extended by a trailing 0 as in IBSI-2's
// reference implementations). In place.
void ConvolveAxis(Grid* grid, int axis, std::vector<double> kernel, Padding padding);

// Runs fn(begin, end) over [0, n) split in contiguous chunks on threads.
void ParallelFor(int n, const std::function<void(int, int)>& fn);

// InvalidArgument "<what>: kernel of <k> voxels along <axis> is larger than
// the image (<n> voxels); ..." when a kernel of `kernel_size` voxels per
// axis does not fit; axes with kernel_size[a] <= 1 are not checked.
absl::Status CheckKernelFits(const std::string& what, const std::array<int, 3>& kernel_size,
                             const Geometry& geometry);

// InvalidArgument when `image` is empty or its voxel count does not match
// its geometry, or when a 3D filter (in_plane false) meets a one-slice image.
absl::Status CheckFilterInput(const std::string& what, const Volume<float>& image, bool in_plane);

}  // namespace fedrad::features::filters

#endif  // FEDRAD_FEATURES_FILTERS_CONVOLUTION_H_
