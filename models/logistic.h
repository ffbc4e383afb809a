// Logistic regression: log-likelihood, gradient and information of a binary
// outcome, summed over one site's rows, so that the coordinator can add the
// sites' pieces and take a Newton step (models/newton.h).
//
//   FEDRAD_ASSIGN_OR_RETURN(LogisticData data, LogisticData::Create(y, design));
//   Derivatives d = LogisticDerivatives(data, beta);
//
// With eta = X beta + offset and p = 1 / (1 + exp(-eta)):
//   l = sum y eta - log(1 + exp(eta)),  U = X^T (y - p),  I = X^T diag(p(1-p)) X.
// The design X includes an intercept column when the model has one (the
// caller adds it). Newton-Raphson on this is glm()'s IRLS (canonical link).
//
// Thread safety: LogisticData is immutable after Create(); functions are pure.
#ifndef FEDRAD_MODELS_LOGISTIC_H_
#define FEDRAD_MODELS_LOGISTIC_H_

#include <vector>

#include <Eigen/Dense>

#include "absl/status/statusor.h"
#include "models/derivatives.h"

namespace fedrad::models {

class LogisticData {
 public:
  // y in {0, 1}; design n x p; offset empty (zero) or length n.
  // InvalidArgument on size mismatch, y not 0/1, or non-finite values.
  static absl::StatusOr<LogisticData> Create(const std::vector<double>& y,
                                             const Eigen::MatrixXd& design,
                                             const std::vector<double>& offset = {});
  LogisticData() = default;
  int n() const { return static_cast<int>(y_.size()); }
  int p() const { return static_cast<int>(xt_.rows()); }
  const Eigen::VectorXd& y() const { return y_; }
  const Eigen::MatrixXd& xt() const { return xt_; }  // p x n
  const Eigen::VectorXd& offset() const { return offset_; }

 private:
  Eigen::VectorXd y_;
  Eigen::MatrixXd xt_;
  Eigen::VectorXd offset_;
};

// Log-likelihood, gradient and information at `beta` (length p). Numerically
// stable for large |eta|.
Derivatives LogisticDerivatives(const LogisticData& data, const Eigen::VectorXd& beta);

// log(1 + exp(x)) without overflow.
double Log1pExp(double x);
// 1 / (1 + exp(-x)).
double InverseLogit(double x);

}  // namespace fedrad::models

#endif  // FEDRAD_MODELS_LOGISTIC_H_
