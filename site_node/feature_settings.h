// Feature-extraction settings, shared by `fedrad extract`, the site's
// features.extract task and the coordinator's spec check (library
// fedrad::feature_settings): parses the protobuf text format
// (proto/feature_settings.proto) and converts it to features::CaseOptions,
// so that features/ itself never sees protobuf. (Namespace fedrad::cli, from
// when the file lived in cli/.)
//
//   FEDRAD_ASSIGN_OR_RETURN(FeatureSettingsBundle s,
//                           LoadFeatureSettings("preset.textproto"));
//   RunCohort(cases, s.options, ...);   // s.fingerprint keys the cache
#ifndef FEDRAD_SITE_NODE_FEATURE_SETTINGS_H_
#define FEDRAD_SITE_NODE_FEATURE_SETTINGS_H_

#include <string>

#include "absl/status/statusor.h"
#include "features/cohort.h"

namespace fedrad::cli {

struct FeatureSettingsBundle {
  features::CaseOptions options;
  // Canonical text of the effective settings (after defaults and command
  // line overrides); the cache key uses it.
  std::string fingerprint;
};

// Parses settings text ("" = all defaults). InvalidArgument naming `source`
// and the parser's line/column on a syntax error or a bad value (e.g. two
// spacing values, an unknown family, a non-positive bin width).
absl::StatusOr<FeatureSettingsBundle> ParseFeatureSettings(const std::string& text,
                                                           const std::string& source);
// Reads and parses a settings file; NotFound if absent.
absl::StatusOr<FeatureSettingsBundle> LoadFeatureSettings(const std::string& path);

// Command-line overrides, applied after the file; empty / <= 0 = keep.
struct FeatureOverrides {
  std::string families;  // comma separated
  int bin_count = 0;
  double bin_width = 0;
  // `--filter`: filters replacing the settings' list, ';'-separated entries
  // "kind:key=value,..." with the field names of fedrad.v1.Filter, e.g.
  // "log:sigma_mm=1.5,padding=mirror;laws:kernel=L5E5E5,energy_distance=7".
  std::string filters;
};
absl::Status ApplyOverrides(const FeatureOverrides& overrides, FeatureSettingsBundle* bundle);

}  // namespace fedrad::cli

#endif  // FEDRAD_SITE_NODE_FEATURE_SETTINGS_H_
