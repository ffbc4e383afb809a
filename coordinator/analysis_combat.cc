// The coordinator's half of federated ComBat (distributed ComBat, Chen et
// al., NeuroImage 2022); the site half is site_node/tasks_combat.cc and the
// formulas are harmonization/combat.h, the same functions the pooled
// `fedrad harmonize` runs — so the federated result equals the pooled one.
//
// Rounds:
//   1. combat.check: every site reports n, its feature columns, problems
//      (missing/non-numeric/missing-value columns) and features constant at
//      the site. Nothing but counts. The step is refused here, naming every
//      problem, before any aggregate of the data is requested. The plan
//      (features left unadjusted, mean-only) is decided for all sites at once.
//   2. combat.moments -> B-hat (PoolMoments; refuses a rank-deficient design).
//   3. combat.residuals -> var_pooled (FinishPooled).
//   4. combat.fit: each site estimates its own gamma*, delta* and harmonises
//      its table locally; it returns gamma*, delta*.
//   5. combat.distributions (for the report): per site, n, mean and SD of at
//      most 12 features before and after ComBat, and their quartiles from
//      counts on each site's own grid (models::GridQuantiles). With
//      output_suffix both are measured after the fit (raw <feature> and
//      harmonised <feature><suffix>); without it, "before" is measured before
//      combat.fit replaces the values.
// What the sites read from the task: only "features" (the plan's adjusted
// features, a subset of what the spec selects), the pooled estimates and the
// report's "columns". Everything else (covariates, method, EB, reference,
// output file and suffix) each site reads from the approved spec itself.
// results.json: see docs/results.md, "harmonization".
#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "coordinator/analyses.h"
#include "coordinator/internal/models_internal.h"
#include "coordinator/secure_round.h"
#include "coordinator/study_context.h"
#include "core/log.h"
#include "core/status.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "harmonization/combat.h"
#include "harmonization/model.h"
#include "harmonization/table.h"
#include "models/descriptive.h"
#include "proto/payload.h"
#include "proto/task_kinds.h"
#include "proto/round_signing.h"
#include "proto/spec_hash.h"
#include "rounds/kind_eigen.h"
#include "rounds/transcript.h"

namespace fedrad::coordinator {
namespace {

namespace h = ::fedrad::harmonization;
using Distributions = std::map<std::string, std::map<std::string, v1::Results::Distribution>>;
namespace cc = ::fedrad::kinds::combat_check;
namespace cm = ::fedrad::kinds::combat_moments;
namespace cr = ::fedrad::kinds::combat_residuals;
namespace cf = ::fedrad::kinds::combat_fit;
namespace cd = ::fedrad::kinds::combat_distributions;
using ::fedrad::kinds::Put;
using ::fedrad::kinds::SiteMatrix;
using ::fedrad::kinds::SiteVector;

std::map<std::string, v1::Transcript> ForEach(const std::vector<std::string>& sites,
                                              const v1::Transcript& transcript) {
  std::map<std::string, v1::Transcript> out;
  for (const auto& s : sites) out[s] = transcript;
  return out;
}

std::vector<std::string> Keys(const std::map<std::string, v1::TaskResult>& results) {
  std::vector<std::string> keys;
  for (const auto& [k, v] : results) keys.push_back(k);
  return keys;
}

// Every later round must be answered by exactly the sites of the moments
// round: the pooled estimates are over those sites.
absl::Status RequireSameSites(const std::vector<std::string>& expected,
                              const std::map<std::string, v1::TaskResult>& results,
                              const std::string& round) {
  if (Keys(results) != expected) {
    return absl::FailedPreconditionError(absl::StrCat(
        "a site dropped out during ComBat (", round, "): the pooled estimates were made over ",
        absl::StrJoin(expected, ", "), " but only ", absl::StrJoin(Keys(results), ", "),
        " answered; run the study again"));
  }
  return absl::OkStatus();
}

// {feature: value} (docs/results.md, "harmonization").
void FeatureValues(const std::vector<std::string>& names, const Eigen::VectorXd& v,
                   google::protobuf::Map<std::string, double>* out) {
  for (size_t i = 0; i < names.size(); ++i) (*out)[names[i]] = v(static_cast<Eigen::Index>(i));
}

google::protobuf::Struct FeatureStruct(const std::vector<std::string>& names,
                                       const Eigen::VectorXd& v) {
  google::protobuf::Struct out;
  for (size_t i = 0; i < names.size(); ++i) {
    (*out.mutable_fields())[names[i]].set_number_value(v(static_cast<Eigen::Index>(i)));
  }
  return out;
}

constexpr size_t kMaxDistributionFeatures = 12;

// Per site and column: n, mean, SD and quartiles (from the counts each site
// releases on its own grid, models::GridQuantiles), or {suppressed} when the
// site has fewer than k values. `columns[i]` is measured and reported as
// `features[i]`. Result: {feature: {site: {...}}}. One round: the site
// releases its moments and its grid counts together.
absl::StatusOr<Distributions> SiteDistributions(StudyContext& ctx,
                                                const std::vector<std::string>& features,
                                                const std::vector<std::string>& columns,
                                                const std::string& phase) {
  Distributions out;
  v1::Payload params;
  Put(&params, cd::kColumns, columns);
  Put(&params, cd::kPhase, phase);
  FEDRAD_ASSIGN_OR_RETURN(auto results, ctx.Broadcast(cd::kName, params));
  for (const auto& [site, r] : results) {
    const v1::Payload& p = r.payload();
    FEDRAD_ASSIGN_OR_RETURN(Eigen::VectorXd n, SiteVector(site, p, cd::kN, columns.size()));
    FEDRAD_ASSIGN_OR_RETURN(Eigen::VectorXd mean, SiteVector(site, p, cd::kMean, columns.size()));
    FEDRAD_ASSIGN_OR_RETURN(Eigen::VectorXd m2, SiteVector(site, p, cd::kM2, columns.size()));
    FEDRAD_ASSIGN_OR_RETURN(Eigen::VectorXd supp,
                            SiteVector(site, p, cd::kSuppressed, columns.size()));
    for (size_t i = 0; i < columns.size(); ++i) {
      const Eigen::Index j = static_cast<Eigen::Index>(i);
      v1::Results::Distribution& e = out[features[i]][site];
      if (supp[j] != 0.0 || !std::isfinite(n[j])) {
        // The site withheld the cell, its size included.
        e.set_suppressed(true);
        e.set_reason("fewer than k values at the site");
        continue;
      }
      e.set_n(static_cast<int32_t>(CountFromDouble(n[j])));
      models::ColumnMoments cm;
      cm.n = CountFromDouble(n[j]);
      cm.mean = mean[j];
      cm.m2 = m2[j];
      cm.binary = false;
      e.set_mean(cm.mean);
      e.set_sd(models::StandardDeviation(cm));
            absl::StatusOr<std::vector<double>> grid = kinds::Get(p, cd::kGrid, columns[i]);
      absl::StatusOr<std::vector<double>> counts = kinds::Get(p, cd::kCounts, columns[i]);
      if (!grid.ok() || !counts.ok() || grid->size() != counts->size()) {
        return absl::DataLossError(absl::StrCat("site ", site, ": malformed grid counts for '",
                                                columns[i], "'"));
      }
      models::GridPart part;
      part.grid.n = cm.n;
      part.grid.points = *grid;
      for (double k : *counts) {
        // A count outside 0..2^53 is malformed (tests/fuzz; as cohort.counts).
        if (CountFromDouble(k) < 0) {
          return absl::DataLossError(absl::StrCat("site ", site, ": malformed grid counts for '",
                                                  columns[i], "'"));
        }
        part.grid.counts.push_back(CountFromDouble(k));
      }
      part.mean = cm.mean;
      part.sd = models::StandardDeviation(cm);
      const std::vector<models::QuantileEstimate> est =
          models::GridQuantiles({part}, {0.25, 0.5, 0.75});
      using Setter = void (v1::Results::Distribution::*)(double);
      const Setter quartiles[] = {&v1::Results::Distribution::set_q1,
                                  &v1::Results::Distribution::set_median,
                                  &v1::Results::Distribution::set_q3};
      double worst = 0;
      for (size_t q = 0; q < est.size() && q < 3; ++q) {
        (e.*quartiles[q])(est[q].value);
        worst = std::max(worst, est[q].rank_error);
      }
      e.set_quartile_rank_error(worst);
    }
  }
  return out;
}

// The features drawn in the report: Harmonization.report_features when given
// (must be adjusted features), else the (at most 12) features whose site
// location effects differ most between sites: the largest SD over sites of
// `location[site][g]` (γ* after the fit, or the unshrunk site means in pooled
// SD units before it).
absl::StatusOr<std::vector<int>> ChooseDistributionFeatures(
    const v1::Harmonization& spec, const std::vector<std::string>& adjusted,
    const std::vector<Eigen::VectorXd>& location) {
  std::vector<int> chosen;
  if (spec.report_features_size() > 0) {
    for (const std::string& f : spec.report_features()) {
      auto it = std::find(adjusted.begin(), adjusted.end(), f);
      if (it == adjusted.end()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "harmonization.report_features names '", f, "', which is not a harmonised feature"));
      }
      chosen.push_back(static_cast<int>(it - adjusted.begin()));
    }
    if (chosen.size() > kMaxDistributionFeatures) chosen.resize(kMaxDistributionFeatures);
    return chosen;
  }
  std::vector<std::pair<double, int>> spread;
  for (size_t g = 0; g < adjusted.size(); ++g) {
    double sum = 0, sum2 = 0;
    for (const Eigen::VectorXd& l : location) {
      sum += l[static_cast<Eigen::Index>(g)];
      sum2 += l[static_cast<Eigen::Index>(g)] * l[static_cast<Eigen::Index>(g)];
    }
    const double k = static_cast<double>(location.size());
    const double var = k > 1 ? (sum2 - sum * sum / k) / (k - 1) : 0.0;
    spread.emplace_back(-(std::isfinite(var) ? var : 0.0), static_cast<int>(g));
  }
  std::stable_sort(spread.begin(), spread.end());
  for (size_t i = 0; i < spread.size() && i < kMaxDistributionFeatures; ++i) {
    chosen.push_back(spread[i].second);
  }
  std::sort(chosen.begin(), chosen.end());
  return chosen;
}

// How the distributions were computed and chosen, in words
// (harmonization.distributions_method).
std::string DistributionsMethod(const v1::Harmonization& spec, size_t adjusted) {
  return absl::StrCat(
      "Per site: n, mean and SD (n - 1) from site sums; quartiles interpolated "
      "from counts on a grid each site fixes (3-significant-digit lattice, every "
      "step >= k values; no value released, approximate to the grid; "
      "quartile_rank_error bounds the rank error). Features shown: ",
      spec.report_features_size() > 0 ? "those listed in harmonization.report_features"
      : adjusted <= kMaxDistributionFeatures
          ? absl::StrCat("all ", adjusted, " harmonised features")
      : spec.output_suffix().empty()
          ? "the 12 whose raw site means (in pooled SD units) differ most between sites"
          : "the 12 whose site effects gamma* differ most between sites");
}

// results.json's harmonization section but the distributions
// (docs/results.md, "harmonization"): the settings, the pooled estimates,
// each site's effects and the whole model.
absl::Status FillHarmonization(const v1::Harmonization& spec, const h::ComBatPlan& plan,
                               const h::ComBatModel& model, int64_t pooled_n,
                               v1::Results::Harmonization& out) {
  const std::vector<std::string>& adjusted = model.adjusted;
  out.set_method(std::string(h::MethodName(model.options.method)));
  out.set_empirical_bayes(model.options.empirical_bayes);
  out.set_mean_only(plan.mean_only);
  out.set_reference_site(model.options.reference_site);
  *out.mutable_covariates() = {model.covariates.begin(), model.covariates.end()};
  *out.mutable_features() = {adjusted.begin(), adjusted.end()};
  out.set_output_suffix(spec.output_suffix());
  out.clear_unadjusted_features();
  for (int g : plan.constant_features) out.add_unadjusted_features(model.features[g]);
  *out.mutable_notes() = {plan.notes.begin(), plan.notes.end()};
  v1::Results::HarmonizationPooled& pooled = *out.mutable_pooled();
  pooled.set_n(static_cast<int32_t>(pooled_n));
  FeatureValues(adjusted, model.pooled.grand_mean, pooled.mutable_grand_mean());
  FeatureValues(adjusted, model.pooled.var_pooled, pooled.mutable_var_pooled());
  for (size_t c = 0; c < model.covariates.size(); ++c) {
    (*pooled.mutable_beta())[model.covariates[c]] =
        FeatureStruct(adjusted, model.pooled.beta.row(static_cast<Eigen::Index>(c)).transpose());
  }
  for (const auto& [site, sm] : model.sites) {
    v1::Results::HarmonizationSite& js = (*out.mutable_sites())[site];
    js.set_n(static_cast<int32_t>(sm.n));
    FeatureValues(adjusted, sm.gamma_star, js.mutable_gamma_star());
    FeatureValues(adjusted, sm.delta_star, js.mutable_delta_star());
  }
  // The whole model in the format `fedrad harmonize --model-in` reads, for
  // centres that join later and for new patients. Its format is
  // harmonization/model.h's (not protobuf): carried as a Struct.
  if (!google::protobuf::util::JsonStringToMessage(h::ModelToJson(model).dump(),
                                                   out.mutable_model())
           .ok()) {
    return absl::InternalError("harmonization: the ComBat model does not convert to JSON");
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status RunHarmonization(StudyContext& ctx) {
  const v1::Harmonization& spec = ctx.study().harmonization();
  if (spec.features().empty()) {
    return absl::InvalidArgumentError(
        "harmonization.features (a regular expression naming the feature columns) is required");
  }
  if (spec.report_features_size() > static_cast<int>(kMaxDistributionFeatures)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "harmonization.report_features lists ", spec.report_features_size(),
        " features; the report draws at most ", kMaxDistributionFeatures));
  }
  h::ComBatOptions options;
  FEDRAD_ASSIGN_OR_RETURN(options.method, h::ParseMethod(spec.method()));
  options.empirical_bayes = !spec.has_empirical_bayes() || spec.empirical_bayes();
  options.nonparametric_mean_only = spec.nonparametric_mean_only();
  options.reference_site = spec.reference_site();
  const std::vector<std::string> covariates(spec.covariates().begin(), spec.covariates().end());
  const bool mean_only_method = options.method == h::ComBatMethod::kMeanOnly ||
                                (options.method == h::ComBatMethod::kNonParametric &&
                                 options.nonparametric_mean_only);

  // Round 1: the cheap check, before any aggregate of the data moves.
  ctx.SetProgress("harmonization", 0.0, "checking site tables (combat.check)");
  FEDRAD_ASSIGN_OR_RETURN(auto checks, ctx.Broadcast(cc::kName, v1::Payload()));
  std::vector<std::string> problems;
  std::vector<std::string> sites = Keys(checks);
  std::vector<std::string> features;  // in the first site's column order
  std::map<std::string, std::set<std::string>> features_by_site;
  for (const auto& [site, r] : checks) {
    for (const std::string& f : kinds::Get(r.payload(), cc::kFeatures)) {
      features_by_site[site].insert(f);
      if (std::find(features.begin(), features.end(), f) == features.end()) features.push_back(f);
    }
    for (const std::string& p : kinds::Get(r.payload(), cc::kProblems)) {
      if (!p.empty()) problems.push_back(absl::StrCat("site ", site, ": ", p));
    }
  }
  if (features.empty()) {
    problems.push_back(absl::StrCat("no site has a column matching '", spec.features(), "'"));
  }
  for (const std::string& f : features) {
    std::vector<std::string> missing_at;
    for (const std::string& site : sites) {
      if (!features_by_site[site].count(f)) missing_at.push_back(site);
    }
    if (!missing_at.empty()) {
      problems.push_back(absl::StrCat("feature '", f, "' is missing at site(s) ",
                                      absl::StrJoin(missing_at, ", ")));
    }
  }
  if (!options.reference_site.empty() &&
      std::find(sites.begin(), sites.end(), options.reference_site) == sites.end()) {
    problems.push_back(absl::StrCat("the reference site '", options.reference_site,
                                     "' is not among the sites (", absl::StrJoin(sites, ", "),
                                     ")"));
  }
  std::vector<int64_t> site_n;
  std::vector<std::vector<int>> constant;
  for (const std::string& site : sites) {
    const v1::Payload& p = checks.at(site).payload();
    FEDRAD_ASSIGN_OR_RETURN(double n, kinds::Get(p, cc::kN));
    site_n.push_back(CountFromDouble(n));
    if (n < 2 && !mean_only_method) {
      problems.push_back(absl::StrCat(
          "site ", site, " has ", n, " patient(s), fewer than the 2 parameters per feature "
          "(location and scale) of its site effect; exclude the site or use method mean-only"));
    }
    // Map the site's constant flags (indexed by its own column order) to ours.
    std::vector<std::string> own = kinds::Get(p, cc::kFeatures);
    absl::StatusOr<std::vector<double>> flags = kinds::Get(p, cc::kConstant);
    std::vector<int> c;
    if (flags.ok() && flags->size() == own.size()) {
      for (size_t j = 0; j < own.size(); ++j) {
        if ((*flags)[j] == 0.0) continue;
        auto it = std::find(features.begin(), features.end(), own[j]);
        if (it != features.end()) c.push_back(static_cast<int>(it - features.begin()));
      }
    }
    constant.push_back(c);
  }
  if (!problems.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("ComBat cannot run: ", absl::StrJoin(problems, "; ")));
  }
  FEDRAD_ASSIGN_OR_RETURN(h::ComBatPlan plan,
                          h::MakePlan(sites, site_n, constant,
                                      static_cast<int>(features.size()), options));
  for (const std::string& note : plan.notes) FEDRAD_LOG(WARNING) << "ComBat: " << note;
  std::vector<std::string> adjusted;
  for (int g : plan.adjusted_features) adjusted.push_back(features[g]);
  const size_t num_g = adjusted.size();
  const size_t q = covariates.size();

  // Round 2: moments -> B-hat.
  ctx.SetProgress("harmonization", 0.25, "pooled regression (combat.moments)");
  v1::Payload base;
  Put(&base, kinds::combat::kFeatures, adjusted);
  // Secure aggregation: the cross-products are only used pooled, so they
  // arrive summed (coordinator/secure_round.h) and stand in the first
  // site's entry (PoolMoments adds the sites' entries); n and the sums of
  // covariates and features stay per site (the site indicators' rows).
  // Verifiable rounds (issue 12): every site recomputes the pooled estimates
  // from the sites' signed moments (and residuals) before it uses them; in a
  // secure study the transcript also holds the session's adverts and the
  // rounds' reveals, from which each site unmasks the sums itself.
  const bool secure = SecureAggregation(ctx.study());
  std::map<std::string, v1::TaskResult> moment_results;
  v1::Payload pooled_moments;
  v1::Transcript transcript;
  if (secure) {
    std::map<std::string, v1::Payload> by_site;
    for (const std::string& site : ctx.active_sites()) by_site[site] = base;
    FEDRAD_ASSIGN_OR_RETURN(SecureRoundResult r,
                            RunSecureRound(ctx, cm::kName, by_site, ctx.active_sites(),
                                           rounds::CombatMomentsRound()));
    moment_results = std::move(r.by_site);
    pooled_moments = std::move(r.sum);
    transcript = std::move(r.session_adverts);
    for (const auto& m : r.signed_messages.messages()) *transcript.add_messages() = m;
  } else {
    FEDRAD_ASSIGN_OR_RETURN(moment_results, ctx.Broadcast(cm::kName, base));
  }
  sites = Keys(moment_results);
  if (!secure) {
    FEDRAD_RETURN_IF_ERROR(internal::CollectSigned(ctx, moment_results, sites,
                                                   rounds::CombatMomentsRound(), &transcript));
  }
  std::vector<h::LocalMoments> moments;
  for (const std::string& site : sites) {
    const v1::Payload& p = moment_results.at(site).payload();
    h::LocalMoments m;
    FEDRAD_ASSIGN_OR_RETURN(double n, kinds::Get(p, cm::kN));
    m.n = CountFromDouble(n);
    FEDRAD_ASSIGN_OR_RETURN(m.sum_covariates, SiteVector(site, p, cm::kSumCovariates, q));
    FEDRAD_ASSIGN_OR_RETURN(m.sum_features, SiteVector(site, p, cm::kSumFeatures, num_g));
    const bool from_sum = secure && site == sites.front();
    const v1::Payload& cross = from_sum ? pooled_moments : p;
    const std::string who = from_sum ? "(secure sum)" : site;
    if (secure && !from_sum) {
      m.covariate_cross = Eigen::MatrixXd::Zero(q, q);
      m.covariate_feature_cross = Eigen::MatrixXd::Zero(q, num_g);
    } else {
      FEDRAD_ASSIGN_OR_RETURN(m.covariate_cross,
                              SiteMatrix(who, cross, cm::kCovariateCross, q, q));
      FEDRAD_ASSIGN_OR_RETURN(m.covariate_feature_cross,
                              SiteMatrix(who, cross, cm::kCovariateFeatureCross, q, num_g));
    }
    moments.push_back(std::move(m));
  }
  FEDRAD_ASSIGN_OR_RETURN(h::PooledRegression reg,
                          h::PoolMoments(sites, moments, covariates, options.reference_site));

  // Round 3: residual sums of squares -> var_pooled.
  ctx.SetProgress("harmonization", 0.5, "pooled variance (combat.residuals)");
  std::map<std::string, v1::Payload> residual_params;
  for (size_t i = 0; i < sites.size(); ++i) {
    v1::Payload p = base;
    Put(&p, cr::kIntercept, h::SiteIntercept(reg, static_cast<int>(i)));
    Put(&p, cr::kBeta, reg.beta);
    residual_params[sites[i]] = std::move(p);
  }
  std::map<std::string, v1::TaskResult> rss_results;
  v1::Payload pooled_rss;
  if (secure) {
    // Only their sum is used (var_pooled): summed securely, in the first
    // site's entry.
    FEDRAD_ASSIGN_OR_RETURN(SecureRoundResult r,
                            RunSecureRound(ctx, cr::kName, residual_params, sites,
                                           rounds::CombatResidualsRound(),
                                           ForEach(sites, transcript)));
    rss_results = std::move(r.by_site);
    pooled_rss = std::move(r.sum);
    for (const auto& m : r.signed_messages.messages()) *transcript.add_messages() = m;
  } else {
    FEDRAD_ASSIGN_OR_RETURN(rss_results,
                            ctx.RunRound(cr::kName, residual_params, ForEach(sites, transcript)));
  }
  FEDRAD_RETURN_IF_ERROR(RequireSameSites(sites, rss_results, cr::kName));
  if (!secure) {
    FEDRAD_RETURN_IF_ERROR(internal::CollectSigned(ctx, rss_results, sites,
                                                   rounds::CombatResidualsRound(), &transcript));
  }
  std::vector<Eigen::VectorXd> rss;
  for (const std::string& site : sites) {
    if (secure) {
      if (site != sites.front()) {
        rss.push_back(Eigen::VectorXd::Zero(static_cast<Eigen::Index>(num_g)));
        continue;
      }
      FEDRAD_ASSIGN_OR_RETURN(Eigen::VectorXd v,
                              SiteVector("(secure sum)", pooled_rss, cr::kRss, num_g));
      rss.push_back(std::move(v));
      continue;
    }
    FEDRAD_ASSIGN_OR_RETURN(Eigen::VectorXd v,
                            SiteVector(site, rss_results.at(site).payload(), cr::kRss, num_g));
    rss.push_back(std::move(v));
  }
  FEDRAD_ASSIGN_OR_RETURN(h::PooledEstimates pooled, h::FinishPooled(reg, rss));

  // Feature distributions for the report. Without output_suffix the raw
  // values are replaced by combat.fit, so "before" is measured now, for the
  // features whose unshrunk site means (in pooled SD units) differ most.
  const std::string suffix = spec.output_suffix();
  google::protobuf::Map<std::string, v1::Results::FeatureDistributions> distributions;
  std::vector<int> shown;
  if (suffix.empty() && num_g > 0) {
    std::vector<Eigen::VectorXd> location;
    for (size_t i = 0; i < sites.size(); ++i) {
      Eigen::VectorXd l(num_g);
      for (size_t g = 0; g < num_g; ++g) {
        const Eigen::Index j = static_cast<Eigen::Index>(g);
        l[j] = moments[i].n > 0 && pooled.var_pooled[j] > 0
                   ? (moments[i].sum_features[j] / static_cast<double>(moments[i].n)) /
                         std::sqrt(pooled.var_pooled[j])
                   : 0.0;
      }
      location.push_back(l);
    }
    FEDRAD_ASSIGN_OR_RETURN(shown, ChooseDistributionFeatures(spec, adjusted, location));
    std::vector<std::string> names;
    for (int g : shown) names.push_back(adjusted[static_cast<size_t>(g)]);
    ctx.SetProgress("harmonization", 0.6, "feature distributions before ComBat");
    FEDRAD_ASSIGN_OR_RETURN(Distributions before, SiteDistributions(ctx, names, names, "before"));
    for (auto& [f, by_site] : before) {
      distributions[f].mutable_before()->insert(by_site.begin(), by_site.end());
    }
  }

  // Round 4: each site's own EB effects; the site harmonises locally.
  ctx.SetProgress("harmonization", 0.75, "site effects and local harmonisation (combat.fit)");
  std::map<std::string, v1::Payload> fit_params;
  for (const std::string& site : sites) {
    v1::Payload p = base;
    Put(&p, cf::kGrandMean, pooled.grand_mean);
    Put(&p, cf::kVarPooled, pooled.var_pooled);
    Put(&p, cf::kBeta, pooled.beta);
    fit_params[site] = std::move(p);
  }
  FEDRAD_ASSIGN_OR_RETURN(auto fit_results,
                          ctx.RunRound(cf::kName, fit_params, ForEach(sites, transcript)));
  FEDRAD_RETURN_IF_ERROR(RequireSameSites(sites, fit_results, cf::kName));

  // results.json
  h::ComBatModel model;
  model.options = options;
  model.mean_only = plan.mean_only;
  model.features = features;
  model.adjusted = adjusted;
  model.covariates = covariates;
  model.pooled = pooled;
  for (const std::string& site : sites) {
    const v1::Payload& p = fit_results.at(site).payload();
    h::SiteModel sm;
    FEDRAD_ASSIGN_OR_RETURN(double n, kinds::Get(p, cf::kN));
    sm.n = CountFromDouble(n);
    FEDRAD_ASSIGN_OR_RETURN(sm.gamma_star, SiteVector(site, p, cf::kGammaStar, num_g));
    FEDRAD_ASSIGN_OR_RETURN(sm.delta_star, SiteVector(site, p, cf::kDeltaStar, num_g));
    model.sites[site] = std::move(sm);
  }
  v1::Results::Harmonization& out = *ctx.results().mutable_harmonization();
  FEDRAD_RETURN_IF_ERROR(FillHarmonization(
      spec, plan, model, std::accumulate(reg.site_n.begin(), reg.site_n.end(), int64_t{0}), out));

  // Feature distributions after ComBat (and, with output_suffix, before it:
  // the raw columns are still there), for the report.
  if (num_g > 0) {
    if (!suffix.empty()) {
      std::vector<Eigen::VectorXd> location;
      for (const auto& [site, sm] : model.sites) location.push_back(sm.gamma_star);
      FEDRAD_ASSIGN_OR_RETURN(shown, ChooseDistributionFeatures(spec, adjusted, location));
    }
    std::vector<std::string> names, after_columns;
    for (int g : shown) {
      names.push_back(adjusted[static_cast<size_t>(g)]);
      after_columns.push_back(adjusted[static_cast<size_t>(g)] + suffix);
    }
    if (!suffix.empty()) {
      ctx.SetProgress("harmonization", 1.0, "feature distributions before ComBat");
      FEDRAD_ASSIGN_OR_RETURN(Distributions before, SiteDistributions(ctx, names, names, "before"));
      for (auto& [f, by_site] : before) {
        distributions[f].mutable_before()->insert(by_site.begin(), by_site.end());
      }
    }
    ctx.SetProgress("harmonization", 1.0, "feature distributions after ComBat");
    FEDRAD_ASSIGN_OR_RETURN(Distributions after,
                            SiteDistributions(ctx, names, after_columns, "after"));
    for (auto& [f, by_site] : after) {
      distributions[f].mutable_after()->insert(by_site.begin(), by_site.end());
    }
    *out.mutable_distributions() = std::move(distributions);
    out.set_distributions_method(DistributionsMethod(spec, adjusted.size()));
  }
  ctx.SetProgress("harmonization", 1.0,
                  absl::StrCat("harmonised ", num_g, " feature(s) at ", sites.size(), " sites"));
  return absl::OkStatus();
}

}  // namespace fedrad::coordinator
