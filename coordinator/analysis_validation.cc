// The coordinator's half of the external validation of a frozen model
// (docs/models.md; step 5 of coordinator/analysis_models.cc, whose RunModels
// calls ValidateModel and Pooled): models.baseline on the development sites
// and the pooled Breslow H0 on the union of their released time grids; the
// risk-group cut-points from models.lp_summary; models.validate on the
// validation sites and the curve aggregates they release; the pooled
// stratified Harrell C and DerSimonian-Laird meta-analyses. The site half is
// site_node/tasks_validation.cc. Shared types and helpers:
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
#include "absl/types/span.h"
#include "coordinator/internal/models_internal.h"
#include "coordinator/study_context.h"
#include "core/status.h"
#include "models/cox.h"
#include "models/curves.h"
#include "models/logistic.h"
#include "models/meta_analysis.h"
#include "models/metrics.h"
#include "models/pooled_baseline.h"
#include "proto/payload.h"
#include "proto/task_kinds.h"
#include "rounds/kind_eigen.h"
#include "rounds/transcript.h"

namespace fedrad::coordinator {
namespace {

namespace m = ::fedrad::models;
using Metrics = v1::Results::SiteMetrics;
using PooledValidation = v1::Results::PooledValidation;
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
namespace cv = ::fedrad::kinds::models_validate::curve;
using internal::ToStd;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// A metric a validation site releases ("metric.<name>", with _ci_low and
// _ci_high) and where results.json reports it.
struct MetricFields {
  const char* name;
  void (Metrics::*value)(double);
  void (Metrics::*ci_low)(double);
  void (Metrics::*ci_high)(double);
};
#define FEDRAD_METRIC(m) \
  MetricFields { #m, &Metrics::set_##m, &Metrics::set_##m##_ci_low, &Metrics::set_##m##_ci_high }
const MetricFields kSurvivalMetrics[] = {
    FEDRAD_METRIC(harrell_c),        FEDRAD_METRIC(uno_c),
    FEDRAD_METRIC(auc_t),            FEDRAD_METRIC(brier_t),
    FEDRAD_METRIC(integrated_brier), FEDRAD_METRIC(calibration_slope),
    FEDRAD_METRIC(oe_ratio_t)};
const MetricFields kBinaryMetrics[] = {
    FEDRAD_METRIC(auc),                FEDRAD_METRIC(sensitivity),
    FEDRAD_METRIC(specificity),        FEDRAD_METRIC(youden_threshold),
    FEDRAD_METRIC(sensitivity_youden), FEDRAD_METRIC(specificity_youden),
    FEDRAD_METRIC(brier),              FEDRAD_METRIC(calibration_intercept),
    FEDRAD_METRIC(calibration_slope)};
#undef FEDRAD_METRIC

// A DerSimonian-Laird meta-analysis of metric <name> over the validation
// sites: validation.<model>.pooled.<name>_meta...
struct MetaFields {
  const char* name;
  void (PooledValidation::*meta)(double);
  void (PooledValidation::*ci_low)(double);
  void (PooledValidation::*ci_high)(double);
  void (PooledValidation::*pi_low)(double);
  void (PooledValidation::*pi_high)(double);
  void (PooledValidation::*tau2)(double);
  void (PooledValidation::*i2)(double);
  void (PooledValidation::*q)(double);
  void (PooledValidation::*k)(int32_t);
  std::string* (PooledValidation::*note)();
};
#define FEDRAD_META(m)                                                                         \
  MetaFields {                                                                                 \
    #m, &PooledValidation::set_##m##_meta, &PooledValidation::set_##m##_meta_ci_low,           \
        &PooledValidation::set_##m##_meta_ci_high, &PooledValidation::set_##m##_meta_pi_low,   \
        &PooledValidation::set_##m##_meta_pi_high, &PooledValidation::set_##m##_meta_tau2,     \
        &PooledValidation::set_##m##_meta_i2, &PooledValidation::set_##m##_meta_q,             \
        &PooledValidation::set_##m##_meta_k, &PooledValidation::mutable_##m##_meta_note        \
  }
const MetaFields kSurvivalMeta[] = {FEDRAD_META(harrell_c), FEDRAD_META(uno_c),
                                    FEDRAD_META(auc_t)};
const MetaFields kBinaryMeta[] = {FEDRAD_META(auc)};
#undef FEDRAD_META

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

// The curve aggregates one validation site released ("curve.*" arrays), in
// the keys the report reads (docs/report.md, "Curve aggregates"). A value
// the site left non-finite prints as null.
void AddCurves(const v1::Payload& pl, double roc_t, Metrics* site) {
  // Members of the curve family (proto/task_kinds.h, models_validate::curve).
  auto vec = [&](const std::string& name, google::protobuf::RepeatedField<double>* out) {
    absl::StatusOr<std::vector<double>> v = kinds::Get(pl, mv::kCurve, name);
    if (v.ok()) *out = {v->begin(), v->end()};
  };
  auto has = [&](const std::string& name) {
    return GetArray(pl, kinds::Member(mv::kCurve, name)).ok();
  };
  auto scalar = [&](const std::string& name) {
    absl::StatusOr<double> x = kinds::GetOne(pl, mv::kCurve, name);
    return x.ok() ? *x : kNaN;
  };
  const std::string cal_ = cv::kCalibration, km = cv::kKm, roc_ = cv::kRoc;
  if (has(cal_ + cv::kSuppressed)) {
    site->mutable_calibration()->set_suppressed(true);
    site->mutable_calibration()->set_reason("fewer than k patients at the site: no bin released");
  } else if (has(cal_ + cv::kN)) {
    v1::Results::Calibration& cal = *site->mutable_calibration();
    vec(cal_ + cv::kPredicted, cal.mutable_predicted());
    vec(cal_ + cv::kObserved, cal.mutable_observed());
    vec(cal_ + cv::kCiLow, cal.mutable_observed_ci_low());
    vec(cal_ + cv::kCiHigh, cal.mutable_observed_ci_high());
    vec(cal_ + cv::kN, cal.mutable_n());
  }
  for (const char* key : cv::kRiskGroups) {
    const std::string prefix = absl::StrCat(km, key, ".");
    if (!has(prefix + cv::kN) && !has(prefix + cv::kSuppressed)) continue;
    // A suppressed group reveals nothing at its site, not even its size.
    v1::Results::KmGroup& g = *site->add_km_groups();
    g.set_label(absl::StrCat(key, " risk"));
    g.set_n(scalar(prefix + cv::kN));
    g.set_suppressed(has(prefix + cv::kSuppressed));
    if (g.suppressed()) continue;
    g.set_events(has(prefix + cv::kEvents) ? scalar(prefix + cv::kEvents) : kNaN);
    vec(prefix + cv::kTime, g.mutable_time());
    vec(prefix + cv::kSurvival, g.mutable_survival());
    vec(prefix + cv::kNAtRisk, g.mutable_n_at_risk());
  }
  if (has(roc_ + cv::kNPos)) {
    v1::Results::Roc& roc = *site->mutable_roc();
    roc.set_n_pos(scalar(roc_ + cv::kNPos));
    roc.set_n_neg(scalar(roc_ + cv::kNNeg));
    roc.set_suppressed(has(roc_ + cv::kSuppressed));
    if (!roc.suppressed()) {
      vec(roc_ + cv::kFpr, roc.mutable_fpr());
      vec(roc_ + cv::kTpr, roc.mutable_tpr());
      vec(roc_ + cv::kThreshold, roc.mutable_threshold());
    }
    if (std::isfinite(roc_t)) {
      roc.set_time_dependent_t(roc_t);  // Cox: cumulative/dynamic ROC at t (area: auc_t)
    }
  }
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
  std::map<std::string, SiteValidation> out;
  for (const auto& s : val_sites) {
    const v1::Payload& pl = results.at(s).payload();
    SiteValidation sv;
    auto get = [&](const std::string& name) {
      absl::StatusOr<double> x = kinds::GetOne(pl, mv::kMetric, name);
      return x.ok() ? *x : kNaN;
    };
    auto put = [&](const MetricFields& metric) {
      const std::string name = metric.name;
      const double x = get(name);
      (sv.metrics.*metric.value)(x);
      if (kinds::GetOne(pl, mv::kMetric, absl::StrCat(name, "_ci_low")).ok()) {
        (sv.metrics.*metric.ci_low)(get(absl::StrCat(name, "_ci_low")));
      }
      if (kinds::GetOne(pl, mv::kMetric, absl::StrCat(name, "_ci_high")).ok()) {
        (sv.metrics.*metric.ci_high)(get(absl::StrCat(name, "_ci_high")));
      }
      const double se = get(absl::StrCat(name, "_se_logit"));
      if (std::isfinite(x) && x > 0 && x < 1 && std::isfinite(se) && se > 0) {
        sv.logit_and_var[name] = {std::log(x / (1 - x)), se * se};
      }
    };
    if (cox) {
      for (const MetricFields& metric : kSurvivalMetrics) put(metric);
      sv.concordant = get("concordant");
      sv.discordant = get("discordant");
      sv.tied = get("tied_risk");
      sv.metrics.set_concordant_pairs(sv.concordant);
      sv.metrics.set_discordant_pairs(sv.discordant);
      sv.metrics.set_tied_risk_pairs(sv.tied);
    } else {
      for (const MetricFields& metric : kBinaryMetrics) put(metric);
    }
    // NaN: withheld by the site (events below k); a count is whole.
    auto count = [&](const kinds::Scalar& field, void (Metrics::*set)(double)) {
      absl::StatusOr<double> x = kinds::Get(pl, field);
      if (x.ok()) (sv.metrics.*set)(std::isfinite(*x) ? std::trunc(*x) : kNaN);
    };
    count(mv::kN, &Metrics::set_n);
    count(mv::kEvents, &Metrics::set_events);
    count(mv::kNExcluded, &Metrics::set_n_excluded);
    // The replicates the site ran (the spec's, capped by the site).
    if (absl::StatusOr<double> reps = kinds::Get(pl, mv::kBootstrapReplicates); reps.ok()) {
      sv.metrics.set_bootstrap_replicates(static_cast<int32_t>(CountFromDouble(*reps)));
    }
    AddCurves(pl, cox ? t : kNaN, &sv.metrics);
    out[s] = std::move(sv);
  }
  return out;
}

PooledValidation Pooled(const std::map<std::string, SiteValidation>& sites, bool cox) {
  PooledValidation pooled;
  int64_t n = 0, events = 0;
  bool events_withheld = false;
  for (const auto& [s, v] : sites) {
    if (v.metrics.has_n() && std::isfinite(v.metrics.n())) n += static_cast<int64_t>(v.metrics.n());
    if (v.metrics.has_events() && std::isfinite(v.metrics.events())) {
      events += static_cast<int64_t>(v.metrics.events());
    } else {
      events_withheld = true;  // a site with fewer than k events or non-events
    }
  }
  pooled.set_n(static_cast<int32_t>(n));
  pooled.set_events(events_withheld ? kNaN : static_cast<double>(events));
  pooled.set_sites(static_cast<int32_t>(sites.size()));
  if (cox) {
    m::ConcordanceCounts c;
    for (const auto& [s, v] : sites) c.Add({v.concordant, v.discordant, v.tied});
    pooled.set_harrell_c_stratified(c.c());
    pooled.set_comparable_pairs(c.comparable());
  }
  for (const MetaFields& meta :
       cox ? absl::MakeConstSpan(kSurvivalMeta) : absl::MakeConstSpan(kBinaryMeta)) {
    std::vector<double> y, var;
    for (const auto& [s, v] : sites) {
      auto it = v.logit_and_var.find(meta.name);
      if (it == v.logit_and_var.end()) continue;
      y.push_back(it->second.first);
      var.push_back(it->second.second);
    }
    absl::StatusOr<m::MetaAnalysis> ma = m::DerSimonianLaird(y, var);
    if (!ma.ok()) {
      (pooled.*meta.meta)(kNaN);
      *(pooled.*meta.note)() = std::string(ma.status().message());
      continue;
    }
    auto expit = [](double x) { return std::isfinite(x) ? m::InverseLogit(x) : kNaN; };
    (pooled.*meta.meta)(expit(ma->mu));
    (pooled.*meta.ci_low)(expit(ma->ci_low));
    (pooled.*meta.ci_high)(expit(ma->ci_high));
    (pooled.*meta.pi_low)(expit(ma->pi_low));
    (pooled.*meta.pi_high)(expit(ma->pi_high));
    (pooled.*meta.tau2)(ma->tau2);
    (pooled.*meta.i2)(ma->i2);
    (pooled.*meta.q)(ma->q);
    (pooled.*meta.k)(static_cast<int32_t>(ma->k));
  }
  return pooled;
}

}  // namespace internal
}  // namespace fedrad::coordinator
