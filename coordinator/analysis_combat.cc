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
//      most 12 features before and after ComBat, and their quartiles
//      (coordinator/analysis_combat_distributions.cc).
// Each round is one function below (RunCheckRound, RunMomentsRound,
// RunResidualsRound, RunFitRound) that takes the record the rounds before it
// produced (Settings, Checked, Moments, Pooled); RunHarmonization composes
// them.
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
#include "coordinator/internal/combat_internal.h"
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
#include "proto/payload.h"
#include "proto/task_kinds.h"
#include "proto/round_signing.h"
#include "proto/spec_hash.h"
#include "rounds/kind_eigen.h"
#include "rounds/transcript.h"

namespace fedrad::coordinator {
namespace {

namespace h = ::fedrad::harmonization;
namespace cc = ::fedrad::kinds::combat_check;
namespace cm = ::fedrad::kinds::combat_moments;
namespace cr = ::fedrad::kinds::combat_residuals;
namespace cf = ::fedrad::kinds::combat_fit;
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

// ---- The rounds -------------------------------------------------------------
// One function per round; each takes what the rounds before it produced and
// returns a small record, and RunHarmonization composes them in order.

// The study's ComBat settings, read once from the approved spec.
struct Settings {
  h::ComBatOptions options;
  std::vector<std::string> covariates;
  // One parameter per feature and site (location only), so one patient
  // suffices.
  bool mean_only_method = false;
  bool secure = false;  // secure_aggregation: rounds 2 and 3 arrive summed
};

absl::StatusOr<Settings> ReadSettings(const v1::Study& study) {
  const v1::Harmonization& spec = study.harmonization();
  if (spec.features().empty()) {
    return absl::InvalidArgumentError(
        "harmonization.features (a regular expression naming the feature columns) is required");
  }
  if (spec.report_features_size() > static_cast<int>(internal::kMaxDistributionFeatures)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "harmonization.report_features lists ", spec.report_features_size(),
        " features; the report draws at most ", internal::kMaxDistributionFeatures));
  }
  Settings s;
  FEDRAD_ASSIGN_OR_RETURN(s.options.method, h::ParseMethod(spec.method()));
  s.options.empirical_bayes = !spec.has_empirical_bayes() || spec.empirical_bayes();
  s.options.nonparametric_mean_only = spec.nonparametric_mean_only();
  s.options.reference_site = spec.reference_site();
  s.covariates.assign(spec.covariates().begin(), spec.covariates().end());
  s.mean_only_method = s.options.method == h::ComBatMethod::kMeanOnly ||
                       (s.options.method == h::ComBatMethod::kNonParametric &&
                        s.options.nonparametric_mean_only);
  s.secure = SecureAggregation(study);
  return s;
}

// Round 1's outcome (combat.check): the sites, every feature (in the first
// site's column order) and the plan made for all sites at once.
struct Checked {
  std::vector<std::string> sites;
  std::vector<std::string> features;
  std::vector<std::string> adjusted;  // the plan's adjusted features, by name
  h::ComBatPlan plan;
};

// combat.check's feature lists: fills out->features and returns the
// problems the sites reported or their lists show (a feature missing at a
// site, a reference site that is not among them), each naming its site.
std::vector<std::string> FeatureProblems(const std::map<std::string, v1::TaskResult>& checks,
                                         const v1::Harmonization& spec,
                                         const std::string& reference_site, Checked* out) {
  std::vector<std::string> problems;
  std::map<std::string, std::set<std::string>> features_by_site;
  for (const auto& [site, r] : checks) {
    for (const std::string& f : kinds::Get(r.payload(), cc::kFeatures)) {
      features_by_site[site].insert(f);
      if (std::find(out->features.begin(), out->features.end(), f) == out->features.end()) {
        out->features.push_back(f);
      }
    }
    for (const std::string& p : kinds::Get(r.payload(), cc::kProblems)) {
      if (!p.empty()) problems.push_back(absl::StrCat("site ", site, ": ", p));
    }
  }
  if (out->features.empty()) {
    problems.push_back(absl::StrCat("no site has a column matching '", spec.features(), "'"));
  }
  for (const std::string& f : out->features) {
    std::vector<std::string> missing_at;
    for (const std::string& site : out->sites) {
      if (!features_by_site[site].count(f)) missing_at.push_back(site);
    }
    if (!missing_at.empty()) {
      problems.push_back(absl::StrCat("feature '", f, "' is missing at site(s) ",
                                      absl::StrJoin(missing_at, ", ")));
    }
  }
  if (!reference_site.empty() &&
      std::find(out->sites.begin(), out->sites.end(), reference_site) == out->sites.end()) {
    problems.push_back(absl::StrCat("the reference site '", reference_site,
                                    "' is not among the sites (", absl::StrJoin(out->sites, ", "),
                                    ")"));
  }
  return problems;
}

// combat.check's sizes: each site's n (*site_n) and its constant features
// as indices into `checked.features` (*constant), in `checked.sites`' order;
// a site with fewer patients than its site effect's parameters is a problem.
absl::Status SiteSizes(const std::map<std::string, v1::TaskResult>& checks,
                       const Checked& checked, bool mean_only_method,
                       std::vector<int64_t>* site_n, std::vector<std::vector<int>>* constant,
                       std::vector<std::string>* problems) {
  const std::vector<std::string>& features = checked.features;
  for (const std::string& site : checked.sites) {
    const v1::Payload& p = checks.at(site).payload();
    FEDRAD_ASSIGN_OR_RETURN(double n, kinds::Get(p, cc::kN));
    site_n->push_back(CountFromDouble(n));
    if (n < 2 && !mean_only_method) {
      problems->push_back(absl::StrCat(
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
    constant->push_back(c);
  }
  return absl::OkStatus();
}

// Round 1: the cheap check, before any aggregate of the data moves. Refuses
// the step naming every problem; else plans it for all sites at once.
absl::StatusOr<Checked> RunCheckRound(StudyContext& ctx, const Settings& settings) {
  ctx.SetProgress("harmonization", 0.0, "checking site tables (combat.check)");
  FEDRAD_ASSIGN_OR_RETURN(auto checks, ctx.Broadcast(cc::kName, v1::Payload()));
  Checked out;
  out.sites = Keys(checks);
  std::vector<std::string> problems = FeatureProblems(
      checks, ctx.study().harmonization(), settings.options.reference_site, &out);
  std::vector<int64_t> site_n;
  std::vector<std::vector<int>> constant;
  FEDRAD_RETURN_IF_ERROR(
      SiteSizes(checks, out, settings.mean_only_method, &site_n, &constant, &problems));
  if (!problems.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("ComBat cannot run: ", absl::StrJoin(problems, "; ")));
  }
  FEDRAD_ASSIGN_OR_RETURN(out.plan,
                          h::MakePlan(out.sites, site_n, constant,
                                      static_cast<int>(out.features.size()), settings.options));
  for (const std::string& note : out.plan.notes) FEDRAD_LOG(WARNING) << "ComBat: " << note;
  for (int g : out.plan.adjusted_features) out.adjusted.push_back(out.features[g]);
  return out;
}

// Round 2's outcome (combat.moments): the sites that answered (every later
// round must be answered by exactly them), their moments, B-hat, and the
// transcript the later rounds forward.
struct Moments {
  std::vector<std::string> sites;
  std::vector<h::LocalMoments> moments;
  h::PooledRegression reg;
  v1::Transcript transcript;
};

// Each site's moments from its combat.moments answer; in a secure study the
// cross-products come from the secure `sum` and stand in the first site's
// entry (PoolMoments adds the sites' entries), the others' are zero.
absl::StatusOr<std::vector<h::LocalMoments>> ReadMoments(
    const std::map<std::string, v1::TaskResult>& results, const v1::Payload& sum,
    const std::vector<std::string>& sites, size_t q, size_t num_g, bool secure) {
  std::vector<h::LocalMoments> moments;
  for (const std::string& site : sites) {
    const v1::Payload& p = results.at(site).payload();
    h::LocalMoments m;
    FEDRAD_ASSIGN_OR_RETURN(double n, kinds::Get(p, cm::kN));
    m.n = CountFromDouble(n);
    FEDRAD_ASSIGN_OR_RETURN(m.sum_covariates, SiteVector(site, p, cm::kSumCovariates, q));
    FEDRAD_ASSIGN_OR_RETURN(m.sum_features, SiteVector(site, p, cm::kSumFeatures, num_g));
    const bool from_sum = secure && site == sites.front();
    const v1::Payload& cross = from_sum ? sum : p;
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
  return moments;
}

// Round 2: moments -> B-hat (PoolMoments; refuses a rank-deficient design).
// `base` holds the adjusted features every round sends.
absl::StatusOr<Moments> RunMomentsRound(StudyContext& ctx, const Settings& settings,
                                        const v1::Payload& base, size_t num_g) {
  ctx.SetProgress("harmonization", 0.25, "pooled regression (combat.moments)");
  // Secure aggregation: the cross-products are only used pooled, so they
  // arrive summed (coordinator/secure_round.h); n and the sums of
  // covariates and features stay per site (the site indicators' rows).
  // Verifiable rounds (issue 12): every site recomputes the pooled estimates
  // from the sites' signed moments (and residuals) before it uses them; in a
  // secure study the transcript also holds the session's adverts and the
  // rounds' reveals, from which each site unmasks the sums itself.
  Moments out;
  std::map<std::string, v1::TaskResult> results;
  v1::Payload sum;
  if (settings.secure) {
    std::map<std::string, v1::Payload> by_site;
    for (const std::string& site : ctx.active_sites()) by_site[site] = base;
    FEDRAD_ASSIGN_OR_RETURN(SecureRoundResult r,
                            RunSecureRound(ctx, cm::kName, by_site, ctx.active_sites(),
                                           rounds::CombatMomentsRound()));
    results = std::move(r.by_site);
    sum = std::move(r.sum);
    out.transcript = std::move(r.session_adverts);
    for (const auto& m : r.signed_messages.messages()) *out.transcript.add_messages() = m;
  } else {
    FEDRAD_ASSIGN_OR_RETURN(results, ctx.Broadcast(cm::kName, base));
  }
  out.sites = Keys(results);
  if (!settings.secure) {
    FEDRAD_RETURN_IF_ERROR(internal::CollectSigned(ctx, results, out.sites,
                                                   rounds::CombatMomentsRound(),
                                                   &out.transcript));
  }
  const size_t q = settings.covariates.size();
  FEDRAD_ASSIGN_OR_RETURN(out.moments,
                          ReadMoments(results, sum, out.sites, q, num_g, settings.secure));
  FEDRAD_ASSIGN_OR_RETURN(out.reg, h::PoolMoments(out.sites, out.moments, settings.covariates,
                                                  settings.options.reference_site));
  return out;
}

// Round 3's outcome (combat.residuals): the pooled estimates and the
// transcript grown by the round's signed contributions.
struct Pooled {
  h::PooledEstimates estimates;
  v1::Transcript transcript;
};

// Round 3: residual sums of squares -> var_pooled (FinishPooled). Each site
// gets its own intercept (its site indicator's row) and B-hat.
absl::StatusOr<Pooled> RunResidualsRound(StudyContext& ctx, const Settings& settings,
                                         const v1::Payload& base, const Moments& moments,
                                         size_t num_g) {
  ctx.SetProgress("harmonization", 0.5, "pooled variance (combat.residuals)");
  const std::vector<std::string>& sites = moments.sites;
  Pooled out;
  out.transcript = moments.transcript;
  std::map<std::string, v1::Payload> params;
  for (size_t i = 0; i < sites.size(); ++i) {
    v1::Payload p = base;
    Put(&p, cr::kIntercept, h::SiteIntercept(moments.reg, static_cast<int>(i)));
    Put(&p, cr::kBeta, moments.reg.beta);
    params[sites[i]] = std::move(p);
  }
  std::map<std::string, v1::TaskResult> results;
  v1::Payload sum;
  if (settings.secure) {
    // Only their sum is used (var_pooled): summed securely, in the first
    // site's entry.
    FEDRAD_ASSIGN_OR_RETURN(SecureRoundResult r,
                            RunSecureRound(ctx, cr::kName, params, sites,
                                           rounds::CombatResidualsRound(),
                                           ForEach(sites, out.transcript)));
    results = std::move(r.by_site);
    sum = std::move(r.sum);
    for (const auto& m : r.signed_messages.messages()) *out.transcript.add_messages() = m;
  } else {
    FEDRAD_ASSIGN_OR_RETURN(results,
                            ctx.RunRound(cr::kName, params, ForEach(sites, out.transcript)));
  }
  FEDRAD_RETURN_IF_ERROR(RequireSameSites(sites, results, cr::kName));
  if (!settings.secure) {
    FEDRAD_RETURN_IF_ERROR(internal::CollectSigned(ctx, results, sites,
                                                   rounds::CombatResidualsRound(),
                                                   &out.transcript));
  }
  std::vector<Eigen::VectorXd> rss;
  for (const std::string& site : sites) {
    if (settings.secure) {
      if (site != sites.front()) {
        rss.push_back(Eigen::VectorXd::Zero(static_cast<Eigen::Index>(num_g)));
        continue;
      }
      FEDRAD_ASSIGN_OR_RETURN(Eigen::VectorXd v, SiteVector("(secure sum)", sum, cr::kRss, num_g));
      rss.push_back(std::move(v));
      continue;
    }
    FEDRAD_ASSIGN_OR_RETURN(Eigen::VectorXd v,
                            SiteVector(site, results.at(site).payload(), cr::kRss, num_g));
    rss.push_back(std::move(v));
  }
  FEDRAD_ASSIGN_OR_RETURN(out.estimates, h::FinishPooled(moments.reg, rss));
  return out;
}

// Round 4: each site's own EB effects gamma*, delta*; the site harmonises
// its table locally. Returns each site's model.
absl::StatusOr<std::map<std::string, h::SiteModel>> RunFitRound(StudyContext& ctx,
                                                                const v1::Payload& base,
                                                                const Moments& moments,
                                                                const Pooled& pooled,
                                                                size_t num_g) {
  ctx.SetProgress("harmonization", 0.75, "site effects and local harmonisation (combat.fit)");
  const std::vector<std::string>& sites = moments.sites;
  std::map<std::string, v1::Payload> params;
  for (const std::string& site : sites) {
    v1::Payload p = base;
    Put(&p, cf::kGrandMean, pooled.estimates.grand_mean);
    Put(&p, cf::kVarPooled, pooled.estimates.var_pooled);
    Put(&p, cf::kBeta, pooled.estimates.beta);
    params[site] = std::move(p);
  }
  FEDRAD_ASSIGN_OR_RETURN(auto results,
                          ctx.RunRound(cf::kName, params, ForEach(sites, pooled.transcript)));
  FEDRAD_RETURN_IF_ERROR(RequireSameSites(sites, results, cf::kName));
  std::map<std::string, h::SiteModel> out;
  for (const std::string& site : sites) {
    const v1::Payload& p = results.at(site).payload();
    h::SiteModel sm;
    FEDRAD_ASSIGN_OR_RETURN(double n, kinds::Get(p, cf::kN));
    sm.n = CountFromDouble(n);
    FEDRAD_ASSIGN_OR_RETURN(sm.gamma_star, SiteVector(site, p, cf::kGammaStar, num_g));
    FEDRAD_ASSIGN_OR_RETURN(sm.delta_star, SiteVector(site, p, cf::kDeltaStar, num_g));
    out[site] = std::move(sm);
  }
  return out;
}

}  // namespace

absl::Status RunHarmonization(StudyContext& ctx) {
  const v1::Harmonization& spec = ctx.study().harmonization();
  FEDRAD_ASSIGN_OR_RETURN(const Settings settings, ReadSettings(ctx.study()));
  FEDRAD_ASSIGN_OR_RETURN(const Checked checked, RunCheckRound(ctx, settings));
  const size_t num_g = checked.adjusted.size();
  v1::Payload base;  // every later round's params start with the adjusted features
  Put(&base, kinds::combat::kFeatures, checked.adjusted);
  FEDRAD_ASSIGN_OR_RETURN(const Moments moments, RunMomentsRound(ctx, settings, base, num_g));
  FEDRAD_ASSIGN_OR_RETURN(const Pooled pooled,
                          RunResidualsRound(ctx, settings, base, moments, num_g));
  internal::ShownDistributions shown;
  if (spec.output_suffix().empty() && num_g > 0) {
    FEDRAD_RETURN_IF_ERROR(
        internal::MeasureBefore(ctx, checked.adjusted, moments.moments,
                                pooled.estimates, &shown));
  }
  h::ComBatModel model;
  FEDRAD_ASSIGN_OR_RETURN(model.sites, RunFitRound(ctx, base, moments, pooled, num_g));

  // results.json
  model.options = settings.options;
  model.mean_only = checked.plan.mean_only;
  model.features = checked.features;
  model.adjusted = checked.adjusted;
  model.covariates = settings.covariates;
  model.pooled = pooled.estimates;
  const std::vector<int64_t>& site_n = moments.reg.site_n;
  v1::Results::Harmonization& out = *ctx.results().mutable_harmonization();
  FEDRAD_RETURN_IF_ERROR(FillHarmonization(
      spec, checked.plan, model, std::accumulate(site_n.begin(), site_n.end(), int64_t{0}), out));
  if (num_g > 0) {
    FEDRAD_RETURN_IF_ERROR(internal::MeasureAfter(ctx, model, std::move(shown), out));
  }
  ctx.SetProgress("harmonization", 1.0,
                  absl::StrCat("harmonised ", num_g, " feature(s) at ", moments.sites.size(),
                               " sites"));
  return absl::OkStatus();
}

}  // namespace fedrad::coordinator
