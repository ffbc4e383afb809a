// One convolutional filter of IBSI chapter 2 as the extraction pipeline sees
// it (features/extractor.h): its settings (a protobuf-free mirror of
// fedrad.v1.Filter in proto/feature_settings.proto), the label that prefixes
// its feature columns, the crop margin it needs, and the dispatch to the
// filter's response function.
//
//   FilterSetting f;  f.kind = FilterKind::kLoG;  f.log.sigma_mm = 1.5;
//   FEDRAD_RETURN_IF_ERROR(ValidateFilter(f));
//   FEDRAD_ASSIGN_OR_RETURN(ImageVolume response, ApplyFilter(ct, f));
//   FilterLabel(f);   // "log_s1.5" -> columns log_s1.5_stat_mean, ...
//
// Pure functions, thread safe.
#ifndef FEDRAD_FEATURES_FILTERS_FILTER_H_
#define FEDRAD_FEATURES_FILTERS_FILTER_H_

#include <array>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "features/filters/gabor.h"
#include "features/filters/padding.h"
#include "features/filters/riesz.h"
#include "features/filters/separable_filters.h"
#include "features/filters/simoncelli.h"
#include "features/filters/wavelet.h"
#include "features/volume.h"

namespace fedrad::features::filters {

enum class FilterKind { kMean, kLoG, kLaws, kGabor, kWavelet, kSimoncelli, kRiesz };

// Settings of the wavelet, Simoncelli and Riesz filters as in the proto;
// ApplyFilter converts them to WaveletParams, SimoncelliParams and
// RieszParams (wavelet.h, simoncelli.h, riesz.h).
struct WaveletSetting {
  std::string family;         // "haar", "db2", "db3", "coif1", ...
  std::string decomposition;  // "LHL" (3D), "LH" (2D), x first
  int level = 1;
  bool rotation_invariant = false;
  bool max_pooling = false;  // default mean
};
struct SimoncelliSetting {
  int level = 1;
};
struct RieszSetting {
  bool base_is_log = true;  // else Simoncelli
  LoGParams log;            // padding / in_plane come from FilterSetting
  SimoncelliSetting simoncelli;
  std::array<int, 3> order{0, 0, 0};
};

struct FilterSetting {
  FilterKind kind = FilterKind::kMean;
  std::string label;  // "" = FilterLabel's default
  Padding padding = Padding::kMirror;
  bool in_plane = false;
  // The member named by `kind` is used (its padding / in_plane fields are
  // overwritten by the two above).
  MeanParams mean;
  LoGParams log;
  LawsParams laws;
  GaborParams gabor;
  WaveletSetting wavelet;
  SimoncelliSetting simoncelli;
  RieszSetting riesz;
};

// "mean", "log", "laws", "gabor", "wavelet", "simoncelli", "riesz".
std::string FilterKindName(FilterKind kind);

// The column prefix: `label` if set, else made from the parameters, e.g.
// mean_m5, log_s1.5 (+ _2d), laws_l5e5e5_d7_rimax, gabor_s5_l2_g1.5_t60 or
// gabor_s5_l2_g1.5_r22.5_mean (rotation invariant; + _3p with orthogonal planes), wavelet_db3_llh_l1, simoncelli_l1,
// riesz_log_s3_100 (docs/features.md).
std::string FilterLabel(const FilterSetting& f);

// Parameter checks that need no image (InvalidArgument naming the filter and
// the field): bad label characters, support, sigma, kernel names, ...
absl::Status ValidateFilter(const FilterSetting& f);
// ValidateFilter on each, plus labels unique in the list.
absl::Status ValidateFilters(const std::vector<FilterSetting>& filters);

// Margin in mm around the ROI that the filter reads (its kernel's reach):
// cropping the image to the ROI plus this margin leaves the response inside
// the ROI unchanged. +infinity for filters defined on the whole image
// (Simoncelli, Riesz: their frequency grid depends on the image size).
double FilterMarginMm(const FilterSetting& f, const std::array<double, 3>& spacing);

// The response map of `image` (same geometry). Errors: InvalidArgument
// naming the filter label and the bad setting (also image-dependent ones:
// kernel larger than the image, 3D filter on one slice).
absl::StatusOr<ImageVolume> ApplyFilter(const ImageVolume& image, const FilterSetting& f);

// The response maps of every filter of `filters`, handed to `each(index,
// map)` in list order (each map is released after its call). The same maps
// as ApplyFilter on each, but wavelet filters of the same family, level,
// rotation invariance, pooling, padding and in_plane are computed together
// (WaveletResponses shares their passes: the 8 first-level decompositions
// cost 14 1D passes instead of 24), so up to that many maps are held at
// once. Stops at the first error (ApplyFilter's, or `each`'s).
absl::Status ApplyFilters(
    const ImageVolume& image, const std::vector<FilterSetting>& filters,
    const std::function<absl::Status(size_t index, ImageVolume map)>& each);

}  // namespace fedrad::features::filters

#endif  // FEDRAD_FEATURES_FILTERS_FILTER_H_
