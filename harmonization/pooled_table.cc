#include "harmonization/pooled_table.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/status.h"
#include "harmonization/table.h"

namespace fedrad::harmonization {

absl::StatusOr<PooledTableResult> HarmonizePooledTable(const CsvTable& table,
                                                       const PooledTableOptions& options) {
  FEDRAD_RETURN_IF_ERROR(table.RequireColumns(options.covariates));
  std::vector<std::string> exclude = options.exclude;
  exclude.push_back(options.site_column);
  exclude.insert(exclude.end(), options.covariates.begin(), options.covariates.end());
  FEDRAD_ASSIGN_OR_RETURN(std::vector<std::string> features,
                          MatchFeatureColumns(table, options.features_regex, exclude));
  if (features.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        table.source(), ": no column matches the features pattern '", options.features_regex,
        "'"));
  }
  FEDRAD_ASSIGN_OR_RETURN(auto groups, GroupRowsBySite(table, options.site_column));
  std::vector<std::string> sites;
  std::vector<SiteData> data;
  for (const auto& [site, rows] : groups) {
    sites.push_back(site);
    FEDRAD_ASSIGN_OR_RETURN(SiteData d,
                            ExtractSiteData(table, rows, features, options.covariates));
    data.push_back(std::move(d));
  }
  FEDRAD_ASSIGN_OR_RETURN(ComBatResult fit,
                          FitComBat(sites, data, options.covariates, options.combat));
  PooledTableResult out;
  out.table = table;
  for (size_t i = 0; i < groups.size(); ++i) {
    FEDRAD_RETURN_IF_ERROR(
        StoreFeatures(&out.table, groups[i].second, features, fit.harmonized[i]));
  }
  out.notes = fit.plan.notes;
  if (!fit.plan.constant_features.empty()) {
    std::vector<std::string> names;
    for (int g : fit.plan.constant_features) names.push_back(features[g]);
    out.notes.push_back(absl::StrCat("unadjusted (constant within a site): ",
                                     absl::StrJoin(names, ", ")));
  }
  out.model = ModelFromFit(fit, sites, features, options.covariates, options.combat);
  return out;
}

absl::StatusOr<CsvTable> ApplyModelToTable(ComBatModel* model, const CsvTable& table,
                                           const std::string& site_column) {
  FEDRAD_RETURN_IF_ERROR(table.RequireColumns(model->features));
  FEDRAD_RETURN_IF_ERROR(table.RequireColumns(model->covariates));
  FEDRAD_ASSIGN_OR_RETURN(auto groups, GroupRowsBySite(table, site_column));
  CsvTable out = table;
  for (const auto& [site, rows] : groups) {
    FEDRAD_ASSIGN_OR_RETURN(SiteData d,
                            ExtractSiteData(table, rows, model->features, model->covariates));
    FEDRAD_ASSIGN_OR_RETURN(Eigen::MatrixXd h, HarmonizeWithModel(model, site, d));
    FEDRAD_RETURN_IF_ERROR(StoreFeatures(&out, rows, model->features, h));
  }
  return out;
}

}  // namespace fedrad::harmonization
