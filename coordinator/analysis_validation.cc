// The coordinator's half of the external validation of a frozen model
// (docs/models.md; step 5 of coordinator/analysis_models.cc, whose RunModels
// calls ValidateModel and rounds::PoolValidation): models.baseline on the
// development sites and the pooled Breslow H0 on the union of their released
// time grids; the risk-group cut-points from models.lp_summary;
// models.validate on the validation sites (signed, round
// rounds::ValidateRound), read with rounds::ReadSiteValidation. The pooled
// stratified Harrell C and DerSimonian-Laird meta-analyses are
// rounds/validation_pool.h, the function `fedrad audit replay` runs too. The
// site half is site_node/tasks_validation.cc. Shared types and helpers:
// coordinator/internal/models_internal.h.
// results.json keys: docs/results.md, "validation".
#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "coordinator/internal/models_internal.h"
#include "coordinator/study_context.h"
#include "core/status.h"
#include "models/cox.h"
#include "models/metrics.h"
#include "models/pooled_baseline.h"
#include "proto/payload.h"
#include "proto/task_kinds.h"
#include "rounds/kind_eigen.h"
#include "rounds/transcript.h"
#include "rounds/validation_pool.h"

namespace fedrad::coordinator {
namespace {

namespace m = ::fedrad::models;
using internal::FitTranscripts;
using internal::Fitted;
using internal::IsCox;
using internal::PreparedModel;
using internal::RequireSites;
using internal::RoundParams;
using internal::SiteValidation;
using ::fedrad::kinds::Put;
using ::fedrad::kinds::SiteVector;
namespace mt = ::fedrad::kinds::model_task;
namespace mb = ::fedrad::kinds::models_baseline;
namespace ml = ::fedrad::kinds::models_lp_summary;
namespace mv = ::fedrad::kinds::models_validate;
using internal::ToStd;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// The pooled Breslow baseline hazard from the development sites'
// models.baseline answers (models::PoolBaseline, docs/models.md "Grids the
// site fixes"): the same function validation sites and the auditor run on
// the sites' signed contributions.
using m::PooledBaseline;

absl::StatusOr<PooledBaseline> PoolBaseline(const std::map<std::string, v1::TaskResult>& sums,
                                            const std::vector<std::string>& dev_sites, double t,
                                            double tau) {
  std::vector<m::SiteBaseline> sites;
  for (const auto& s : dev_sites) {
    const v1::Payload& pl = sums.at(s).payload();
    m::SiteBaseline b;
    b.site = s;
    absl::StatusOr<std::vector<double>> g = kinds::Get(pl, mb::kGrid);
    if (!g.ok()) return Annotate(g.status(), absl::StrCat("site ", s));
    b.grid = *g;
    FEDRAD_ASSIGN_OR_RETURN(Eigen::VectorXd e, SiteVector(s, pl, mb::kGridEvents, b.grid.size()));
    FEDRAD_ASSIGN_OR_RETURN(Eigen::VectorXd r,
                            SiteVector(s, pl, mb::kGridRiskSum, b.grid.size()));
    b.events = ToStd(e);
    b.risk = ToStd(r);
    sites.push_back(std::move(b));
  }
  return m::PoolBaseline(sites, t, tau);
}

// The model param of a round.
std::string ModelNameOf(const v1::Payload& params) { return kinds::Get(params, mt::kModel); }

// Tertiles of the frozen model's linear predictor over the development sites,
// from the cumulative counts each released on a lattice it fixed
// (models.lp_summary: each step >= k patients; no value released), pooled by
// linear interpolation (models::QuantilesFromCounts). One round.
absl::StatusOr<std::vector<double>> RiskGroupCuts(StudyContext& ctx, const v1::Payload& base,
                                                  const Fitted& fit,
                                                  const std::vector<std::string>& dev_sites,
                                                  v1::Results::RiskGroups* info,
                                                  v1::Transcript* transcript) {
  FEDRAD_ASSIGN_OR_RETURN(auto first,
                          ctx.RunRound(ml::kName, RoundParams(ctx, base, dev_sites),
                                       FitTranscripts(fit, dev_sites)));
  FEDRAD_RETURN_IF_ERROR(RequireSites(dev_sites, first, ml::kName));
  // The signed counts go to the validation sites, which recompute the cuts.
  FEDRAD_RETURN_IF_ERROR(internal::CollectSigned(ctx, first, dev_sites,
                                      rounds::LpSummaryRound(ModelNameOf(base), fit.fit_id),
                                      transcript));
  std::vector<m::SiteCounts> parts;
  for (const auto& s : dev_sites) {
    const v1::Payload& pl = first.at(s).payload();
    m::SiteCounts sc;
    FEDRAD_ASSIGN_OR_RETURN(sc.n, kinds::Get(pl, ml::kN));
    absl::StatusOr<std::vector<double>> g = kinds::Get(pl, ml::kGrid);
    if (!g.ok()) return Annotate(g.status(), absl::StrCat("site ", s));
    sc.grid = *g;
    FEDRAD_ASSIGN_OR_RETURN(Eigen::VectorXd c, SiteVector(s, pl, ml::kCounts, sc.grid.size()));
    sc.counts = ToStd(c);
    parts.push_back(sc);
  }
  std::vector<double> rank_error;
  // The same function validation sites and the auditor run (issue 12).
  FEDRAD_ASSIGN_OR_RETURN(std::vector<double> found, m::TertileCuts(parts, &rank_error));
  const std::vector<double>* cuts = &found;
  if (info != nullptr) {
    *info->mutable_cuts() = {cuts->begin(), cuts->end()};
    for (size_t i = 0; i < cuts->size(); ++i) {
      v1::Results::Tertile* tertile = info->add_tertiles();
      tertile->set_probability(i == 0 ? 1.0 / 3 : 2.0 / 3);
      tertile->set_value((*cuts)[i]);
      tertile->set_rank_error(rank_error[i]);
    }
    *info->mutable_sites() = {dev_sites.begin(), dev_sites.end()};
    info->set_rounds(1);
    info->set_method(
        "tertiles of the linear predictor over the development sites, interpolated in the "
        "cumulative counts each site released on a lattice it fixed (each step >= k patients; "
        "no individual value released); low: lp <= cuts[0] < intermediate: lp <= cuts[1] < high");
  }
  return *cuts;
}

}  // namespace

namespace internal {

absl::StatusOr<std::map<std::string, SiteValidation>> ValidateModel(
    StudyContext& ctx, const PreparedModel& prep, const Fitted& fit,
    const std::vector<std::string>& dev_sites, const std::vector<std::string>& val_sites,
    v1::Results::Baseline* baseline_out, v1::Results::RiskGroups* risk_groups_out) {
  const v1::Model& model = *prep.spec;
  const v1::Validation& v = ctx.study().validation();
  const bool cox = IsCox(model);
  const double t = v.t() > 0 ? v.t() : m::kDefaultHorizonDays;
  const double tau = v.tau() > 0 ? v.tau() : m::kDefaultTruncationDays;
  // t, tau, the threshold, calibration bins, the Kaplan-Meier step and the
  // bootstrap settings are not sent: every site takes them from the approved
  // spec (site_node/validation_rules.h).
  v1::Payload params;
  Put(&params, mt::kModel, model.name());
  Put(&params, mt::kCovariates, fit.covariates);
  Put(&params, mt::kBeta, fit.beta);
  // Which fit froze the model: each site recomputes it from fit.transcript.
  Put(&params, mt::kFit, fit.fit_id);
  Put(&params, mt::kFitSites, fit.sites);
  const v1::Payload frozen = params;  // the model and its coefficients only
  // What the validation sites recompute the frozen model, H0 and the cuts from.
  v1::Transcript val_transcript = fit.transcript;
  if (cox) {
    FEDRAD_ASSIGN_OR_RETURN(auto sums,
                            ctx.RunRound(mb::kName, RoundParams(ctx, params, dev_sites),
                                         FitTranscripts(fit, dev_sites)));
    FEDRAD_RETURN_IF_ERROR(RequireSites(dev_sites, sums, mb::kName));
    // The signed sums go to the validation sites, which recompute H0.
    FEDRAD_RETURN_IF_ERROR(internal::CollectSigned(ctx, sums, dev_sites,
                                        rounds::BaselineRound(model.name(), fit.fit_id),
                                        &val_transcript));
    FEDRAD_ASSIGN_OR_RETURN(PooledBaseline base, PoolBaseline(sums, dev_sites, t, tau));
    Put(&params, mv::kGrid, base.grid);
    Put(&params, mv::kCumhaz, base.cumhaz);
    if (baseline_out) {
      baseline_out->set_cumhaz_t(m::CumulativeHazardAt(base.grid, base.cumhaz, t));
      baseline_out->set_cumhaz_tau(m::CumulativeHazardAt(base.grid, base.cumhaz, tau));
      baseline_out->set_grid_points(static_cast<int32_t>(base.grid.size()));
      double step = 0;
      for (size_t j = 1; j < base.grid.size(); ++j) {
        const double d = base.grid[j] - base.grid[j - 1];
        step = step == 0 ? d : std::min(step, d);
      }
      baseline_out->set_grid_step(step);
      *baseline_out->mutable_grid() = {base.grid.begin(), base.grid.end()};
      for (const auto& [s, points] : base.site_points) {
        (*baseline_out->mutable_site_grid_points())[s] = static_cast<int32_t>(points);
      }
    }
    const double km_step = v.km_time_step() == 0 ? m::kDefaultKmTimeStepDays : v.km_time_step();
    if (km_step > 0) {
      FEDRAD_ASSIGN_OR_RETURN(std::vector<double> cuts,
                              RiskGroupCuts(ctx, frozen, fit, dev_sites, risk_groups_out,
                                            &val_transcript));
      Put(&params, mv::kKmCuts, cuts);
    }
  }
  FEDRAD_ASSIGN_OR_RETURN(auto results,
                          ctx.RunRound(mv::kName, RoundParams(ctx, params, val_sites),
                                       [&] {
                                         std::map<std::string, v1::Transcript> by_site;
                                         for (const auto& s : val_sites) by_site[s] = val_transcript;
                                         return by_site;
                                       }()));
  FEDRAD_RETURN_IF_ERROR(RequireSites(val_sites, results, mv::kName));
  // Each site signed its answer (issue 12): checked here, kept in the
  // coordinator's log for `fedrad audit replay`, which reads the metrics from
  // it with the same rounds::ReadSiteValidation.
  FEDRAD_RETURN_IF_ERROR(internal::CollectSigned(
      ctx, results, val_sites, rounds::ValidateRound(model.name(), fit.fit_id), nullptr));
  std::map<std::string, SiteValidation> out;
  for (const auto& s : val_sites) {
    out[s] = rounds::ReadSiteValidation(results.at(s).payload(), cox, cox ? t : kNaN);
  }
  return out;
}

}  // namespace internal
}  // namespace fedrad::coordinator
