// Site-side tasks of the external validation of a frozen model
// (docs/models.md); the site's likelihood rounds are
// site_node/tasks_models.cc (which also registers these kinds), the shared
// model rows site_node/model_rows.cc. The coordinator's half is
// coordinator/analysis_validation.cc.
//
//   models.baseline     Cox: events and risk-set sums sum exp(x beta) on a
//                       time grid the site fixes from the approved spec
//                       (>= k patients leave the risk set between released
//                       points), released with the grid ("grid")
//   models.lp_summary   development sites: cumulative counts of the frozen
//                       model's linear predictor on a lattice the site fixes,
//                       released where >= k patients were added ("grid",
//                       "counts"); the coordinator derives the risk-group
//                       cut-points from them
//   models.validate     metrics of the frozen model on this site's rows, each
//                       with a bootstrap CI computed here; Harrell pair counts;
//                       the curve aggregates of models/curves.h (calibration
//                       bins, Kaplan-Meier by risk group, ROC) on grids and
//                       thresholds the site chooses, each step over 0 or >= k
//                       patients. Settings (t, tau, threshold, bins, KM step,
//                       replicates, seed) come from the approved spec. Signed
//                       (round rounds::ValidateRound) with the fit and the
//                       coefficients it scored.
//
// A development site that fitted the model itself (site_fits.h) accepts only
// its own coefficients for models.baseline and models.lp_summary; other
// coefficients (multi-site fits, frozen models at validation sites) are
// bounded (site_node/validation_rules.h).
//
// Params, the idle role and what never leaves: site_node/tasks_models.cc.
#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/status.h"
#include "models/cox.h"
#include "models/curves.h"
#include "models/descriptive.h"
#include "models/metrics.h"
#include "proto/payload.h"
#include "site_node/internal/model_rows.h"
#include "site_node/site_fits.h"
#include "site_node/site_rules.h"
#include "site_node/task_registry.h"
#include "site_node/verify_rounds.h"
#include "rounds/transcript.h"
#include "site_node/validation_rules.h"

namespace fedrad::site {
namespace {

namespace m = ::fedrad::models;
using internal::Beta;
using internal::ForRound;
using internal::Idle;
using internal::IsCox;
using internal::LedgerOutcome;
using internal::Outcome;
using internal::IsIdle;
using internal::Prepared;
using internal::ReleasableCount;
using internal::ReleasableEvents;
using internal::RowCount;
using ::fedrad::kinds::Put;
namespace mt = ::fedrad::kinds::model_task;
namespace mb = ::fedrad::kinds::models_baseline;
namespace ml = ::fedrad::kinds::models_lp_summary;
namespace mv = ::fedrad::kinds::models_validate;
namespace cv = ::fedrad::kinds::models_validate::curve;

// The round's covariates (a list, checked by ForRound).
std::vector<std::string> TaskCovariates(const TaskContext& ctx) {
  return kinds::Get(ctx.task->params(), mt::kCovariates);
}
using internal::ToStd;

// ---- Validation: what the site derives and checks itself --------------------
// (site_node/validation_rules.h; docs/models.md "Grids the site fixes")

// The columns a model's aggregates are about: its outcome columns, then the
// covariates (the ledger's quantities).
std::vector<std::string> ModelColumns(const v1::Model& model,
                                      const std::vector<std::string>& covs) {
  const m::OutcomeColumns o = Outcome(model);
  std::vector<std::string> cols =
      o.survival ? std::vector<std::string>{o.time, o.event} : std::vector<std::string>{o.outcome};
  cols.insert(cols.end(), covs.begin(), covs.end());
  return cols;
}

// The ids of the rows `p` holds, in its row order (ExtractModelRows keeps the
// table's order).
absl::StatusOr<std::vector<std::string>> RowIds(const TaskContext& ctx, const v1::Model& model,
                                                const std::vector<std::string>& covs,
                                                const Prepared& p) {
  std::vector<std::string> ids =
      UsedRowIds(*ctx.table, ModelColumns(model, covs), ctx.id_column);
  if (static_cast<int64_t>(ids.size()) != RowCount(p)) {
    return absl::InternalError("the model's rows and their ids differ in number");
  }
  return ids;
}

// The whole-site population of a model's aggregates, and a subset of it
// (rows by index) under a quantity of its own.
Population WholePopulation(const v1::Model& model, const std::vector<std::string>& ids) {
  return Population{{LedgerOutcome(Outcome(model))}, ids};
}
Population SubPopulation(const std::string& quantity, const std::vector<std::string>& ids,
                         const std::vector<int>& rows) {
  Population pop{{quantity}, {}};
  for (int i : rows) pop.ids.push_back(ids[static_cast<size_t>(i)]);
  return pop;
}

// The frozen model's linear predictor over this site's rows (x beta, plus the
// intercept for a logistic model).
Eigen::VectorXd LinearPredictor(const Prepared& p, const Eigen::VectorXd& beta, bool cox) {
  const Eigen::Index k = beta.size();
  Eigen::VectorXd lp = p.rows.x * (cox ? beta : Eigen::VectorXd(beta.tail(k - 1)));
  if (!cox) lp.array() += beta[0];
  return lp;
}

// Coefficients a development site uses for the baseline hazard and the
// risk-group counts: its own fit's, when it fitted the model itself (any
// other beta is refused); otherwise (a multi-site fit, issue 12 makes it
// verifiable) a bounded linear predictor without a dominating weight.
struct Frozen {
  Eigen::VectorXd beta;
  std::vector<double> lp;
  bool site_fit = false;
  std::string fit_id = rounds::kDevelopmentFit;
};

// Verifiable rounds: the task's coefficients must be the frozen model the
// forwarded transcript produces (site_node/verify_rounds.h); the site then
// uses its own recomputed coefficients. Sets *fit_id.
absl::Status VerifyFrozen(const TaskContext& ctx, const v1::Model& model, Eigen::VectorXd* beta,
                          std::string* fit_id, TaskFit* fit_out = nullptr) {
  if (!VerifiesRounds(ctx)) return absl::OkStatus();
  FEDRAD_ASSIGN_OR_RETURN(TaskFit fit, FitOfTask(ctx, model));
  if (fit_out != nullptr) *fit_out = fit;
  FEDRAD_ASSIGN_OR_RETURN(
      rounds::FrozenModel frozen,
      VerifiedFrozenModel(ctx, model, fit, TaskCovariates(ctx), *beta));
  *beta = frozen.beta;
  *fit_id = fit.id;
  return absl::OkStatus();
}
absl::StatusOr<Frozen> DevelopmentCoefficients(const TaskContext& ctx, const v1::Model& model,
                                               const Prepared& p, const std::string& kind) {
  const bool cox = IsCox(model);
  const size_t k = static_cast<size_t>(p.rows.x.cols()) + (cox ? 0 : 1);
  Frozen f;
  FEDRAD_ASSIGN_OR_RETURN(f.beta, Beta(ctx, k));
  FEDRAD_RETURN_IF_ERROR(VerifyFrozen(ctx, model, &f.beta, &f.fit_id));
  f.lp = ToStd(LinearPredictor(p, f.beta, cox));
  FEDRAD_RETURN_IF_ERROR(CheckSiteFit(*ctx.state, model.name(),
                                      TaskCovariates(ctx), ToStd(f.beta), kind,
                                      &f.site_fit));
  if (!f.site_fit) {
    FEDRAD_RETURN_IF_ERROR(CheckLinearPredictor(f.lp, kind));
    if (cox) FEDRAD_RETURN_IF_ERROR(CheckWeightConcentration(f.lp, kind));
  }
  return f;
}

absl::StatusOr<TaskOutput> BaselineTask(TaskContext& ctx) {
  const v1::Model* model = nullptr;
  FEDRAD_ASSIGN_OR_RETURN(std::shared_ptr<const Prepared> p, ForRound(ctx, &model));
  if (IsIdle(ctx)) return Idle(*p);
  if (!IsCox(*model)) {
    return PublicError(absl::StatusCode::kInvalidArgument,
                       "models.baseline: model: is for Cox models (rule model-type)");
  }
  FEDRAD_ASSIGN_OR_RETURN(Frozen frozen, DevelopmentCoefficients(ctx, *model, *p, mb::kName));
  // The grid is the site's: a lattice from the approved spec, coarsened so
  // that >= k patients left the risk set between released points and no
  // patient carries more than kMaxWeightShare of a released risk sum. A
  // coordinator's "grid" is ignored.
  const v1::Validation& v = ctx.task->study().validation();
  const ValidationSettings settings = SettingsFromSpec(v);
  std::vector<double> weights;
  for (double x : frozen.lp) weights.push_back(std::exp(x));
  const std::vector<double> grid = m::ReleasedTimePoints(
      p->rows.time, BaselineLattice(v, settings), ctx.min_cell_count, &weights, kMaxWeightShare);
  // Risk sums on the original covariate scale (the stratum may be scaled).
  FEDRAD_ASSIGN_OR_RETURN(m::CoxStratum raw,
                          m::CoxStratum::Create(p->rows.time, p->rows.status, p->rows.x));
  m::GridSums sums = m::CoxGridSums(raw, frozen.beta, grid);
  const std::vector<std::string> covs = TaskCovariates(ctx);
  FEDRAD_ASSIGN_OR_RETURN(std::vector<std::string> ids, RowIds(ctx, *model, covs, *p));
  TaskOutput out;
  out.n_contributing = RowCount(*p);
  Put(&out.payload, mb::kN, static_cast<double>(RowCount(*p)));
  Put(&out.payload, mb::kGrid, grid);
  Put(&out.payload, mb::kGridEvents, sums.events);
  Put(&out.payload, mb::kGridRiskSum, sums.risk_sum);
  out.populations.push_back(WholePopulation(*model, ids));
  // Signed: the pooled baseline hazard H0 follows from these.
  out.round = RoundContribution{rounds::BaselineRound(model->name(), frozen.fit_id), {}, {}};
  return out;
}

absl::StatusOr<TaskOutput> LpSummaryTask(TaskContext& ctx) {
  const v1::Model* model = nullptr;
  FEDRAD_ASSIGN_OR_RETURN(std::shared_ptr<const Prepared> p, ForRound(ctx, &model));
  if (IsIdle(ctx)) return Idle(*p);
  FEDRAD_ASSIGN_OR_RETURN(Frozen frozen,
                          DevelopmentCoefficients(ctx, *model, *p, ml::kName));
  // Cumulative counts on a lattice the site fixes (a "nice" step of about a
  // tenth of its own lp's SD), released only where >= k patients were added;
  // any coordinator "thresholds" are ignored.
  const m::ColumnMoments mom = m::ComputeMoments(frozen.lp);
  const double sd = mom.n > 1 ? std::sqrt(mom.m2 / static_cast<double>(mom.n - 1)) : 0.0;
  const m::LatticeCounts counts = m::CountsOnLattice(
      frozen.lp, m::NiceStepAtMost(sd > 0 ? sd / 10 : 1.0), ctx.min_cell_count, kMaxGridPoints);
  const std::vector<std::string> covs = TaskCovariates(ctx);
  FEDRAD_ASSIGN_OR_RETURN(std::vector<std::string> ids, RowIds(ctx, *model, covs, *p));
  TaskOutput out;
  out.n_contributing = RowCount(*p);
  Put(&out.payload, ml::kN, static_cast<double>(RowCount(*p)));
  Put(&out.payload, ml::kGrid, counts.grid);
  Put(&out.payload, ml::kCounts, counts.counts);
  out.populations.push_back(WholePopulation(*model, ids));
  // Signed: the risk-group cut-points follow from these.
  out.round = RoundContribution{rounds::LpSummaryRound(model->name(), frozen.fit_id), {}, {}};
  return out;
}

// The curve aggregates (models/curves.h) of the frozen model at this site,
// added to `out` as "curve.*" arrays, with their populations. Settings from
// the approved spec; the only inputs from the coordinator are the pooled
// baseline hazard (checked by the caller) and the risk-group cut-points
// (untrusted: a group of 1..k-1 patients suppresses all, revealing nothing).
absl::Status AddCurves(const TaskContext& ctx, const v1::Model& model, const Prepared& p,
                       const Eigen::VectorXd& lp, const std::vector<double>& grid,
                       const std::vector<double>& cumhaz, const ValidationSettings& settings,
                       const std::vector<std::string>& ids, TaskOutput* out) {
  const bool cox = IsCox(model);
  const v1::Payload& params = ctx.task->params();
  const int k = ctx.min_cell_count;
  const m::ModelRows& rows = p.rows;
  const double t = settings.t;
  const std::string q = absl::StrCat("models.", model.name(), ".");
  // Each patient's predicted risk: Cox, of the event by t (pooled Breslow H0);
  // logistic, the probability.
  std::vector<double> risk;
  const double h0 = cox ? m::CumulativeHazardAt(grid, cumhaz, t) : 0.0;
  for (Eigen::Index i = 0; i < lp.size(); ++i) {
    risk.push_back(cox ? 1 - std::exp(-h0 * std::exp(lp[i])) : m::InverseLogit(lp[i]));
  }
  if (settings.calibration_bins > 0) {
    const absl::StatusOr<m::CalibrationCurve> cal =
        cox ? m::SurvivalCalibration(rows.time, rows.status, risk, t, k, settings.calibration_bins)
            : m::BinaryCalibration(rows.y, risk, k, settings.calibration_bins);
    FEDRAD_RETURN_IF_ERROR(cal.status());
    if (cal->suppressed) {
      Put(&out->payload, mv::kCurve, absl::StrCat(cv::kCalibration, cv::kSuppressed), 1.0);
    } else {
      Put(&out->payload, mv::kCurve, absl::StrCat(cv::kCalibration, cv::kPredicted),
          cal->predicted);
      Put(&out->payload, mv::kCurve, absl::StrCat(cv::kCalibration, cv::kObserved), cal->observed);
      Put(&out->payload, mv::kCurve, absl::StrCat(cv::kCalibration, cv::kCiLow), cal->ci_low);
      Put(&out->payload, mv::kCurve, absl::StrCat(cv::kCalibration, cv::kCiHigh), cal->ci_high);
      Put(&out->payload, mv::kCurve, absl::StrCat(cv::kCalibration, cv::kN),
                std::vector<double>(cal->n.begin(), cal->n.end()));
      for (const std::vector<int>& bin :
           m::EqualCountBins(risk, static_cast<int>(cal->n.size()))) {
        out->populations.push_back(SubPopulation(q + "calibration_bin", ids, bin));
      }
    }
  }
  absl::StatusOr<std::vector<double>> cuts = kinds::Get(params, mv::kKmCuts);
  if (cox && cuts.ok() && settings.km_time_step > 0) {
    FEDRAD_RETURN_IF_ERROR(CheckCuts(*cuts));
    FEDRAD_ASSIGN_OR_RETURN(
        std::vector<m::RiskGroupCurve> groups,
        m::RiskGroupCurves(rows.time, rows.status, ToStd(lp), *cuts, KmLattice(settings), k));
    const char* const* keys = cv::kRiskGroups;
    for (size_t g = 0; g < groups.size() && g < 3; ++g) {
      const std::string prefix = absl::StrCat(cv::kKm, keys[g], ".");
      const m::RiskGroupCurve& c = groups[g];
      if (c.suppressed) {  // nothing else, not even its size
        Put(&out->payload, mv::kCurve, prefix + cv::kSuppressed, 1.0);
        continue;
      }
      Put(&out->payload, mv::kCurve, prefix + cv::kN, static_cast<double>(c.n));
      if (c.events >= 0) {
        Put(&out->payload, mv::kCurve, prefix + cv::kEvents, static_cast<double>(c.events));
      }
      Put(&out->payload, mv::kCurve, prefix + cv::kTime, c.time);
      Put(&out->payload, mv::kCurve, prefix + cv::kSurvival, c.survival);
      Put(&out->payload, mv::kCurve, prefix + cv::kNAtRisk, c.n_at_risk);
      out->populations.push_back(SubPopulation(q + "risk_group", ids, c.rows));
    }
  }
  // The ROC at thresholds the site chooses (each step moves 0 or >= k cases
  // and 0 or >= k controls). Cox: the cumulative/dynamic ROC at t; logistic:
  // the ROC of the outcome. Coordinator "roc_thresholds" are ignored.
  FEDRAD_ASSIGN_OR_RETURN(m::SiteRoc site_roc,
                          cox ? m::SiteTimeDependentRoc(rows.time, rows.status, risk, t, k)
                              : m::SiteBinaryRoc(rows.y, risk, k));
  const m::RocCurve& roc = site_roc.curve;
  Put(&out->payload, mv::kCurve, absl::StrCat(cv::kRoc, cv::kNPos), ReleasableCount(roc.n_pos, k));
  Put(&out->payload, mv::kCurve, absl::StrCat(cv::kRoc, cv::kNNeg), ReleasableCount(roc.n_neg, k));
  if (roc.suppressed) {
    Put(&out->payload, mv::kCurve, absl::StrCat(cv::kRoc, cv::kSuppressed), 1.0);
  } else {
    Put(&out->payload, mv::kCurve, absl::StrCat(cv::kRoc, cv::kFpr), roc.fpr);
    Put(&out->payload, mv::kCurve, absl::StrCat(cv::kRoc, cv::kTpr), roc.tpr);
    Put(&out->payload, mv::kCurve, absl::StrCat(cv::kRoc, cv::kThreshold), roc.threshold);
    for (const std::vector<int>& v : site_roc.vertex_rows) {
      out->populations.push_back(SubPopulation(q + "roc_vertex", ids, v));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<TaskOutput> ValidateTask(TaskContext& ctx) {
  const v1::Model* model = nullptr;
  FEDRAD_ASSIGN_OR_RETURN(std::shared_ptr<const Prepared> p, ForRound(ctx, &model));
  if (IsIdle(ctx)) return Idle(*p);
  const v1::Payload& params = ctx.task->params();
  const bool cox = IsCox(*model);
  const size_t k = static_cast<size_t>(p->rows.x.cols()) + (cox ? 0 : 1);
  FEDRAD_ASSIGN_OR_RETURN(Eigen::VectorXd beta, Beta(ctx, k));
  std::string fit_id;
  TaskFit fit;
  FEDRAD_RETURN_IF_ERROR(VerifyFrozen(ctx, *model, &beta, &fit_id, &fit));
  // Every setting from the approved spec (t, tau, threshold, bins, KM step,
  // replicates capped at kMaxBootstrapReplicates, seed); task params naming
  // them are ignored.
  const ValidationSettings settings = SettingsFromSpec(ctx.task->study().validation());
  m::BootstrapOptions boot;
  boot.replicates = settings.replicates;
  // Each site draws its own stream: the seed mixed with the site id.
  boot.seed = settings.seed ^ std::hash<std::string>{}(ctx.site_id);
  boot.cancelled = ctx.cancelled;

  const m::ModelRows& rows = p->rows;
  const int n = static_cast<int>(rows.x.rows());
  const Eigen::VectorXd lp = LinearPredictor(*p, beta, cox);
  // The frozen coefficients come from elsewhere: bounded (issue 12 makes
  // them verifiable). No weight-concentration check here: a validation site
  // releases no sum of exp(lp), only bounded per-patient quantities (risks in
  // [0, 1], ranks) in groups of >= k.
  FEDRAD_RETURN_IF_ERROR(CheckLinearPredictor(ToStd(lp), mv::kName));
  m::MetricFunction compute;
  std::vector<double> grid, cumhaz;
  const double t = settings.t, tau = settings.tau, threshold = settings.threshold;
  if (cox) {
    FEDRAD_ASSIGN_OR_RETURN(grid, kinds::Get(params, mv::kGrid));
    FEDRAD_ASSIGN_OR_RETURN(cumhaz, kinds::Get(params, mv::kCumhaz));
    FEDRAD_RETURN_IF_ERROR(CheckBaselineHazard(grid, cumhaz));
    if (VerifiesRounds(ctx)) {
      // H0 and the cut-points from the development sites' signed answers.
      absl::StatusOr<std::vector<double>> km_cuts = kinds::Get(params, mv::kKmCuts);
      const bool uses_cuts = km_cuts.ok() && settings.km_time_step > 0;
      FEDRAD_RETURN_IF_ERROR(VerifiedValidationInputs(ctx, *model, fit, t, tau, grid, cumhaz,
                                                      uses_cuts ? &*km_cuts : nullptr));
    }
    compute = [&](const std::vector<int>& idx) -> absl::StatusOr<std::map<std::string, double>> {
      m::SurvivalValidationInput in;
      in.grid = grid;
      in.cumhaz = cumhaz;
      in.t = t;
      in.tau = tau;
      for (int i : idx) {
        in.time.push_back(rows.time[static_cast<size_t>(i)]);
        in.status.push_back(rows.status[static_cast<size_t>(i)]);
        in.lp.push_back(lp[i]);
      }
      return m::ComputeSurvivalMetrics(in);
    };
  } else {
    compute = [&](const std::vector<int>& idx) -> absl::StatusOr<std::map<std::string, double>> {
      std::vector<double> y, prob;
      for (int i : idx) {
        y.push_back(rows.y[static_cast<size_t>(i)]);
        // Keep p inside (0, 1) where exp() saturates (|lp| > ~36).
        prob.push_back(std::clamp(m::InverseLogit(lp[i]), 1e-15, 1 - 1e-15));
      }
      return m::ComputeBinaryMetrics(y, prob, threshold);
    };
  }
  FEDRAD_ASSIGN_OR_RETURN(auto estimates, m::Bootstrap(compute, n, boot));
  const std::vector<std::string> covs = TaskCovariates(ctx);
  FEDRAD_ASSIGN_OR_RETURN(std::vector<std::string> ids, RowIds(ctx, *model, covs, *p));
  TaskOutput out;
  out.n_contributing = n;
  out.populations.push_back(WholePopulation(*model, ids));
  Put(&out.payload, mv::kN, n);
  Put(&out.payload, mv::kEvents, ReleasableEvents(*p, ctx.min_cell_count));
  Put(&out.payload, mv::kNExcluded, ReleasableCount(rows.n_excluded, ctx.min_cell_count));
  Put(&out.payload, mv::kBootstrapReplicates, static_cast<double>(boot.replicates));
  for (const auto& [name, e] : estimates) {
    Put(&out.payload, mv::kMetric, name, e.value);
    if (name == "concordant" || name == "discordant" || name == "tied_risk") continue;
    if (boot.replicates > 0) {
      Put(&out.payload, mv::kMetric, absl::StrCat(name, "_ci_low"), e.ci_low);
      Put(&out.payload, mv::kMetric, absl::StrCat(name, "_ci_high"), e.ci_high);
      Put(&out.payload, mv::kMetric, absl::StrCat(name, "_se_logit"), e.se_logit);
      Put(&out.payload, mv::kMetric, absl::StrCat(name, "_replicates"),
          static_cast<double>(e.replicates_used));
    }
  }
  FEDRAD_RETURN_IF_ERROR(AddCurves(ctx, *model, *p, lp, grid, cumhaz, settings, ids, &out));
  // Signed (issue 12): the metrics the coordinator pools, so that the auditor
  // recomputes the pooled validation from them; with the fit and the
  // coefficients the site scored (its own, recomputed from the transcript).
  // Nothing beyond the released payload and the task's own parameters.
  if (fit_id.empty()) fit_id = kinds::Get(params, mt::kFit);
  if (fit_id.empty()) fit_id = rounds::kDevelopmentFit;
  RoundContribution round{rounds::ValidateRound(model->name(), fit_id), {}, {}};
  Put(&round.inputs, mt::kFit, fit_id);
  Put(&round.inputs, mt::kCovariates, covs);
  Put(&round.inputs, mt::kBeta, ToStd(beta));
  out.round = std::move(round);
  return out;
}

}  // namespace

namespace internal {

void RegisterValidationTasks(TaskRegistry& registry) {
  registry.Register(DefinedKind(mb::kName, &BaselineTask));
  registry.Register(DefinedKind(ml::kName, &LpSummaryTask));
  registry.Register(DefinedKind(mv::kName, &ValidateTask));
}

}  // namespace internal
}  // namespace fedrad::site
