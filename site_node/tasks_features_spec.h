// The study's `features` section (proto/feature_extraction.proto) checked and
// turned into extraction options. Shared by the site task
// (site_node/tasks_features.cc) and the coordinator's spec check
// (coordinator/analysis_features.cc), so both read the section the same way.
//
//   FEDRAD_ASSIGN_OR_RETURN(FeaturePlan plan, ResolveFeatureExtraction(study.features()));
//   RunCohort(cases, plan.options, {.settings_fingerprint = plan.fingerprint});
//   // plan.regions: {"largest_lesion", "lesion_"}, {"bkg", "bkg_"}
//
// Errors are InvalidArgument naming the field, e.g.
// "features.settings: discretisation.bin_width must be > 0" or
// "features.regions[2].roi: 'tumour' is not a region (largest_lesion, lesions,
// liver, bkg, patient)". Thread safe (pure function).
#ifndef FEDRAD_SITE_NODE_TASKS_FEATURES_SPEC_H_
#define FEDRAD_SITE_NODE_TASKS_FEATURES_SPEC_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "features/cohort.h"
#include "proto/feature_extraction.pb.h"

namespace fedrad::site {

struct FeaturePlan {
  features::CaseOptions options;
  // Canonical text of the effective settings (the cache key uses it) and
  // its SHA-256 (results.json features.settings_sha256).
  std::string fingerprint;
  std::string settings_sha256;
  std::string image_column = "image";
  std::string lesion_mask_column = "lesion_mask";
  std::string liver_mask_column = "liver_mask";
  bool needs_liver_mask = false;
  // (roi, column prefix) in spec order.
  std::vector<std::pair<std::string, std::string>> regions;
};

absl::StatusOr<FeaturePlan> ResolveFeatureExtraction(const v1::FeatureExtraction& spec);

}  // namespace fedrad::site

#endif  // FEDRAD_SITE_NODE_TASKS_FEATURES_SPEC_H_
