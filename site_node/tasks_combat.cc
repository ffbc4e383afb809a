// Site-side tasks of federated ComBat (distributed ComBat, Chen et al.,
// NeuroImage 2022). The coordinator's half is coordinator/analysis_combat.cc;
// the formulas are harmonization/combat.h, the same functions the pooled
// `fedrad harmonize` runs.
//
//   combat.check      column presence, n, numeric-ness, constant features  -> n, constant
//   combat.moments    n, Σz, ZᵀZ, Σy, ZᵀY                                    -> sums over >= k patients
//   combat.residuals  Σ (y - intercept - zβ)² per feature                    -> rss
//   combat.fit        the site's own EB effects; harmonises the table LOCALLY
//                     (output_dir/harmonized.csv, and the working table)    -> gamma_star, delta_star
//   combat.distributions  per listed column: n, mean, M2 (suppressed when n < k),
//                     or the number of values <= each coordinator-chosen
//                     threshold (federated quartiles; no value released)    -> for the report's
//                                                                              before/after plots
//
// Patient rows never leave: only counts, sums over the site's patients, and
// per-feature site parameters (gamma*, delta*).
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/csv.h"
#include "core/log.h"
#include "core/status.h"
#include "harmonization/combat.h"
#include "harmonization/model.h"
#include "harmonization/table.h"
#include "models/descriptive.h"
#include "proto/payload.h"
#include "site_node/builtin_tasks.h"
#include "site_node/task_registry.h"

namespace fedrad::site {
namespace {

namespace h = ::fedrad::harmonization;

std::string Param(const TaskContext& ctx, const std::string& key) {
  const auto& strings = ctx.task->params().strings();
  auto it = strings.find(key);
  return it == strings.end() ? "" : it->second;
}

std::vector<double> ToVector(const Eigen::VectorXd& v) {
  return std::vector<double>(v.data(), v.data() + v.size());
}

void AddEigenMatrix(v1::Payload* p, const std::string& name, const Eigen::MatrixXd& m) {
  std::vector<double> row_major(m.size());
  for (Eigen::Index r = 0; r < m.rows(); ++r) {
    for (Eigen::Index c = 0; c < m.cols(); ++c) row_major[r * m.cols() + c] = m(r, c);
  }
  AddMatrix(p, name, m.rows(), m.cols(), row_major);
}

absl::StatusOr<Eigen::VectorXd> GetEigenVector(const v1::Payload& p, const std::string& name,
                                               size_t size) {
  FEDRAD_ASSIGN_OR_RETURN(std::vector<double> v, GetVector(p, name));
  if (v.size() != size) {
    return absl::InvalidArgumentError(
        absl::StrCat("parameter '", name, "' has ", v.size(), " values, expected ", size));
  }
  return Eigen::Map<Eigen::VectorXd>(v.data(), v.size());
}

absl::StatusOr<Eigen::MatrixXd> GetEigenMatrix(const v1::Payload& p, const std::string& name,
                                               int64_t rows, int64_t cols) {
  int64_t r = 0, c = 0;
  FEDRAD_ASSIGN_OR_RETURN(std::vector<double> v, GetMatrix(p, name, &r, &c));
  if (r != rows || c != cols) {
    return absl::InvalidArgumentError(absl::StrCat("parameter '", name, "' is ", r, "x", c,
                                                   ", expected ", rows, "x", cols));
  }
  Eigen::MatrixXd m(rows, cols);
  for (int64_t i = 0; i < rows; ++i) {
    for (int64_t j = 0; j < cols; ++j) m(i, j) = v[i * cols + j];
  }
  return m;
}

// The features and covariates the coordinator chose, read from this site's
// working table (all rows).
absl::StatusOr<h::SiteData> ReadSiteData(const TaskContext& ctx,
                                         std::vector<std::string>* features,
                                         std::vector<std::string>* covariates) {
  *features = h::SplitList(Param(ctx, "features"));
  *covariates = h::SplitList(Param(ctx, "covariates"));
  if (features->empty()) return absl::InvalidArgumentError("no features to harmonise");
  return h::ExtractSiteData(*ctx.table, {}, *features, *covariates);
}

absl::Status RequireNotHarmonized(const TaskContext& ctx) {
  if (ctx.state->count("combat.applied")) {
    return absl::FailedPreconditionError(
        "this site's table was already harmonised in this study; ComBat must not be fitted "
        "to harmonised data");
  }
  return absl::OkStatus();
}

absl::StatusOr<TaskOutput> Check(TaskContext& ctx) {
  const std::vector<std::string> covariates = h::SplitList(Param(ctx, "covariates"));
  FEDRAD_ASSIGN_OR_RETURN(
      h::SiteTableCheck check,
      h::CheckSiteTable(*ctx.table, Param(ctx, "features"), covariates, {ctx.id_column}));
  if (ctx.state->count("combat.applied")) {
    check.problems.push_back("the table was already harmonised in this study");
  }
  TaskOutput out;
  out.n_contributing = check.n;
  AddScalar(&out.payload, "n", static_cast<double>(check.n));
  std::vector<double> constant(check.features.size(), 0.0);
  for (int g : check.constant_features) constant[g] = 1.0;
  AddVector(&out.payload, "constant", constant);
  (*out.payload.mutable_strings())["features"] = absl::StrJoin(check.features, ",");
  (*out.payload.mutable_strings())["problems"] = absl::StrJoin(check.problems, "\n");
  for (const std::string& p : check.problems) FEDRAD_LOG(WARNING) << "combat.check: " << p;
  if (!check.problems.empty()) {
    // Only counts go to the coordinator; the first offending cell (file,
    // line, column) is for the operator's log.
    absl::Status first =
        h::ExtractSiteData(*ctx.table, {}, check.features, covariates).status();
    if (!first.ok()) {
      FEDRAD_LOG(WARNING) << "combat.check: first problem: " << first.message();
    }
  }
  return out;
}

absl::StatusOr<TaskOutput> Moments(TaskContext& ctx) {
  FEDRAD_RETURN_IF_ERROR(RequireNotHarmonized(ctx));
  std::vector<std::string> features, covariates;
  FEDRAD_ASSIGN_OR_RETURN(h::SiteData data, ReadSiteData(ctx, &features, &covariates));
  const h::LocalMoments m = h::ComputeLocalMoments(data);
  TaskOutput out;
  out.n_contributing = m.n;
  AddScalar(&out.payload, "n", static_cast<double>(m.n));
  AddVector(&out.payload, "sum_covariates", ToVector(m.sum_covariates));
  AddEigenMatrix(&out.payload, "covariate_cross", m.covariate_cross);
  AddVector(&out.payload, "sum_features", ToVector(m.sum_features));
  AddEigenMatrix(&out.payload, "covariate_feature_cross", m.covariate_feature_cross);
  return out;
}

absl::StatusOr<TaskOutput> Residuals(TaskContext& ctx) {
  FEDRAD_RETURN_IF_ERROR(RequireNotHarmonized(ctx));
  std::vector<std::string> features, covariates;
  FEDRAD_ASSIGN_OR_RETURN(h::SiteData data, ReadSiteData(ctx, &features, &covariates));
  const v1::Payload& p = ctx.task->params();
  FEDRAD_ASSIGN_OR_RETURN(Eigen::VectorXd intercept,
                          GetEigenVector(p, "intercept", features.size()));
  FEDRAD_ASSIGN_OR_RETURN(Eigen::MatrixXd beta,
                          GetEigenMatrix(p, "beta", covariates.size(), features.size()));
  TaskOutput out;
  out.n_contributing = data.features.rows();
  AddVector(&out.payload, "rss", ToVector(h::ResidualSumOfSquares(data, intercept, beta)));
  return out;
}

absl::StatusOr<TaskOutput> Fit(TaskContext& ctx) {
  FEDRAD_RETURN_IF_ERROR(RequireNotHarmonized(ctx));
  std::vector<std::string> features, covariates;
  FEDRAD_ASSIGN_OR_RETURN(h::SiteData data, ReadSiteData(ctx, &features, &covariates));
  const v1::Payload& p = ctx.task->params();
  const size_t g = features.size();
  h::PooledEstimates pooled;
  FEDRAD_ASSIGN_OR_RETURN(pooled.grand_mean, GetEigenVector(p, "grand_mean", g));
  FEDRAD_ASSIGN_OR_RETURN(pooled.var_pooled, GetEigenVector(p, "var_pooled", g));
  FEDRAD_ASSIGN_OR_RETURN(pooled.beta, GetEigenMatrix(p, "beta", covariates.size(), g));
  h::ComBatOptions options;
  FEDRAD_ASSIGN_OR_RETURN(options.method, h::ParseMethod(Param(ctx, "method")));
  options.empirical_bayes = Param(ctx, "empirical_bayes") != "false";
  options.nonparametric_mean_only = Param(ctx, "nonparametric_mean_only") == "true";
  const bool mean_only = Param(ctx, "mean_only") == "true";
  const bool is_reference = Param(ctx, "reference") == "true";

  // The site's own empirical Bayes effects (its priors are over its own
  // features, so nothing else is needed), then the local harmonisation.
  FEDRAD_ASSIGN_OR_RETURN(h::SiteEffects eff,
                          h::EstimateSiteEffects(h::Standardize(data, pooled), options, mean_only));
  // With an output suffix the harmonised values go to new columns (copies
  // of the originals first, so that unchanged values keep their text).
  const std::string suffix = Param(ctx, "output_suffix");
  std::vector<std::string> targets = features;
  if (!suffix.empty()) {
    for (std::string& name : targets) {
      name += suffix;
      if (ctx.table->HasColumn(name)) {
        return absl::InvalidArgumentError(absl::StrCat(
            "harmonization.output_suffix '", suffix, "': the table already has a column '",
            name, "'"));
      }
    }
    for (size_t j = 0; j < features.size(); ++j) {
      FEDRAD_ASSIGN_OR_RETURN(std::vector<std::string> values,
                              ctx.table->StringColumn(features[j]));
      ctx.table->AddColumn(targets[j], std::move(values));
    }
  }
  if (is_reference) {
    eff.gamma_star.setZero();  // sva: the reference site is left unchanged
    eff.delta_star.setOnes();
  } else {
    const Eigen::MatrixXd harmonized =
        h::ApplySiteEffects(data, pooled, eff.gamma_star, eff.delta_star);
    FEDRAD_RETURN_IF_ERROR(h::StoreFeatures(ctx.table, {}, targets, harmonized));
  }
  std::string file = Param(ctx, "output_file");
  if (file.empty()) file = "harmonized.csv";
  const std::string path = ctx.output_dir + "/" + file;
  FEDRAD_RETURN_IF_ERROR(WriteCsv(path, *ctx.table));
  (*ctx.state)["combat.applied"] = path;

  // Keep this site's model so that new patients can be harmonised later.
  h::ComBatModel model;
  model.options = options;
  model.options.reference_site = is_reference ? ctx.site_id : "";
  model.mean_only = mean_only;
  model.features = features;
  model.adjusted = features;
  model.covariates = covariates;
  model.pooled = pooled;
  h::SiteModel& self = model.sites[ctx.site_id];
  self.n = data.features.rows();
  self.gamma_star = eff.gamma_star;
  self.delta_star = eff.delta_star;
  (*ctx.state)["combat.model"] = h::ModelToJson(model).dump();
  FEDRAD_LOG(INFO) << "ComBat: harmonised " << g << " feature(s) of " << self.n
                   << " patients; wrote " << path
                   << (eff.iterations > 0 ? absl::StrCat(" (", eff.iterations, " EB iterations)")
                                          : std::string());

  TaskOutput out;
  out.n_contributing = self.n;
  AddScalar(&out.payload, "n", static_cast<double>(self.n));
  AddVector(&out.payload, "gamma_star", ToVector(eff.gamma_star));
  AddVector(&out.payload, "delta_star", ToVector(eff.delta_star));
  return out;
}

// params: "columns" (comma-separated) and optionally arrays
// "thresholds.<column>". Without thresholds: per column n, mean, M2 and a
// suppressed flag (n < k: mean and M2 withheld). With thresholds: arrays
// "counts.<column>", the number of the column's values <= each threshold
// (refused for a column with fewer than k values).
absl::StatusOr<TaskOutput> Distributions(TaskContext& ctx) {
  const std::vector<std::string> columns = h::SplitList(Param(ctx, "columns"));
  TaskOutput out;
  out.n_contributing = static_cast<int64_t>(ctx.table->num_rows());
  // A counting round in which this site has nothing left to count.
  if (columns.empty() && ctx.task->params().arrays_size() == 0) return out;
  bool counted = false;
  for (const auto& array : ctx.task->params().arrays()) {
    const std::string prefix = "thresholds.";
    if (array.name().rfind(prefix, 0) != 0) continue;
    counted = true;
    const std::string column = array.name().substr(prefix.size());
    FEDRAD_ASSIGN_OR_RETURN(std::vector<double> values,
                            ctx.table->NumericColumn(column, MissingValues::kAllow));
    const models::ColumnMoments m = models::ComputeMoments(values);
    if (m.n < ctx.min_cell_count) {
      return absl::PermissionDeniedError(absl::StrCat(
          "column '", column, "' has ", m.n, " values, fewer than k=", ctx.min_cell_count));
    }
    std::vector<double> thresholds(array.values().begin(), array.values().end());
    std::vector<int64_t> counts = models::CountAtOrBelow(values, thresholds);
    AddVector(&out.payload, "counts." + column, std::vector<double>(counts.begin(), counts.end()));
  }
  if (counted) return out;
  std::vector<double> n, mean, m2, suppressed;
  for (const std::string& column : columns) {
    FEDRAD_ASSIGN_OR_RETURN(std::vector<double> values,
                            ctx.table->NumericColumn(column, MissingValues::kAllow));
    const models::ColumnMoments m = models::ComputeMoments(values);
    const bool small = m.n < ctx.min_cell_count;
    n.push_back(static_cast<double>(m.n));
    mean.push_back(small ? 0.0 : m.mean);
    m2.push_back(small ? 0.0 : m.m2);
    suppressed.push_back(small ? 1.0 : 0.0);
  }
  AddVector(&out.payload, "n", n);
  AddVector(&out.payload, "mean", mean);
  AddVector(&out.payload, "m2", m2);
  AddVector(&out.payload, "suppressed", suppressed);
  return out;
}

}  // namespace

void RegisterCombatTasks(TaskRegistry& registry) {
  registry.Register(TaskKind{
      "combat.check",
      "ComBat pre-check: column presence, n, numeric-ness, features constant at the site",
      {"n", "constant", "features", "problems"},
      &Check});
  registry.Register(TaskKind{
      "combat.moments",
      "ComBat moments: n, sums and cross-products of covariates and features",
      {"n", "sum_covariates", "covariate_cross", "sum_features", "covariate_feature_cross"},
      &Moments});
  registry.Register(TaskKind{"combat.residuals",
                             "ComBat: per-feature sums of squared residuals from the pooled fit",
                             {"rss"},
                             &Residuals});
  registry.Register(TaskKind{
      "combat.fit",
      "ComBat: the site's empirical Bayes effects (gamma*, delta* per feature); harmonises "
      "the table locally",
      {"n", "gamma_star", "delta_star"},
      &Fit});
  registry.Register(TaskKind{
      "combat.distributions",
      "feature distributions for the report: per column n, mean, sum of squared deviations "
      "(withheld when n < k), or counts of values at or below coordinator-chosen thresholds "
      "(quartiles; no value is released)",
      {"n", "mean", "m2", "suppressed", "counts.*"},
      &Distributions});
}

}  // namespace fedrad::site
