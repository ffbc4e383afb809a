#include "rounds/validation_pool.h"

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/types/span.h"
#include "models/logistic.h"
#include "models/meta_analysis.h"
#include "models/metrics.h"
#include "proto/payload.h"
#include "proto/task_kinds.h"

namespace fedrad::rounds {
namespace {

namespace m = ::fedrad::models;
using Metrics = v1::Results::SiteMetrics;
using PooledValidation = v1::Results::PooledValidation;
namespace mv = ::fedrad::kinds::models_validate;
namespace cv = ::fedrad::kinds::models_validate::curve;

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

SiteValidation ReadSiteValidation(const v1::Payload& pl, bool cox, double roc_t) {
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
  AddCurves(pl, roc_t, &sv.metrics);
  return sv;
}

PooledValidation PoolValidation(const std::map<std::string, SiteValidation>& sites, bool cox) {
  PooledValidation pooled;
  // A site's n and events are counts it sent as doubles: only whole numbers
  // from 0 to 2^53 count (CountFromDouble; a cast of 1.4e248 to an integer
  // was undefined behaviour, found by tests/fuzz/fuzz_coordinator_result).
  // An n that is no count adds nothing; events that are none are withheld.
  double n = 0, events = 0;
  bool events_withheld = false;
  for (const auto& [s, v] : sites) {
    const int64_t site_n = v.metrics.has_n() ? CountFromDouble(v.metrics.n()) : -1;
    if (site_n >= 0) n += static_cast<double>(site_n);
    const int64_t site_events = v.metrics.has_events() ? CountFromDouble(v.metrics.events()) : -1;
    if (site_events >= 0) {
      events += static_cast<double>(site_events);
    } else {
      events_withheld = true;  // a site with fewer than k events or non-events
    }
  }
  constexpr double kMaxN = std::numeric_limits<int32_t>::max();
  pooled.set_n(static_cast<int32_t>(std::min(n, kMaxN)));
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

}  // namespace fedrad::rounds
