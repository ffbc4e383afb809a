// Newton-Raphson for a log-likelihood given as a black box that returns its
// value, gradient and information at a point: the same optimiser serves the
// pooled path (the evaluator sums Derivatives over in-memory sites) and the
// federated path (the evaluator runs one round: each site returns its
// Derivatives, the coordinator adds them). Both paths therefore take the same
// steps and stop at the same iterate.
//
//   NewtonOptions opt = CoxphControl();
//   auto eval = [&](const Eigen::VectorXd& b) -> absl::StatusOr<Derivatives> {
//     Derivatives sum = Derivatives::Zero(p);
//     for (const CoxStratum& s : sites) sum.Add(CoxDerivatives(s, b, Ties::kBreslow));
//     return sum;
//   };
//   FEDRAD_ASSIGN_OR_RETURN(FitResult fit, FitNewton(eval, names, Eigen::VectorXd::Zero(p), opt));
//
// Objective: Q(beta) = l(beta) - P(beta), with the elastic-net penalty
//   P(beta) = lambda * sum_{j penalised} [ (1 - alpha)/2 beta_j^2 + alpha |beta_j| ],
// alpha = l1_ratio (0: ridge, P = lambda/2 |beta|^2 as in survival::ridge(),
// 1: lasso). l is not divided by n (unlike glmnet).
//
// Iteration (R survival coxfit6.c, which coxph uses): evaluate at the start;
// step to beta + I_Q^{-1} U_Q; after each evaluation stop when
// |Q_new - Q_old| <= eps * (|Q_new| + offset) and the last step was not a
// halving; if Q decreased, halve the step back towards the previous point
// (step-halving); at most max_iterations evaluations after the first. With
// an L1 part the step is a proximal Newton step: the penalised quadratic model
// is maximised by coordinate descent (soft thresholding).
//
// Reported problems (never numbers): singular information (FailedPrecondition
// naming covariates that are constant or linear combinations of earlier
// ones); monotone likelihood / separation (coefficients that keep growing
// when the objective has converged, coxph's toler.inf test); no convergence
// within max_iterations; a non-finite objective.
//
// Thread safety: FitNewton is reentrant; the evaluator is called serially.
#ifndef FEDRAD_MODELS_NEWTON_H_
#define FEDRAD_MODELS_NEWTON_H_

#include <functional>
#include <string>
#include <vector>

#include <Eigen/Dense>

#include "absl/status/statusor.h"
#include "models/derivatives.h"

namespace fedrad::models {

struct Penalty {
  double lambda = 0.0;    // >= 0; 0 means no penalty
  double l1_ratio = 0.0;  // alpha in [0, 1]
  // Which coefficients are penalised; empty means all. (The logistic
  // intercept is not.)
  std::vector<bool> penalized;
};

struct NewtonOptions {
  double eps = 1e-9;            // coxph.control(eps): relative objective change
  double offset = 0.0;          // denominator offset (glm: 0.1 on the deviance scale)
  int max_iterations = 20;      // coxph.control(iter.max)
  double toler_inf = 3.16e-5;   // sqrt(eps): infinite-coefficient test
  double toler_singular = 1e-10;// pivot of the correlation-scaled information
  Penalty penalty;
};

// coxph.control(): eps 1e-9, iter.max 20, toler.inf sqrt(1e-9).
NewtonOptions CoxphControl();
// glm.control() in our terms: eps 1e-8 on the deviance (-2 l) with offset 0.1,
// i.e. |dl| <= 1e-8 (|l| + 0.05); maxit 25.
NewtonOptions GlmControl();

struct FitResult {
  Eigen::VectorXd beta;
  Eigen::MatrixXd covariance;  // inverse penalised information at beta
  Eigen::VectorXd std_errors;  // sqrt(diag(covariance)); NaN with an L1 part
  double loglik = 0.0;         // l at beta (unpenalised)
  double loglik_null = 0.0;    // l at the initial point
  double objective = 0.0;      // Q at beta
  int iterations = 0;          // as coxph's iter
  int halvings = 0;            // step-halvings taken
  Derivatives last;            // the evaluation at beta
};

using Evaluator = std::function<absl::StatusOr<Derivatives>(const Eigen::VectorXd&)>;

// Maximises Q from `init`. `names` (length p) name coefficients in messages.
// Errors from the evaluator are returned annotated; see the file comment for
// the FailedPrecondition cases. InvalidArgument on size mismatches.
absl::StatusOr<FitResult> FitNewton(const Evaluator& evaluate,
                                    const std::vector<std::string>& names,
                                    const Eigen::VectorXd& init, const NewtonOptions& options);

// Checks `information` (p x p, symmetric) for singularity as FitNewton does:
// OK, or FailedPrecondition naming the offending covariates.
absl::Status CheckInformation(const Eigen::MatrixXd& information,
                              const std::vector<std::string>& names, double toler);

}  // namespace fedrad::models

#endif  // FEDRAD_MODELS_NEWTON_H_
