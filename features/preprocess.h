// IBSI chapter 2 image processing for one region of interest: cropping,
// interpolation to a new grid (aligned on grid centres), mask interpolation
// with a partial-volume threshold, re-segmentation (range and outlier
// filtering) and intensity discretisation.
//
//   ResamplingOptions r;  r.enabled = true;  r.spacing = {2, 2, 2};
//   FEDRAD_ASSIGN_OR_RETURN(RoiGrid grid, PrepareRoiGrid(ct, roi, r, 6.2035));
//   std::vector<uint8_t> imask = Resegment(grid, range, /*outlier_sigma=*/0);
//   DiscretisedLevels d = Discretise(grid.intensities, imask, disc, range);
//
// Interpolation uses ITK (nearest, linear, cubic B-spline), inside the .cc.
// Pure functions, thread safe.
#ifndef FEDRAD_FEATURES_PREPROCESS_H_
#define FEDRAD_FEATURES_PREPROCESS_H_

#include <array>
#include <cstdint>
#include <optional>
#include <vector>

#include "absl/status/statusor.h"
#include "features/volume.h"

namespace fedrad::features {

enum class Interpolator { kNearest, kLinear, kBSpline3 };

struct ResamplingOptions {
  bool enabled = false;
  // New voxel spacing in mm; a value <= 0 keeps the axis as it is (e.g.
  // {2, 2, 0} interpolates in-plane only, IBSI configuration B).
  std::array<double, 3> spacing{0, 0, 0};
  Interpolator image_interpolator = Interpolator::kLinear;
  Interpolator mask_interpolator = Interpolator::kLinear;
  // An interpolated mask voxel is in the ROI when its value >= this.
  double partial_volume_threshold = 0.5;
  // Round interpolated intensities to the nearest integer (IBSI, CT).
  bool round_intensities = true;
  // Round the source intensities before anything else (also without
  // interpolation); only the cropped part of the image is touched.
  bool round_source = false;
};

// A region on its (possibly interpolated) grid, cropped to the ROI's bounding
// box plus a margin. `geometry` is the cropped grid's geometry in patient
// space (so it stays comparable with the original image).
struct RoiGrid {
  Geometry geometry;
  std::vector<float> intensities;  // every voxel of the cropped grid
  std::vector<uint8_t> mask;       // 1 inside the (interpolated) ROI
};

// The grid IBSI's "aligned grid centres" interpolation produces for an image
// of geometry `g`: size ceil(n * s / s_new), same centre. Axes with
// spacing <= 0 keep their size and spacing.
Geometry AlignedGrid(const Geometry& g, const std::array<double, 3>& spacing);

// Crops `image` around the voxels flagged in `roi` (same grid; size must
// match) with a margin of at least `margin_mm` of image voxels around the
// ROI (for the local intensity peak), and interpolates when
// options.enabled. The result is bit-identical to interpolating the whole
// image and cropping afterwards (linear, nearest), and within ~1e-6 HU for
// B-splines (boundary effect of the prefilter decays below that over the
// extra crop margin).
// Errors: InvalidArgument for an empty ROI, mismatched sizes or a
// non-positive spacing; Internal when ITK throws (message names it).
//
// `window`, when set, says that `image` and `roi` are a box cut out of a
// larger image (a case is cropped once to the box around all its regions,
// issue 15): grids, margins and interpolation are those of the whole image,
// so the result equals that of the whole image as long as the cut holds
// CutMarginVoxels() around the ROI (else Internal).
struct SourceWindow {
  Geometry full;                      // the whole image's grid
  std::array<int, 3> offset{0, 0, 0};  // index of the cut's first voxel in it
};
absl::StatusOr<RoiGrid> PrepareRoiGrid(const ImageVolume& image,
                                       const std::vector<uint8_t>& roi,
                                       const ResamplingOptions& options,
                                       double margin_mm,
                                       const SourceWindow* window = nullptr);

// Voxels (per axis, of the whole image of geometry `full`) that a cut must
// hold around an ROI for PrepareRoiGrid with these options and margin.
std::array<int, 3> CutMarginVoxels(const Geometry& full, const ResamplingOptions& options,
                                   double margin_mm);

struct IntensityRange {
  std::optional<double> min, max;  // inclusive; unset = unbounded
  bool Contains(double v) const {
    return (!min || v >= *min) && (!max || v <= *max);
  }
};

// The intensity mask (IBSI 2.7): the ROI voxels inside `range` and, when
// outlier_sigma > 0, within mean +- outlier_sigma * SD of those voxels.
std::vector<uint8_t> Resegment(const RoiGrid& grid, const IntensityRange& range,
                               double outlier_sigma);

struct Discretisation {
  enum class Method { kNone, kFixedBinNumber, kFixedBinSize };
  Method method = Method::kFixedBinSize;
  int bin_count = 32;       // kFixedBinNumber
  double bin_width = 25.0;  // kFixedBinSize, intensity units (HU)
};

struct DiscretisedLevels {
  std::vector<int32_t> levels;  // grid-sized; 0 outside the intensity mask
  int num_levels = 0;           // Ng
  // For kFixedBinSize: level l covers [origin + (l-1) w, origin + l w).
  double origin = 0;
};

// Discretises the intensity-mask voxels (IBSI 2.8).
//  * kFixedBinNumber: floor(Ng (X - Xmin) / (Xmax - Xmin)) + 1, Xmax -> Ng,
//    Xmin/Xmax over the intensity mask; Ng = bin_count.
//  * kFixedBinSize: floor((X - Xmin) / w) + 1 with Xmin the lower bound of
//    `range` when set, else the minimum over the mask; Ng = highest level.
//  * kNone: the intensities themselves, which must be integers >= 1 (else
//    InvalidArgument); Ng = highest level.
absl::StatusOr<DiscretisedLevels> Discretise(const std::vector<float>& intensities,
                                             const std::vector<uint8_t>& mask,
                                             const Discretisation& discretisation,
                                             const IntensityRange& range);

}  // namespace fedrad::features

#endif  // FEDRAD_FEATURES_PREPROCESS_H_
