// The model's rows at a site, shared by the site's model tasks
// (site_node/internal/model_rows.h): the model a task names, its covariates
// as this site resolves them from the approved spec, the prepared rows (a
// small cache keyed by content digests), the counts a site may release and
// the coordinator's coefficients. The tasks are site_node/tasks_models.cc
// (models.prepare, models.derivatives, models.fit) and
// site_node/tasks_validation.cc (models.baseline, models.lp_summary,
// models.validate).
#include "site_node/internal/model_rows.h"

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

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "core/csv.h"
#include "core/hash.h"
#include "core/status.h"
#include "models/cox.h"
#include "models/data.h"
#include "models/logistic.h"
#include "proto/task_kinds.h"
#include "rounds/kind_eigen.h"
#include "site_node/site_rules.h"
#include "site_node/task_registry.h"

namespace fedrad::site::internal {

namespace mt = ::fedrad::kinds::model_task;

bool IsIdle(const TaskContext& ctx) {
  return kinds::Get(ctx.task->params(), mt::kRole) == mt::kIdle;
}

std::vector<double> ToStd(const Eigen::VectorXd& v) { return kinds::ToStd(v); }

// The model `params.model` names in the approved spec (Task.study). The
// name is never echoed: it comes from the coordinator.
absl::StatusOr<const v1::Model*> FindModel(const TaskContext& ctx) {
  const std::string name = kinds::Get(ctx.task->params(), mt::kModel);
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

namespace {

std::vector<std::string> OutcomeNames(const m::OutcomeColumns& out) {
  return out.survival ? std::vector<std::string>{out.time, out.event}
                      : std::vector<std::string>{out.outcome};
}

}  // namespace

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
  FEDRAD_ASSIGN_OR_RETURN(std::vector<std::string> allowed, ResolveCovariates(ctx, model));
  if (kinds::ListBytes(ctx.task->params(), mt::kCovariates) > kMaxParamStringBytes) {
    return PublicError(absl::StatusCode::kInvalidArgument,
                       "params.covariates is too long (rule bounded-params)");
  }
  std::vector<std::string> covs = kinds::Get(ctx.task->params(), mt::kCovariates);
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

// Prepared (the model's rows at this site): internal/model_rows.h.

namespace {

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

}  // namespace

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

namespace {

// The coordinator's standardisation of a round ("center", "scale"): both or
// neither; one finite value per covariate; every scale finite and > 0.
absl::StatusOr<std::optional<m::Scaling>> RoundScaling(const TaskContext& ctx, size_t p) {
  const v1::Payload& params = ctx.task->params();
  const bool has_center = kinds::Has(params, mt::kCenter);
  const bool has_scale = kinds::Has(params, mt::kScale);
  if (!has_center && !has_scale) return std::optional<m::Scaling>();
  absl::StatusOr<std::vector<double>> center = kinds::Get(params, mt::kCenter);
  absl::StatusOr<std::vector<double>> scale = kinds::Get(params, mt::kScale);
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

}  // namespace

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
  kinds::Put(&out.payload, mt::kN, static_cast<double>(RowCount(p)));
  out.populations.push_back(ModelPopulation(p));
  return out;
}

// The coordinator's coefficients: exactly `size` finite values.
absl::StatusOr<Eigen::VectorXd> Beta(const TaskContext& ctx, size_t size) {
  absl::StatusOr<std::vector<double>> b = kinds::Get(ctx.task->params(), mt::kBeta);
  bool ok = b.ok() && b->size() == size;
  for (size_t j = 0; ok && j < size; ++j) ok = std::isfinite((*b)[j]);
  if (!ok) {
    return PublicError(absl::StatusCode::kInvalidArgument,
                       absl::StrCat("params.beta must hold ", size,
                                    " finite values, one per coefficient (rule bounded-params)"));
  }
  return Eigen::Map<Eigen::VectorXd>(b->data(), static_cast<Eigen::Index>(size));
}

}  // namespace fedrad::site::internal
