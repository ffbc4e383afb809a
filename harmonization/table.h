// Between CSV tables and ComBat's matrices: picking the feature columns by
// regular expression, reading covariates, checking a site's table before any
// aggregate leaves it, and writing harmonised values back.
//
//   FEDRAD_ASSIGN_OR_RETURN(SiteTableCheck check,
//                           CheckSiteTable(table, "^f[0-9]+$", {"age", "sex"}));
//   if (!check.problems.empty()) ...  // refuse, naming check.problems
//   FEDRAD_ASSIGN_OR_RETURN(SiteData d, ExtractSiteData(table, rows, check.features, covs));
//
// Missing values: a feature or covariate cell that is empty, NA or NaN is an
// error (naming file, line and column) — never silently dropped or imputed.
// sva::ComBat would fit each feature on its non-missing rows but switches to
// a different variance denominator (n - 1) when any value is missing; we
// refuse instead, so that results never depend on which values are missing.
// Covariates must be numeric (code a category as 0/1 indicator columns).
// Thread compatible; pure apart from reading `table`.
#ifndef FEDRAD_HARMONIZATION_TABLE_H_
#define FEDRAD_HARMONIZATION_TABLE_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/csv.h"
#include "harmonization/combat.h"

namespace fedrad::harmonization {

// The columns of `table` whose name matches `regex` (RE2 syntax, searched —
// anchor with ^...$), in header order, minus the names in `exclude`.
// InvalidArgument naming the field "features" (never echoing the pattern) if
// the pattern is malformed, longer than 1024 bytes or too large to compile
// (core/pattern.h). RE2 is ECMAScript without backreferences and lookaround.
absl::StatusOr<std::vector<std::string>> MatchFeatureColumns(
    const CsvTable& table, const std::string& regex, const std::vector<std::string>& exclude);

// What a site checks before the fit ("combat.check"): all counts, no rows.
struct SiteTableCheck {
  int64_t n = 0;                      // data rows
  std::vector<std::string> features;  // columns matching the regex
  std::vector<int> constant_features; // indices into `features`, constant here (n >= 2)
  // Human-readable problems that must stop the fit, e.g.
  // "covariate column 'age' is missing", "feature column 'f03' has
  // non-numeric cells" (no count: it may be below k).
  std::vector<std::string> problems;
};

// Checks the table: covariate columns present, every feature and covariate
// cell numeric and present. Problem texts name the column and the rule, never
// a count of cells. Problems are collected, not returned as errors;
// InvalidArgument only for a malformed regex.
absl::StatusOr<SiteTableCheck> CheckSiteTable(const CsvTable& table, const std::string& regex,
                                              const std::vector<std::string>& covariates,
                                              const std::vector<std::string>& exclude = {});

// The given rows (0-based; empty = all) of the named columns as matrices.
// InvalidArgument naming file, line and column for a missing, NA or
// non-numeric cell, or a missing column.
absl::StatusOr<SiteData> ExtractSiteData(const CsvTable& table, const std::vector<size_t>& rows,
                                         const std::vector<std::string>& features,
                                         const std::vector<std::string>& covariates);

// Writes `values` (rows x features, in the order of `rows`; empty rows = all)
// into the named feature columns of `table`, formatted to round-trip. A cell
// whose value is unchanged keeps its original text.
absl::Status StoreFeatures(CsvTable* table, const std::vector<size_t>& rows,
                           const std::vector<std::string>& features,
                           const Eigen::MatrixXd& values);

// Row indices of `table` grouped by the value of `site_column`, sites sorted
// (sva orders batch levels alphabetically). InvalidArgument if the column is
// missing or a site cell is empty.
absl::StatusOr<std::vector<std::pair<std::string, std::vector<size_t>>>> GroupRowsBySite(
    const CsvTable& table, const std::string& site_column);

// Splits "age,sex" (spaces trimmed, empties dropped).
std::vector<std::string> SplitList(const std::string& list);

}  // namespace fedrad::harmonization

#endif  // FEDRAD_HARMONIZATION_TABLE_H_
