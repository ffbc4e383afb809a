// ComBat on one pooled CSV table (a site column says which site each row
// is from): what `fedrad harmonize` runs. It groups the rows by site and
// calls FitComBat, i.e. exactly the per-site steps the federated path runs.
//
//   PooledTableOptions opt;
//   opt.site_column = "site";
//   opt.features_regex = "^f[0-9]+$";
//   opt.covariates = {"age", "sex"};
//   FEDRAD_ASSIGN_OR_RETURN(PooledTableResult r, HarmonizePooledTable(table, opt));
//   WriteCsv("harmonized.csv", r.table);
//
// Pure; thread compatible.
#ifndef FEDRAD_HARMONIZATION_POOLED_TABLE_H_
#define FEDRAD_HARMONIZATION_POOLED_TABLE_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/csv.h"
#include "harmonization/combat.h"
#include "harmonization/model.h"

namespace fedrad::harmonization {

struct PooledTableOptions {
  std::string site_column = "site";
  // Feature columns: names matching this RE2 pattern (searched; anchor
  // it). The site column, covariates and `exclude` never count as features.
  std::string features_regex;
  std::vector<std::string> covariates;  // numeric columns to preserve
  std::vector<std::string> exclude;     // e.g. the patient id column
  ComBatOptions combat;
};

struct PooledTableResult {
  CsvTable table;     // the input's rows and columns, features harmonised
  ComBatModel model;  // the fitted estimates (ModelToJson to store)
  std::vector<std::string> notes;  // e.g. constant features left unadjusted
};

// InvalidArgument for a bad regex, no matching feature, a missing, NA or
// non-numeric cell (naming file, line, column) and every FitComBat error.
absl::StatusOr<PooledTableResult> HarmonizePooledTable(const CsvTable& table,
                                                       const PooledTableOptions& options);

// Applies a stored model to `table` (rows of known and/or new sites; the
// model's features and covariates must be columns). Rows of a site in the
// model use its stored effects; a site not in the model is fitted against
// the frozen pooled estimates and added to *model (see model.h). Returns the
// table with the model's features harmonised.
absl::StatusOr<CsvTable> ApplyModelToTable(ComBatModel* model, const CsvTable& table,
                                           const std::string& site_column);

}  // namespace fedrad::harmonization

#endif  // FEDRAD_HARMONIZATION_POOLED_TABLE_H_
