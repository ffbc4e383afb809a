// The coordinator's half of the federated models and their external
// validation (docs/models.md). The site half is site_node/tasks_models.cc;
// the statistics are fedrad::models, the same functions the pooled tests run,
// so a federated fit takes the same Newton steps as the pooled one.
//
// Per model:
//   1. models.prepare (every site): covariate names (must agree), n, events,
//      excluded rows by reason, sum x and sum x x^T.
//   2. Optional selection on the development sites: univariate score tests
//      from one models.derivatives round at the null, then a pooled
//      correlation filter.
//   3. Optional lambda by leave-one-site-out CV (held-out deviance).
//   4. Newton-Raphson (models::FitNewton): one models.derivatives round per
//      iteration; the coordinator adds the sites' log-likelihoods, gradients
//      and information matrices and solves a p x p system.
//   5. Validation: models.baseline on the development sites (Cox: pooled
//      Breslow H0 on the points of the time grids every development site
//      released; each site fixes its own from the spec); Cox: the tertiles of
//      the frozen model's linear predictor over the development sites from
//      the cumulative counts each released on its own lattice
//      (models.lp_summary; the risk-group cut-points); then models.validate
//      on the validation sites (metrics with bootstrap CIs and the curve
//      aggregates: calibration bins, Kaplan-Meier by risk group, ROC, on
//      grids the site chooses; settings from the approved spec); pooled
//      stratified Harrell C from summed pair counts and DerSimonian-Laird
//      meta-analyses on the logit scale.
// A site with no part in a round gets role "idle" and answers only its n.
// results.json keys: docs/results.md, "models" and "validation".
//
// Files of the coordinator's models step:
//   coordinator/analysis_models.cc      this file: models.prepare, the
//                                       federated or single-site fit, the
//                                       spec checks and RunModels (steps 1-4
//                                       and the order of step 5)
//   coordinator/analysis_validation.cc  step 5: the pooled baseline hazard
//                                       (time grid), the risk-group cuts, the
//                                       curves JSON, ValidateModel; the pooling
//                                       is rounds/validation_pool.h
//   coordinator/internal/models_internal.h  what both share
#include <algorithm>
#include <chrono>
#include <cmath>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <set>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "coordinator/analyses.h"
#include "coordinator/internal/models_internal.h"
#include "coordinator/study_context.h"
#include "core/log.h"
#include "core/status.h"
#include "models/cox.h"
#include "models/curves.h"
#include "models/data.h"
#include "models/derivatives.h"
#include "models/descriptive.h"
#include "models/fit_spec.h"
#include "models/logistic.h"
#include "models/meta_analysis.h"
#include "models/metrics.h"
#include "models/newton.h"
#include "models/selection.h"
#include "proto/payload.h"
#include "proto/results_json.h"
#include "proto/task_kinds.h"
#include "rounds/kind_eigen.h"
#include "proto/spec_hash.h"
#include "rounds/fit_replay.h"
#include "rounds/transcript.h"
#include "rounds/validation_pool.h"
#include "site_node/model_spec.h"

namespace fedrad::coordinator {
namespace internal {

std::vector<double> ToStd(const Eigen::VectorXd& v) {
  return std::vector<double>(v.data(), v.data() + v.size());
}

bool IsCox(const v1::Model& model) { return model.type() == v1::Model::COX; }

absl::Status RequireSites(const std::vector<std::string>& wanted,
                          const std::map<std::string, v1::TaskResult>& got,
                          const std::string& what) {
  std::vector<std::string> missing;
  for (const auto& s : wanted) {
    if (!got.count(s)) missing.push_back(s);
  }
  if (missing.empty()) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat(
      what, ": site(s) ", absl::StrJoin(missing, ", "),
      " did not answer; the result would not be over the sites the study names"));
}

// Parameters of a round: `active` sites get `params`, every other site
// role=idle (it answers only its n).
std::map<std::string, v1::Payload> RoundParams(StudyContext& ctx, const v1::Payload& params,
                                               const std::vector<std::string>& active) {
  std::map<std::string, v1::Payload> by_site;
  for (const std::string& site : ctx.active_sites()) {
    v1::Payload p = params;
    if (std::find(active.begin(), active.end(), site) == active.end()) {
      kinds::Put(&p, kinds::model_task::kRole, kinds::model_task::kIdle);
      p.clear_arrays();
    }
    by_site[site] = p;
  }
  return by_site;
}

}  // namespace internal

namespace {

namespace m = ::fedrad::models;
using ModelFit = v1::Results::ModelFit;
using internal::Fitted;
using internal::IsCox;
using internal::PreparedModel;
using internal::RequireSites;
using internal::FitRounds;
using internal::MakeEvaluator;
using internal::RoundMessageOf;
using internal::RoundParams;
using internal::SiteValidation;
using ::fedrad::kinds::Put;
using ::fedrad::kinds::SiteMatrix;
using ::fedrad::kinds::SiteVector;
namespace mt = ::fedrad::kinds::model_task;
namespace mp = ::fedrad::kinds::models_prepare;
namespace md = ::fedrad::kinds::models_derivatives;
namespace mf = ::fedrad::kinds::models_fit;
using internal::ToStd;
using internal::ValidateModel;



std::vector<std::string> Minus(const std::vector<std::string>& all,
                               const std::vector<std::string>& drop) {
  std::vector<std::string> out;
  for (const auto& s : all) {
    if (std::find(drop.begin(), drop.end(), s) == drop.end()) out.push_back(s);
  }
  return out;
}

absl::StatusOr<PreparedModel> PrepareModel(StudyContext& ctx, const v1::Model& model) {
  v1::Payload params;
  Put(&params, mt::kModel, model.name());
  FEDRAD_ASSIGN_OR_RETURN(auto results, ctx.Broadcast(mp::kName, params));
  PreparedModel prep;
  prep.spec = &model;
  std::vector<std::string> disagreements;
  for (const auto& [site, r] : results) {
    std::vector<std::string> covs = kinds::Get(r.payload(), mp::kCovariates);
    if (prep.covariates.empty()) {
      prep.covariates = covs;
    } else if (covs != prep.covariates) {
      disagreements.push_back(absl::StrCat(
          "site ", site, " has covariates {", absl::StrJoin(covs, ", "), "} but site ",
          results.begin()->first, " has {", absl::StrJoin(prep.covariates, ", "), "}"));
    }
  }
  if (!disagreements.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the sites' tables give different covariates for model '", model.name(),
        "' (list them in the model's covariates, or make the tables agree): ",
        absl::StrJoin(disagreements, "; ")));
  }
  const int64_t p = static_cast<int64_t>(prep.covariates.size());
  for (const auto& [site, r] : results) {
    const v1::Payload& pl = r.payload();
    m::CrossProducts cp = m::CrossProducts::Zero(static_cast<int>(p));
    FEDRAD_ASSIGN_OR_RETURN(double n, kinds::Get(pl, mp::kN));
    cp.n = CountFromDouble(n);
    if (cp.n < 0) {  // NaN, negative or past 2^53 (tests/fuzz found 2.4e40)
      return absl::DataLossError(
          absl::StrCat("site ", site, ": malformed models.prepare result (n)"));
    }
    FEDRAD_ASSIGN_OR_RETURN(cp.sum, SiteVector(site, pl, mp::kSumX, p));
    FEDRAD_ASSIGN_OR_RETURN(cp.sum_outer, SiteMatrix(site, pl, mp::kSumXX, p, p));
    prep.cross[site] = cp;
    prep.n[site] = cp.n;
    FEDRAD_RETURN_IF_ERROR(RoundMessageOf(ctx, site, r, rounds::PrepareRound(model.name()),
                                          kinds::RoundSummedNames(*kinds::FindKind(mp::kName)))
                               .status());
    if (r.has_signed_()) prep.signed_prepare[site] = r.signed_();
    FEDRAD_ASSIGN_OR_RETURN(double events, kinds::Get(pl, mp::kEvents));
    FEDRAD_ASSIGN_OR_RETURN(double excluded, kinds::Get(pl, mp::kNExcluded));
    if (!std::isfinite(excluded)) excluded = -1;  // withheld: 1..k-1
    // NaN: the site withheld it (fewer than k events or non-events).
    prep.events[site] = std::isfinite(events) ? CountFromDouble(events) : -1;
    prep.n_excluded[site] = CountFromDouble(excluded);
    for (const std::string& line : kinds::Get(pl, mp::kExcluded)) {
      std::vector<std::string> kv = absl::StrSplit(line, absl::MaxSplits('=', 1));
      int64_t count = 0;
      if (kv.size() != 2) continue;
      // "<k": the site withholds a count of 1..k-1 (-1 here, null in results.json).
      if (kv[1] == "<k") count = -1;
      else if (!absl::SimpleAtoi(kv[1], &count)) continue;
      prep.reasons[site][kv[0]] = count;
    }
  }
  return prep;
}

// The fit as results.json reports it (the same for a federated fit and a fit
// a site ran itself): coefficients, standard errors and the details of
// selection, standardisation and penalty.
Fitted FromSpecFit(const v1::Model& model, const m::SpecFit& s,
                   const std::vector<std::string>& candidates) {
  Fitted fit;
  fit.covariates = s.covariates;
  fit.names = s.names;
  fit.beta = s.beta;
  fit.se = s.std_errors;
  fit.loglik = s.loglik;
  fit.loglik_null = s.loglik_null;
  fit.iterations = s.iterations;
  fit.halvings = s.halvings;
  fit.n = s.n;
  fit.events = s.events;
  if (!s.score_tests.empty()) {
    auto& score = *fit.details.mutable_selection()->mutable_score_tests();
    for (size_t j = 0; j < candidates.size() && j < s.score_tests.size(); ++j) {
      score[candidates[j]].set_chi2(s.score_tests[j].chi2);
      score[candidates[j]].set_p_value(s.score_tests[j].p_value);
    }
  }
  if (s.covariates.size() != candidates.size()) {
    *fit.details.mutable_selection()->mutable_kept() = {s.covariates.begin(), s.covariates.end()};
  }
  if (s.standardized) {
    v1::Results::Standardization& st = *fit.details.mutable_standardization();
    for (double x : ToStd(s.scaling.center)) st.add_center(x);
    for (double x : ToStd(s.scaling.scale)) st.add_scale(x);
  }
  const v1::Penalty& pen = model.penalty();
  if (pen.type() != v1::Penalty::NONE) {
    v1::Results::Penalty& out = *fit.details.mutable_penalty();
    if (!s.lambda_grid.empty()) {
      *out.mutable_lambda_grid() = {s.lambda_grid.begin(), s.lambda_grid.end()};
      *out.mutable_cv_deviance() = {s.cv_deviance.begin(), s.cv_deviance.end()};
    }
    const double l1_ratio = pen.type() == v1::Penalty::ELASTIC_NET ? pen.l1_ratio() : 0.0;
    out.set_type(pen.type() == v1::Penalty::L2 ? "l2" : "elastic_net");
    out.set_lambda(s.lambda);
    out.set_l1_ratio(l1_ratio);
    out.set_scale(s.standardized ? "standardized" : "raw");
    if (l1_ratio > 0 && s.lambda > 0) {
      // Non-zero on the fitting scale <=> non-zero on the original scale.
      for (size_t k = IsCox(model) ? 0 : 1; k < s.names.size(); ++k) {
        if (s.beta[static_cast<Eigen::Index>(k)] != 0.0) out.add_selected(s.names[k]);
      }
    }
  }
  return fit;
}

// A fit the development site ran itself (models.fit): one round; the site
// releases the fit, the coordinator only reads it.
absl::StatusOr<m::SpecFit> FitAtSite(StudyContext& ctx, const PreparedModel& prep,
                                     const std::string& site, v1::Transcript* transcript) {
  const v1::Model& model = *prep.spec;
  v1::Payload params;
  Put(&params, mt::kModel, model.name());
  FEDRAD_ASSIGN_OR_RETURN(auto results, ctx.RunRound(mf::kName, RoundParams(ctx, params, {site})));
  FEDRAD_RETURN_IF_ERROR(RequireSites({site}, results, mf::kName));
  FEDRAD_RETURN_IF_ERROR(
      RoundMessageOf(ctx, site, results.at(site), rounds::SiteFitRound(model.name()), {}).status());
  if (transcript != nullptr && results.at(site).has_signed_()) {
    *transcript->add_messages() = results.at(site).signed_();
  }
  const v1::Payload& pl = results.at(site).payload();
  if (kinds::Get(pl, mf::kCandidates) != prep.covariates) {
    return absl::DataLossError(absl::StrCat("site ", site, ": models.fit used other candidate "
                                            "covariates than models.prepare"));
  }
  m::SpecFit s;
  s.covariates = kinds::Get(pl, mf::kCovariates);
  s.names = IsCox(model) ? s.covariates : std::vector<std::string>{"intercept"};
  if (!IsCox(model)) s.names.insert(s.names.end(), s.covariates.begin(), s.covariates.end());
  const int64_t p = static_cast<int64_t>(s.names.size());
  const int64_t q = static_cast<int64_t>(s.covariates.size());
  FEDRAD_ASSIGN_OR_RETURN(s.beta, SiteVector(site, pl, mf::kBeta, p));
  FEDRAD_ASSIGN_OR_RETURN(s.covariance, SiteMatrix(site, pl, mf::kCovariance, p, p));
  s.std_errors = s.covariance.diagonal().cwiseSqrt();
  FEDRAD_ASSIGN_OR_RETURN(s.loglik, kinds::Get(pl, mf::kLoglik));
  FEDRAD_ASSIGN_OR_RETURN(s.loglik_null, kinds::Get(pl, mf::kLoglikNull));
  FEDRAD_ASSIGN_OR_RETURN(double iterations, kinds::Get(pl, mf::kIterations));
  FEDRAD_ASSIGN_OR_RETURN(double halvings, kinds::Get(pl, mf::kHalvings));
  FEDRAD_ASSIGN_OR_RETURN(double n, kinds::Get(pl, mf::kN));
  FEDRAD_ASSIGN_OR_RETURN(double events, kinds::Get(pl, mf::kEvents));
  s.iterations = static_cast<int>(CountFromDouble(iterations));
  s.halvings = static_cast<int>(CountFromDouble(halvings));
  s.n = CountFromDouble(n);
  s.events = CountFromDouble(events);
  if (kinds::Has(pl, mf::kScoreChi2)) {
    const int64_t c = static_cast<int64_t>(prep.covariates.size());
    FEDRAD_ASSIGN_OR_RETURN(Eigen::VectorXd chi2, SiteVector(site, pl, mf::kScoreChi2, c));
    FEDRAD_ASSIGN_OR_RETURN(Eigen::VectorXd pv, SiteVector(site, pl, mf::kScorePValue, c));
    for (int64_t j = 0; j < c; ++j) s.score_tests.push_back({chi2[j], pv[j]});
  }
  if (kinds::Has(pl, mf::kCenter)) {
    s.standardized = true;
    FEDRAD_ASSIGN_OR_RETURN(s.scaling.center, SiteVector(site, pl, mf::kCenter, q));
    FEDRAD_ASSIGN_OR_RETURN(s.scaling.scale, SiteVector(site, pl, mf::kScale, q));
  }
  if (kinds::Has(pl, mf::kLambda)) {
    FEDRAD_ASSIGN_OR_RETURN(s.lambda, kinds::Get(pl, mf::kLambda));
  }
  return s;
}

// Fits the model on `sites`: with `at_site`, the one development site fits
// it itself (models.fit); otherwise models::FitSpec here, each evaluation a
// models.derivatives round. The same procedure either way.
// The part of the models step (0..1) a phase of the work covers: progress
// moves from `lo` towards `hi` as its rounds go.
struct ProgressSpan {
  double lo = 0, hi = 0;
};

absl::StatusOr<Fitted> FitModel(StudyContext& ctx, const PreparedModel& prep,
                                const std::vector<std::string>& sites, bool at_site,
                                const std::string& fit_id, ProgressSpan span) {
  const v1::Model& model = *prep.spec;
  const auto start = std::chrono::steady_clock::now();
  const int64_t rounds_before = ctx.rounds();
  if (sites.empty()) return absl::InvalidArgumentError("no development site");
  const std::string fitting =
      absl::StrCat("fitting '", model.name(), "' on ", absl::StrJoin(sites, ", "));
  ctx.SetProgress("models", span.lo, fitting);
  // The number of Newton (and selection) rounds is not known in advance:
  // progress approaches the span's end, half way after 6 rounds.
  int evaluations = 0;
  auto after_round = [&ctx, &evaluations, &fitting, span] {
    ++evaluations;
    ctx.SetProgress("models", span.lo + (span.hi - span.lo) * evaluations / (evaluations + 6.0),
                    fitting);
  };
  m::SpecFit spec;
  double coordinator_seconds = 0;
  v1::Transcript transcript;
  if (at_site && sites.size() == 1) {
    FEDRAD_ASSIGN_OR_RETURN(spec, FitAtSite(ctx, prep, sites[0], &transcript));
  } else {
    m::FitSpecInput in;
    in.candidates = prep.covariates;
    in.sites = sites;
    in.pooled = m::CrossProducts::Zero(static_cast<int>(prep.covariates.size()));
    for (const auto& s : sites) {
      if (prep.events.at(s) < 0) {
        return absl::FailedPreconditionError(absl::StrCat(
            "site ", s, " has fewer than k events or non-events for model '", model.name(),
            "' (it withheld the count), so it cannot be a development site"));
      }
      in.pooled.Add(prep.cross.at(s));
      in.events += prep.events.at(s);
    }
    FitRounds rounds_of_fit;
    rounds_of_fit.fit_id = fit_id;
    rounds_of_fit.sites = sites;
    std::sort(rounds_of_fit.sites.begin(), rounds_of_fit.sites.end());
    for (const auto& s : rounds_of_fit.sites) {
      auto it = prep.signed_prepare.find(s);
      if (it != prep.signed_prepare.end()) *rounds_of_fit.transcript.add_messages() = it->second;
    }
    double round_seconds = 0;
    in.evaluate = MakeEvaluator(ctx, model, &rounds_of_fit, &round_seconds, after_round);
    in.before_final_fit = [&round_seconds] { round_seconds = 0; };
    FEDRAD_ASSIGN_OR_RETURN(spec, m::FitSpec(FitSpecOptionsOf(model), in));
    coordinator_seconds = spec.newton_seconds - round_seconds;
    transcript = std::move(rounds_of_fit.transcript);
  }
  Fitted fit = FromSpecFit(model, spec, prep.covariates);
  fit.fit_id = fit_id;
  fit.at_site = at_site && sites.size() == 1;
  fit.transcript = std::move(transcript);
  fit.sites = sites;
  fit.coordinator_seconds = coordinator_seconds;
  fit.rounds = ctx.rounds() - rounds_before;
  fit.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return fit;
}

// models.<name> (and validation.<name>.loso_models.<site>) as results.json
// reports the fit; a non-finite standard error (L1 penalty) prints as null.
ModelFit FitResult(const Fitted& f) {
  ModelFit j = f.details;
  for (size_t k = 0; k < f.names.size(); ++k) {
    (*j.mutable_coefficients())[f.names[k]] = f.beta[static_cast<Eigen::Index>(k)];
    (*j.mutable_std_errors())[f.names[k]] = f.se[static_cast<Eigen::Index>(k)];
  }
  j.set_loglik(f.loglik);
  j.set_loglik_null(f.loglik_null);
  j.set_iterations(f.iterations);
  j.set_step_halvings(f.halvings);
  j.set_n(static_cast<int32_t>(f.n));
  j.set_events(static_cast<int32_t>(f.events));
  *j.mutable_sites() = {f.sites.begin(), f.sites.end()};
  *j.mutable_covariates() = {f.covariates.begin(), f.covariates.end()};
  j.set_rounds(static_cast<int32_t>(f.rounds));
  j.set_fit_seconds(f.seconds);
  j.set_coordinator_seconds(f.coordinator_seconds);
  return j;
}

// A count a site released, or NaN (null in results.json) when it withheld
// it (-1 here: 1..k-1).
double CountOrNull(int64_t count) { return count >= 0 ? static_cast<double>(count) : kResultsNull; }

// models.<name>.site_rows: each site's rows used, events and exclusions.
void FillSiteRows(const PreparedModel& prep, ModelFit& out) {
  for (const auto& [site, n] : prep.n) {
    v1::Results::SiteRows& rows = (*out.mutable_site_rows())[site];
    rows.set_n(static_cast<int32_t>(n));
    rows.set_events(CountOrNull(prep.events.at(site)));
    rows.set_n_excluded(CountOrNull(prep.n_excluded.at(site)));
    auto reasons = prep.reasons.find(site);
    if (reasons == prep.reasons.end()) continue;
    for (const auto& [reason, count] : reasons->second) {
      (*rows.mutable_excluded())[reason] = CountOrNull(count);
    }
  }
}

absl::Status CheckSpec(const v1::Study& study) {
  std::set<std::string> names;
  for (const v1::Model& model : study.models()) {
    if (model.name().empty()) return absl::InvalidArgumentError("a model has no name");
    if (!names.insert(model.name()).second) {
      return absl::InvalidArgumentError(absl::StrCat("two models are named '", model.name(), "'"));
    }
    if (!IsCox(model) && model.outcome_column().empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("logistic model '", model.name(), "' needs outcome_column"));
    }
    if (!model.ties().empty() && model.ties() != "breslow" && model.ties() != "efron") {
      return absl::InvalidArgumentError(absl::StrCat("model '", model.name(), "': ties must be ",
                                                     "breslow or efron, not '", model.ties(), "'"));
    }
    const v1::Penalty& pen = model.penalty();
    if (pen.type() != v1::Penalty::NONE && pen.lambda() <= 0 && pen.lambda_grid_size() == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("model '", model.name(), "': a penalty needs lambda > 0 or lambda_grid"));
    }
    if (pen.type() == v1::Penalty::ELASTIC_NET && !(pen.l1_ratio() > 0 && pen.l1_ratio() <= 1)) {
      return absl::InvalidArgumentError(
          absl::StrCat("model '", model.name(), "': elastic_net needs 0 < l1_ratio <= 1"));
    }
  }
  for (const std::string& name : study.validation().models()) {
    if (!names.count(name)) {
      return absl::InvalidArgumentError(
          absl::StrCat("validation.models names '", name, "', which is not a model"));
    }
  }
  if (study.validation().enabled() && study.models_size() == 0) {
    return absl::InvalidArgumentError("validation is enabled but the study has no models");
  }
  const double km_step = study.validation().km_time_step();
  if (km_step != 0 && km_step != -1 && !(km_step >= 1)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "validation.km_time_step must be at least 1 (days between the released points of the "
        "risk-group Kaplan-Meier curves), 0 for the default 90, or -1 for none; not ",
        km_step));
  }
  const int bins = study.validation().calibration_bins();
  if (bins < -1 || bins > 100) {
    return absl::InvalidArgumentError(absl::StrCat(
        "validation.calibration_bins must be between 1 and 100, 0 for the default 10, or -1 for "
        "none; not ", bins));
  }
  return absl::OkStatus();
}

// The model's outcome in words, for the report: "status over time (event:
// 1)" for Cox, the 0/1 column for logistic.
std::string OutcomeText(const v1::Model& model) {
  if (!IsCox(model)) return model.outcome_column();
  std::string text = absl::StrCat(model.event_column().empty() ? "status" : model.event_column(),
                                  " over ", model.time_column().empty() ? "time" : model.time_column());
  if (model.event_values_size() > 0) {
    absl::StrAppend(&text, " (event: ", absl::StrJoin(model.event_values(), ", "), ")");
  }
  return text;
}

absl::Status RequireActive(StudyContext& ctx, const std::vector<std::string>& wanted,
                           const std::string& what) {
  std::vector<std::string> active = ctx.active_sites();
  std::vector<std::string> missing;
  for (const auto& s : wanted) {
    if (std::find(active.begin(), active.end(), s) == active.end()) missing.push_back(s);
  }
  if (missing.empty()) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat(what, " names site(s) ",
                                                    absl::StrJoin(missing, ", "),
                                                    " that are not in the study (active: ",
                                                    absl::StrJoin(active, ", "), ")"));
}

}  // namespace

absl::Status CheckModelSpec(const v1::Study& study) { return CheckSpec(study); }

absl::Status RunModels(StudyContext& ctx) {
  const v1::Study& study = ctx.study();
  FEDRAD_RETURN_IF_ERROR(CheckSpec(study));
  const v1::Validation& v = study.validation();
  auto& models_out = *ctx.results().mutable_models();
  auto& validation_out = *ctx.results().mutable_validation();
  for (int mi = 0; mi < study.models_size(); ++mi) {
    const v1::Model& model = study.models(mi);
    // This model's share of the step: [lo, lo + width); its fit takes the
    // first 60% of it when the model is validated, else all of it.
    const double width = 1.0 / study.models_size();
    const double lo = mi * width;
    ctx.SetProgress("models", lo, absl::StrCat("preparing '", model.name(), "'"));
    FEDRAD_ASSIGN_OR_RETURN(PreparedModel prep, PrepareModel(ctx, model));
    const bool validate =
        v.enabled() && (v.models_size() == 0 ||
                        std::find(v.models().begin(), v.models().end(), model.name()) !=
                            v.models().end());
    std::vector<std::string> active = ctx.active_sites();
    std::vector<std::string> dev(model.develop_on().begin(), model.develop_on().end());
    if (validate && v.scheme() == v1::Validation::DEVELOP_VALIDATE) {
      dev.assign(v.develop_on().begin(), v.develop_on().end());
      if (dev.empty()) {
        return absl::InvalidArgumentError(
            "validation scheme DEVELOP_VALIDATE needs develop_on (the development sites)");
      }
    }
    // A model the spec develops on one named site is fitted by that site
    // (models.fit; the site checks the same rule against its approved spec).
    std::sort(dev.begin(), dev.end());
    dev.erase(std::unique(dev.begin(), dev.end()), dev.end());
    const bool at_site = dev.size() == 1;
    if (dev.empty()) dev = active;
    std::sort(dev.begin(), dev.end());
    FEDRAD_RETURN_IF_ERROR(RequireActive(ctx, dev, "develop_on"));

    FEDRAD_ASSIGN_OR_RETURN(
        Fitted fit,
        FitModel(ctx, prep, dev, at_site, rounds::kDevelopmentFit,
                 {lo + 0.05 * width, lo + (validate ? 0.6 : 1.0) * width}));
    ModelFit mj = FitResult(fit);
    mj.set_type(IsCox(model) ? "cox" : "logistic");
    mj.set_outcome(OutcomeText(model));
    if (IsCox(model)) mj.set_ties(model.ties().empty() ? "breslow" : model.ties());
    FillSiteRows(prep, mj);
    models_out[model.name()] = std::move(mj);
    FEDRAD_LOG(INFO) << "model '" << model.name() << "': " << fit.iterations << " iterations, "
                     << fit.rounds << " rounds, loglik " << fit.loglik;
    if (!validate) continue;

    ctx.SetProgress("models", lo + 0.6 * width, absl::StrCat("validating '", model.name(), "'"));
    v1::Results::ModelValidation vj;
    std::map<std::string, SiteValidation> by_site;
    if (v.scheme() == v1::Validation::DEVELOP_VALIDATE) {
      std::vector<std::string> val(v.validate_on().begin(), v.validate_on().end());
      if (val.empty()) val = Minus(ctx.active_sites(), dev);
      std::sort(val.begin(), val.end());
      if (val.empty()) return absl::InvalidArgumentError("no validation site");
      FEDRAD_RETURN_IF_ERROR(RequireActive(ctx, val, "validate_on"));
      v1::Results::Baseline baseline;
      v1::Results::RiskGroups risk_groups;
      FEDRAD_ASSIGN_OR_RETURN(by_site,
                              ValidateModel(ctx, prep, fit, dev, val, &baseline, &risk_groups));
      vj.set_scheme("develop_validate");
      *vj.mutable_develop_on() = {dev.begin(), dev.end()};
      *vj.mutable_validate_on() = {val.begin(), val.end()};
      if (baseline.ByteSizeLong() > 0) *vj.mutable_baseline() = std::move(baseline);
      if (risk_groups.ByteSizeLong() > 0) *vj.mutable_risk_groups() = std::move(risk_groups);
    } else {
      vj.set_scheme("leave_one_site_out");
      std::vector<std::string> sites = ctx.active_sites();
      if (sites.size() < 2) {
        return absl::FailedPreconditionError("leave-one-site-out needs at least 2 sites");
      }
      for (size_t fold = 0; fold < sites.size(); ++fold) {
        const std::string& s = sites[fold];
        std::vector<std::string> train = Minus(sites, {s});
        const double fold_width = 0.4 * width / sites.size();
        const double fold_lo = lo + 0.6 * width + fold * fold_width;
        absl::StatusOr<Fitted> fitted =
            FitModel(ctx, prep, train, false, rounds::LosoFit(s),
                     {fold_lo, fold_lo + 0.8 * fold_width});
        if (absl::IsFailedPrecondition(fitted.status()) && ctx.active_sites() == sites) {
          // A fold whose fit has a convergence problem (e.g. separation on
          // the remaining sites) is reported for that site; the others go on.
          (*vj.mutable_sites())[s].set_error(std::string(fitted.status().message()));
          FEDRAD_LOG(WARNING) << "leave-one-site-out, without " << s << ": " << fitted.status();
          continue;
        }
        if (!fitted.ok()) return fitted.status();
        Fitted f = *std::move(fitted);
        ModelFit fj = FitResult(f);
        v1::Results::Baseline baseline;
        v1::Results::RiskGroups risk_groups;
        FEDRAD_ASSIGN_OR_RETURN(auto one,
                                ValidateModel(ctx, prep, f, train, {s}, &baseline, &risk_groups));
        if (baseline.ByteSizeLong() > 0) *fj.mutable_baseline() = std::move(baseline);
        if (risk_groups.ByteSizeLong() > 0) *fj.mutable_risk_groups() = std::move(risk_groups);
        (*vj.mutable_loso_models())[s] = std::move(fj);
        by_site[s] = one.at(s);
      }
    }
    for (const auto& [s, sv] : by_site) (*vj.mutable_sites())[s] = sv.metrics;
    *vj.mutable_pooled() = rounds::PoolValidation(by_site, IsCox(model));
    vj.set_t(v.t() > 0 ? v.t() : m::kDefaultHorizonDays);
    vj.set_tau(v.tau() > 0 ? v.tau() : m::kDefaultTruncationDays);
    vj.set_time_unit("days");
    vj.set_outcome(OutcomeText(model));
    if (!IsCox(model)) {
      vj.set_threshold(v.threshold() > 0 ? v.threshold() : m::kDefaultBinaryThreshold);
    }
    validation_out[model.name()] = std::move(vj);
  }
  return absl::OkStatus();
}

}  // namespace fedrad::coordinator
