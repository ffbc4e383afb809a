#include "models/newton.h"

#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "core/status.h"

namespace fedrad::models {
namespace {

struct PenaltyTerms {
  Eigen::VectorXd ridge;  // lambda (1 - alpha) on penalised coefficients
  Eigen::VectorXd lasso;  // lambda alpha on penalised coefficients
  bool has_l1 = false;
};

PenaltyTerms MakePenalty(const Penalty& pen, int p) {
  PenaltyTerms t;
  t.ridge = Eigen::VectorXd::Zero(p);
  t.lasso = Eigen::VectorXd::Zero(p);
  for (int j = 0; j < p; ++j) {
    const bool on = pen.penalized.empty() || pen.penalized[static_cast<size_t>(j)];
    if (!on) continue;
    t.ridge[j] = pen.lambda * (1.0 - pen.l1_ratio);
    t.lasso[j] = pen.lambda * pen.l1_ratio;
  }
  t.has_l1 = t.lasso.maxCoeff() > 0;
  return t;
}

double Objective(const Derivatives& d, const Eigen::VectorXd& b, const PenaltyTerms& t) {
  return d.loglik - 0.5 * (t.ridge.array() * b.array().square()).sum() -
         (t.lasso.array() * b.array().abs()).sum();
}

double SoftThreshold(double z, double g) {
  if (z > g) return z - g;
  if (z < -g) return z + g;
  return 0.0;
}

// Maximiser of the penalised quadratic model of Q around `beta`.
Eigen::VectorXd ProximalNewtonStep(const Derivatives& d, const Eigen::VectorXd& beta,
                                   const PenaltyTerms& t) {
  const int p = static_cast<int>(beta.size());
  const Eigen::MatrixXd& info = d.information;
  Eigen::VectorXd b = beta;
  Eigen::VectorXd idelta = Eigen::VectorXd::Zero(p);  // I (b - beta)
  for (int sweep = 0; sweep < 10000; ++sweep) {
    double max_change = 0.0;
    for (int j = 0; j < p; ++j) {
      const double ijj = info(j, j);
      const double delta_j = b[j] - beta[j];
      const double z = d.gradient[j] + ijj * beta[j] - (idelta[j] - ijj * delta_j);
      const double denom = ijj + t.ridge[j];
      const double bj = denom > 0 ? SoftThreshold(z, t.lasso[j]) / denom : 0.0;
      const double change = bj - b[j];
      if (change != 0.0) {
        idelta += change * info.col(j);
        b[j] = bj;
        max_change = std::max(max_change, std::abs(change) / (1.0 + std::abs(bj)));
      }
    }
    if (max_change < 1e-14) break;
  }
  return b;
}

std::string NameOf(const std::vector<std::string>& names, int j) {
  return static_cast<size_t>(j) < names.size() ? names[static_cast<size_t>(j)]
                                                : absl::StrCat("#", j + 1);
}

}  // namespace

NewtonOptions CoxphControl() { return NewtonOptions{}; }

NewtonOptions GlmControl() {
  NewtonOptions o;
  o.eps = 1e-8;
  o.offset = 0.05;
  o.max_iterations = 25;
  o.toler_inf = std::sqrt(1e-8);
  return o;
}

absl::Status CheckInformation(const Eigen::MatrixXd& information,
                              const std::vector<std::string>& names, double toler) {
  const int p = static_cast<int>(information.rows());
  if (!information.allFinite()) {
    return absl::FailedPreconditionError("the information matrix is not finite");
  }
  std::vector<std::string> constant, collinear;
  Eigen::VectorXd scale(p);
  const double max_diag = p > 0 ? information.diagonal().cwiseAbs().maxCoeff() : 0.0;
  for (int j = 0; j < p; ++j) {
    const double djj = information(j, j);
    if (!(djj > 1e-12 * std::max(max_diag, 1e-300))) {
      constant.push_back(NameOf(names, j));
      scale[j] = 0.0;
    } else {
      scale[j] = 1.0 / std::sqrt(djj);
    }
  }
  // Cholesky of the correlation-scaled matrix in covariate order: a pivot
  // below `toler` is 1 - R^2 of that covariate on the earlier ones.
  Eigen::MatrixXd c = scale.asDiagonal() * information * scale.asDiagonal();
  Eigen::MatrixXd l = Eigen::MatrixXd::Zero(p, p);
  std::vector<bool> dropped(static_cast<size_t>(p), false);
  for (int j = 0; j < p; ++j) {
    if (scale[j] == 0.0) {
      dropped[static_cast<size_t>(j)] = true;
      continue;
    }
    double pivot = c(j, j) - l.row(j).head(j).squaredNorm();
    if (pivot < toler) {
      collinear.push_back(NameOf(names, j));
      dropped[static_cast<size_t>(j)] = true;
      continue;
    }
    l(j, j) = std::sqrt(pivot);
    for (int i = j + 1; i < p; ++i) {
      l(i, j) = (c(i, j) - l.row(i).head(j).dot(l.row(j).head(j))) / l(j, j);
    }
  }
  if (constant.empty() && collinear.empty()) return absl::OkStatus();
  std::string msg = "singular information matrix:";
  if (!constant.empty()) {
    absl::StrAppend(&msg, " no information on ", absl::StrJoin(constant, ", "),
                    " (constant, or no variation within risk sets/outcome groups);");
  }
  if (!collinear.empty()) {
    absl::StrAppend(&msg, " ", absl::StrJoin(collinear, ", "),
                    collinear.size() > 1 ? " are" : " is",
                    " (nearly) a linear combination of the covariates before it;");
  }
  msg.pop_back();
  return absl::FailedPreconditionError(msg);
}

namespace {

// The sizes and penalty settings FitNewton needs; InvalidArgument otherwise.
absl::Status CheckNewtonInputs(const std::vector<std::string>& names, int p,
                               const NewtonOptions& options) {
  if (names.size() != static_cast<size_t>(p)) {
    return absl::InvalidArgumentError(
        absl::StrCat("FitNewton: ", names.size(), " names for ", p, " coefficients"));
  }
  if (!options.penalty.penalized.empty() &&
      options.penalty.penalized.size() != static_cast<size_t>(p)) {
    return absl::InvalidArgumentError("FitNewton: penalty mask has the wrong length");
  }
  if (options.penalty.lambda < 0 || options.penalty.l1_ratio < 0 ||
      options.penalty.l1_ratio > 1) {
    return absl::InvalidArgumentError("FitNewton: need lambda >= 0 and 0 <= l1_ratio <= 1");
  }
  return absl::OkStatus();
}

// The coefficients the next Newton step (of the penalised derivatives q at
// beta) would still move by more than toler_inf, absolutely and relative to
// beta: their names in *growing, with beta and the step in *detail.
void GrowingCoefficients(const Derivatives& q, const Eigen::VectorXd& beta,
                         const std::vector<std::string>& names, double toler_inf,
                         std::vector<std::string>* growing, std::string* detail) {
  Eigen::VectorXd step = Eigen::LDLT<Eigen::MatrixXd>(q.information).solve(q.gradient);
  for (int j = 0; j < static_cast<int>(beta.size()); ++j) {
    if (std::abs(step[j]) > toler_inf && std::abs(step[j]) > toler_inf * std::abs(beta[j])) {
      growing->push_back(NameOf(names, j));
      absl::StrAppend(detail, detail->empty() ? "" : ", ", NameOf(names, j),
                      absl::StrFormat(" (beta %.4g, next step %.3g)", beta[j], step[j]));
    }
  }
}

}  // namespace

absl::StatusOr<FitResult> FitNewton(const Evaluator& evaluate,
                                    const std::vector<std::string>& names,
                                    const Eigen::VectorXd& init, const NewtonOptions& options) {
  const int p = static_cast<int>(init.size());
  FEDRAD_RETURN_IF_ERROR(CheckNewtonInputs(names, p, options));
  const PenaltyTerms pen = MakePenalty(options.penalty, p);

  auto eval = [&](const Eigen::VectorXd& b) -> absl::StatusOr<Derivatives> {
    FEDRAD_ASSIGN_OR_RETURN(Derivatives d, evaluate(b));
    if (d.gradient.size() != p || d.information.rows() != p || d.information.cols() != p) {
      return absl::InternalError("FitNewton: evaluator returned derivatives of the wrong size");
    }
    if (!std::isfinite(d.loglik) || !d.gradient.allFinite()) {
      return absl::FailedPreconditionError(
          "the log-likelihood is not finite at the current coefficients");
    }
    return d;
  };
  // Penalised gradient and information of the smooth part.
  auto penalized = [&](const Derivatives& d, const Eigen::VectorXd& b) {
    Derivatives q = d;
    q.gradient -= pen.ridge.cwiseProduct(b);
    q.information.diagonal() += pen.ridge;
    return q;
  };
  auto next_point = [&](const Derivatives& d, const Eigen::VectorXd& b)
      -> absl::StatusOr<Eigen::VectorXd> {
    Derivatives q = penalized(d, b);
    if (pen.has_l1) return ProximalNewtonStep(d, b, pen);
    FEDRAD_RETURN_IF_ERROR(CheckInformation(q.information, names, options.toler_singular));
    Eigen::LDLT<Eigen::MatrixXd> ldlt(q.information);
    return Eigen::VectorXd(b + ldlt.solve(q.gradient));
  };

  FitResult fit;
  Eigen::VectorXd beta = init;
  FEDRAD_ASSIGN_OR_RETURN(Derivatives current, eval(beta));
  fit.loglik_null = current.loglik;
  double q_old = Objective(current, beta, pen);
  Derivatives at_new = current;
  Eigen::VectorXd newbeta = beta;
  bool converged = options.max_iterations == 0;
  bool halving = false;
  int iter = 0;
  if (!converged) {
    FEDRAD_ASSIGN_OR_RETURN(newbeta, next_point(current, beta));
    for (iter = 1; iter <= options.max_iterations; ++iter) {
      FEDRAD_ASSIGN_OR_RETURN(at_new, eval(newbeta));
      const double q_new = Objective(at_new, newbeta, pen);
      if (!halving &&
          std::abs(q_new - q_old) <= options.eps * (std::abs(q_new) + options.offset)) {
        converged = true;
        break;
      }
      if (iter == options.max_iterations) break;
      if (q_new < q_old) {  // not improving: halve the step
        halving = true;
        ++fit.halvings;
        newbeta = 0.5 * (newbeta + beta);
      } else {
        halving = false;
        q_old = q_new;
        beta = newbeta;
        current = at_new;
        FEDRAD_ASSIGN_OR_RETURN(newbeta, next_point(current, beta));
      }
    }
  }
  if (options.max_iterations == 0) {
    newbeta = beta;
    at_new = current;
  }
  fit.beta = newbeta;
  fit.iterations = std::min(iter, options.max_iterations);
  fit.last = at_new;
  fit.loglik = at_new.loglik;
  fit.objective = Objective(at_new, newbeta, pen);

  Derivatives q = penalized(at_new, newbeta);
  // Which coefficients are still moving (the next step), for the
  // infinite-coefficient test and for the no-convergence message.
  std::vector<std::string> growing;
  std::string growing_detail;
  absl::Status info_status = CheckInformation(q.information, names, options.toler_singular);
  if (!pen.has_l1 && info_status.ok()) {
    GrowingCoefficients(q, newbeta, names, options.toler_inf, &growing, &growing_detail);
  }
  if (!converged) {
    std::string msg = absl::StrCat("did not converge in ", options.max_iterations,
                                   " iterations");
    if (!growing.empty()) {
      absl::StrAppend(&msg, "; still moving: ", growing_detail,
                      " - coefficient(s) may be infinite (monotone likelihood or separation)");
    }
    return absl::FailedPreconditionError(msg);
  }
  if (!info_status.ok() && !pen.has_l1) return info_status;
  if (!growing.empty() && options.max_iterations > 1) {
    return absl::FailedPreconditionError(absl::StrCat(
        "monotone likelihood or separation: the log-likelihood converged while ",
        growing_detail, " kept growing; the coefficient(s) of ", absl::StrJoin(growing, ", "),
        " may be infinite"));
  }
  if (pen.has_l1) {
    fit.covariance = Eigen::MatrixXd::Constant(p, p, std::numeric_limits<double>::quiet_NaN());
  } else {
    fit.covariance = Eigen::LDLT<Eigen::MatrixXd>(q.information).solve(
        Eigen::MatrixXd::Identity(p, p));
  }
  fit.std_errors = fit.covariance.diagonal().cwiseSqrt();
  return fit;
}

}  // namespace fedrad::models
