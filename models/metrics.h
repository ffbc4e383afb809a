// Validation metrics of a frozen model, computed where the data is: each
// validation site calls these on its own rows and releases only the metric
// values (with their locally computed bootstrap CIs) and, for the pooled
// stratified C, its pair counts.
//
//   SurvivalValidationInput in{time, status, lp, grid, cumhaz, /*t=*/730, /*tau=*/1825};
//   FEDRAD_ASSIGN_OR_RETURN(SurvivalMetrics m, ComputeSurvivalMetrics(in));
//   FEDRAD_ASSIGN_OR_RETURN(BinaryMetrics b, ComputeBinaryMetrics(y, p, 0.5));
//
// Definitions (docs/models.md writes each out; references in
// models/testdata/make_fixtures.R):
//  - Harrell's C: pair (i, j) is comparable when i has an event and T_i < T_j,
//    or T_i == T_j and j is censored; two events at the same time are not
//    comparable. Concordant when lp_i > lp_j; equal lp counts 1/2. Equals R
//    survival::concordance(Surv(time, status) ~ lp, reverse = TRUE).
//  - Uno's C (Uno et al. 2011) truncated at tau: the same pairs with T_i < tau,
//    each weighted by 1/G(T_i-)^2, G the reverse Kaplan-Meier of the site's
//    censoring (survfit(Surv(time, 1 - status))), G(T-) its left limit.
//  - Cumulative/dynamic AUC at t (Uno et al. 2007; Hung & Chiang 2010):
//    cases T_i <= t with an event, weight 1/G(T_i-); controls T_j > t, weight
//    1/G(t) (cancels); AUC = sum_ij w_i [I(lp_i > lp_j) + I(=)/2] / (sum_i w_i n_ctrl).
//  - Brier score at t (Graf et al. 1999), IPCW: (1/n) sum_i [ I(T_i <= t, d_i = 1)
//    S_i(t)^2 / G(T_i-) + I(T_i > t) (1 - S_i(t))^2 / G(t) ]; patients censored
//    before t add 0 but stay in n. S_i(t) = exp(-H0(t) exp(lp_i)).
//  - Integrated Brier: (1/tau) * integral_0^tau BS(s) ds, exact for the step
//    function BS (breakpoints: 0, grid points and site times <= tau).
//  - Calibration slope: coefficient of a Cox regression (Breslow) of the
//    outcome on lp at the site.
//  - O/E at t: (1 - KM(t)) / mean_i (1 - S_i(t)).
//  - Binary: AUC (Mann-Whitney, ties 1/2); sensitivity/specificity with
//    positive when p >= threshold; Youden point: among the distinct predicted
//    values, the smallest threshold maximising sens + spec - 1 (ties within
//    1e-12); Brier mean (p - y)^2; calibration intercept: logistic y ~
//    offset(logit p); calibration slope: logistic y ~ logit p.
//
// Thread safety: pure functions.
#ifndef FEDRAD_MODELS_METRICS_H_
#define FEDRAD_MODELS_METRICS_H_

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace fedrad::models {

// Defaults of the study spec's Validation section (proto/models.proto),
// shared by the coordinator and the sites (each site derives its validation
// settings from the approved spec, not from a task's params).
inline constexpr double kDefaultHorizonDays = 730;        // Validation.t
inline constexpr double kDefaultTruncationDays = 1825;    // Validation.tau
inline constexpr double kDefaultBinaryThreshold = 0.5;    // Validation.threshold
inline constexpr int kDefaultBootstrapReplicates = 200;   // Validation.bootstrap_replicates
inline constexpr uint64_t kDefaultBootstrapSeed = 20261127;  // Validation.bootstrap_seed
inline constexpr int kDefaultCalibrationBins = 10;        // Validation.calibration_bins
inline constexpr double kDefaultKmTimeStepDays = 90;      // Validation.km_time_step

struct ConcordanceCounts {
  double concordant = 0;
  double discordant = 0;
  double tied_risk = 0;
  double comparable() const { return concordant + discordant + tied_risk; }
  // (concordant + tied/2) / comparable; NaN when nothing is comparable.
  double c() const;
  void Add(const ConcordanceCounts& o) {
    concordant += o.concordant;
    discordant += o.discordant;
    tied_risk += o.tied_risk;
  }
};

// Harrell's pair counts (higher lp = higher risk). O(n^2).
ConcordanceCounts HarrellCounts(const std::vector<double>& time, const std::vector<int>& status,
                                const std::vector<double>& lp);

// Reverse Kaplan-Meier (censoring survival) G of one sample.
class CensoringSurvival {
 public:
  CensoringSurvival(const std::vector<double>& time, const std::vector<int>& status);
  double At(double t) const;         // G(t), right-continuous
  double LeftLimit(double t) const;  // G(t-)

 private:
  std::vector<double> times_;  // distinct censoring times, increasing
  std::vector<double> surv_;   // G at each
};

// Kaplan-Meier survival at t.
double KaplanMeierAt(const std::vector<double>& time, const std::vector<int>& status, double t);

// Uno's C truncated at tau. NaN if no usable pair.
double UnoC(const std::vector<double>& time, const std::vector<int>& status,
            const std::vector<double>& lp, double tau);

// IPCW cumulative/dynamic AUC at t. NaN without cases or controls.
double CumulativeDynamicAuc(const std::vector<double>& time, const std::vector<int>& status,
                            const std::vector<double>& lp, double t);

// IPCW Brier score at t given each patient's predicted survival S_i(t).
double BrierAt(const std::vector<double>& time, const std::vector<int>& status,
               const std::vector<double>& surv_at_t, double t);

struct SurvivalValidationInput {
  std::vector<double> time;
  std::vector<int> status;
  std::vector<double> lp;      // x beta of the frozen model (uncentred)
  std::vector<double> grid;    // baseline hazard grid (increasing)
  std::vector<double> cumhaz;  // H0 at each grid point
  double t = 0;                // horizon for auc_t, brier_t, oe_ratio_t
  double tau = 0;              // truncation for uno_c and integrated_brier
};

// Metric name -> value: harrell_c, uno_c, auc_t, brier_t, integrated_brier,
// calibration_slope, oe_ratio_t, plus the Harrell counts (concordant,
// discordant, tied_risk). InvalidArgument on size mismatches; a metric that
// cannot be computed (e.g. no case before t, or a calibration model that does
// not converge) is NaN.
absl::StatusOr<std::map<std::string, double>> ComputeSurvivalMetrics(
    const SurvivalValidationInput& in);

// Binary metrics: auc, sensitivity, specificity (at `threshold`),
// youden_threshold, sensitivity_youden, specificity_youden, brier,
// calibration_intercept, calibration_slope. InvalidArgument when sizes
// differ, y is not 0/1, p is outside (0, 1), or one class is absent. A
// calibration model that cannot be fitted gives NaN.
absl::StatusOr<std::map<std::string, double>> ComputeBinaryMetrics(const std::vector<double>& y,
                                                                  const std::vector<double>& p,
                                                                  double threshold);

// A bootstrap of metrics computed on resampled rows.
struct BootstrapOptions {
  int replicates = 200;  // 0: no CI
  uint64_t seed = 1;
  double level = 0.95;
  // Checked before each replicate; when it returns true the bootstrap stops
  // and returns Cancelled. Null: never.
  std::function<bool()> cancelled;
};
struct MetricEstimate {
  double value = 0;
  double ci_low = 0;        // percentile interval; NaN without replicates
  double ci_high = 0;
  double se_logit = 0;      // SD of logit(metric) over replicates (for metrics in (0,1))
  int replicates_used = 0;  // replicates where the metric was finite
};
// `compute(rows)` evaluates the metrics on the rows listed (with repeats).
// The point estimate uses all rows 0..n-1. Replicates draw n rows with
// replacement (std::mt19937_64 seeded with `seed`). Errors of the point
// estimate are returned; a replicate that fails or gives NaN is skipped for
// that metric. Cancelled when options.cancelled() turns true.
using MetricFunction =
    std::function<absl::StatusOr<std::map<std::string, double>>(const std::vector<int>& rows)>;
absl::StatusOr<std::map<std::string, MetricEstimate>> Bootstrap(const MetricFunction& compute,
                                                                int n,
                                                                const BootstrapOptions& options);

// Type-7 (R default) quantile of `values` (copied, sorted).
double Quantile(std::vector<double> values, double prob);

}  // namespace fedrad::models

#endif  // FEDRAD_MODELS_METRICS_H_
