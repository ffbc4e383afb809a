// One computed radiomic feature value, as every feature family returns it.
//
//   FeatureValue v{"glcm", "joint_maximum", "GYBY", "3D merged", 0.509};
//
// `family` and `feature` are snake-case identifiers used for the wide CSV
// column name `<family>_<feature>_<aggregation-slug>`; `ibsi_code` is the
// four-character IBSI identifier of the feature; `aggregation` is the IBSI
// label ('2D averaged', '2D slice-merged', '2.5D direction-merged',
// '2.5D merged', '3D averaged', '3D merged', '2D', '2.5D', '3D') or empty for
// families without one. `filter` names the convolutional filter (IBSI
// chapter 2) whose response map the value comes from, empty for the image.
#ifndef FEDRAD_FEATURES_FEATURE_VALUE_H_
#define FEDRAD_FEATURES_FEATURE_VALUE_H_

#include <string>
#include <vector>

namespace fedrad::features {

struct FeatureValue {
  std::string family;
  std::string feature;
  std::string ibsi_code;
  std::string aggregation;
  double value = 0.0;
  // Label of the IBSI-2 filter whose response map gave the value (e.g.
  // "log_s1.5"); empty for the original image. Prefixes the wide column.
  std::string filter;
};

using FeatureList = std::vector<FeatureValue>;

}  // namespace fedrad::features

#endif  // FEDRAD_FEATURES_FEATURE_VALUE_H_
