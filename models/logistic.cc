#include "models/logistic.h"

#include <cmath>

#include "absl/strings/str_cat.h"

namespace fedrad::models {

double Log1pExp(double x) {
  return x > 0 ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x));
}

double InverseLogit(double x) {
  if (x >= 0) return 1.0 / (1.0 + std::exp(-x));
  const double e = std::exp(x);
  return e / (1.0 + e);
}

absl::StatusOr<LogisticData> LogisticData::Create(const std::vector<double>& y,
                                                  const Eigen::MatrixXd& design,
                                                  const std::vector<double>& offset) {
  const size_t n = y.size();
  if (static_cast<size_t>(design.rows()) != n || (!offset.empty() && offset.size() != n)) {
    return absl::InvalidArgumentError(absl::StrCat("logistic data: ", n, " outcomes, ",
                                                   design.rows(), " design rows, ",
                                                   offset.size(), " offsets"));
  }
  LogisticData d;
  d.y_.resize(static_cast<Eigen::Index>(n));
  for (size_t i = 0; i < n; ++i) {
    if (y[i] != 0.0 && y[i] != 1.0) {
      return absl::InvalidArgumentError(
          absl::StrCat("logistic data: row ", i + 1, " has outcome ", y[i], " (need 0 or 1)"));
    }
    d.y_[static_cast<Eigen::Index>(i)] = y[i];
  }
  if (!design.allFinite()) {
    return absl::InvalidArgumentError("logistic data: a covariate value is not finite");
  }
  d.xt_ = design.transpose();
  d.offset_ = Eigen::VectorXd::Zero(static_cast<Eigen::Index>(n));
  for (size_t i = 0; i < offset.size(); ++i) {
    if (!std::isfinite(offset[i])) {
      return absl::InvalidArgumentError(absl::StrCat("logistic data: offset ", i + 1, " not finite"));
    }
    d.offset_[static_cast<Eigen::Index>(i)] = offset[i];
  }
  return d;
}

Derivatives LogisticDerivatives(const LogisticData& data, const Eigen::VectorXd& beta) {
  const int p = data.p();
  Derivatives d = Derivatives::Zero(p);
  d.n = data.n();
  if (data.n() == 0) return d;
  Eigen::VectorXd eta = data.xt().transpose() * beta + data.offset();
  Eigen::VectorXd resid(data.n()), w(data.n());
  for (int i = 0; i < data.n(); ++i) {
    const double pi = InverseLogit(eta[i]);
    d.loglik += data.y()[i] * eta[i] - Log1pExp(eta[i]);
    resid[i] = data.y()[i] - pi;
    w[i] = pi * (1.0 - pi);
    d.events += data.y()[i] == 1.0;
  }
  d.gradient = data.xt() * resid;
  Eigen::MatrixXd xw = data.xt() * w.cwiseSqrt().asDiagonal();
  d.information.selfadjointView<Eigen::Lower>().rankUpdate(xw);
  d.information.triangularView<Eigen::StrictlyUpper>() = d.information.transpose();
  return d;
}

}  // namespace fedrad::models
