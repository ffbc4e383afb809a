#include "harmonization/table.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "core/pattern.h"
#include "core/status.h"

namespace fedrad::harmonization {
namespace {

// The shortest text that reads back as the same double (std::to_chars, Ryu):
// what core's FormatNumber produces by trying precisions one by one, but
// ~20x faster, which matters for 1,000 features x 5,000 patients.
std::string FormatShortest(double value) {
  if (!std::isfinite(value)) return FormatNumber(value);
  char buf[64];
  const std::to_chars_result r = std::to_chars(buf, buf + sizeof(buf), value);
  return std::string(buf, r.ptr);
}

}  // namespace

absl::StatusOr<std::vector<std::string>> MatchFeatureColumns(
    const CsvTable& table, const std::string& regex, const std::vector<std::string>& exclude) {
  // RE2 (linear time, bounded memory and length): the pattern comes from a
  // study spec. The error names the field, never echoes the pattern.
  FEDRAD_ASSIGN_OR_RETURN(Pattern re, Pattern::Compile(regex, "features"));
  std::vector<std::string> out;
  for (const std::string& column : table.header()) {
    if (std::find(exclude.begin(), exclude.end(), column) != exclude.end()) continue;
    if (re.Search(column)) out.push_back(column);
  }
  return out;
}

absl::StatusOr<SiteTableCheck> CheckSiteTable(const CsvTable& table, const std::string& regex,
                                              const std::vector<std::string>& covariates,
                                              const std::vector<std::string>& exclude) {
  SiteTableCheck check;
  check.n = static_cast<int64_t>(table.num_rows());
  std::vector<std::string> excluded = exclude;
  excluded.insert(excluded.end(), covariates.begin(), covariates.end());
  FEDRAD_ASSIGN_OR_RETURN(check.features, MatchFeatureColumns(table, regex, excluded));
  auto check_column = [&](const std::string& column, const char* what) -> std::vector<double> {
    const int idx = table.ColumnIndex(column);
    std::vector<double> values;
    if (idx < 0) {
      check.problems.push_back(absl::StrCat(what, " column '", column, "' is missing"));
      return values;
    }
    // Only whether there are such cells leaves the site, never how many
    // (a count below k would describe fewer than k patients).
    int missing = 0, non_numeric = 0;
    for (size_t r = 0; r < table.num_rows(); ++r) {
      const std::string& cell = table.cell(r, idx);
      double v;
      if (IsMissingCell(cell)) {
        ++missing;
      } else if (!ParseNumber(cell, &v) || !std::isfinite(v)) {
        ++non_numeric;
      } else {
        values.push_back(v);
      }
    }
    if (non_numeric > 0) {
      check.problems.push_back(
          absl::StrCat(what, " column '", column, "' has non-numeric cells"));
    }
    if (missing > 0) {
      check.problems.push_back(absl::StrCat(what, " column '", column,
                                            "' has missing values; impute or exclude those "
                                            "patients before harmonising"));
    }
    return values;
  };
  for (const std::string& c : covariates) check_column(c, "covariate");
  for (size_t j = 0; j < check.features.size(); ++j) {
    std::vector<double> v = check_column(check.features[j], "feature");
    if (static_cast<int64_t>(v.size()) != check.n) continue;  // a problem already
    // The same rule as the pooled path (ConstantFeatures), on this column.
    if (!ConstantFeatures(Eigen::Map<Eigen::MatrixXd>(v.data(), v.size(), 1)).empty()) {
      check.constant_features.push_back(static_cast<int>(j));
    }
  }
  return check;
}

absl::StatusOr<SiteData> ExtractSiteData(const CsvTable& table, const std::vector<size_t>& rows,
                                         const std::vector<std::string>& features,
                                         const std::vector<std::string>& covariates) {
  std::vector<size_t> all;
  const std::vector<size_t>* use = &rows;
  if (rows.empty()) {
    all.resize(table.num_rows());
    for (size_t i = 0; i < all.size(); ++i) all[i] = i;
    use = &all;
  }
  SiteData data;
  data.features.resize(use->size(), features.size());
  data.covariates.resize(use->size(), covariates.size());
  auto fill = [&](const std::vector<std::string>& names, Eigen::MatrixXd* m) -> absl::Status {
    for (size_t j = 0; j < names.size(); ++j) {
      const int idx = table.ColumnIndex(names[j]);
      if (idx < 0) {
        return absl::InvalidArgumentError(
            absl::StrCat(table.source(), ": missing column '", names[j], "'"));
      }
      for (size_t i = 0; i < use->size(); ++i) {
        const size_t r = (*use)[i];
        const std::string& cell = table.cell(r, idx);
        double v;
        if (IsMissingCell(cell)) {
          return absl::InvalidArgumentError(absl::StrCat(
              table.source(), ": line ", table.line_of_row(r), ", column '", names[j],
              "': missing value (ComBat needs every value; impute or exclude the patient)"));
        }
        if (!ParseNumber(cell, &v) || !std::isfinite(v)) {
          return absl::InvalidArgumentError(absl::StrCat(table.source(), ": line ",
                                                         table.line_of_row(r), ", column '",
                                                         names[j], "': '", cell,
                                                         "' is not a number"));
        }
        (*m)(i, j) = v;
      }
    }
    return absl::OkStatus();
  };
  FEDRAD_RETURN_IF_ERROR(fill(features, &data.features));
  FEDRAD_RETURN_IF_ERROR(fill(covariates, &data.covariates));
  return data;
}

absl::Status StoreFeatures(CsvTable* table, const std::vector<size_t>& rows,
                           const std::vector<std::string>& features,
                           const Eigen::MatrixXd& values) {
  const size_t n = rows.empty() ? table->num_rows() : rows.size();
  if (static_cast<size_t>(values.rows()) != n ||
      static_cast<size_t>(values.cols()) != features.size()) {
    return absl::InvalidArgumentError("StoreFeatures: value matrix has the wrong shape");
  }
  for (size_t j = 0; j < features.size(); ++j) {
    const int idx = table->ColumnIndex(features[j]);
    if (idx < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(table->source(), ": missing column '", features[j], "'"));
    }
    for (size_t i = 0; i < n; ++i) {
      std::string& cell = table->mutable_cell(rows.empty() ? i : rows[i], idx);
      // A value ComBat left unchanged (reference site, constant feature)
      // keeps its text byte for byte.
      double old_value;
      if (ParseNumber(cell, &old_value) && old_value == values(i, j)) continue;
      cell = FormatShortest(values(i, j));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::pair<std::string, std::vector<size_t>>>> GroupRowsBySite(
    const CsvTable& table, const std::string& site_column) {
  const int idx = table.ColumnIndex(site_column);
  if (idx < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(table.source(), ": missing site column '", site_column, "'"));
  }
  std::map<std::string, std::vector<size_t>> groups;
  for (size_t r = 0; r < table.num_rows(); ++r) {
    const std::string& site = table.cell(r, idx);
    if (absl::StripAsciiWhitespace(site).empty()) {
      return absl::InvalidArgumentError(absl::StrCat(table.source(), ": line ",
                                                     table.line_of_row(r), ", column '",
                                                     site_column, "': empty site"));
    }
    groups[site].push_back(r);
  }
  return std::vector<std::pair<std::string, std::vector<size_t>>>(groups.begin(), groups.end());
}

std::vector<std::string> SplitList(const std::string& list) {
  std::vector<std::string> out;
  for (absl::string_view part : absl::StrSplit(list, ',')) {
    absl::string_view t = absl::StripAsciiWhitespace(part);
    if (!t.empty()) out.emplace_back(t);
  }
  return out;
}

}  // namespace fedrad::harmonization
