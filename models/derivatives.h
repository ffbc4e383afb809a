// The sufficient pieces of one Newton-Raphson step: log-likelihood, gradient
// (score) and observed information (minus the Hessian), summed over patients.
//
// Every likelihood in fedrad::models (site-stratified Cox, logistic) is a sum
// over sites, so a site computes its own Derivatives and the coordinator adds
// them; the sum is the pooled one exactly (up to floating-point summation
// order).
//
//   Derivatives total = Derivatives::Zero(p);
//   for (const Derivatives& d : per_site) total.Add(d);
//
// Thread safety: a plain value type.
#ifndef FEDRAD_MODELS_DERIVATIVES_H_
#define FEDRAD_MODELS_DERIVATIVES_H_

#include <cstdint>

#include <Eigen/Dense>

namespace fedrad::models {

struct Derivatives {
  double loglik = 0.0;
  Eigen::VectorXd gradient;     // d loglik / d beta
  Eigen::MatrixXd information;  // - d^2 loglik / d beta d beta^T (symmetric)
  int64_t n = 0;                // patients contributing
  int64_t events = 0;           // events (Cox) or positive outcomes (logistic)

  // All zero, for p coefficients.
  static Derivatives Zero(int p) {
    Derivatives d;
    d.gradient = Eigen::VectorXd::Zero(p);
    d.information = Eigen::MatrixXd::Zero(p, p);
    return d;
  }
  // Adds `other` (same p) to this.
  void Add(const Derivatives& other) {
    loglik += other.loglik;
    gradient += other.gradient;
    information += other.information;
    n += other.n;
    events += other.events;
  }
};

}  // namespace fedrad::models

#endif  // FEDRAD_MODELS_DERIVATIVES_H_
