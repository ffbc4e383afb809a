// The coordinator's half of feature extraction (study section `features`,
// proto/feature_extraction.proto): the first step of a study. It checks the
// section (CheckFeatureExtraction, field named on error), sends one
// "features.extract" task to every site (site_node/tasks_features.cc), and
// records per site the case counts and the excluded cases with their
// reasons, plus the feature columns the sites added. A site where every case
// fails answers with an error and is dropped from the study (quorum rules,
// study.excluded_sites). See docs/results.md, "features".
//
//   results.json: features.sites.C2 = {"n_cases": 45, "n_ok": 44, "n_excluded": 1,
//                                      "excluded": [{"case": "C2_0007", "reason": "..."}]}
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "coordinator/analyses.h"
#include "coordinator/study_context.h"
#include "core/log.h"
#include "core/status.h"
#include "proto/payload.h"
#include "proto/task_kinds.h"
#include "site_node/tasks_features_spec.h"

namespace fedrad::coordinator {

absl::Status CheckFeatureExtraction(const v1::Study& study) {
  if (!study.features().enabled()) return absl::OkStatus();
  return site::ResolveFeatureExtraction(study.features()).status();
}

absl::Status RunFeatureExtraction(StudyContext& ctx) {
  namespace fe = ::fedrad::kinds::features_extract;
  FEDRAD_ASSIGN_OR_RETURN(site::FeaturePlan plan,
                          site::ResolveFeatureExtraction(ctx.study().features()));
  ctx.SetProgress("feature extraction", 0.0,
                  absl::StrCat("sites extract ", plan.regions.size(), " region(s) per case"));
  FEDRAD_ASSIGN_OR_RETURN(auto by_site, ctx.Broadcast(fe::kName, v1::Payload()));

  v1::Results::Features& out = *ctx.results().mutable_features();
  out.set_settings_sha256(plan.settings_sha256);
  out.clear_regions();
  for (const auto& [roi, prefix] : plan.regions) {
    v1::Results::FeatureRegion* region = out.add_regions();
    region->set_roi(roi);
    region->set_prefix(prefix);
  }
  std::vector<std::string> columns;  // first site's order
  std::set<std::string> seen;
  std::map<std::string, std::set<std::string>> site_columns;
  int64_t total_cases = 0, total_ok = 0, total_excluded = 0;
  for (const auto& [site, result] : by_site) {
    const auto& p = result.payload();
    FEDRAD_ASSIGN_OR_RETURN(double n_cases, kinds::Get(p, fe::kNCases));
    FEDRAD_ASSIGN_OR_RETURN(double n_ok, kinds::Get(p, fe::kNOk));
    FEDRAD_ASSIGN_OR_RETURN(double n_excluded, kinds::Get(p, fe::kNExcluded));
    v1::Results::FeatureSite& s = (*out.mutable_sites())[site];
    s.set_n_cases(static_cast<int32_t>(CountFromDouble(n_cases)));
    s.set_n_ok(static_cast<int32_t>(CountFromDouble(n_ok)));
    s.set_n_excluded(static_cast<int32_t>(CountFromDouble(n_excluded)));
    // Only sites that excluded a case get an `excluded` list (the report
    // shows every such list).
    for (const v1::CaseNote& note : kinds::Get(p, fe::kExcludedCases)) {
      v1::Results::ExcludedCase* excluded = s.add_excluded();
      excluded->set_case_(note.case_id());
      excluded->set_reason(note.reason());
    }
    const std::string sha = kinds::Get(p, fe::kSettingsSha256);
    if (kinds::Has(p, fe::kSettingsSha256) && sha != plan.settings_sha256) {
      FEDRAD_LOG(WARNING) << "site " << site << " used settings " << sha << ", expected "
                          << plan.settings_sha256;
      s.set_settings_sha256(sha);
    }
    std::set<std::string>& mine = site_columns[site];
    for (const std::string& name : kinds::Get(p, fe::kColumns)) {
      mine.insert(name);
      if (seen.insert(name).second) columns.push_back(name);
    }
    s.set_n_feature_columns(static_cast<int32_t>(mine.size()));
    total_cases += CountFromDouble(n_cases);
    total_ok += CountFromDouble(n_ok);
    total_excluded += CountFromDouble(n_excluded);
    FEDRAD_LOG(INFO) << "features: site " << site << ": " << n_ok << " of " << n_cases
                     << " cases extracted, " << n_excluded << " excluded";
  }
  // Every site should add the same columns (same settings, same regions); a
  // column some site lacks is named so that later steps' errors make sense.
  std::vector<std::string> not_everywhere;
  for (const auto& c : columns) {
    for (const auto& [site, mine] : site_columns) {
      if (mine.count(c) == 0) {
        not_everywhere.push_back(absl::StrCat(c, " (missing at ", site, ")"));
        break;
      }
    }
  }
  if (!not_everywhere.empty()) {
    *out.mutable_columns_not_at_every_site() = {not_everywhere.begin(), not_everywhere.end()};
    FEDRAD_LOG(WARNING) << "features: " << not_everywhere.size()
                        << " column(s) not at every site, e.g. " << not_everywhere.front();
  }
  out.set_n_columns(static_cast<int32_t>(columns.size()));
  out.set_n_cases(static_cast<int32_t>(total_cases));
  out.set_n_ok(static_cast<int32_t>(total_ok));
  out.set_n_excluded(static_cast<int32_t>(total_excluded));
  ctx.SetProgress("feature extraction", 1.0,
                  absl::StrCat(total_ok, " of ", total_cases, " cases extracted, ", total_excluded,
                               " excluded, ", columns.size(), " feature columns"));
  return absl::OkStatus();
}

}  // namespace fedrad::coordinator
