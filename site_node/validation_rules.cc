#include "site_node/validation_rules.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "models/curves.h"
#include "models/metrics.h"
#include "proto/task_kinds.h"
#include "site_node/site_fits.h"
#include "site_node/site_rules.h"

namespace fedrad::site {
namespace {

namespace m = ::fedrad::models;
namespace mt = ::fedrad::kinds::model_task;
namespace mv = ::fedrad::kinds::models_validate;

absl::Status Refuse(absl::string_view what, absl::string_view field, absl::string_view rule) {
  return PublicError(absl::StatusCode::kPermissionDenied,
                     absl::StrCat(what, ": ", field, ": refused (rule ", rule, ")"));
}

absl::Status Invalid(absl::string_view field, absl::string_view rule) {
  return PublicError(absl::StatusCode::kInvalidArgument,
                     absl::StrCat("models.validate: ", field, ": refused (rule ", rule, ")"));
}

}  // namespace

ValidationSettings SettingsFromSpec(const v1::Validation& v) {
  ValidationSettings s;
  // A horizon or truncation time that is not a positive finite number of
  // days takes the default (an infinite tau made the lattice loop forever).
  s.t = v.t() > 0 && std::isfinite(v.t()) ? v.t() : m::kDefaultHorizonDays;
  s.tau = v.tau() > 0 && std::isfinite(v.tau()) ? v.tau() : m::kDefaultTruncationDays;
  s.threshold = v.threshold() > 0 ? v.threshold() : m::kDefaultBinaryThreshold;
  const int bins = v.calibration_bins() == 0 ? m::kDefaultCalibrationBins : v.calibration_bins();
  s.calibration_bins = std::clamp(bins, 0, 100);
  const double km = v.km_time_step() == 0 ? m::kDefaultKmTimeStepDays : v.km_time_step();
  s.km_time_step = km > 0 && std::isfinite(km) ? std::max(km, kMinTimeStepDays) : 0;
  const int reps = v.bootstrap_replicates() == 0 ? m::kDefaultBootstrapReplicates
                                                 : v.bootstrap_replicates();
  s.replicates = std::clamp(reps, 0, kMaxBootstrapReplicates);
  s.seed = v.bootstrap_seed() == 0 ? m::kDefaultBootstrapSeed : v.bootstrap_seed();
  return s;
}

std::vector<double> BaselineLattice(const v1::Validation& v, const ValidationSettings& s) {
  const double end = std::max(s.t, s.tau);
  std::vector<double> points;
  if (v.time_grid_size() > 0) {
    for (double g : v.time_grid()) {
      if (std::isfinite(g) && g > 0 && g <= end) points.push_back(g);
    }
    std::sort(points.begin(), points.end());
    std::vector<double> thinned;
    for (double g : points) {
      if (thinned.empty() || g - thinned.back() >= kMinTimeStepDays) thinned.push_back(g);
    }
    points = thinned;
  } else {
    const double step = v.time_grid_step() > 0 && std::isfinite(v.time_grid_step())
                            ? std::max(v.time_grid_step(), kMinTimeStepDays)
                            : kMinTimeStepDays;
    points = m::GridEvery(step, end, step, kMaxGridPoints);
  }
  if (points.size() > kMaxGridPoints - 2) points.resize(kMaxGridPoints - 2);
  points.push_back(0);  // everyone at risk: the risk sums' starting value
  points.push_back(s.t);
  points.push_back(s.tau);
  std::sort(points.begin(), points.end());
  points.erase(std::unique(points.begin(), points.end()), points.end());
  return points;
}

std::vector<double> KmLattice(const ValidationSettings& s) {
  if (!(s.km_time_step > 0)) return {};
  std::vector<double> g = m::GridEvery(s.km_time_step, s.tau, s.km_time_step, kMaxGridPoints);
  if (g.size() > kMaxGridPoints) g.resize(kMaxGridPoints);
  return g;
}

absl::Status CheckLinearPredictor(const std::vector<double>& lp, absl::string_view what) {
  double sum = 0;
  for (double x : lp) {
    if (!std::isfinite(x)) return Refuse(what, mt::kBeta.name, "linear-predictor-bound");
    sum += x;
  }
  if (lp.empty()) return absl::OkStatus();
  const double mean = sum / static_cast<double>(lp.size());
  for (double x : lp) {
    if (!(std::abs(x - mean) <= kMaxLinearPredictorSpread)) {
      return Refuse(what, mt::kBeta.name, "linear-predictor-bound");
    }
  }
  return absl::OkStatus();
}

absl::Status CheckWeightConcentration(const std::vector<double>& lp, absl::string_view what) {
  if (lp.empty()) return absl::OkStatus();
  const double top = *std::max_element(lp.begin(), lp.end());
  double sum = 0;  // relative to the largest weight, so exp() cannot overflow
  for (double x : lp) sum += std::exp(x - top);
  if (!(1.0 <= kMaxWeightShare * sum)) {
    return Refuse(what, mt::kBeta.name, "weight-concentration");
  }
  return absl::OkStatus();
}

absl::Status CheckSiteFit(const std::map<std::string, std::string>& state,
                          const std::string& model, const std::vector<std::string>& covariates,
                          const std::vector<double>& beta, absl::string_view what,
                          bool* has_fit) {
  std::optional<SiteFit> fit = FindSiteFit(state, model);
  *has_fit = fit.has_value();
  if (!fit) return absl::OkStatus();
  if (fit->covariates != covariates || !SameCoefficients(*fit, beta)) {
    return Refuse(what, mt::kBeta.name,
                  "site-fit: this site fitted the model itself and accepts only its own "
                  "coefficients");
  }
  return absl::OkStatus();
}

absl::Status CheckBaselineHazard(const std::vector<double>& grid,
                                 const std::vector<double>& cumhaz) {
  if (grid.size() != cumhaz.size() || grid.size() > kMaxGridPoints) {
    return Invalid("grid/cumhaz", "baseline-hazard");
  }
  for (size_t j = 0; j < grid.size(); ++j) {
    if (!std::isfinite(grid[j]) || grid[j] < 0 || (j > 0 && !(grid[j] > grid[j - 1]))) {
      return Invalid(mv::kGrid.name, "baseline-hazard");
    }
    if (!std::isfinite(cumhaz[j]) || cumhaz[j] < 0 || (j > 0 && cumhaz[j] < cumhaz[j - 1])) {
      return Invalid(mv::kCumhaz.name, "baseline-hazard");
    }
  }
  return absl::OkStatus();
}

absl::Status CheckCuts(const std::vector<double>& cuts) {
  if (cuts.size() != 2 || !std::isfinite(cuts[0]) || !std::isfinite(cuts[1]) ||
      !(cuts[0] <= cuts[1])) {
    return Invalid(mv::kKmCuts.name, "risk-group-cuts");
  }
  return absl::OkStatus();
}

std::vector<std::string> UsedRowIds(const CsvTable& table, const std::vector<std::string>& columns,
                                    const std::string& id_column) {
  std::vector<int> idx;
  for (const std::string& c : columns) idx.push_back(table.ColumnIndex(c));
  const int id = table.ColumnIndex(id_column);
  std::vector<std::string> out;
  for (size_t r = 0; r < table.num_rows(); ++r) {
    bool present = true;
    for (int j : idx) {
      if (j < 0 || IsMissingCell(table.cell(r, static_cast<size_t>(j)))) present = false;
    }
    if (!present) continue;
    out.push_back(id >= 0 ? table.cell(r, static_cast<size_t>(id)) : absl::StrCat("row ", r));
  }
  return out;
}

}  // namespace fedrad::site
