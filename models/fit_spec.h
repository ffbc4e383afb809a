// The whole fitting procedure of one study model, written once and run in
// two places: by the coordinator over several development sites (its
// evaluator runs a models.derivatives round and adds the sites' answers), and
// by a site that develops the model alone (task models.fit: its evaluator
// reads the site's own rows). Both therefore take the same steps and release
// the same fit; docs/models.md, "Fitting".
//
// Steps, each optional as the model's options say:
//   1. score-test screening (score_p_value, max_covariates): univariate
//      score tests from one evaluation at the null (Cox beta = 0; logistic
//      the intercept-only MLE, logit of the event rate);
//   2. correlation filter (max_abs_correlation) on the pooled correlation
//      from pooled cross-products, strongest score first;
//   3. standardisation with the pooled mean and SD (n - 1);
//   4. lambda by leave-one-site-out CV over the development sites (needs at
//      least 2 sites; otherwise InvalidArgument, as ChooseLambdaByLoso);
//   5. Newton-Raphson with step-halving (models::FitNewton);
//   6. coefficients and covariance back on the original covariate scale.
//
//   FitSpecInput in;
//   in.candidates = {"x1", "x2"};
//   in.sites = {"A"};
//   in.pooled = ComputeCrossProducts(rows.x);
//   in.events = 42;
//   in.evaluate = [&](const std::vector<std::string>& covs, const Scaling* s,
//                     const std::vector<std::string>& sites, const Eigen::VectorXd& b)
//       -> absl::StatusOr<Derivatives> { ... };
//   FEDRAD_ASSIGN_OR_RETURN(SpecFit fit, FitSpec(options, in));
//
// Plain C++ (no protobuf, STYLE.md rule 7): the callers translate the study's
// Model message into FitSpecOptions. Thread safety: FitSpec is reentrant and
// calls the evaluator serially.
#ifndef FEDRAD_MODELS_FIT_SPEC_H_
#define FEDRAD_MODELS_FIT_SPEC_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <Eigen/Dense>

#include "absl/status/statusor.h"
#include "models/data.h"
#include "models/derivatives.h"
#include "models/newton.h"
#include "models/selection.h"

namespace fedrad::models {

// A model's fitting options (the study's Model message, proto/models.proto).
struct FitSpecOptions {
  std::string name;        // the model's name, in messages
  bool cox = true;         // false: logistic (an intercept first)
  double eps = 0;          // 0: coxph.control / glm.control default
  int max_iterations = 0;  // 0: default (20 Cox, 25 logistic; 100 with a penalty)
  enum class PenaltyType { kNone, kL2, kElasticNet };
  PenaltyType penalty = PenaltyType::kNone;
  double lambda = 0;
  std::vector<double> lambda_grid;  // non-empty: lambda by leave-one-site-out CV
  double l1_ratio = 0;              // elastic net only
  bool standardize = false;
  double score_p_value = 0;         // 0: no screening
  int max_covariates = 0;           // 0: no limit
  double max_abs_correlation = 0;   // 0 (or >= 1): no filter
};

// The Newton options of a model with `p_total` coefficients (logistic: the
// intercept included, and never penalised).
NewtonOptions NewtonOptionsFor(const FitSpecOptions& options, int p_total);

// How many evaluations of the derivatives one development site answers at
// most for one FitSpec over `development_sites` sites: the score tests (1),
// each lambda of the grid (the site trains in development_sites - 1 folds
// and is held out once), and the final fit; a fit takes at most
// max_iterations + 1 evaluations (step-halvings count as iterations, as in
// coxph).
int64_t MaxEvaluationsPerFit(const FitSpecOptions& options, int64_t development_sites);

// Evaluates the log-likelihood pieces of the model restricted to
// `covariates` (a subset of the candidates, in their order), each
// standardised by `scaling` when not null, summed over `sites` (a subset of
// FitSpecInput::sites), at `beta` (logistic: the intercept first).
using SpecEvaluator = std::function<absl::StatusOr<Derivatives>(
    const std::vector<std::string>& covariates, const Scaling* scaling,
    const std::vector<std::string>& sites, const Eigen::VectorXd& beta)>;

struct FitSpecInput {
  std::vector<std::string> candidates;  // the resolved covariates, table order
  std::vector<std::string> sites;       // development sites (folds for CV)
  CrossProducts pooled;                 // over `sites`, of the candidates
  int64_t events = 0;                   // over `sites`
  SpecEvaluator evaluate;
  // Called once, right before the final Newton fit (timing, progress).
  std::function<void()> before_final_fit;
};

struct SpecFit {
  std::vector<std::string> covariates;  // used in the fit (after selection)
  std::vector<std::string> names;       // coefficient names ("intercept" first if logistic)
  Eigen::VectorXd beta;                 // original covariate scale
  Eigen::MatrixXd covariance;           // original scale; NaN with an L1 part
  Eigen::VectorXd std_errors;           // sqrt(diag(covariance))
  double loglik = 0, loglik_null = 0;
  int iterations = 0, halvings = 0;
  int64_t n = 0, events = 0;
  // Score tests, one per candidate, when screening ran (else empty).
  std::vector<ScoreTest> score_tests;
  // Pooled centre and scale of the used covariates, when standardised.
  bool standardized = false;
  Scaling scaling;
  // The lambda used (0 without a penalty); with a grid, the grid and the
  // summed held-out deviance per lambda.
  double lambda = 0;
  std::vector<double> lambda_grid, cv_deviance;
  // Wall time of the final Newton fit, in seconds.
  double newton_seconds = 0;
};

// Fits the model. Errors: FailedPrecondition when selection keeps no
// covariate, a covariate has zero pooled variance, or Newton fails
// (singular information, separation, no convergence; annotated with the
// model and its sites); InvalidArgument on inconsistent input (e.g. a
// lambda grid with fewer than 2 development sites); the evaluator's errors
// unchanged.
absl::StatusOr<SpecFit> FitSpec(const FitSpecOptions& options, const FitSpecInput& input);

// The coefficients of a fit on the standardised scale, back on the original
// scale: beta_orig = A beta_std, covariance_orig = A C A^T. Exposed for
// tests; `cox` false puts the intercept first.
Eigen::MatrixXd UnstandardizeMatrix(const Scaling& scaling, bool cox);

}  // namespace fedrad::models

#endif  // FEDRAD_MODELS_FIT_SPEC_H_
