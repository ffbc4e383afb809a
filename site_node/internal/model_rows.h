// Private to the site's model tasks: a model's rows at this site, prepared
// once and shared by the likelihood rounds (site_node/tasks_models.cc) and
// the validation tasks (site_node/tasks_validation.cc). Definitions and their
// comments: site_node/model_rows.cc. Not an API: no other module includes it.
//
//   const v1::Model* model = nullptr;
//   FEDRAD_ASSIGN_OR_RETURN(std::shared_ptr<const Prepared> p, ForRound(ctx, &model));
//   if (IsIdle(ctx)) return Idle(*p);
//
// Thread safe: the prepared-rows cache behind PrepareRows is locked.
#ifndef FEDRAD_SITE_NODE_INTERNAL_MODEL_ROWS_H_
#define FEDRAD_SITE_NODE_INTERNAL_MODEL_ROWS_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <Eigen/Dense>

#include "absl/status/statusor.h"
#include "models/cox.h"
#include "models/data.h"
#include "models/logistic.h"
#include "proto/payload.h"
#include "proto/study.pb.h"
#include "site_node/site_rules.h"
#include "site_node/task_registry.h"

namespace fedrad::site::internal {

namespace m = ::fedrad::models;

// ---- Params, conversions and the model of a task ----------------------------
// True when the task's role (proto/task_kinds.h, model_task) is idle.
bool IsIdle(const TaskContext& ctx);
std::vector<double> ToStd(const Eigen::VectorXd& v);
absl::StatusOr<const v1::Model*> FindModel(const TaskContext& ctx);
bool IsCox(const v1::Model& model);
m::OutcomeColumns Outcome(const v1::Model& model);
std::string LedgerOutcome(const m::OutcomeColumns& out);
absl::StatusOr<std::vector<std::string>> ResolveCovariates(const TaskContext& ctx,
                                                           const v1::Model& model);
absl::StatusOr<std::vector<std::string>> RoundCovariates(const TaskContext& ctx,
                                                         const v1::Model& model);

// ---- Prepared rows -----------------------------------------------------------

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

absl::StatusOr<std::shared_ptr<const Prepared>> PrepareRows(const TaskContext& ctx,
                                                            const v1::Model& model,
                                                            const std::vector<std::string>& covs,
                                                            const m::Scaling* scaling);
int64_t RowCount(const Prepared& p);
int64_t EventCount(const Prepared& p);
bool IsSmallCell(int64_t count, int k);
double ReleasableCount(int64_t count, int k);
double ReleasableEvents(const Prepared& p, int k);
Population ModelPopulation(const Prepared& p);
absl::StatusOr<std::shared_ptr<const Prepared>> ForRound(const TaskContext& ctx,
                                                         const v1::Model** model);
absl::StatusOr<TaskOutput> Idle(const Prepared& p);
absl::StatusOr<Eigen::VectorXd> Beta(const TaskContext& ctx, size_t size);

// Registers models.baseline, models.lp_summary and models.validate
// (site_node/tasks_validation.cc); RegisterModelTasks calls it.
void RegisterValidationTasks(TaskRegistry& registry);

}  // namespace fedrad::site::internal

#endif  // FEDRAD_SITE_NODE_INTERNAL_MODEL_ROWS_H_
