#include "models/fit_spec.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/status.h"

namespace fedrad::models {
namespace {

std::vector<std::string> Minus(const std::vector<std::string>& all, const std::string& drop) {
  std::vector<std::string> out;
  for (const auto& s : all) {
    if (s != drop) out.push_back(s);
  }
  return out;
}

bool Screens(const FitSpecOptions& o) { return o.score_p_value > 0 || o.max_covariates > 0; }

}  // namespace

NewtonOptions NewtonOptionsFor(const FitSpecOptions& model, int p_total) {
  NewtonOptions opt = model.cox ? CoxphControl() : GlmControl();
  if (model.eps > 0) {
    opt.eps = model.eps;
    opt.toler_inf = std::sqrt(model.eps);
  }
  if (model.max_iterations > 0) opt.max_iterations = model.max_iterations;
  if (model.penalty != FitSpecOptions::PenaltyType::kNone) {
    opt.penalty.l1_ratio =
        model.penalty == FitSpecOptions::PenaltyType::kElasticNet ? model.l1_ratio : 0.0;
    opt.penalty.lambda = model.lambda;
    if (!model.cox) {
      opt.penalty.penalized.assign(static_cast<size_t>(std::max(p_total, 1)), true);
      opt.penalty.penalized[0] = false;  // the intercept
    }
    if (model.max_iterations <= 0) opt.max_iterations = std::max(opt.max_iterations, 100);
  }
  return opt;
}

int64_t MaxEvaluationsPerFit(const FitSpecOptions& options, int64_t development_sites) {
  const int64_t per_newton = NewtonOptionsFor(options, 1).max_iterations + 1;
  int64_t total = per_newton + (Screens(options) ? 1 : 0);
  if (options.penalty != FitSpecOptions::PenaltyType::kNone && !options.lambda_grid.empty() &&
      development_sites >= 2) {
    total += static_cast<int64_t>(options.lambda_grid.size()) *
             ((development_sites - 1) * per_newton + 1);
  }
  return total;
}

Eigen::MatrixXd UnstandardizeMatrix(const Scaling& scaling, bool cox) {
  const Eigen::Index p = scaling.scale.size();
  const Eigen::Index off = cox ? 0 : 1;
  Eigen::MatrixXd a = Eigen::MatrixXd::Identity(p + off, p + off);
  for (Eigen::Index j = 0; j < p; ++j) {
    a(j + off, j + off) = 1.0 / scaling.scale[j];
    if (!cox) a(0, j + off) = -scaling.center[j] / scaling.scale[j];
  }
  return a;
}

namespace {

// Screening by univariate score tests at the null (the intercept-only MLE
// for a logistic model): the candidates' indices in order of score, those
// with a p-value at or above model.score_p_value (when set) left out; the
// tests go to fit->score_tests.
absl::StatusOr<std::vector<int>> ScreenByScore(const FitSpecOptions& model,
                                               const FitSpecInput& in, SpecFit* fit) {
  const bool cox = model.cox;
  const std::vector<std::string>& covs = in.candidates;
  const int p_total = static_cast<int>(covs.size()) + (cox ? 0 : 1);
  Eigen::VectorXd at = Eigen::VectorXd::Zero(p_total);
  if (!cox) {
    const double ybar = static_cast<double>(in.events) / static_cast<double>(in.pooled.n);
    at[0] = std::log(ybar / (1 - ybar));  // intercept-only MLE: score test vs the null model
  }
  FEDRAD_ASSIGN_OR_RETURN(Derivatives d0, in.evaluate(covs, nullptr, in.sites, at));
  if (d0.gradient.size() != p_total || d0.information.rows() != p_total ||
      d0.information.cols() != p_total) {
    return absl::InternalError("FitSpec: derivatives of the wrong size");
  }
  Derivatives uni = Derivatives::Zero(static_cast<int>(covs.size()));
  for (size_t j = 0; j < covs.size(); ++j) {
    const Eigen::Index k = static_cast<Eigen::Index>(j) + (cox ? 0 : 1);
    uni.gradient[static_cast<Eigen::Index>(j)] = d0.gradient[k];
    double info = d0.information(k, k);
    if (!cox) info -= d0.information(k, 0) * d0.information(k, 0) / d0.information(0, 0);
    uni.information(static_cast<Eigen::Index>(j), static_cast<Eigen::Index>(j)) = info;
  }
  fit->score_tests = UnivariateScoreTests(uni);
  std::vector<int> keep;
  for (int j : OrderByScore(fit->score_tests)) {
    if (model.score_p_value > 0 &&
        !(fit->score_tests[static_cast<size_t>(j)].p_value < model.score_p_value)) {
      continue;
    }
    keep.push_back(j);
  }
  return keep;
}

}  // namespace

absl::StatusOr<SpecFit> FitSpec(const FitSpecOptions& model, const FitSpecInput& in) {
  const bool cox = model.cox;
  const std::vector<std::string>& covs = in.candidates;
  const std::vector<std::string>& sites = in.sites;
  if (sites.empty()) return absl::InvalidArgumentError("no development site");
  if (covs.empty()) return absl::InvalidArgumentError("the model has no covariates");
  if (!in.evaluate) return absl::InvalidArgumentError("FitSpec: no evaluator");
  if (in.pooled.sum.size() != static_cast<Eigen::Index>(covs.size()) ||
      in.pooled.sum_outer.rows() != static_cast<Eigen::Index>(covs.size()) ||
      in.pooled.sum_outer.cols() != static_cast<Eigen::Index>(covs.size())) {
    return absl::InvalidArgumentError("FitSpec: cross-products do not match the covariates");
  }
  const CrossProducts& pooled = in.pooled;
  SpecFit fit;

  // 1. Screening by univariate score tests at the null.
  std::vector<int> keep(covs.size());
  for (size_t j = 0; j < covs.size(); ++j) keep[j] = static_cast<int>(j);
  if (Screens(model)) {
    FEDRAD_ASSIGN_OR_RETURN(keep, ScreenByScore(model, in, &fit));
  }
  // 2. Correlation filter.
  if (model.max_abs_correlation > 0 && model.max_abs_correlation < 1) {
    Eigen::MatrixXd corr = CorrelationFromCrossProducts(pooled);
    keep = CorrelationFilter(corr, keep, model.max_abs_correlation);
  }
  if (model.max_covariates > 0 && keep.size() > static_cast<size_t>(model.max_covariates)) {
    keep.resize(static_cast<size_t>(model.max_covariates));
  }
  if (keep.empty()) return absl::FailedPreconditionError("feature selection kept no covariate");
  std::sort(keep.begin(), keep.end());  // back to table order
  std::vector<std::string> used;
  CrossProducts sub = CrossProducts::Zero(static_cast<int>(keep.size()));
  sub.n = pooled.n;
  for (size_t a = 0; a < keep.size(); ++a) {
    used.push_back(covs[static_cast<size_t>(keep[a])]);
    sub.sum[static_cast<Eigen::Index>(a)] = pooled.sum[keep[a]];
    for (size_t b = 0; b < keep.size(); ++b) {
      sub.sum_outer(static_cast<Eigen::Index>(a), static_cast<Eigen::Index>(b)) =
          pooled.sum_outer(keep[a], keep[b]);
    }
  }
  fit.covariates = used;
  fit.names = cox ? used : std::vector<std::string>{"intercept"};
  if (!cox) fit.names.insert(fit.names.end(), used.begin(), used.end());
  const int p_total = static_cast<int>(fit.names.size());

  // 3. Standardisation from pooled sums.
  std::unique_ptr<Scaling> scaling;
  if (model.standardize) {
    FEDRAD_ASSIGN_OR_RETURN(Scaling s, ScalingFromCrossProducts(sub, used));
    scaling = std::make_unique<Scaling>(s);
    fit.standardized = true;
    fit.scaling = s;
  }

  // 4. The penalty, with lambda by leave-one-site-out CV when a grid is given.
  NewtonOptions opt = NewtonOptionsFor(model, p_total);
  const bool penalised = model.penalty != FitSpecOptions::PenaltyType::kNone;
  if (penalised && !model.lambda_grid.empty()) {
    auto fold_fit = [&](double lambda, const std::string& out) -> absl::StatusOr<Eigen::VectorXd> {
      NewtonOptions o = opt;
      o.penalty.lambda = lambda;
      const std::vector<std::string> train = Minus(sites, out);
      Evaluator eval = [&](const Eigen::VectorXd& b) {
        return in.evaluate(used, scaling.get(), train, b);
      };
      FEDRAD_ASSIGN_OR_RETURN(FitResult f,
                              FitNewton(eval, fit.names, Eigen::VectorXd::Zero(p_total), o));
      return f.beta;
    };
    auto deviance = [&](const std::string& site, const Eigen::VectorXd& b) -> absl::StatusOr<double> {
      FEDRAD_ASSIGN_OR_RETURN(Derivatives d, in.evaluate(used, scaling.get(), {site}, b));
      return -2 * d.loglik;
    };
    FEDRAD_ASSIGN_OR_RETURN(LambdaChoice choice,
                            ChooseLambdaByLoso(model.lambda_grid, sites, fold_fit, deviance));
    opt.penalty.lambda = choice.lambda;
    fit.lambda_grid = model.lambda_grid;
    fit.cv_deviance = choice.cv_deviance;
  }
  fit.lambda = penalised ? opt.penalty.lambda : 0.0;

  // 5. Newton-Raphson.
  if (in.before_final_fit) in.before_final_fit();
  const auto newton_start = std::chrono::steady_clock::now();
  Evaluator eval = [&](const Eigen::VectorXd& b) {
    return in.evaluate(used, scaling.get(), sites, b);
  };
  absl::StatusOr<FitResult> res = FitNewton(eval, fit.names, Eigen::VectorXd::Zero(p_total), opt);
  fit.newton_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - newton_start).count();
  if (!res.ok()) {
    return Annotate(res.status(), absl::StrCat("model '", model.name, "' on sites ",
                                               absl::StrJoin(sites, ", ")));
  }
  // 6. Back to the original covariate scale: beta_orig = A beta_std.
  const Eigen::MatrixXd a = scaling ? UnstandardizeMatrix(*scaling, cox)
                                    : Eigen::MatrixXd::Identity(p_total, p_total);
  fit.beta = a * res->beta;
  fit.covariance = a * res->covariance * a.transpose();
  fit.std_errors = fit.covariance.diagonal().cwiseSqrt();
  fit.loglik = res->loglik;
  fit.loglik_null = res->loglik_null;
  fit.iterations = res->iterations;
  fit.halvings = res->halvings;
  fit.n = res->last.n;
  fit.events = res->last.events;
  return fit;
}

}  // namespace fedrad::models
