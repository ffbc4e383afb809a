// What a site derives or checks itself before it computes a model's baseline
// hazard, its linear predictor's distribution or its validation
// (site_node/tasks_models.cc: models.baseline, models.lp_summary,
// models.validate; docs/models.md "Grids the site fixes"). The coordinator is
// untrusted: every setting comes from the approved study spec and the site's
// own rules, and what the coordinator does send (coefficients, cut-points,
// the pooled baseline hazard) is checked or bounded here.
//
//   ValidationSettings s = SettingsFromSpec(task.study().validation());
//   std::vector<double> lattice = BaselineLattice(task.study().validation(), s);
//   FEDRAD_RETURN_IF_ERROR(CheckLinearPredictor(lp, "models.validate"));
//
// Refusals are PublicError statuses naming the field and the rule, never a
// value or a count (site_rules.h). Thread safety: pure functions.
#ifndef FEDRAD_SITE_NODE_VALIDATION_RULES_H_
#define FEDRAD_SITE_NODE_VALIDATION_RULES_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/csv.h"
#include "proto/models.pb.h"

namespace fedrad::site {

// The finest time lattice a site uses for any released curve or baseline
// sum: 30 days (a lattice step below it in the spec is raised to it). Each
// released point must in addition have >= k patients leave the risk set
// since the previous one (models::ReleasedTimePoints).
inline constexpr double kMinTimeStepDays = 30;

// The largest |lp_i - mean lp| a site accepts for coefficients it did not fit
// itself (a frozen model at a validation site; a multi-site fit's risk sums):
// 10, i.e. risk weights exp(lp) within a factor e^20 of one another. A packed
// predictor (beta = [1e4, 1] on two columns) is far outside it.
inline constexpr double kMaxLinearPredictorSpread = 10;

// The validation settings of the approved spec (Validation), with the
// documented defaults (models/metrics.h), caps and site floors applied.
struct ValidationSettings {
  double t = 0;                 // horizon (days)
  double tau = 0;               // truncation (days)
  double threshold = 0;         // binary classification threshold
  int calibration_bins = 0;     // 0: no calibration curve
  double km_time_step = 0;      // 0: no risk-group curves; else >= kMinTimeStepDays
  int replicates = 0;           // capped at kMaxBootstrapReplicates
  uint64_t seed = 0;
};
ValidationSettings SettingsFromSpec(const v1::Validation& v);

// The lattice of the baseline risk sums: the spec's time_grid (sorted, thinned
// to points >= kMinTimeStepDays apart) or every max(time_grid_step,
// kMinTimeStepDays) days, up to max(t, tau); 0 (where everyone is at risk),
// t and tau are always lattice points. At most kMaxGridPoints points.
std::vector<double> BaselineLattice(const v1::Validation& v, const ValidationSettings& s);
// The lattice of the risk-group Kaplan-Meier curves: every km_time_step days
// up to tau (empty when km_time_step is 0).
std::vector<double> KmLattice(const ValidationSettings& s);

// Finite, and max |lp_i - mean| <= kMaxLinearPredictorSpread (rule
// linear-predictor-bound). `what` names the task kind in the refusal.
absl::Status CheckLinearPredictor(const std::vector<double>& lp, absl::string_view what);
// The largest share of a released sum of risk weights exp(lp) one patient
// may carry: 0.5, the (1, 50%) dominance rule of output checking. A share of
// 1/k would refuse ordinary Cox models at sites of ~60 patients (it did on
// the fixture cohort of models/testdata), so the site applies the dominance
// rule to the whole site's sum (a refusal) and to every released risk set (a
// point where it fails is not released), together with the linear predictor
// bound above.
inline constexpr double kMaxWeightShare = 0.5;

// No patient carries more than kMaxWeightShare of the site's sum of exp(lp)
// (rule weight-concentration).
absl::Status CheckWeightConcentration(const std::vector<double>& lp, absl::string_view what);

// At a site that fitted `model` itself (site_fits.h), OK only for the
// covariates and coefficients it released (rule site-fit); OK without a site
// fit (*has_fit = false). PermissionDenied otherwise.
absl::Status CheckSiteFit(const std::map<std::string, std::string>& state,
                          const std::string& model, const std::vector<std::string>& covariates,
                          const std::vector<double>& beta, absl::string_view what,
                          bool* has_fit);

// The pooled baseline hazard a validation site receives: grid strictly
// increasing, finite, >= 0; cumhaz finite, >= 0, nondecreasing; equal sizes
// of at most kMaxGridPoints (rule baseline-hazard).
absl::Status CheckBaselineHazard(const std::vector<double>& grid,
                                 const std::vector<double>& cumhaz);

// Two finite cut-points c1 <= c2 (rule risk-group-cuts).
absl::Status CheckCuts(const std::vector<double>& cuts);

// The ids of the rows models::ExtractModelRows keeps (every one of `columns`
// present), in table order: the patients the model's aggregates rest on.
// Rows are named by `id_column` when the table has it, else by row number.
std::vector<std::string> UsedRowIds(const CsvTable& table, const std::vector<std::string>& columns,
                                    const std::string& id_column);

}  // namespace fedrad::site

#endif  // FEDRAD_SITE_NODE_VALIDATION_RULES_H_
