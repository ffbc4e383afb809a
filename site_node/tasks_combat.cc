// Site-side tasks of federated ComBat (distributed ComBat, Chen et al.,
// NeuroImage 2022). The coordinator's half is coordinator/analysis_combat.cc;
// the formulas are harmonization/combat.h, the same functions the pooled
// `fedrad harmonize` runs.
//
//   combat.check      column presence, n, numeric-ness, constant features  -> n, constant
//   combat.moments    n, Σz, ZᵀZ, Σy, ZᵀY                                    -> sums over >= k patients
//   combat.residuals  Σ (y - intercept - zβ)² per feature                    -> rss
//   combat.fit        the site's own EB effects; harmonises the table LOCALLY
//                     (output_dir/<output_file>, and the working table)     -> gamma_star, delta_star
//   combat.distributions  per listed column: n, mean, M2 (withheld, n too,
//                     when n < k) and cumulative counts on the site's own
//                     grid (every step >= k values)                         -> for the report's
//                                                                              before/after plots
//
// What the site takes from where (it trusts nothing it receives):
//   - from the approved spec (Task.study.harmonization): the feature pattern
//     (RE2), the covariates, method, empirical_bayes, nonparametric_mean_only,
//     mean-only (method "mean-only"), reference (reference_site == this site's
//     certificate name), output_file (a plain name, written only inside the
//     study's output folder) and output_suffix (<= 64 plain-name characters,
//     creating no existing column);
//   - from the task, checked: "features" (the coordinator's plan may leave
//     features constant at some site unadjusted: a subset of the columns the
//     spec's pattern selects here, no repeats), the pooled estimates
//     (intercept, beta, grand_mean, var_pooled: sizes from the spec and the
//     checked features, every value finite and |v| <= kMaxEstimate,
//     var_pooled > 0) and "columns" of combat.distributions (at most 12, each
//     a selected feature or feature+output_suffix).
// Ignored if sent: covariates, method, empirical_bayes, nonparametric_mean_only,
// mean_only, reference, output_file, output_suffix, thresholds.*.
//
// Patient rows never leave: only counts, sums over the site's patients, and
// per-feature site parameters (gamma*, delta*). Every released sum of
// combat.residuals and combat.fit is a function of per-feature first and
// second moments over all the site's rows (Σy, Σy², Σz, ZᵀZ, ZᵀY), whatever
// pooled estimates are sent; see docs/harmonization.md, "What a site trusts".
#include <cmath>
#include <filesystem>
#include <limits>
#include <set>
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
#include "proto/task_kinds.h"
#include "site_node/builtin_tasks.h"
#include "site_node/site_rules.h"
#include "site_node/task_registry.h"
#include "site_node/verify_rounds.h"
#include "rounds/kind_eigen.h"
#include "rounds/transcript.h"

namespace fedrad::site {
namespace {

namespace h = ::fedrad::harmonization;
namespace cc = ::fedrad::kinds::combat_check;
namespace cm = ::fedrad::kinds::combat_moments;
namespace cr = ::fedrad::kinds::combat_residuals;
namespace cf = ::fedrad::kinds::combat_fit;
namespace cd = ::fedrad::kinds::combat_distributions;
using ::fedrad::kinds::Put;
using ::fedrad::kinds::ToStd;

// Largest |value| accepted in a pooled estimate a coordinator sends back.
constexpr double kMaxEstimate = 1e150;  // squares stay finite; features such as energy reach 1e15 and more
// Longest output_suffix.
constexpr size_t kMaxSuffixBytes = kMaxOutputSuffixBytes;
// Most columns one combat.distributions task may describe.
constexpr size_t kMaxDistributionColumns = 12;

absl::Status Refuse(absl::StatusCode code, absl::string_view text) {
  return PublicError(code, text);
}

const v1::Harmonization& Spec(const TaskContext& ctx) {
  return ctx.task->study().harmonization();
}

// A pooled estimate from the coordinator: the expected size, every value
// finite and within kMaxEstimate; `positive`: every value > 0 as well.
absl::Status CheckEstimate(const std::string& name, const std::vector<double>& v, size_t size,
                           bool positive) {
  if (v.size() != size) {
    return Refuse(absl::StatusCode::kInvalidArgument,
                  absl::StrCat("combat: parameter '", name,
                               "' does not have the size the approved spec and the features "
                               "imply (rule estimate-shape)"));
  }
  for (double x : v) {
    if (!std::isfinite(x) || std::abs(x) > kMaxEstimate || (positive && !(x > 0))) {
      return Refuse(absl::StatusCode::kInvalidArgument,
                    absl::StrCat("combat: parameter '", name, "' holds a value that is not finite, "
                                 "too large", positive ? " or not positive" : "",
                                 " (rule estimate-range)"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<Eigen::VectorXd> GetEigenVector(const v1::Payload& p, const kinds::Vector& f,
                                               size_t size, bool positive = false) {
  const std::string name = f.name;
  absl::StatusOr<std::vector<double>> v = kinds::Get(p, f);
  if (!v.ok()) {
    return Refuse(absl::StatusCode::kInvalidArgument,
                  absl::StrCat("combat: parameter '", name, "' is missing or malformed (rule "
                               "estimate-shape)"));
  }
  FEDRAD_RETURN_IF_ERROR(CheckEstimate(name, *v, size, positive));
  return Eigen::Map<Eigen::VectorXd>(v->data(), v->size());
}

absl::StatusOr<Eigen::MatrixXd> GetEigenMatrix(const v1::Payload& p, const kinds::Matrix& f,
                                               int64_t rows, int64_t cols) {
  const std::string name = f.name;
  absl::StatusOr<kinds::MatrixValues> v = kinds::Get(p, f, rows, cols);
  if (!v.ok()) {
    return Refuse(absl::StatusCode::kInvalidArgument,
                  absl::StrCat("combat: parameter '", name,
                               "' is missing or does not have the shape the approved spec and the "
                               "features imply (rule estimate-shape)"));
  }
  FEDRAD_RETURN_IF_ERROR(
      CheckEstimate(name, v->row_major, static_cast<size_t>(rows * cols), false));
  return kinds::FromRowMajor(v->row_major, rows, cols);
}


// The covariates of the approved spec; none may be the site's id column.
absl::StatusOr<std::vector<std::string>> SpecCovariates(const TaskContext& ctx) {
  std::vector<std::string> covariates(Spec(ctx).covariates().begin(),
                                      Spec(ctx).covariates().end());
  std::set<std::string> seen;
  for (const std::string& c : covariates) {
    if (c == ctx.id_column) {
      return Refuse(absl::StatusCode::kInvalidArgument,
                    "harmonization.covariates: names the site's id column (rule id-column)");
    }
    if (!seen.insert(c).second) {
      return Refuse(absl::StatusCode::kInvalidArgument,
                    absl::StrCat("harmonization.covariates: '", c, "' is listed twice"));
    }
  }
  return covariates;
}

// The columns of this site's table the spec's feature pattern selects
// (searched, RE2), minus the id column and the covariates.
absl::StatusOr<std::vector<std::string>> SpecFeatures(const TaskContext& ctx,
                                                      const std::vector<std::string>& covariates) {
  if (Spec(ctx).features().empty()) {
    return Refuse(absl::StatusCode::kInvalidArgument,
                  "harmonization.features: required (rule spec-features)");
  }
  std::vector<std::string> exclude = covariates;
  exclude.push_back(ctx.id_column);
  absl::StatusOr<std::vector<std::string>> matched =
      h::MatchFeatureColumns(*ctx.table, Spec(ctx).features(), exclude);
  if (!matched.ok()) {
    FEDRAD_LOG(WARNING) << "combat: " << matched.status().message();
    return Refuse(absl::StatusCode::kInvalidArgument,
                  "harmonization.features: not a valid RE2 pattern within the size limits "
                  "(rule pattern-re2)");
  }
  return *matched;
}

// The features of this round: the task's "features" (the coordinator's plan)
// when given, each one a column the spec selects here, no repeats; otherwise
// every selected column.
absl::StatusOr<std::vector<std::string>> RoundFeatures(const TaskContext& ctx,
                                                       const std::vector<std::string>& covariates) {
  FEDRAD_ASSIGN_OR_RETURN(std::vector<std::string> selected, SpecFeatures(ctx, covariates));
  const v1::Payload& params = ctx.task->params();
  if (kinds::ListBytes(params, kinds::combat::kFeatures) > kMaxParamStringBytes) {
    return Refuse(absl::StatusCode::kInvalidArgument,
                  "combat: parameter 'features' is too long (rule task-caps)");
  }
  const std::vector<std::string> asked = kinds::Get(params, kinds::combat::kFeatures);
  if (asked.empty()) return selected;
  const std::set<std::string> allowed(selected.begin(), selected.end());
  std::set<std::string> seen;
  std::vector<std::string> out;
  for (const std::string& f : asked) {
    if (!allowed.count(f) || !seen.insert(f).second) {
      return Refuse(absl::StatusCode::kInvalidArgument,
                    "combat: parameter 'features' names a column the approved spec's "
                    "harmonization.features does not select at this site, or names one twice "
                    "(rule spec-features)");
    }
    out.push_back(f);
  }
  if (out.empty()) {
    return Refuse(absl::StatusCode::kInvalidArgument,
                  "combat: no features to harmonise (rule spec-features)");
  }
  return out;
}

// The spec's features and covariates, read from this site's working table
// (all rows).
absl::StatusOr<h::SiteData> ReadSiteData(const TaskContext& ctx,
                                         std::vector<std::string>* features,
                                         std::vector<std::string>* covariates) {
  FEDRAD_ASSIGN_OR_RETURN(*covariates, SpecCovariates(ctx));
  FEDRAD_ASSIGN_OR_RETURN(*features, RoundFeatures(ctx, *covariates));
  // A missing or non-numeric cell is an error naming file, line and column:
  // not public (the daemon redacts it); combat.check reported it already.
  return h::ExtractSiteData(*ctx.table, {}, *features, *covariates);
}

// Every released sum rests on all the site's rows and is about the features
// and covariates used.
absl::StatusOr<std::vector<Population>> AllRows(const TaskContext& ctx,
                                                const std::vector<std::string>& features,
                                                const std::vector<std::string>& covariates) {
  FEDRAD_ASSIGN_OR_RETURN(std::vector<std::string> ids, PatientIds(ctx));
  Population p;
  // The ledger compares answers within harmonisation (docs/privacy.md).
  for (const auto& c : features) p.quantities.push_back("combat:" + c);
  for (const auto& c : covariates) p.quantities.push_back("combat:" + c);
  p.ids = std::move(ids);
  return std::vector<Population>{std::move(p)};
}

absl::Status RequireNotHarmonized(const TaskContext& ctx) {
  if (ctx.state->count("combat.applied")) {
    return Refuse(absl::StatusCode::kFailedPrecondition,
                  "combat: this site's table was already harmonised in this study; ComBat must "
                  "not be fitted to harmonised data (rule combat-once)");
  }
  return absl::OkStatus();
}

// output_suffix: <= kMaxSuffixBytes of [A-Za-z0-9._-] (empty: in place).
absl::Status CheckSuffix(const std::string& suffix) {
  if (suffix.size() > kMaxSuffixBytes) {
    return Refuse(absl::StatusCode::kInvalidArgument,
                  absl::StrCat("harmonization.output_suffix: longer than ", kMaxSuffixBytes,
                               " characters (rule plain-name)"));
  }
  for (char c : suffix) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-' || c == '.';
    if (!ok) {
      return Refuse(absl::StatusCode::kInvalidArgument,
                    "harmonization.output_suffix: only letters, digits, '_', '-' and '.' are "
                    "allowed (rule plain-name)");
    }
  }
  return absl::OkStatus();
}

// The file combat.fit writes: harmonization.output_file (a plain name;
// default harmonized.csv) inside the study's output folder, never through a
// symbolic link.
absl::StatusOr<std::string> OutputPath(const TaskContext& ctx) {
  std::string file = Spec(ctx).output_file();
  if (file.empty()) file = "harmonized.csv";
  FEDRAD_RETURN_IF_ERROR(CheckPlainName(file, "harmonization.output_file"));
  const std::string path = ctx.output_dir + "/" + file;
  std::error_code ec;
  if (std::filesystem::is_symlink(path, ec)) {
    return Refuse(absl::StatusCode::kInvalidArgument,
                  "harmonization.output_file: exists as a symbolic link in the study's output "
                  "folder (rule output-folder)");
  }
  return path;
}

absl::StatusOr<TaskOutput> Check(TaskContext& ctx) {
  FEDRAD_ASSIGN_OR_RETURN(std::vector<std::string> covariates, SpecCovariates(ctx));
  FEDRAD_ASSIGN_OR_RETURN(std::vector<std::string> selected, SpecFeatures(ctx, covariates));
  (void)selected;  // the pattern is valid; CheckSiteTable matches it again
  FEDRAD_ASSIGN_OR_RETURN(
      h::SiteTableCheck check,
      h::CheckSiteTable(*ctx.table, Spec(ctx).features(), covariates, {ctx.id_column}));
  if (ctx.state->count("combat.applied")) {
    check.problems.push_back("the table was already harmonised in this study");
  }
  TaskOutput out;
  out.n_contributing = check.n;
  Put(&out.payload, cc::kN, static_cast<double>(check.n));
  std::vector<double> constant(check.features.size(), 0.0);
  for (int g : check.constant_features) constant[g] = 1.0;
  Put(&out.payload, cc::kConstant, constant);
  Put(&out.payload, cc::kFeatures, check.features);
  Put(&out.payload, cc::kProblems, check.problems);
  for (const std::string& p : check.problems) FEDRAD_LOG(WARNING) << "combat.check: " << p;
  if (!check.problems.empty()) {
    // Only the problem's kind goes to the coordinator; the first offending
    // cell (file, line, column) is for the operator's log.
    absl::Status first =
        h::ExtractSiteData(*ctx.table, {}, check.features, covariates).status();
    if (!first.ok()) {
      FEDRAD_LOG(WARNING) << "combat.check: first problem: " << first.message();
    }
  }
  FEDRAD_ASSIGN_OR_RETURN(out.populations, AllRows(ctx, check.features, covariates));
  return out;
}

absl::StatusOr<TaskOutput> Moments(TaskContext& ctx) {
  FEDRAD_RETURN_IF_ERROR(RequireNotHarmonized(ctx));
  std::vector<std::string> features, covariates;
  FEDRAD_ASSIGN_OR_RETURN(h::SiteData data, ReadSiteData(ctx, &features, &covariates));
  const h::LocalMoments m = h::ComputeLocalMoments(data);
  TaskOutput out;
  out.n_contributing = m.n;
  Put(&out.payload, cm::kN, static_cast<double>(m.n));
  Put(&out.payload, cm::kSumCovariates, m.sum_covariates);
  Put(&out.payload, cm::kCovariateCross, m.covariate_cross);
  Put(&out.payload, cm::kSumFeatures, m.sum_features);
  Put(&out.payload, cm::kCovariateFeatureCross, m.covariate_feature_cross);
  FEDRAD_ASSIGN_OR_RETURN(out.populations, AllRows(ctx, features, covariates));
  // Signed: the pooled regression every site recomputes (issue 12).
  out.round = RoundContribution{rounds::CombatMomentsRound(), {}, {}};
  Put(&out.round->inputs, kinds::combat::kFeatures, features);
  return out;
}

// Verifiable rounds: `got` must be `want` (1e-12 relative), else refused.
absl::Status SameAsVerified(const TaskContext& ctx, const std::string& name,
                            const Eigen::MatrixXd& got, const Eigen::MatrixXd& want) {
  auto flat = [](const Eigen::MatrixXd& m) {
    std::vector<double> v;
    for (Eigen::Index r = 0; r < m.rows(); ++r) {
      for (Eigen::Index c = 0; c < m.cols(); ++c) v.push_back(m(r, c));
    }
    return v;
  };
  if (got.rows() == want.rows() && got.cols() == want.cols() && rounds::Agree(flat(got), flat(want))) {
    return absl::OkStatus();
  }
  return Unverified(ctx, absl::InvalidArgumentError(absl::StrCat(
                             "the task's ", name, " is not the one the sites' signed "
                             "contributions produce")));
}

// rss_g = Σ_i (y_ig − a_g − z_iβ_g)² = Σy² − 2aΣy − 2βᵀZᵀy + n a² + 2aβᵀΣz +
// βᵀZᵀZβ: for any (a, β) a coordinator sends, a function of the moments
// combat.moments released plus Σ_i y_ig² — the one new number per feature,
// the same the honest estimates reveal. The sum runs over all rows.
absl::StatusOr<TaskOutput> Residuals(TaskContext& ctx) {
  FEDRAD_RETURN_IF_ERROR(RequireNotHarmonized(ctx));
  std::vector<std::string> features, covariates;
  FEDRAD_ASSIGN_OR_RETURN(h::SiteData data, ReadSiteData(ctx, &features, &covariates));
  const v1::Payload& p = ctx.task->params();
  FEDRAD_ASSIGN_OR_RETURN(Eigen::VectorXd intercept,
                          GetEigenVector(p, cr::kIntercept, features.size()));
  FEDRAD_ASSIGN_OR_RETURN(Eigen::MatrixXd beta,
                          GetEigenMatrix(p, cr::kBeta, covariates.size(), features.size()));
  if (VerifiesRounds(ctx)) {
    // Only the pooled regression of the sites' signed moments (issue 12).
    FEDRAD_ASSIGN_OR_RETURN(VerifiedCombat v, VerifiedCombatInputs(ctx, features, covariates, false));
    const Eigen::VectorXd own = h::SiteIntercept(v.regression, v.index);
    FEDRAD_RETURN_IF_ERROR(SameAsVerified(ctx, cr::kIntercept.name, intercept, own));
    FEDRAD_RETURN_IF_ERROR(SameAsVerified(ctx, cr::kBeta.name, beta, v.regression.beta));
    intercept = own;
    beta = v.regression.beta;
  }
  TaskOutput out;
  out.n_contributing = data.features.rows();
  Put(&out.payload, cr::kRss, h::ResidualSumOfSquares(data, intercept, beta));
  FEDRAD_ASSIGN_OR_RETURN(out.populations, AllRows(ctx, features, covariates));
  out.round = RoundContribution{rounds::CombatResidualsRound(), {}, {}};
  Put(&out.round->inputs, kinds::combat::kFeatures, features);
  return out;
}

absl::StatusOr<TaskOutput> Fit(TaskContext& ctx) {
  FEDRAD_RETURN_IF_ERROR(RequireNotHarmonized(ctx));
  const v1::Harmonization& spec = Spec(ctx);
  // Where the result goes, checked before anything is computed or changed.
  FEDRAD_ASSIGN_OR_RETURN(const std::string path, OutputPath(ctx));
  const std::string suffix = spec.output_suffix();
  FEDRAD_RETURN_IF_ERROR(CheckSuffix(suffix));
  h::ComBatOptions options;
  absl::StatusOr<h::ComBatMethod> method = h::ParseMethod(spec.method());
  if (!method.ok()) {
    return Refuse(absl::StatusCode::kInvalidArgument,
                  "harmonization.method: not parametric, nonparametric or mean-only");
  }
  options.method = *method;
  options.empirical_bayes = !spec.has_empirical_bayes() || spec.empirical_bayes();
  options.nonparametric_mean_only = spec.nonparametric_mean_only();
  // The federated plan forces mean-only only for a one-patient site, which
  // no site with k >= 2 ever releases; otherwise it is the method's.
  const bool mean_only = options.method == h::ComBatMethod::kMeanOnly;
  const bool is_reference = !spec.reference_site().empty() && spec.reference_site() == ctx.site_id;

  std::vector<std::string> features, covariates;
  FEDRAD_ASSIGN_OR_RETURN(h::SiteData data, ReadSiteData(ctx, &features, &covariates));
  const v1::Payload& p = ctx.task->params();
  const size_t g = features.size();
  h::PooledEstimates pooled;
  FEDRAD_ASSIGN_OR_RETURN(pooled.grand_mean, GetEigenVector(p, cf::kGrandMean, g));
  FEDRAD_ASSIGN_OR_RETURN(pooled.var_pooled, GetEigenVector(p, cf::kVarPooled, g, true));
  FEDRAD_ASSIGN_OR_RETURN(pooled.beta, GetEigenMatrix(p, cf::kBeta, covariates.size(), g));
  if (VerifiesRounds(ctx)) {
    // Only the pooled estimates of the sites' signed moments and residuals.
    FEDRAD_ASSIGN_OR_RETURN(VerifiedCombat v, VerifiedCombatInputs(ctx, features, covariates, true));
    FEDRAD_RETURN_IF_ERROR(
        SameAsVerified(ctx, cf::kGrandMean.name, pooled.grand_mean, v.pooled.grand_mean));
    FEDRAD_RETURN_IF_ERROR(
        SameAsVerified(ctx, cf::kVarPooled.name, pooled.var_pooled, v.pooled.var_pooled));
    FEDRAD_RETURN_IF_ERROR(SameAsVerified(ctx, cf::kBeta.name, pooled.beta, v.pooled.beta));
    pooled = v.pooled;
  }

  // With an output suffix the harmonised values go to new columns (copies
  // of the originals first, so that unchanged values keep their text).
  std::vector<std::string> targets = features;
  if (!suffix.empty()) {
    for (std::string& name : targets) {
      name += suffix;
      if (ctx.table->HasColumn(name)) {
        return Refuse(absl::StatusCode::kInvalidArgument,
                      absl::StrCat("harmonization.output_suffix '", suffix,
                                   "': the table already has a column '", name,
                                   "' (rule no-overwrite)"));
      }
    }
  }

  // The site's own empirical Bayes effects (its priors are over its own
  // features, so nothing else is needed), then the local harmonisation.
  FEDRAD_ASSIGN_OR_RETURN(h::SiteEffects eff,
                          h::EstimateSiteEffects(h::Standardize(data, pooled), options, mean_only));
  if (!eff.gamma_star.allFinite() || !eff.delta_star.allFinite()) {
    return Refuse(absl::StatusCode::kInvalidArgument,
                  "combat.fit: the pooled estimates give no finite site effects (rule "
                  "estimate-range)");
  }
  if (!suffix.empty()) {
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
  Put(&out.payload, cf::kN, static_cast<double>(self.n));
  Put(&out.payload, cf::kGammaStar, eff.gamma_star);
  Put(&out.payload, cf::kDeltaStar, eff.delta_star);
  FEDRAD_ASSIGN_OR_RETURN(out.populations, AllRows(ctx, features, covariates));
  return out;
}

// params: the columns (at most 12, each a feature the spec selects here or
// that feature + output_suffix). Per column: n, mean, M2 and a suppressed
// flag (n < k: n, mean and M2 withheld, NaN), and for a column with >= k
// values the grid and counts families (proto/task_kinds.h): cumulative counts on
// the site's own grid (models::SiteGridCounts, steps >= k). Thresholds sent
// by a coordinator are ignored.
absl::StatusOr<TaskOutput> Distributions(TaskContext& ctx) {
  const std::vector<std::string> columns = kinds::Get(ctx.task->params(), cd::kColumns);
  TaskOutput out;
  out.n_contributing = static_cast<int64_t>(ctx.table->num_rows());
  if (columns.size() > kMaxDistributionColumns) {
    return Refuse(absl::StatusCode::kInvalidArgument,
                  "combat.distributions: more than 12 columns (rule report-features)");
  }
  FEDRAD_ASSIGN_OR_RETURN(std::vector<std::string> covariates, SpecCovariates(ctx));
  FEDRAD_ASSIGN_OR_RETURN(std::vector<std::string> selected, SpecFeatures(ctx, covariates));
  std::set<std::string> allowed(selected.begin(), selected.end());
  const std::string suffix = Spec(ctx).output_suffix();
  FEDRAD_RETURN_IF_ERROR(CheckSuffix(suffix));
  if (!suffix.empty()) {
    for (const std::string& f : selected) allowed.insert(f + suffix);
  }
  FEDRAD_ASSIGN_OR_RETURN(std::vector<std::string> ids, PatientIds(ctx));
  std::vector<double> n, mean, m2, suppressed;
  for (const std::string& column : columns) {
    if (!allowed.count(column) || !ctx.table->HasColumn(column)) {
      return Refuse(absl::StatusCode::kInvalidArgument,
                    "combat.distributions: a column is not a feature the approved spec's "
                    "harmonization.features selects at this site (rule spec-features)");
    }
    FEDRAD_ASSIGN_OR_RETURN(std::vector<double> values,
                            ctx.table->NumericColumn(column, MissingValues::kAllow));
    const models::ColumnMoments m = models::ComputeMoments(values);
    const bool small = m.n < ctx.min_cell_count;
    const double nan = std::numeric_limits<double>::quiet_NaN();
    n.push_back(small ? nan : static_cast<double>(m.n));
    mean.push_back(small ? nan : m.mean);
    m2.push_back(small ? nan : m.m2);
    suppressed.push_back(small ? 1.0 : 0.0);
    if (small) continue;
    const models::GridCounts grid = models::SiteGridCounts(
        values, models::GridStep(m.n, ctx.min_cell_count, 0.01,
                                 static_cast<int64_t>(kMaxGridPoints)));
    Put(&out.payload, cd::kGrid, column, grid.points);
    Put(&out.payload, cd::kCounts, column,
        std::vector<double>(grid.counts.begin(), grid.counts.end()));
    Population pop;
    pop.quantities = {"combat:" + column};
    for (size_t r = 0; r < ids.size(); ++r) {
      if (!std::isnan(values[r])) pop.ids.push_back(ids[r]);
    }
    out.populations.push_back(std::move(pop));
  }
  Put(&out.payload, cd::kN, n);
  Put(&out.payload, cd::kMean, mean);
  Put(&out.payload, cd::kM2, m2);
  Put(&out.payload, cd::kSuppressed, suppressed);
  return out;
}

}  // namespace

void RegisterCombatTasks(TaskRegistry& registry) {
  registry.Register(DefinedKind(cc::kName, &Check));
  registry.Register(DefinedKind(cm::kName, &Moments));
  registry.Register(DefinedKind(cr::kName, &Residuals));
  registry.Register(DefinedKind(cf::kName, &Fit));
  registry.Register(DefinedKind(cd::kName, &Distributions));
}

}  // namespace fedrad::site
