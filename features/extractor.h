// IBSI feature extraction for one region of interest of one image: the whole
// chain of IBSI chapter 2 (interpolation, re-segmentation, discretisation)
// followed by every chapter-1 family.
//
//   ExtractionOptions options = CtDefaultOptions();
//   options.discretisation.bin_width = 25;
//   FEDRAD_ASSIGN_OR_RETURN(FeatureList f,
//                           ExtractRegionFeatures(ct, lesion_mask, options));
//
// Filters (IBSI chapter 2, issue 14): each entry of `filters` makes a
// response map of the (interpolated, cropped) image; the selected families
// except morph are computed on it, inside the intensity mask of the
// unfiltered image (re-segmentation uses the original intensities, as in
// IBSI-2 phase 2), and carry the filter's label in FeatureValue::filter.
// The crop keeps the margin the filter reads, so the response inside the ROI
// equals that of the whole filtered image.
//
// Families (ids used in FeatureValue::family and the wide CSV column names):
//   morph (morphology), loc (local intensity), stat (intensity-based
//   statistics), ih (intensity histogram), ivh (intensity-volume histogram),
//   glcm, glrlm, glszm, gldzm, ngtdm, ngldm (texture; computed by
//   features/texture when it is built in).
// Thread safe; no shared state.
#ifndef FEDRAD_FEATURES_EXTRACTOR_H_
#define FEDRAD_FEATURES_EXTRACTOR_H_

#include <array>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "features/feature_value.h"
#include "features/filters/filter.h"
#include "features/morphology.h"
#include "features/preprocess.h"
#include "features/volume.h"

namespace fedrad::features {

struct ExtractionOptions {
  ResamplingOptions resampling;  // default: no interpolation
  // Round input intensities to integers before anything else (IBSI asks for
  // it for the CT phantom; CT from DICOM is integer already).
  bool round_intensities = true;
  // Re-segmentation range (intensity mask), inclusive. Default: CT soft
  // tissue and lung window [-1000, 400] HU.
  IntensityRange resegmentation{-1000.0, 400.0};
  // Outlier filtering: keep mean +- sigma*SD; 0 = off.
  double outlier_sigma = 0.0;
  // Discretisation for the intensity histogram and texture families.
  Discretisation discretisation;  // default FBS 25 HU
  // Discretisation for the intensity-volume histogram (kNone = integer
  // intensities on a grid of step 1).
  Discretisation ivh_discretisation{Discretisation::Method::kNone, 0, 0};
  // Families to compute; empty = all.
  std::set<std::string> families;
  // Texture aggregations (see features/texture/texture.h).
  bool texture_2d = false, texture_25d = false, texture_3d = true;
  int glcm_distance = 1, ngtdm_distance = 1, ngldm_distance = 1, ngldm_alpha = 0;
  bool glcm_symmetric = true;
  MorphologyOptions morphology;
  double local_intensity_radius_mm = 6.2035;  // sphere of 1 cm^3
  // Convolutional filters (IBSI chapter 2); empty = none.
  std::vector<filters::FilterSetting> filters;
  // Compute the features of the unfiltered image too.
  bool original = true;
  // Called with each filter's label and response map (on the cropped grid,
  // patient-space geometry) before its features; a non-OK status stops the
  // extraction. Unset = not called.
  std::function<absl::Status(const std::string& label, const ImageVolume& map)>
      response_map_sink;

  bool Wants(const std::string& family) const {
    return families.empty() || families.count(family) > 0;
  }
};

// Every family id, in output order.
const std::vector<std::string>& AllFamilies();
// InvalidArgument naming the first unknown family in `families`.
absl::Status ValidateFamilies(const std::set<std::string>& families);

// Extracts the selected families for the region flagged (non-zero) in `roi`,
// which must be on `image`'s grid, for the original image and each filter.
// Errors: InvalidArgument for an empty ROI, size mismatch, NaN/inf
// intensities inside the ROI's neighbourhood, an ROI that becomes empty
// after interpolation or re-segmentation, or a bad filter setting (the
// message names the filter); FailedPrecondition when texture families are
// requested but the texture library is not built in.
absl::StatusOr<FeatureList> ExtractRegionFeatures(const ImageVolume& image,
                                                  const std::vector<uint8_t>& roi,
                                                  const ExtractionOptions& options);

// The same for `image` and `roi` cut out of a larger image (see
// SourceWindow in features/preprocess.h): the features equal those of the
// whole image as long as the cut holds CaseCutMarginVoxels() around the
// ROI. The selected families run as tasks on up to ThreadBudget() threads
// (features/threads.h); the result does not depend on the thread count.
absl::StatusOr<FeatureList> ExtractRegionFeatures(const ImageVolume& image,
                                                  const std::vector<uint8_t>& roi,
                                                  const SourceWindow& window,
                                                  const ExtractionOptions& options);

// Voxels per axis a cut of an image of geometry `full` must hold around
// every ROI: the local-intensity sphere, the filters' reach and the
// interpolation support.
std::array<int, 3> CaseCutMarginVoxels(const Geometry& full, const ExtractionOptions& options);

}  // namespace fedrad::features

#endif  // FEDRAD_FEATURES_EXTRACTOR_H_
