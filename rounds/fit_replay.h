// Replaying a federated model fit from its verified transcript (issue 12):
// models::FitSpec (selection, lambda by leave-one-site-out CV, Newton with
// step-halving, penalty) run with an evaluator that answers each evaluation
// from the sum of the signed models.derivatives contributions of its round.
//
// The coordinator, every development site and the auditor run this same
// code on the same numbers, so each gets the same coefficients bit for bit.
// A site stops at the first evaluation the transcript does not cover: that
// evaluation (covariates, scaling, sites, beta) is the only one it computes.
//
//   FEDRAD_ASSIGN_OR_RETURN(rounds::FitReplay r,
//                           rounds::ReplayFit(model, rounds::kDevelopmentFit, sites, transcript));
//   if (!r.complete) { ... compute r.next ... } else { ... r.fit is the model ... }
//
// Thread safety: reentrant.
#ifndef FEDRAD_ROUNDS_FIT_REPLAY_H_
#define FEDRAD_ROUNDS_FIT_REPLAY_H_

#include <cstdint>
#include <string>
#include <vector>

#include <Eigen/Dense>

#include "absl/status/statusor.h"
#include "models/data.h"
#include "models/derivatives.h"
#include "models/fit_spec.h"
#include "proto/models.pb.h"
#include "rounds/transcript.h"

namespace fedrad::rounds {

// The summed arrays of one models.derivatives round (n, events, loglik,
// gradient, information) as Derivatives with p coefficients. InvalidArgument
// when a size does not match.
absl::StatusOr<models::Derivatives> DerivativesFromSums(const Sums& sums, int p);

// The pooled inputs of a fit over `sites` from their signed models.prepare
// contributions: candidate covariates (every site must agree), the summed
// cross-products and events. FailedPrecondition when a site withheld its
// event count (fewer than k events or non-events).
struct PreparedFit {
  std::vector<std::string> candidates;
  models::CrossProducts pooled;
  int64_t events = 0;
};
absl::StatusOr<PreparedFit> PreparedFromTranscript(const std::string& model,
                                                   const std::vector<std::string>& sites,
                                                   const VerifiedTranscript& transcript);

// One evaluation of the derivatives, as FitSpec asks for it.
struct EvaluationRequest {
  int64_t index = 0;  // its round: EvalRound(model, fit, index)
  std::vector<std::string> covariates;
  bool scaled = false;
  models::Scaling scaling;         // when scaled
  std::vector<std::string> sites;  // whose sum it is
  Eigen::VectorXd beta;
};

struct FitReplay {
  bool complete = false;
  models::SpecFit fit;      // complete: the fit, as the coordinator reports it
  EvaluationRequest next;   // not complete: the first evaluation not covered
  int64_t evaluations = 0;  // evaluations the transcript covered
  std::vector<std::string> candidates;
};

// Replays the fit `fit_id` of `model` over `sites` (its development sites).
// Each covered evaluation must have the signed contributions of exactly the
// sites it sums, made at the covariates, scaling and beta the replay asks for
// (Agree, 1e-12 relative): otherwise FailedPrecondition naming the round and
// the site. FitSpec's own errors (e.g. Newton fails) are returned as they are.
absl::StatusOr<FitReplay> ReplayFit(const v1::Model& model, const std::string& fit_id,
                                    const std::vector<std::string>& sites,
                                    const VerifiedTranscript& transcript);

// The frozen coefficients of a model for validation: the completed replay
// of a multi-site fit, or the signed models.fit result of the one
// development site. `names` gets the coefficient names.
struct FrozenModel {
  std::vector<std::string> covariates;
  Eigen::VectorXd beta;  // original covariate scale; logistic: intercept first
  std::string source;    // "fit transcript" / "signed models.fit of S1"
};
absl::StatusOr<FrozenModel> FrozenFromTranscript(const v1::Model& model, const std::string& fit_id,
                                                 const std::vector<std::string>& sites,
                                                 bool at_site,
                                                 const VerifiedTranscript& transcript);

}  // namespace fedrad::rounds

#endif  // FEDRAD_ROUNDS_FIT_REPLAY_H_
