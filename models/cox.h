// Cox proportional hazards: the log partial likelihood of one stratum, its
// gradient and observed information, with Breslow or Efron handling of tied
// event times; the pooled Breslow baseline hazard on a time grid.
//
// A site-stratified Cox model (coxph(Surv(time, status) ~ x + strata(site)))
// has log partial likelihood l(beta) = sum over sites of l_site(beta), so each
// site computes CoxDerivatives() on its own rows and the coordinator adds them
// (models/derivatives.h) and takes a Newton step (models/newton.h).
//
//   FEDRAD_ASSIGN_OR_RETURN(CoxStratum s, CoxStratum::Create(time, status, x));
//   Derivatives d = CoxDerivatives(s, beta, Ties::kEfron);
//
// Formulas (Therneau & Grambsch 2000, ch. 3; R survival's coxfit6.c): with
// risk-set sums S0 = sum exp(eta), S1 = sum x exp(eta), S2 = sum x x^T exp(eta)
// over patients with T >= t, and at an event time with d tied events whose own
// sums are E0, E1, E2:
//   Breslow: l += sum_events eta - d log S0; U += sum_events x - d S1/S0;
//            I += d (S2/S0 - S1 S1^T / S0^2).
//   Efron:   for k = 0..d-1, with f = k/d, s_r = S_r - f E_r:
//            l -= log s0; U -= s1/s0; I += s2/s0 - s1 s1^T / s0^2;
//            plus sum_events eta and sum_events x.
// One pass over the rows sorted by decreasing time: O(n p^2).
//
// Thread safety: CoxStratum is immutable after Create(); the functions are
// pure.
#ifndef FEDRAD_MODELS_COX_H_
#define FEDRAD_MODELS_COX_H_

#include <cstdint>
#include <vector>

#include <Eigen/Dense>

#include "absl/status/statusor.h"
#include "models/derivatives.h"

namespace fedrad::models {

enum class Ties { kBreslow, kEfron };

// One stratum's follow-up times, event indicators and covariates, held sorted
// by decreasing time (events before censorings at equal times).
class CoxStratum {
 public:
  // `x` is n x p (row i is patient i). InvalidArgument when sizes differ, a
  // time is negative or not finite, a status is not 0/1, or x has a
  // non-finite value. The inputs are copied.
  static absl::StatusOr<CoxStratum> Create(const std::vector<double>& time,
                                           const std::vector<int>& status,
                                           const Eigen::MatrixXd& x);
  CoxStratum() = default;

  int n() const { return static_cast<int>(time_.size()); }
  int p() const { return static_cast<int>(xt_.rows()); }
  int64_t events() const { return events_; }
  // Sorted data (decreasing time).
  const std::vector<double>& time() const { return time_; }
  const std::vector<int>& status() const { return status_; }
  // Covariates of the sorted rows, transposed (p x n) and centred at the
  // stratum's column means (centring leaves the partial likelihood unchanged
  // and avoids cancellation in S2/S0 - (S1/S0)^2).
  const Eigen::MatrixXd& centered_xt() const { return xt_; }
  const Eigen::VectorXd& means() const { return means_; }

 private:
  std::vector<double> time_;
  std::vector<int> status_;
  Eigen::MatrixXd xt_;
  Eigen::VectorXd means_;
  int64_t events_ = 0;
};

// Log partial likelihood, gradient and information of one stratum at `beta`
// (length p). Never fails: risk scores are computed relative to the largest
// linear predictor, so exp() does not overflow.
Derivatives CoxDerivatives(const CoxStratum& stratum, const Eigen::VectorXd& beta, Ties ties);

// Risk-set sums for the pooled Breslow baseline cumulative hazard on a time
// grid g_1 < ... < g_m (from one stratum, with a fixed beta):
//   events[j]   = number of events with g_{j-1} < T <= g_j (g_0 = -infinity),
//   risk_sum[j] = sum of exp(x beta) over patients with T >= g_j.
// Summed over development sites, H0(g_j) = sum_{k <= j} events[k] / risk_sum[k]
// (BreslowFromGridSums). When the grid holds every distinct event time this is
// exactly the Breslow estimator with one risk set across sites; on a coarser
// grid the events of an interval are counted at its right end.
struct GridSums {
  std::vector<double> events;
  std::vector<double> risk_sum;
};
GridSums CoxGridSums(const CoxStratum& stratum, const Eigen::VectorXd& beta,
                     const std::vector<double>& grid);

// H0 at each grid point from summed GridSums. A grid point with risk_sum 0
// adds nothing (no one at risk). InvalidArgument if events > 0 where
// risk_sum == 0 or the sizes differ.
absl::StatusOr<std::vector<double>> BreslowFromGridSums(const GridSums& sums);

// H0(t) from a grid and its cumulative hazard: the value at the largest grid
// point <= t (0 before the first).
double CumulativeHazardAt(const std::vector<double>& grid, const std::vector<double>& cumhaz,
                          double t);

}  // namespace fedrad::models

#endif  // FEDRAD_MODELS_COX_H_
