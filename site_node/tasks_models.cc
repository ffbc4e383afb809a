// Site-side tasks of the federated models and their external validation
// (docs/models.md). The coordinator's half is coordinator/analysis_models.cc;
// the formulas are fedrad::models, the same functions the pooled tests run.
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
//                       replicates, seed) come from the approved spec.
//
// A development site that fitted the model itself (site_fits.h) accepts only
// its own coefficients for models.baseline and models.lp_summary; other
// coefficients (multi-site fits, frozen models at validation sites) are
// bounded (site_node/validation_rules.h).
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
#include <limits>
#include <cmath>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "core/csv.h"
#include "core/hash.h"
#include "core/log.h"
#include "core/status.h"
#include "models/cox.h"
#include "models/curves.h"
#include "models/data.h"
#include "models/derivatives.h"
#include "models/descriptive.h"
#include "models/fit_spec.h"
#include "models/logistic.h"
#include "models/metrics.h"
#include "proto/payload.h"
#include "site_node/builtin_tasks.h"
#include "site_node/site_fits.h"
#include "site_node/site_rules.h"
#include "site_node/task_registry.h"
#include "site_node/validation_rules.h"

namespace fedrad::site {
namespace {

namespace m = ::fedrad::models;

std::string Param(const TaskContext& ctx, const std::string& key) {
  const auto& strings = ctx.task->params().strings();
  auto it = strings.find(key);
  return it == strings.end() ? "" : it->second;
}

std::vector<std::string> SplitLines(const std::string& s) {
  std::vector<std::string> out;
  for (absl::string_view part : absl::StrSplit(s, '\n', absl::SkipEmpty())) {
    out.emplace_back(part);
  }
  return out;
}

std::vector<double> ToStd(const Eigen::VectorXd& v) {
  return std::vector<double>(v.data(), v.data() + v.size());
}

void AddEigenMatrix(v1::Payload* p, const std::string& name, const Eigen::MatrixXd& mat) {
  std::vector<double> row_major(static_cast<size_t>(mat.size()));
  for (Eigen::Index r = 0; r < mat.rows(); ++r) {
    for (Eigen::Index c = 0; c < mat.cols(); ++c) {
      row_major[static_cast<size_t>(r * mat.cols() + c)] = mat(r, c);
    }
  }
  AddMatrix(p, name, mat.rows(), mat.cols(), row_major);
}

// The model `params.model` names in the approved spec (Task.study). The
// name is never echoed: it comes from the coordinator.
absl::StatusOr<const v1::Model*> FindModel(const TaskContext& ctx) {
  const std::string name = Param(ctx, "model");
  if (!name.empty() && name.size() <= kMaxNameBytes) {
    for (const v1::Model& model : ctx.task->study().models()) {
      if (model.name() == name) return &model;
    }
  }
  return PublicError(absl::StatusCode::kInvalidArgument,
                     "params.model names no model of the approved study (rule spec-roles)");
}

bool IsCox(const v1::Model& model) { return model.type() == v1::Model::COX; }

// The outcome columns, from the approved spec only (never from a task).
m::OutcomeColumns Outcome(const v1::Model& model) {
  if (IsCox(model)) {
    return m::OutcomeColumns::Survival(
        model.time_column().empty() ? "time" : model.time_column(),
        model.event_column().empty() ? "status" : model.event_column(),
        {model.event_values().begin(), model.event_values().end()});
  }
  return m::OutcomeColumns::Binary(model.outcome_column());
}

std::vector<std::string> OutcomeNames(const m::OutcomeColumns& out) {
  return out.survival ? std::vector<std::string>{out.time, out.event}
                      : std::vector<std::string>{out.outcome};
}

// The release ledger's quantity for every aggregate of a model: its outcome
// (time, event and event values; or the binary outcome). Two answers about
// models of the same outcome must rest on the same patients or on sets at
// least k apart, whatever their covariates: the events and likelihood of
// one patient could otherwise be read from a difference (docs/privacy.md).
std::string LedgerOutcome(const m::OutcomeColumns& out) {
  if (!out.survival) return absl::StrCat("models:outcome=", out.outcome);
  return absl::StrCat("models:time=", out.time, ",event=", out.event,
                      out.event_values.empty() ? "" : ",values=",
                      absl::StrJoin(out.event_values, "|"));
}

// The model's covariates as this site resolves them from the approved spec
// (covariates, covariate_regex with RE2, exclude_columns): never the id
// column nor one of the model's outcome columns. Errors are public: they name
// only the spec's fields and names (rule covariate-roles).
absl::StatusOr<std::vector<std::string>> ResolveCovariates(const TaskContext& ctx,
                                                           const v1::Model& model) {
  const m::OutcomeColumns out = Outcome(model);
  const std::vector<std::string> roles = OutcomeNames(out);
  for (const std::string& c : roles) {
    if (c.empty() || c == ctx.id_column) {
      return PublicError(absl::StatusCode::kInvalidArgument,
                         absl::StrCat("model '", model.name(),
                                      "': an outcome column is empty or the id column "
                                      "(rule covariate-roles)"));
    }
  }
  std::vector<std::string> excluded = {ctx.id_column};
  excluded.insert(excluded.end(), roles.begin(), roles.end());
  for (const std::string& c : model.covariates()) {
    if (std::find(excluded.begin(), excluded.end(), c) != excluded.end()) {
      return PublicError(absl::StatusCode::kInvalidArgument,
                         absl::StrCat("model '", model.name(), "': covariate '", c,
                                      "' is the id or an outcome column (rule covariate-roles)"));
    }
  }
  excluded.insert(excluded.end(), model.exclude_columns().begin(), model.exclude_columns().end());
  absl::StatusOr<std::vector<std::string>> covs = m::ResolveCovariates(
      ctx.table->header(), {model.covariates().begin(), model.covariates().end()},
      model.covariate_regex(), excluded);
  if (!covs.ok()) {
    return PublicError(covs.status().code(),
                       absl::StrCat("model '", model.name(), "': ", covs.status().message(),
                                    " (rule covariate-roles)"));
  }
  return covs;
}

// The covariates a coordinator names in a round: a non-empty subset, without
// repeats, of those the site resolves itself from the approved spec.
absl::StatusOr<std::vector<std::string>> RoundCovariates(const TaskContext& ctx,
                                                         const v1::Model& model) {
  const std::string text = Param(ctx, "covariates");
  FEDRAD_ASSIGN_OR_RETURN(std::vector<std::string> allowed, ResolveCovariates(ctx, model));
  if (text.size() > kMaxParamStringBytes) {
    return PublicError(absl::StatusCode::kInvalidArgument,
                       "params.covariates is too long (rule bounded-params)");
  }
  std::vector<std::string> covs = SplitLines(text);
  if (covs.empty()) {
    return PublicError(absl::StatusCode::kInvalidArgument,
                       "params.covariates names no covariate (rule covariate-roles)");
  }
  std::vector<std::string> seen;
  for (const std::string& c : covs) {
    if (std::find(allowed.begin(), allowed.end(), c) == allowed.end() ||
        std::find(seen.begin(), seen.end(), c) != seen.end()) {
      return PublicError(
          absl::StatusCode::kPermissionDenied,
          absl::StrCat("params.covariates: not a subset of the covariates the approved spec "
                       "gives model '", model.name(), "' (rule covariate-roles)"));
    }
    seen.push_back(c);
  }
  return covs;
}

// The model's rows at this site, prepared once per (model definition,
// covariates, scaling, table content) and kept for the rounds of a fit.
struct Prepared {
  m::ModelRows rows;
  Eigen::MatrixXd x;         // the covariates as the rounds use them (scaled if asked)
  m::CoxStratum stratum;     // Cox, on x
  m::LogisticData logistic;  // logistic, with an intercept column first
  std::vector<std::string> ids;         // the eligible rows' patient ids
  std::vector<std::string> quantities;  // outcome columns + covariates
};

// A small LRU of prepared rows. Keys are content digests (the model's full
// definition, the covariates, the scaling bit for bit, the id column and the
// cells of every column used), so an entry can only ever be returned for the
// same rows: a second model of the same name, a changed table (ComBat adds
// columns; a restore replaces cells) or another study gets its own entry.
class PreparedCache {
 public:
  std::shared_ptr<const Prepared> Find(const std::string& key) {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto it = entries_.begin(); it != entries_.end(); ++it) {
      if (it->first == key) {
        entries_.splice(entries_.begin(), entries_, it);
        return entries_.front().second;
      }
    }
    return nullptr;
  }
  void Put(const std::string& key, std::shared_ptr<const Prepared> value) {
    std::lock_guard<std::mutex> lock(mu_);
    entries_.emplace_front(key, std::move(value));
    while (entries_.size() > 8) entries_.pop_back();
  }

 private:
  std::mutex mu_;
  std::list<std::pair<std::string, std::shared_ptr<const Prepared>>> entries_;
};

PreparedCache& Cache() {
  static PreparedCache* cache = new PreparedCache();
  return *cache;
}

// The cache key of Prepare: see PreparedCache.
std::string PreparedKey(const TaskContext& ctx, const v1::Model& model,
                        const std::vector<std::string>& covs, const m::Scaling* scaling) {
  Sha256Hasher h;
  h.Update(absl::StrCat(ctx.task->study_id().size(), ":", ctx.task->study_id(), "|"));
  const std::string definition = model.SerializeAsString();
  h.Update(absl::StrCat(definition.size(), ":"));
  h.Update(definition);
  h.Update(absl::StrCat("|id:", ctx.id_column, "|covs:", absl::StrJoin(covs, "\n"), "|"));
  if (scaling != nullptr) {
    for (Eigen::Index j = 0; j < scaling->center.size(); ++j) {
      h.Update(absl::StrFormat("%a,%a;", scaling->center[j], scaling->scale[j]));
    }
  }
  std::vector<std::string> columns = OutcomeNames(Outcome(model));
  columns.insert(columns.end(), covs.begin(), covs.end());
  columns.push_back(ctx.id_column);
  const CsvTable& t = *ctx.table;
  h.Update(absl::StrCat("|rows:", t.num_rows(), "|"));
  for (const std::string& c : columns) {
    const int j = t.ColumnIndex(c);
    h.Update(absl::StrCat(c.size(), ":", c, "@", j, "|"));
    if (j < 0) continue;
    for (size_t r = 0; r < t.num_rows(); ++r) {
      const std::string& cell = t.cell(r, static_cast<size_t>(j));
      h.Update(absl::StrCat(cell.size(), ":"));
      h.Update(cell);
    }
  }
  return h.FinalHex();
}

absl::StatusOr<std::shared_ptr<const Prepared>> PrepareRows(const TaskContext& ctx,
                                                            const v1::Model& model,
                                                            const std::vector<std::string>& covs,
                                                            const m::Scaling* scaling) {
  const std::string key = PreparedKey(ctx, model, covs, scaling);
  if (auto hit = Cache().Find(key)) return hit;

  auto prep = std::make_shared<Prepared>();
  const m::OutcomeColumns outcome = Outcome(model);
  FEDRAD_ASSIGN_OR_RETURN(prep->rows, m::ExtractModelRows(*ctx.table, outcome, covs));
  prep->x = prep->rows.x;
  if (scaling != nullptr) prep->x = m::ApplyScaling(prep->x, *scaling);
  if (IsCox(model)) {
    FEDRAD_ASSIGN_OR_RETURN(prep->stratum,
                            m::CoxStratum::Create(prep->rows.time, prep->rows.status, prep->x));
  } else {
    Eigen::MatrixXd design(prep->x.rows(), prep->x.cols() + 1);
    design.col(0).setOnes();
    design.rightCols(prep->x.cols()) = prep->x;
    FEDRAD_ASSIGN_OR_RETURN(prep->logistic, m::LogisticData::Create(prep->rows.y, design));
  }
  const int id = ctx.table->ColumnIndex(ctx.id_column);
  for (size_t r : prep->rows.row_index) {
    prep->ids.push_back(id >= 0 ? ctx.table->cell(r, static_cast<size_t>(id))
                                : absl::StrCat("row:", r));
  }
  prep->quantities = {LedgerOutcome(outcome)};
  std::shared_ptr<const Prepared> out = prep;
  Cache().Put(key, out);
  return out;
}

// The coordinator's standardisation of a round ("center", "scale"): both or
// neither; one finite value per covariate; every scale finite and > 0.
absl::StatusOr<std::optional<m::Scaling>> RoundScaling(const TaskContext& ctx, size_t p) {
  const v1::Payload& params = ctx.task->params();
  const bool has_center = GetArray(params, "center").ok();
  const bool has_scale = GetArray(params, "scale").ok();
  if (!has_center && !has_scale) return std::optional<m::Scaling>();
  absl::StatusOr<std::vector<double>> center = GetVector(params, "center");
  absl::StatusOr<std::vector<double>> scale = GetVector(params, "scale");
  bool ok = center.ok() && scale.ok() && center->size() == p && scale->size() == p;
  for (size_t j = 0; ok && j < p; ++j) {
    ok = std::isfinite((*center)[j]) && std::isfinite((*scale)[j]) && (*scale)[j] > 0;
  }
  if (!ok) {
    return PublicError(absl::StatusCode::kInvalidArgument,
                       "params.center/scale must both be given, one finite value per covariate, "
                       "scale > 0 (rule bounded-params)");
  }
  m::Scaling s{Eigen::Map<Eigen::VectorXd>(center->data(), static_cast<Eigen::Index>(p)),
               Eigen::Map<Eigen::VectorXd>(scale->data(), static_cast<Eigen::Index>(p))};
  return std::optional<m::Scaling>(s);
}

absl::StatusOr<std::shared_ptr<const Prepared>> Prepare(const TaskContext& ctx,
                                                        const v1::Model& model,
                                                        const std::vector<std::string>& covs) {
  FEDRAD_ASSIGN_OR_RETURN(std::optional<m::Scaling> scaling, RoundScaling(ctx, covs.size()));
  return PrepareRows(ctx, model, covs, scaling ? &*scaling : nullptr);
}

int64_t RowCount(const Prepared& p) {
  return static_cast<int64_t>(p.rows.x.rows());
}

int64_t EventCount(const Prepared& p) {
  int64_t e = 0;
  for (int s : p.rows.status) e += s;
  for (double y : p.rows.y) e += y == 1.0;
  return e;
}

// True for a count of 1..k-1 patients: a cell a site does not release.
bool IsSmallCell(int64_t count, int k) { return count > 0 && count < k; }

// `count` as released: NaN (withheld) when it is 1..k-1.
double ReleasableCount(int64_t count, int k) {
  return IsSmallCell(count, k) ? std::numeric_limits<double>::quiet_NaN()
                               : static_cast<double>(count);
}

// The event count a site releases beside n (models.prepare, models.validate):
// withheld (NaN) when it or the non-events are 1..k-1, so that no released
// count describes fewer than k patients (docs/privacy.md, min-cell-count).
double ReleasableEvents(const Prepared& p, int k) {
  const int64_t events = EventCount(p), rest = RowCount(p) - events;
  const bool small = (events > 0 && events < k) || (rest > 0 && rest < k);
  return small ? std::numeric_limits<double>::quiet_NaN() : static_cast<double>(events);
}

// The release is about the model's outcome and covariates over its rows.
Population ModelPopulation(const Prepared& p) { return Population{p.quantities, p.ids}; }

// Loads the model and the coordinator's covariates for a round (a subset of
// those the approved spec gives the model, else a public refusal).
absl::StatusOr<std::shared_ptr<const Prepared>> ForRound(const TaskContext& ctx,
                                                         const v1::Model** model) {
  FEDRAD_ASSIGN_OR_RETURN(*model, FindModel(ctx));
  FEDRAD_ASSIGN_OR_RETURN(std::vector<std::string> covs, RoundCovariates(ctx, **model));
  return Prepare(ctx, **model, covs);
}

// A site with no part in this round: only its eligible row count.
absl::StatusOr<TaskOutput> Idle(const Prepared& p) {
  TaskOutput out;
  out.n_contributing = RowCount(p);
  AddScalar(&out.payload, "n", static_cast<double>(RowCount(p)));
  out.populations.push_back(ModelPopulation(p));
  return out;
}

// The coordinator's coefficients: exactly `size` finite values.
absl::StatusOr<Eigen::VectorXd> Beta(const TaskContext& ctx, size_t size) {
  absl::StatusOr<std::vector<double>> b = GetVector(ctx.task->params(), "beta");
  bool ok = b.ok() && b->size() == size;
  for (size_t j = 0; ok && j < size; ++j) ok = std::isfinite((*b)[j]);
  if (!ok) {
    return PublicError(absl::StatusCode::kInvalidArgument,
                       absl::StrCat("params.beta must hold ", size,
                                    " finite values, one per coefficient (rule bounded-params)"));
  }
  return Eigen::Map<Eigen::VectorXd>(b->data(), static_cast<Eigen::Index>(size));
}

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

// The development sites the approved spec names for `model`: the
// validation's develop_on for a model it validates with DEVELOP_VALIDATE,
// else the model's develop_on; empty means every site. (The coordinator's
// RunModels makes the same choice.)
std::vector<std::string> SpecDevelopSites(const v1::Study& study, const v1::Model& model) {
  const v1::Validation& v = study.validation();
  const bool validated =
      v.enabled() && (v.models_size() == 0 ||
                      std::find(v.models().begin(), v.models().end(), model.name()) !=
                          v.models().end());
  std::vector<std::string> dev(model.develop_on().begin(), model.develop_on().end());
  if (validated && v.scheme() == v1::Validation::DEVELOP_VALIDATE) {
    dev.assign(v.develop_on().begin(), v.develop_on().end());
  }
  std::sort(dev.begin(), dev.end());
  dev.erase(std::unique(dev.begin(), dev.end()), dev.end());
  return dev;
}

m::FitSpecOptions FitOptions(const v1::Model& model) {
  m::FitSpecOptions o;
  o.name = model.name();
  o.cox = IsCox(model);
  o.eps = model.eps();
  o.max_iterations = model.max_iterations();
  const v1::Penalty& pen = model.penalty();
  o.penalty = pen.type() == v1::Penalty::L2            ? m::FitSpecOptions::PenaltyType::kL2
              : pen.type() == v1::Penalty::ELASTIC_NET ? m::FitSpecOptions::PenaltyType::kElasticNet
                                                        : m::FitSpecOptions::PenaltyType::kNone;
  o.lambda = pen.lambda();
  o.lambda_grid.assign(pen.lambda_grid().begin(), pen.lambda_grid().end());
  o.l1_ratio = pen.l1_ratio();
  o.standardize = model.standardize();
  o.score_p_value = model.selection().score_p_value();
  o.max_covariates = model.selection().max_covariates();
  o.max_abs_correlation = model.selection().max_abs_correlation();
  return o;
}

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
  const m::FitSpecOptions o = FitOptions(model);
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
  if (Param(ctx, "covariates").empty()) {
    FEDRAD_ASSIGN_OR_RETURN(covs, ResolveCovariates(ctx, *model));
  } else {
    FEDRAD_ASSIGN_OR_RETURN(covs, RoundCovariates(ctx, *model));
  }
  FEDRAD_ASSIGN_OR_RETURN(std::shared_ptr<const Prepared> p, PrepareRows(ctx, *model, covs, nullptr));
  m::CrossProducts cp = m::ComputeCrossProducts(p->rows.x);
  TaskOutput out;
  out.n_contributing = RowCount(*p);
  out.populations.push_back(ModelPopulation(*p));
  AddScalar(&out.payload, "n", static_cast<double>(RowCount(*p)));
  AddScalar(&out.payload, "events", ReleasableEvents(*p, ctx.min_cell_count));
  AddScalar(&out.payload, "n_excluded", ReleasableCount(p->rows.n_excluded, ctx.min_cell_count));
  AddVector(&out.payload, "sum_x", ToStd(cp.sum));
  AddEigenMatrix(&out.payload, "sum_xx", cp.sum_outer);
  (*out.payload.mutable_strings())["covariates"] = absl::StrJoin(covs, "\n");
  // Exclusion counts of 1..k-1 are cells like any other: "<k" instead.
  std::vector<std::string> reasons;
  for (const auto& [reason, count] : p->rows.excluded_by_reason) {
    reasons.push_back(absl::StrCat(reason, "=", IsSmallCell(count, ctx.min_cell_count)
                                                    ? std::string("<k")
                                                    : absl::StrCat(count)));
  }
  (*out.payload.mutable_strings())["excluded"] = absl::StrJoin(reasons, "\n");
  return out;
}

absl::StatusOr<TaskOutput> DerivativesTask(TaskContext& ctx) {
  const v1::Model* model = nullptr;
  FEDRAD_ASSIGN_OR_RETURN(std::shared_ptr<const Prepared> p, ForRound(ctx, &model));
  if (Param(ctx, "role") == "idle") return Idle(*p);
  FEDRAD_RETURN_IF_ERROR(CheckTies(*model));
  FEDRAD_RETURN_IF_ERROR(CheckEventBalance(ctx, *model, *p));
  const size_t k = static_cast<size_t>(p->rows.x.cols()) + (IsCox(*model) ? 0 : 1);
  FEDRAD_ASSIGN_OR_RETURN(Eigen::VectorXd beta, Beta(ctx, k));
  FEDRAD_RETURN_IF_ERROR(CheckBeta(ctx, *model, *p, beta));
  FEDRAD_RETURN_IF_ERROR(CountEvaluation(ctx, *model));
  const m::Derivatives d = Evaluate(*model, *p, beta);
  TaskOutput out;
  out.n_contributing = d.n;
  out.populations.push_back(ModelPopulation(*p));
  AddScalar(&out.payload, "n", static_cast<double>(d.n));
  AddScalar(&out.payload, "events", static_cast<double>(d.events));
  AddScalar(&out.payload, "loglik", d.loglik);
  AddVector(&out.payload, "gradient", ToStd(d.gradient));
  AddEigenMatrix(&out.payload, "information", d.information);
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
  if (Param(ctx, "role") == "idle") return Idle(*p);
  if (SpecDevelopSites(ctx.task->study(), *model) != std::vector<std::string>{ctx.site_id}) {
    return PublicError(absl::StatusCode::kPermissionDenied,
                       absl::StrCat("models.fit: the approved spec does not develop model '",
                                    model->name(), "' on this site alone (rule single-site-fit)"));
  }
  FEDRAD_RETURN_IF_ERROR(CheckTies(*model));
  FEDRAD_RETURN_IF_ERROR(CheckEventBalance(ctx, *model, *p));

  const m::FitSpecOptions options = FitOptions(*model);
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
  AddScalar(&out.payload, "n", static_cast<double>(fit->n));
  AddScalar(&out.payload, "events", static_cast<double>(fit->events));
  AddScalar(&out.payload, "loglik", fit->loglik);
  AddScalar(&out.payload, "loglik_null", fit->loglik_null);
  AddScalar(&out.payload, "iterations", fit->iterations);
  AddScalar(&out.payload, "halvings", fit->halvings);
  AddVector(&out.payload, "beta", ToStd(fit->beta));
  AddEigenMatrix(&out.payload, "covariance", fit->covariance);
  if (!fit->score_tests.empty()) {
    std::vector<double> chi2, pv;
    for (const m::ScoreTest& t : fit->score_tests) {
      chi2.push_back(t.chi2);
      pv.push_back(t.p_value);
    }
    AddVector(&out.payload, "score_chi2", chi2);
    AddVector(&out.payload, "score_p_value", pv);
  }
  if (fit->standardized) {
    AddVector(&out.payload, "center", ToStd(fit->scaling.center));
    AddVector(&out.payload, "scale", ToStd(fit->scaling.scale));
  }
  if (options.penalty != m::FitSpecOptions::PenaltyType::kNone) {
    AddScalar(&out.payload, "lambda", fit->lambda);
  }
  (*out.payload.mutable_strings())["covariates"] = absl::StrJoin(fit->covariates, "\n");
  (*out.payload.mutable_strings())["candidates"] = absl::StrJoin(covs, "\n");
  return out;
}

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
Population WholePopulation(const v1::Model& model, const std::vector<std::string>& covs,
                           const std::vector<std::string>& ids) {
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
};
absl::StatusOr<Frozen> DevelopmentCoefficients(const TaskContext& ctx, const v1::Model& model,
                                               const Prepared& p, const std::string& kind) {
  const bool cox = IsCox(model);
  const size_t k = static_cast<size_t>(p.rows.x.cols()) + (cox ? 0 : 1);
  Frozen f;
  FEDRAD_ASSIGN_OR_RETURN(f.beta, Beta(ctx, k));
  f.lp = ToStd(LinearPredictor(p, f.beta, cox));
  FEDRAD_RETURN_IF_ERROR(CheckSiteFit(*ctx.state, model.name(),
                                      SplitLines(Param(ctx, "covariates")), ToStd(f.beta), kind,
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
  if (Param(ctx, "role") == "idle") return Idle(*p);
  if (!IsCox(*model)) {
    return PublicError(absl::StatusCode::kInvalidArgument,
                       "models.baseline: model: is for Cox models (rule model-type)");
  }
  FEDRAD_ASSIGN_OR_RETURN(Frozen frozen, DevelopmentCoefficients(ctx, *model, *p, "models.baseline"));
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
  const std::vector<std::string> covs = SplitLines(Param(ctx, "covariates"));
  FEDRAD_ASSIGN_OR_RETURN(std::vector<std::string> ids, RowIds(ctx, *model, covs, *p));
  TaskOutput out;
  out.n_contributing = RowCount(*p);
  AddScalar(&out.payload, "n", static_cast<double>(RowCount(*p)));
  AddVector(&out.payload, "grid", grid);
  AddVector(&out.payload, "grid_events", sums.events);
  AddVector(&out.payload, "grid_risk_sum", sums.risk_sum);
  out.populations.push_back(WholePopulation(*model, covs, ids));
  return out;
}

absl::StatusOr<TaskOutput> LpSummaryTask(TaskContext& ctx) {
  const v1::Model* model = nullptr;
  FEDRAD_ASSIGN_OR_RETURN(std::shared_ptr<const Prepared> p, ForRound(ctx, &model));
  if (Param(ctx, "role") == "idle") return Idle(*p);
  FEDRAD_ASSIGN_OR_RETURN(Frozen frozen,
                          DevelopmentCoefficients(ctx, *model, *p, "models.lp_summary"));
  // Cumulative counts on a lattice the site fixes (a "nice" step of about a
  // tenth of its own lp's SD), released only where >= k patients were added;
  // any coordinator "thresholds" are ignored.
  const m::ColumnMoments mom = m::ComputeMoments(frozen.lp);
  const double sd = mom.n > 1 ? std::sqrt(mom.m2 / static_cast<double>(mom.n - 1)) : 0.0;
  const m::LatticeCounts counts = m::CountsOnLattice(
      frozen.lp, m::NiceStepAtMost(sd > 0 ? sd / 10 : 1.0), ctx.min_cell_count, kMaxGridPoints);
  const std::vector<std::string> covs = SplitLines(Param(ctx, "covariates"));
  FEDRAD_ASSIGN_OR_RETURN(std::vector<std::string> ids, RowIds(ctx, *model, covs, *p));
  TaskOutput out;
  out.n_contributing = RowCount(*p);
  AddScalar(&out.payload, "n", static_cast<double>(RowCount(*p)));
  AddVector(&out.payload, "grid", counts.grid);
  AddVector(&out.payload, "counts", counts.counts);
  out.populations.push_back(WholePopulation(*model, covs, ids));
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
      AddScalar(&out->payload, "curve.calibration.suppressed", 1);
    } else {
      AddVector(&out->payload, "curve.calibration.predicted", cal->predicted);
      AddVector(&out->payload, "curve.calibration.observed", cal->observed);
      AddVector(&out->payload, "curve.calibration.ci_low", cal->ci_low);
      AddVector(&out->payload, "curve.calibration.ci_high", cal->ci_high);
      AddVector(&out->payload, "curve.calibration.n",
                std::vector<double>(cal->n.begin(), cal->n.end()));
      for (const std::vector<int>& bin :
           m::EqualCountBins(risk, static_cast<int>(cal->n.size()))) {
        out->populations.push_back(SubPopulation(q + "calibration_bin", ids, bin));
      }
    }
  }
  absl::StatusOr<std::vector<double>> cuts = GetVector(params, "km_cuts");
  if (cox && cuts.ok() && settings.km_time_step > 0) {
    FEDRAD_RETURN_IF_ERROR(CheckCuts(*cuts));
    FEDRAD_ASSIGN_OR_RETURN(
        std::vector<m::RiskGroupCurve> groups,
        m::RiskGroupCurves(rows.time, rows.status, ToStd(lp), *cuts, KmLattice(settings), k));
    const char* const keys[] = {"low", "intermediate", "high"};
    for (size_t g = 0; g < groups.size() && g < 3; ++g) {
      const std::string prefix = absl::StrCat("curve.km.", keys[g], ".");
      const m::RiskGroupCurve& c = groups[g];
      if (c.suppressed) {  // nothing else, not even its size
        AddScalar(&out->payload, prefix + "suppressed", 1);
        continue;
      }
      AddScalar(&out->payload, prefix + "n", static_cast<double>(c.n));
      if (c.events >= 0) AddScalar(&out->payload, prefix + "events", static_cast<double>(c.events));
      AddVector(&out->payload, prefix + "time", c.time);
      AddVector(&out->payload, prefix + "survival", c.survival);
      AddVector(&out->payload, prefix + "n_at_risk", c.n_at_risk);
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
  AddScalar(&out->payload, "curve.roc.n_pos", ReleasableCount(roc.n_pos, k));
  AddScalar(&out->payload, "curve.roc.n_neg", ReleasableCount(roc.n_neg, k));
  if (roc.suppressed) {
    AddScalar(&out->payload, "curve.roc.suppressed", 1);
  } else {
    AddVector(&out->payload, "curve.roc.fpr", roc.fpr);
    AddVector(&out->payload, "curve.roc.tpr", roc.tpr);
    AddVector(&out->payload, "curve.roc.threshold", roc.threshold);
    for (const std::vector<int>& v : site_roc.vertex_rows) {
      out->populations.push_back(SubPopulation(q + "roc_vertex", ids, v));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<TaskOutput> ValidateTask(TaskContext& ctx) {
  const v1::Model* model = nullptr;
  FEDRAD_ASSIGN_OR_RETURN(std::shared_ptr<const Prepared> p, ForRound(ctx, &model));
  if (Param(ctx, "role") == "idle") return Idle(*p);
  const v1::Payload& params = ctx.task->params();
  const bool cox = IsCox(*model);
  const size_t k = static_cast<size_t>(p->rows.x.cols()) + (cox ? 0 : 1);
  FEDRAD_ASSIGN_OR_RETURN(Eigen::VectorXd beta, Beta(ctx, k));
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
  FEDRAD_RETURN_IF_ERROR(CheckLinearPredictor(ToStd(lp), "models.validate"));
  m::MetricFunction compute;
  std::vector<double> grid, cumhaz;
  const double t = settings.t, tau = settings.tau, threshold = settings.threshold;
  if (cox) {
    FEDRAD_ASSIGN_OR_RETURN(grid, GetVector(params, "grid"));
    FEDRAD_ASSIGN_OR_RETURN(cumhaz, GetVector(params, "cumhaz"));
    FEDRAD_RETURN_IF_ERROR(CheckBaselineHazard(grid, cumhaz));
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
  const std::vector<std::string> covs = SplitLines(Param(ctx, "covariates"));
  FEDRAD_ASSIGN_OR_RETURN(std::vector<std::string> ids, RowIds(ctx, *model, covs, *p));
  TaskOutput out;
  out.n_contributing = n;
  out.populations.push_back(WholePopulation(*model, covs, ids));
  AddScalar(&out.payload, "n", n);
  AddScalar(&out.payload, "events", ReleasableEvents(*p, ctx.min_cell_count));
  AddScalar(&out.payload, "n_excluded", ReleasableCount(rows.n_excluded, ctx.min_cell_count));
  AddScalar(&out.payload, "bootstrap_replicates", boot.replicates);
  for (const auto& [name, e] : estimates) {
    AddScalar(&out.payload, absl::StrCat("metric.", name), e.value);
    if (name == "concordant" || name == "discordant" || name == "tied_risk") continue;
    if (boot.replicates > 0) {
      AddScalar(&out.payload, absl::StrCat("metric.", name, "_ci_low"), e.ci_low);
      AddScalar(&out.payload, absl::StrCat("metric.", name, "_ci_high"), e.ci_high);
      AddScalar(&out.payload, absl::StrCat("metric.", name, "_se_logit"), e.se_logit);
      AddScalar(&out.payload, absl::StrCat("metric.", name, "_replicates"), e.replicates_used);
    }
  }
  FEDRAD_RETURN_IF_ERROR(AddCurves(ctx, *model, *p, lp, grid, cumhaz, settings, ids, &out));
  return out;
}

}  // namespace

void RegisterModelTasks(TaskRegistry& registry) {
  registry.Register(TaskKind{
      "models.prepare",
      "model inputs: covariate names, n, events, excluded rows by reason, sum x, sum x x^T",
      {"n", "events", "n_excluded", "sum_x", "sum_xx", "covariates", "excluded"},
      &PrepareTask});
  registry.Register(TaskKind{
      "models.derivatives",
      "log-likelihood, gradient and information of the site's rows at the given coefficients",
      {"n", "events", "loglik", "gradient", "information"},
      &DerivativesTask});
  registry.Register(TaskKind{
      "models.fit",
      "the whole fit of a model the approved spec develops on this site alone: coefficients, "
      "their covariance, the fit summary and the selection details",
      {"n", "events", "loglik", "loglik_null", "iterations", "halvings", "beta", "covariance",
       "score_chi2", "score_p_value", "center", "scale", "lambda", "covariates", "candidates"},
      &FitTask});
  registry.Register(TaskKind{
      "models.baseline",
      "Cox: events and risk-set sums of exp(x beta) on a time grid the site fixes (each step "
      ">= k patients leaving the risk set), with the grid",
      {"n", "grid", "grid_events", "grid_risk_sum"},
      &BaselineTask});
  registry.Register(TaskKind{
      "models.lp_summary",
      "how many patients have the frozen model's linear predictor at or below each point of a "
      "lattice the site fixes, released only where >= k were added (no value is released)",
      {"n", "grid", "counts"},
      &LpSummaryTask});
  registry.Register(TaskKind{
      "models.validate",
      "validation metrics of a frozen model on the site's rows, with local bootstrap CIs; "
      "curve aggregates (calibration bins, Kaplan-Meier by risk group, ROC) on grids and "
      "thresholds the site fixes, each step over 0 or >= k patients",
      {"n", "events", "n_excluded", "bootstrap_replicates", "metric.*", "curve.*"},
      &ValidateTask});
}

}  // namespace fedrad::site
