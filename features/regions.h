// Regions of interest of one case (CRLM study): each lesion, all lesions as
// one region, the liver, and the residual parenchyma BKG = liver minus all
// lesions (optionally minus a margin in mm around them).
//
//   RegionOptions options;                  // defaults below
//   FEDRAD_ASSIGN_OR_RETURN(RegionPlan plan,
//                           PlanRegions(lesions, &liver, options));
//   for (const std::string& name : plan.names) {
//     std::vector<uint8_t> mask = plan.Mask(name);   // one region at a time
//     ...
//   }
//
// Region names (the `roi` column): "lesion_1" ... "lesion_N" (ordered by
// decreasing volume, so lesion_1 is the largest), "lesions" (union),
// "liver", "bkg". Pure; thread safe.
#ifndef FEDRAD_FEATURES_REGIONS_H_
#define FEDRAD_FEATURES_REGIONS_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "features/volume.h"

namespace fedrad::features {

struct RegionOptions {
  enum class LesionSplit {
    kAuto,                 // labels when the mask holds >1 distinct label, else components
    kLabels,               // each distinct label value is one lesion
    kConnectedComponents,  // 26-connected components of (mask > 0)
  };
  LesionSplit split = LesionSplit::kAuto;
  bool each_lesion = true;  // lesion_1..lesion_N
  bool all_lesions = true;  // "lesions"
  bool liver = true;        // "liver" (only with a liver mask)
  bool bkg = true;          // "bkg" (only with a liver mask)
  // BKG excludes voxels whose centre lies within this distance (mm) of a
  // lesion voxel's centre; 0 = exclude the lesions only.
  double bkg_margin_mm = 0.0;
};

struct LesionInfo {
  std::string name;      // lesion_k
  int64_t voxels = 0;
  double volume_mm3 = 0;  // voxel counting
};

class RegionPlan {
 public:
  std::vector<std::string> names;  // in output order
  std::vector<LesionInfo> lesions; // largest first
  double total_lesion_volume_mm3 = 0;

  // The region's mask on the image grid (1 inside); empty if unknown name.
  std::vector<uint8_t> Mask(const std::string& name) const;

 private:
  friend absl::StatusOr<RegionPlan> PlanRegions(const LabelVolume&, const LabelVolume*,
                                                const RegionOptions&);
  Geometry geometry_;
  std::vector<int32_t> lesion_id_;  // 0 = none, k = lesion_k
  std::vector<uint8_t> liver_;      // empty without liver
  std::vector<uint8_t> bkg_;        // empty without liver
};

// Errors: InvalidArgument when the liver mask's geometry differs from the
// lesion mask's (message names the field), when a mask holds negative
// labels, or when the lesion mask is empty (and no liver region is asked).
absl::StatusOr<RegionPlan> PlanRegions(const LabelVolume& lesions,
                                       const LabelVolume* liver,
                                       const RegionOptions& options);

// Dilation of `mask` by a ball of `radius_mm` (physical distance between
// voxel centres), on grid `g`.
std::vector<uint8_t> DilateByBall(const Geometry& g, const std::vector<uint8_t>& mask,
                                  double radius_mm);

}  // namespace fedrad::features

#endif  // FEDRAD_FEATURES_REGIONS_H_
