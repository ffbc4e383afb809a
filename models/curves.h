// Curve aggregates of a frozen model at one validation site, for the report
// (docs/report.md "Curve aggregates", docs/models.md "Curves"): calibration by
// equal-count bins of predicted risk, Kaplan-Meier curves by predicted-risk
// group on a fixed time grid, and the ROC curve at a fixed threshold grid.
// Every released number is an aggregate over a group of at least k patients:
// a bin, group or curve that would be smaller is suppressed here, at the site.
//
//   // Cox: predicted risk at t from the pooled Breslow baseline.
//   FEDRAD_ASSIGN_OR_RETURN(CalibrationCurve cal,
//       SurvivalCalibration(time, status, risk_at_t, /*t=*/730, /*k=*/10, /*max_bins=*/10));
//   std::vector<RiskGroupCurve> km =
//       RiskGroupCurves(time, status, lp, {cut_low, cut_high}, GridEvery(90, 1825, 90), 10);
//   // Logistic:
//   FEDRAD_ASSIGN_OR_RETURN(CalibrationCurve b, BinaryCalibration(y, p, 10, 10));
//   FEDRAD_ASSIGN_OR_RETURN(RocCurve roc, RocAtThresholds(y, p, GridEvery(0.02, 1.0, 0.0), 10));
//
// Definitions:
//  - Bins: patients sorted by predicted risk (ties by row order) are split into
//    B = min(max_bins, floor(n / k)) consecutive groups whose sizes differ by at
//    most one (the first n mod B groups get the extra patient), so every bin
//    has at least k patients. n < k: no bin (suppressed).
//  - Survival calibration: predicted = mean risk_i(t) in the bin; observed =
//    1 - KM(t) of the bin; CI from Greenwood's variance on the log scale (R
//    survfit's default conf.type "log"): S exp(+-z sqrt(sum d/(r(r-d)))), the
//    upper limit capped at 1; observed CI = [1 - S_high, 1 - S_low].
//  - Binary calibration: predicted = mean p; observed = proportion with y = 1;
//    Wilson score interval (R prop.test(correct = FALSE)).
//  - Risk groups: low lp <= c1 < intermediate lp <= c2 < high. A group with
//    n < k is suppressed (no curve). Its event count is released only when it
//    has at least k events and k non-events (as the cohort summary does). On
//    each grid point g: n_at_risk = #(T >= g) and the Kaplan-Meier S(g); the
//    curve stops before the first grid point with n_at_risk < k.
//  - ROC: for each threshold c, TPR = #(p >= c, y = 1)/n_pos and FPR = #(p >=
//    c, y = 0)/n_neg, ordered by decreasing c (increasing FPR), with the
//    corners (0, 0) and (1, 1). Suppressed when n_pos < k or n_neg < k. For a
//    Cox model, the cumulative/dynamic ROC at t (TimeDependentRoc).
//
// Thread safety: pure functions.
#ifndef FEDRAD_MODELS_CURVES_H_
#define FEDRAD_MODELS_CURVES_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace fedrad::models {

// B = min(max_bins, floor(n / k)); 0 when n < k (or k < 1 or max_bins < 1).
int CalibrationBinCount(int64_t n, int min_cell_count, int max_bins);

// Row indices sorted by `risk` (stable), split into `bins` consecutive groups
// whose sizes differ by at most one. bins <= 0: no group.
std::vector<std::vector<int>> EqualCountBins(const std::vector<double>& risk, int bins);

struct CalibrationCurve {
  std::vector<double> predicted;  // mean predicted risk per bin
  std::vector<double> observed;   // observed risk per bin
  std::vector<double> ci_low;     // observed risk CI
  std::vector<double> ci_high;
  std::vector<int64_t> n;         // patients per bin (each >= k)
  bool suppressed = false;        // fewer than k patients: no bin
};

// Kaplan-Meier survival at t with Greenwood's sum sum_{t_j <= t} d_j /
// (r_j (r_j - d_j)) (infinite once the estimate reaches 0).
struct KaplanMeierEstimate {
  double survival = 1.0;
  double greenwood = 0.0;
};
KaplanMeierEstimate KaplanMeierWithGreenwood(const std::vector<double>& time,
                                             const std::vector<int>& status, double t);

// The Wilson score interval for x successes out of n (n > 0) at level z.
void WilsonInterval(double x, double n, double z, double* low, double* high);

// `risk_at_t[i]` = 1 - S_i(t). InvalidArgument when sizes differ.
absl::StatusOr<CalibrationCurve> SurvivalCalibration(const std::vector<double>& time,
                                                     const std::vector<int>& status,
                                                     const std::vector<double>& risk_at_t,
                                                     double t, int min_cell_count, int max_bins,
                                                     double level = 0.95);

// y 0/1, p in [0, 1]. InvalidArgument when sizes differ or y is not 0/1.
absl::StatusOr<CalibrationCurve> BinaryCalibration(const std::vector<double>& y,
                                                   const std::vector<double>& p,
                                                   int min_cell_count, int max_bins,
                                                   double level = 0.95);

struct RiskGroupCurve {
  std::string label;      // "low risk", "intermediate risk", "high risk"
  int64_t n = 0;
  int64_t events = -1;    // -1 when withheld (fewer than k events or non-events)
  bool suppressed = false;  // n < k: no curve
  std::vector<double> time;       // grid points released (n_at_risk >= k)
  std::vector<double> survival;   // Kaplan-Meier S at each
  std::vector<double> n_at_risk;  // #(T >= g) at each
};

// Kaplan-Meier curves of the three predicted-risk groups defined by
// `cuts` = {c1, c2} (c1 <= c2) on `grid` (increasing). InvalidArgument on
// size mismatches or a bad `cuts`.
absl::StatusOr<std::vector<RiskGroupCurve>> RiskGroupCurves(const std::vector<double>& time,
                                                            const std::vector<int>& status,
                                                            const std::vector<double>& lp,
                                                            const std::vector<double>& cuts,
                                                            const std::vector<double>& grid,
                                                            int min_cell_count);

struct RocCurve {
  std::vector<double> fpr, tpr;  // from (0, 0) to (1, 1)
  std::vector<double> threshold; // the threshold of each vertex (NaN for added corners)
  int64_t n_pos = 0, n_neg = 0;
  bool suppressed = false;       // n_pos < k or n_neg < k: no vertex
};

absl::StatusOr<RocCurve> RocAtThresholds(const std::vector<double>& y,
                                         const std::vector<double>& p,
                                         const std::vector<double>& thresholds,
                                         int min_cell_count);

// Cox: the cumulative/dynamic ROC at t on the predicted risk at t (the curve
// whose area is auc_t, docs/models.md): cases T_i <= t with an event, each
// weighted 1/G(T_i-) (G the reverse Kaplan-Meier of the censoring), controls
// T_j > t (equal weights). TPR(c) = sum_cases w_i I(r_i >= c) / sum_cases w_i,
// FPR(c) = #(controls with r_j >= c) / #controls. n_pos = cases, n_neg =
// controls; suppressed when either is below k. Patients censored before t
// are neither.
absl::StatusOr<RocCurve> TimeDependentRoc(const std::vector<double>& time,
                                          const std::vector<int>& status,
                                          const std::vector<double>& risk_at_t, double t,
                                          const std::vector<double>& thresholds,
                                          int min_cell_count);

// {start, start + step, ...} up to `end` (inclusive, within 1e-9 step).
std::vector<double> GridEvery(double step, double end, double start);

}  // namespace fedrad::models

#endif  // FEDRAD_MODELS_CURVES_H_
