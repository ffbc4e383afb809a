// Site-side tasks of the federated models: the likelihood rounds and the
// single-site fit (docs/models.md). The coordinator's half is
// coordinator/analysis_models.cc; the formulas are fedrad::models, the same
// functions the pooled tests run.
//
// Files of the site's model tasks:
//   site_node/tasks_models.cc         this file: the rules of the likelihood
//                                     rounds, models.prepare/derivatives/fit,
//                                     RegisterModelTasks (all six kinds)
//   site_node/tasks_validation.cc     models.baseline/lp_summary/validate and
//                                     the curve aggregates
//   site_node/model_rows.cc           what both use: the task's model, its
//                                     covariates, the prepared rows and their
//                                     cache, releasable counts, the
//                                     coordinator's beta
//                                     (site_node/internal/model_rows.h)
//
//   models.prepare      the model's covariates (names), n, events, excluded
//                       rows by reason, and sum x, sum x x^T (pooled
//                       standardisation and correlation filtering)
//   models.derivatives  log-likelihood, gradient and information at beta
//                       (Cox: this site's stratum; logistic: its rows), for
//                       a beta the site bounds (linear-predictor spread,
//                       weight dominance) and within the evaluations the
//                       spec's iterations allow
//   models.fit          the whole fit (models/fit_spec.h) of a model the
//                       approved spec develops on this site alone: the site
//                       resolves, selects, standardises and fits on its own
//                       rows and releases the coefficients, their covariance
//                       and the fit summary; it keeps the coefficients
//                       (site_fits.h) for its later tasks
//   (validation kinds: site_node/tasks_validation.cc)
//
// Every kind takes params strings "model" (a Model name in the approved
// study, Task.study) and, except models.prepare and models.fit, "covariates"
// (newline-separated, fixed by the coordinator after models.prepare; a
// subset of those the site resolves itself from the approved spec). Column
// roles (time, event, event values, outcome) come from the spec only; the
// rules each task applies are in docs/models.md ("What a site checks"). A site that takes no part in a round
// (the model is developed or validated elsewhere) gets "role" = "idle" and
// answers only "n" (its eligible row count), so that no aggregate of its data
// is used where the study says it must not be.
//
// Never leaves: rows, predictions, times of individual patients. Leaves:
// sums over the site's eligible patients (>= k, checked by the privacy guard).
#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/status.h"
#include "models/cox.h"
#include "models/derivatives.h"
#include "models/fit_spec.h"
#include "models/logistic.h"
#include "proto/task_kinds.h"
#include "site_node/model_spec.h"
#include "site_node/builtin_tasks.h"
#include "site_node/internal/model_rows.h"
#include "site_node/site_fits.h"
#include "site_node/site_rules.h"
#include "site_node/task_registry.h"
#include "site_node/verify_rounds.h"
#include "rounds/kind_eigen.h"
#include "rounds/transcript.h"

namespace fedrad::site {
namespace {

namespace m = ::fedrad::models;
namespace mt = ::fedrad::kinds::model_task;
namespace mp = ::fedrad::kinds::models_prepare;
namespace md = ::fedrad::kinds::models_derivatives;
namespace mf = ::fedrad::kinds::models_fit;
using ::fedrad::kinds::Put;
using internal::Beta;
using internal::EventCount;
using internal::FindModel;
using internal::ForRound;
using internal::Idle;
using internal::IsCox;
using internal::IsSmallCell;
using internal::ModelPopulation;
using internal::IsIdle;
using internal::Prepared;
using internal::PrepareRows;
using internal::ReleasableCount;
using internal::ReleasableEvents;
using internal::ResolveCovariates;
using internal::RoundCovariates;
using internal::RowCount;
using internal::ToStd;

// ---- Rules for the likelihood rounds (docs/models.md, "What a site checks") --

// Largest spread of the linear predictor over a site's rows, max_i |lp_i -
// mean lp|, that models.derivatives evaluates (rule bounded-linear-predictor):
// exp(30) ~ 1e13, far beyond any real fit on standardised or clinical
// covariates, yet it stops the steep coefficients (beta = 1e7 (x - c)) that
// turn a sum over patients into one patient's value.
constexpr double kMaxLinearPredictorSpread = 30.0;

// A study that does not list its sites is assumed to have at most this many
// when the site bounds its derivative evaluations.
constexpr int64_t kAssumedMaxSites = 64;

// How many models.derivatives evaluations the approved spec can need from
// this site for `model` (rule evaluation-budget): every fit the spec implies
// (the model's fit; with leave-one-site-out validation one per fold) times
// MaxEvaluationsPerFit, plus a margin of 2.
int64_t EvaluationBudget(const v1::Study& study, const v1::Model& model) {
  const std::vector<std::string> named = SpecDevelopSites(study, model);
  const int64_t all_sites =
      study.sites_size() > 0 ? static_cast<int64_t>(study.sites_size()) : kAssumedMaxSites;
  const int64_t dev = named.empty() ? all_sites : static_cast<int64_t>(named.size());
  const v1::Validation& v = study.validation();
  const bool loso =
      v.enabled() && v.scheme() == v1::Validation::LEAVE_ONE_SITE_OUT &&
      (v.models_size() == 0 ||
       std::find(v.models().begin(), v.models().end(), model.name()) != v.models().end());
  const m::FitSpecOptions o = FitSpecOptionsOf(model);
  int64_t budget = m::MaxEvaluationsPerFit(o, dev);
  if (loso) budget += all_sites * m::MaxEvaluationsPerFit(o, all_sites);
  return budget + 2;
}

// Counts one evaluation against the budget (kept in the study's state, so a
// resumed study continues the count of its last checkpoint).
absl::Status CountEvaluation(TaskContext& ctx, const v1::Model& model) {
  const std::string key = absl::StrCat("models.evaluations/", model.name());
  int64_t used = 0;
  auto it = ctx.state->find(key);
  if (it != ctx.state->end() && !absl::SimpleAtoi(it->second, &used)) used = 0;
  if (used >= EvaluationBudget(ctx.task->study(), model)) {
    return PublicError(absl::StatusCode::kPermissionDenied,
                       absl::StrCat("models.derivatives: model '", model.name(),
                                    "' has had every evaluation its iterations allow "
                                    "(rule evaluation-budget)"));
  }
  (*ctx.state)[key] = absl::StrCat(used + 1);
  return absl::OkStatus();
}

// At least k events and k non-events among the site's eligible rows
// (logistic: k ones and k zeros; Cox: k events and k censored), or a public
// refusal that reveals no count (rule min-events).
absl::Status CheckEventBalance(const TaskContext& ctx, const v1::Model& model,
                               const Prepared& p) {
  const int64_t k = std::max(1, ctx.min_cell_count);
  const int64_t events = EventCount(p);
  if (events < k || RowCount(p) - events < k) {
    return PublicError(
        absl::StatusCode::kPermissionDenied,
        absl::StrCat("model '", model.name(), "': the site's eligible rows need at least k=", k,
                     IsCox(model) ? " events and k censored" : " ones and k zeros",
                     " (rule min-events)"));
  }
  return absl::OkStatus();
}

// True if the weights `w` (all >= 0) rest on fewer than k patients' worth:
// Kish's effective number (sum w)^2 / sum w^2 below k. Then some patient
// carries more than 1/sqrt(k) of the sum or a few carry nearly all of it.
// (A cap of 1/k on the largest single share would refuse legitimate fits: on
// the fixture cohort's site A, 50 patients, the coxph estimate gives its top
// patient 0.13 of the risk-set weight, with an effective number of 20.)
bool Dominates(const Eigen::ArrayXd& w, int k) {
  const double sum = w.sum();
  if (!(sum > 0)) return false;
  return sum * sum < static_cast<double>(std::max(1, k)) * w.square().sum();
}

// The coordinator's beta must not single patients out (rules
// bounded-linear-predictor and weight-dominance): the linear predictor's
// spread over the site's rows is at most kMaxLinearPredictorSpread, and every
// weight sum the derivatives add up rests on at least k patients' worth of
// weight (Dominates; Cox: exp(lp_i) in the full risk set; logistic:
// p_i (1 - p_i) of the information, |y_i - p_i| of the gradient).
absl::Status CheckBeta(const TaskContext& ctx, const v1::Model& model, const Prepared& p,
                       const Eigen::VectorXd& beta) {
  const bool cox = IsCox(model);
  Eigen::VectorXd lp = p.x * (cox ? beta : Eigen::VectorXd(beta.tail(beta.size() - 1)));
  if (!cox) lp.array() += beta[0];
  if (lp.size() == 0) return absl::OkStatus();
  const double mean = lp.mean();
  const double spread = (lp.array() - mean).abs().maxCoeff();
  if (!(spread <= kMaxLinearPredictorSpread)) {
    return PublicError(absl::StatusCode::kPermissionDenied,
                       absl::StrCat("models.derivatives: the coefficients give model '",
                                    model.name(), "' a linear predictor spread beyond ",
                                    kMaxLinearPredictorSpread,
                                    " (rule bounded-linear-predictor)"));
  }
  const int k = ctx.min_cell_count;
  bool dominated = false;
  if (cox) {
    dominated = Dominates((lp.array() - lp.maxCoeff()).exp(), k);
  } else {
    const Eigen::ArrayXd prob = 1.0 / (1.0 + (-lp.array()).exp());
    const Eigen::ArrayXd y =
        Eigen::Map<const Eigen::ArrayXd>(p.rows.y.data(), static_cast<Eigen::Index>(p.rows.y.size()));
    dominated = Dominates(prob * (1 - prob), k) || Dominates((y - prob).abs(), k);
  }
  if (dominated) {
    return PublicError(absl::StatusCode::kPermissionDenied,
                       absl::StrCat("models.derivatives: under the coefficients a weight sum of "
                                    "model '",
                                    model.name(), "' rests on fewer than k patients' worth of "
                                    "weight (rule weight-dominance)"));
  }
  return absl::OkStatus();
}

m::Ties TiesOf(const v1::Model& model) {
  return model.ties() == "efron" ? m::Ties::kEfron : m::Ties::kBreslow;
}

absl::Status CheckTies(const v1::Model& model) {
  if (!model.ties().empty() && model.ties() != "efron" && model.ties() != "breslow") {
    return PublicError(absl::StatusCode::kInvalidArgument,
                       absl::StrCat("model '", model.name(), "': ties must be breslow or efron"));
  }
  return absl::OkStatus();
}

m::Derivatives Evaluate(const v1::Model& model, const Prepared& p, const Eigen::VectorXd& beta) {
  return IsCox(model) ? m::CoxDerivatives(p.stratum, beta, TiesOf(model))
                      : m::LogisticDerivatives(p.logistic, beta);
}

absl::StatusOr<TaskOutput> PrepareTask(TaskContext& ctx) {
  FEDRAD_ASSIGN_OR_RETURN(const v1::Model* model, FindModel(ctx));
  std::vector<std::string> covs;
  if (!kinds::Has(ctx.task->params(), mt::kCovariates)) {
    FEDRAD_ASSIGN_OR_RETURN(covs, ResolveCovariates(ctx, *model));
  } else {
    FEDRAD_ASSIGN_OR_RETURN(covs, RoundCovariates(ctx, *model));
  }
  FEDRAD_ASSIGN_OR_RETURN(std::shared_ptr<const Prepared> p, PrepareRows(ctx, *model, covs, nullptr));
  m::CrossProducts cp = m::ComputeCrossProducts(p->rows.x);
  TaskOutput out;
  out.n_contributing = RowCount(*p);
  out.populations.push_back(ModelPopulation(*p));
  Put(&out.payload, mp::kN, static_cast<double>(RowCount(*p)));
  Put(&out.payload, mp::kEvents, ReleasableEvents(*p, ctx.min_cell_count));
  Put(&out.payload, mp::kNExcluded, ReleasableCount(p->rows.n_excluded, ctx.min_cell_count));
  Put(&out.payload, mp::kSumX, cp.sum);
  Put(&out.payload, mp::kSumXX, cp.sum_outer);
  Put(&out.payload, mp::kCovariates, covs);
  // Exclusion counts of 1..k-1 are cells like any other: "<k" instead.
  std::vector<std::string> reasons;
  for (const auto& [reason, count] : p->rows.excluded_by_reason) {
    reasons.push_back(absl::StrCat(reason, "=", IsSmallCell(count, ctx.min_cell_count)
                                                    ? std::string("<k")
                                                    : absl::StrCat(count)));
  }
  Put(&out.payload, mp::kExcluded, reasons);
  // Signed: the pooled cross-products and events every fit replay starts from.
  RoundContribution round{rounds::PrepareRound(model->name()),
                          kinds::RoundSummedNames(*kinds::FindKind(mp::kName)), {}};
  Put(&round.inputs, mt::kCovariates, covs);
  out.round = std::move(round);
  return out;
}

absl::StatusOr<TaskOutput> DerivativesTask(TaskContext& ctx) {
  const v1::Model* model = nullptr;
  FEDRAD_ASSIGN_OR_RETURN(std::shared_ptr<const Prepared> p, ForRound(ctx, &model));
  if (IsIdle(ctx)) return Idle(*p);
  FEDRAD_RETURN_IF_ERROR(CheckTies(*model));
  FEDRAD_RETURN_IF_ERROR(CheckEventBalance(ctx, *model, *p));
  const size_t k = static_cast<size_t>(p->rows.x.cols()) + (IsCox(*model) ? 0 : 1);
  FEDRAD_ASSIGN_OR_RETURN(Eigen::VectorXd beta, Beta(ctx, k));
  FEDRAD_RETURN_IF_ERROR(CheckBeta(ctx, *model, *p, beta));
  // Verifiable rounds: only the step the approved spec's algorithm takes from
  // the verified transcript, at the beta and scaling this site computed.
  std::optional<RoundContribution> round;
  if (VerifiesRounds(ctx)) {
    FEDRAD_ASSIGN_OR_RETURN(TaskFit fit, FitOfTask(ctx, *model));
    FEDRAD_ASSIGN_OR_RETURN(std::vector<std::string> covs, RoundCovariates(ctx, *model));
    FEDRAD_ASSIGN_OR_RETURN(rounds::EvaluationRequest step,
                            VerifiedEvaluation(ctx, *model, fit, covs, beta));
    beta = step.beta;
    if (step.scaled) {
      FEDRAD_ASSIGN_OR_RETURN(p, PrepareRows(ctx, *model, covs, &step.scaling));
    }
    round = RoundContribution{rounds::EvalRound(model->name(), fit.id, step.index),
                              kinds::RoundSummedNames(*kinds::FindKind(md::kName)), {}};
    Put(&round->inputs, mt::kBeta, step.beta);
    if (step.scaled) {
      Put(&round->inputs, mt::kCenter, step.scaling.center);
      Put(&round->inputs, mt::kScale, step.scaling.scale);
    }
    Put(&round->inputs, mt::kCovariates, covs);
    Put(&round->inputs, mt::kFit, fit.id);
    Put(&round->inputs, mt::kFitSites, fit.sites);
  }
  FEDRAD_RETURN_IF_ERROR(CountEvaluation(ctx, *model));
  const m::Derivatives d = Evaluate(*model, *p, beta);
  TaskOutput out;
  out.round = std::move(round);
  out.n_contributing = d.n;
  out.populations.push_back(ModelPopulation(*p));
  Put(&out.payload, md::kN, static_cast<double>(d.n));
  Put(&out.payload, md::kEvents, static_cast<double>(d.events));
  Put(&out.payload, md::kLoglik, d.loglik);
  Put(&out.payload, md::kGradient, d.gradient);
  Put(&out.payload, md::kInformation, d.information);
  return out;
}

// models.fit: the whole fit (models::FitSpec) on this site's own rows, for a
// model the approved spec develops on this site alone. No coefficient from
// the coordinator is used; the released fit is recorded (site_fits.h) so
// that later tasks accept only these coefficients.
absl::StatusOr<TaskOutput> FitTask(TaskContext& ctx) {
  FEDRAD_ASSIGN_OR_RETURN(const v1::Model* model, FindModel(ctx));
  FEDRAD_ASSIGN_OR_RETURN(std::vector<std::string> covs, ResolveCovariates(ctx, *model));
  FEDRAD_ASSIGN_OR_RETURN(std::shared_ptr<const Prepared> p,
                          PrepareRows(ctx, *model, covs, nullptr));
  if (IsIdle(ctx)) return Idle(*p);
  if (SpecDevelopSites(ctx.task->study(), *model) != std::vector<std::string>{ctx.site_id}) {
    return PublicError(absl::StatusCode::kPermissionDenied,
                       absl::StrCat("models.fit: the approved spec does not develop model '",
                                    model->name(), "' on this site alone (rule single-site-fit)"));
  }
  FEDRAD_RETURN_IF_ERROR(CheckTies(*model));
  FEDRAD_RETURN_IF_ERROR(CheckEventBalance(ctx, *model, *p));

  const m::FitSpecOptions options = FitSpecOptionsOf(*model);
  m::FitSpecInput in;
  in.candidates = covs;
  in.sites = {ctx.site_id};
  in.pooled = m::ComputeCrossProducts(p->rows.x);
  in.events = EventCount(*p);
  std::vector<Population> populations = {ModelPopulation(*p)};
  // The same rows a models.derivatives round on this site would use: the
  // model's rows for these covariates (a covariate dropped by selection no
  // longer excludes its missing rows), scaled as asked.
  in.evaluate = [&](const std::vector<std::string>& use, const m::Scaling* scaling,
                    const std::vector<std::string>& sites,
                    const Eigen::VectorXd& beta) -> absl::StatusOr<m::Derivatives> {
    const int p_total = static_cast<int>(use.size()) + (IsCox(*model) ? 0 : 1);
    if (sites.empty()) return m::Derivatives::Zero(p_total);
    FEDRAD_ASSIGN_OR_RETURN(std::shared_ptr<const Prepared> rows,
                            PrepareRows(ctx, *model, use, scaling));
    if (std::none_of(populations.begin(), populations.end(),
                     [&](const Population& q) { return q.quantities == rows->quantities; })) {
      populations.push_back(ModelPopulation(*rows));
    }
    return Evaluate(*model, *rows, beta);
  };
  absl::StatusOr<m::SpecFit> fit = m::FitSpec(options, in);
  if (!fit.ok()) {
    // Fit problems name only the spec's model, covariates and this site.
    return PublicError(fit.status().code(),
                       absl::StrCat("models.fit: ", fit.status().message()));
  }
  StoreSiteFit(ctx.state, model->name(), SiteFit{fit->covariates, ToStd(fit->beta)});

  TaskOutput out;
  out.n_contributing = fit->n;
  out.populations = populations;
  Put(&out.payload, mf::kN, static_cast<double>(fit->n));
  Put(&out.payload, mf::kEvents, static_cast<double>(fit->events));
  Put(&out.payload, mf::kLoglik, fit->loglik);
  Put(&out.payload, mf::kLoglikNull, fit->loglik_null);
  Put(&out.payload, mf::kIterations, fit->iterations);
  Put(&out.payload, mf::kHalvings, fit->halvings);
  Put(&out.payload, mf::kBeta, fit->beta);
  Put(&out.payload, mf::kCovariance, fit->covariance);
  if (!fit->score_tests.empty()) {
    std::vector<double> chi2, pv;
    for (const m::ScoreTest& t : fit->score_tests) {
      chi2.push_back(t.chi2);
      pv.push_back(t.p_value);
    }
    Put(&out.payload, mf::kScoreChi2, chi2);
    Put(&out.payload, mf::kScorePValue, pv);
  }
  if (fit->standardized) {
    Put(&out.payload, mf::kCenter, fit->scaling.center);
    Put(&out.payload, mf::kScale, fit->scaling.scale);
  }
  if (options.penalty != m::FitSpecOptions::PenaltyType::kNone) {
    Put(&out.payload, mf::kLambda, fit->lambda);
  }
  Put(&out.payload, mf::kCovariates, fit->covariates);
  Put(&out.payload, mf::kCandidates, covs);
  // Signed: the released fit, the frozen model validation sites check.
  out.round = RoundContribution{rounds::SiteFitRound(model->name()), {}, {}};
  return out;
}

}  // namespace

void RegisterModelTasks(TaskRegistry& registry) {
  registry.Register(DefinedKind(mp::kName, &PrepareTask));
  registry.Register(DefinedKind(md::kName, &DerivativesTask));
  registry.Register(DefinedKind(mf::kName, &FitTask));
  // models.baseline, models.lp_summary, models.validate: tasks_validation.cc.
  internal::RegisterValidationTasks(registry);
}

}  // namespace fedrad::site
