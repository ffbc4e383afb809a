// One computed radiomic feature value, as every feature family returns it.
//
//   FeatureValue v{"glcm", "joint_maximum", "GYBY", "3D merged", 0.509};
//
// `family` and `feature` are snake-case identifiers used for the wide CSV
// column name `<family>_<feature>_<aggregation-slug>`; `ibsi_code` is the
// four-character IBSI identifier of the feature; `aggregation` is the IBSI
// label ('2D averaged', '2D slice-merged', '2.5D direction-merged',
// '2.5D merged', '3D averaged', '3D merged', '2D', '2.5D', '3D') or empty for
// families without one.
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
};

using FeatureList = std::vector<FeatureValue>;

}  // namespace fedrad::features

#endif  // FEDRAD_FEATURES_FEATURE_VALUE_H_
