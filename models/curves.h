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
//  - Risk groups: low lp <= c1 < intermediate lp <= c2 < high. The cut-points
//    come from outside (the development sites, relayed by the coordinator), so
//    they are untrusted: a group with 1..k-1 patients suppresses every group
//    (its size would otherwise follow from n and the other groups' sizes); a
//    suppressed group releases nothing, not even its size. An empty group is
//    suppressed alone. A group's event count is released only when it has at
//    least k events and k non-events (as the cohort summary does). The curve
//    is released at the points of the time lattice that ReleasedTimePoints
//    keeps for the group (>= k patients left the risk set since the previous
//    released point, >= k still at risk): n_at_risk = #(T >= g) and the
//    Kaplan-Meier S(g) there.
//  - ROC: for each threshold c, TPR = #(p >= c, y = 1)/n_pos and FPR = #(p >=
//    c, y = 0)/n_neg, ordered by decreasing c (increasing FPR), with the
//    corners (0, 0) and (1, 1). Suppressed when n_pos < k or n_neg < k. For a
//    Cox model, the cumulative/dynamic ROC at t (TimeDependentRoc). A site
//    chooses its thresholds itself (CountSafeThresholds): points of a fixed
//    lattice of risk values such that each step between consecutive vertices
//    moves 0 or >= k cases and 0 or >= k controls.
//
// Grids the site fixes (docs/models.md "Grids the site fixes"): every grid a
// released curve or count rests on is a lattice fixed by the site (from the
// approved spec and its own policy), coarsened so that each step covers 0 or
// at least k patients: ReleasedTimePoints (baseline risk sums, Kaplan-Meier
// curves), CountSafeThresholds (ROC), CountsOnLattice (the linear predictor's
// distribution at a development site, from which the coordinator derives the
// risk-group cut-points with QuantilesFromCounts).
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
  std::vector<int> rows;          // the group's row indices (empty when suppressed)
};

// Kaplan-Meier curves of the three predicted-risk groups defined by
// `cuts` = {c1, c2} (c1 <= c2, finite), released at the points of the time
// lattice `grid` (increasing) that ReleasedTimePoints keeps for each group.
// InvalidArgument on size mismatches or a bad `cuts`.
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

// {start, start + step, ...} up to `end` (inclusive, within 1e-9 step), at
// most `max_points` of them (a spec's horizon over its step is not a
// memory budget: tau = 1e15 days at a 1-day step, or an infinite tau, stop
// there). Empty unless step > 0 and finite.
std::vector<double> GridEvery(double step, double end, double start,
                              size_t max_points = 1'000'000);

// ---- Grids the site fixes ---------------------------------------------------

// The points of `lattice` (increasing) at which a curve over follow-up times
// `time` may be released, walking the lattice in order. With p the previous
// released point (none at first: -infinity), g is released when
//   - #{p <= T < g} (left the risk set since p) is 0 or >= k,
//   - #{p < T <= g} (events and censorings counted at g) is 0 or >= k,
//   - #{T >= g} (still at risk) is >= k; the first g where it is not ends the
//     walk (the curve stops), and
//   - when `weights` is given (exp(lp) of each patient, for risk-set sums),
//     no patient at risk at g carries more than `max_weight_share` of their
//     weight sum (a dominance rule; such a point is skipped).
// So every difference between two released values rests on 0 or >= k
// patients. `weights`, when not null, has time.size() values (> 0).
std::vector<double> ReleasedTimePoints(const std::vector<double>& time,
                                       const std::vector<double>& lattice, int min_cell_count,
                                       const std::vector<double>* weights = nullptr,
                                       double max_weight_share = 0.5);

// Thresholds for an ROC curve chosen by the site: walking `lattice` from its
// largest value down, a threshold c is kept when, since the previous kept one
// (at first: nobody), the cases with score >= c grew by 0 or >= k and the
// controls by 0 or >= k (not both 0), and the last step to (all cases, all
// controls) keeps the same rule (kept thresholds are dropped from the end
// until it does). Empty when there are fewer than k cases or k controls.
std::vector<double> CountSafeThresholds(const std::vector<double>& case_score,
                                        const std::vector<double>& control_score,
                                        const std::vector<double>& lattice, int min_cell_count);

// The lattice of predicted-risk thresholds a site uses for its ROC curves:
// 0, 0.01, ..., 1.
std::vector<double> RiskThresholdLattice();

// ROC curves at thresholds the site chooses (CountSafeThresholds on
// RiskThresholdLattice()), with the rows counted at each released vertex
// (the ledger's populations).
struct SiteRoc {
  RocCurve curve;
  std::vector<std::vector<int>> vertex_rows;  // rows with score >= the vertex's threshold
};
absl::StatusOr<SiteRoc> SiteBinaryRoc(const std::vector<double>& y, const std::vector<double>& p,
                                      int min_cell_count);
absl::StatusOr<SiteRoc> SiteTimeDependentRoc(const std::vector<double>& time,
                                             const std::vector<int>& status,
                                             const std::vector<double>& risk_at_t, double t,
                                             int min_cell_count);

// The largest "nice" number (1, 2 or 5 times a power of ten) <= x (x > 0).
double NiceStepAtMost(double x);

// Cumulative counts of `values` on a lattice of multiples of `step`: counts[j]
// = #(v <= grid[j]), released only at lattice points where the count grew by
// >= k since the previous released point (first: since nobody) and the
// patients above are 0 or >= k. So each released step covers >= k patients.
// A lattice with more than `max_points` points over the values' range is
// coarsened by doubling `step` (the step used is returned).
struct LatticeCounts {
  double step = 0;
  std::vector<double> grid;
  std::vector<double> counts;
};
LatticeCounts CountsOnLattice(const std::vector<double>& values, double step, int min_cell_count,
                              size_t max_points);

// Quantiles of a distribution released as cumulative counts by several sites
// (each: grid, counts, n): the pooled count C(x) = sum over sites of the
// site's counts interpolated linearly between its released points (0 below
// none is known: the first point's count is used there; n above the last), and
// for each probability q the x where C(x) = q * N (N = sum of n), by linear
// interpolation between the knots of C. `rank_error[i]` (optional) gets half
// the width, in probability, of the counts bracket the quantile fell in.
// InvalidArgument when a site's arrays differ in size, are not increasing, or
// no site released a point.
struct SiteCounts {
  std::vector<double> grid;
  std::vector<double> counts;
  double n = 0;
};
absl::StatusOr<std::vector<double>> QuantilesFromCounts(const std::vector<SiteCounts>& sites,
                                                        const std::vector<double>& probs,
                                                        std::vector<double>* rank_error = nullptr);

}  // namespace fedrad::models

#endif  // FEDRAD_MODELS_CURVES_H_
