#include "site_node/model_spec.h"

namespace fedrad {

models::FitSpecOptions FitSpecOptionsOf(const v1::Model& model) {
  using PenaltyType = models::FitSpecOptions::PenaltyType;
  models::FitSpecOptions o;
  o.name = model.name();
  o.cox = model.type() == v1::Model::COX;
  o.eps = model.eps();
  o.max_iterations = model.max_iterations();
  const v1::Penalty& pen = model.penalty();
  o.penalty = pen.type() == v1::Penalty::L2            ? PenaltyType::kL2
              : pen.type() == v1::Penalty::ELASTIC_NET ? PenaltyType::kElasticNet
                                                        : PenaltyType::kNone;
  o.lambda = pen.lambda();
  o.lambda_grid.assign(pen.lambda_grid().begin(), pen.lambda_grid().end());
  o.l1_ratio = pen.l1_ratio();
  o.standardize = model.standardize();
  o.score_p_value = model.selection().score_p_value();
  o.max_covariates = model.selection().max_covariates();
  o.max_abs_correlation = model.selection().max_abs_correlation();
  return o;
}

}  // namespace fedrad
