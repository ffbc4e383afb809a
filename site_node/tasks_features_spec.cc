#include "site_node/tasks_features_spec.h"

#include <google/protobuf/text_format.h>

#include <set>

#include "absl/strings/str_cat.h"
#include "site_node/feature_settings.h"
#include "core/hash.h"

namespace fedrad::site {
namespace {

const char* const kRois[] = {"largest_lesion", "lesions", "liver", "bkg", "patient"};

bool KnownRoi(const std::string& roi) {
  for (const char* r : kRois) {
    if (roi == r) return true;
  }
  return false;
}

std::string DefaultPrefix(const std::string& roi) {
  if (roi == "largest_lesion") return "lesion_";
  if (roi == "patient") return "";
  return roi + "_";
}

}  // namespace

absl::StatusOr<FeaturePlan> ResolveFeatureExtraction(const v1::FeatureExtraction& spec) {
  auto bad = [](const std::string& m) { return absl::InvalidArgumentError(m); };
  FeaturePlan plan;
  if (!spec.image_column().empty()) plan.image_column = spec.image_column();
  if (!spec.lesion_mask_column().empty()) plan.lesion_mask_column = spec.lesion_mask_column();
  if (!spec.liver_mask_column().empty()) plan.liver_mask_column = spec.liver_mask_column();

  std::set<std::string> rois, prefixes;
  if (spec.regions().empty()) {
    plan.regions = {{"largest_lesion", "lesion_"}, {"bkg", "bkg_"}};
  }
  for (int i = 0; i < spec.regions_size(); ++i) {
    const auto& r = spec.regions(i);
    const std::string field = absl::StrCat("features.regions[", i, "]");
    if (!KnownRoi(r.roi())) {
      return bad(absl::StrCat(field, ".roi: '", r.roi(),
                              "' is not a region (largest_lesion, lesions, liver, bkg, patient)"));
    }
    std::string prefix = r.has_prefix() ? r.prefix() : DefaultPrefix(r.roi());
    for (char c : prefix) {
      if (c == ',' || c == '"' || c == '\n' || c == '\r') {
        return bad(absl::StrCat(field, ".prefix: '", prefix,
                                "' may not hold a comma, quote or line break"));
      }
    }
    if (!rois.insert(r.roi()).second) {
      return bad(absl::StrCat(field, ".roi: '", r.roi(), "' is listed twice"));
    }
    plan.regions.emplace_back(r.roi(), prefix);
  }
  for (const auto& [roi, prefix] : plan.regions) {
    if (!prefixes.insert(prefix).second) {
      return bad(absl::StrCat("features.regions: two regions share the column prefix '", prefix,
                              "'; give each region its own prefix"));
    }
  }
  rois.clear();
  for (const auto& [roi, prefix] : plan.regions) rois.insert(roi);
  plan.needs_liver_mask = rois.count("liver") > 0 || rois.count("bkg") > 0;

  // The region flags follow `regions`; lesion_split and bkg_margin_mm come
  // from settings.regions.
  v1::FeatureSettings settings = spec.settings();
  if (spec.families_size() > 0) {
    if (settings.families_size() > 0) {
      return bad("features.families and features.settings.families are both given; use one");
    }
    *settings.mutable_families() = spec.families();
  }
  auto* regions = settings.mutable_regions();
  regions->set_each_lesion(false);
  regions->set_all_lesions(rois.count("lesions") > 0);
  regions->set_liver(rois.count("liver") > 0);
  regions->set_bkg(rois.count("bkg") > 0);
  regions->set_largest_lesion(rois.count("largest_lesion") > 0);
  regions->set_patient(rois.count("patient") > 0);
  std::string text;
  google::protobuf::TextFormat::PrintToString(settings, &text);
  auto bundle = cli::ParseFeatureSettings(text, "features.settings");
  if (!bundle.ok()) return bundle.status();
  plan.options = bundle->options;
  plan.fingerprint = bundle->fingerprint;
  plan.settings_sha256 = Sha256Hex(plan.fingerprint);
  return plan;
}

}  // namespace fedrad::site
