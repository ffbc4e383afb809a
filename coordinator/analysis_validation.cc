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
#include "rounds/transcript.h"

namespace fedrad::coordinator {
namespace {

namespace m = ::fedrad::models;
using nlohmann::json;
using internal::FitTranscripts;
using internal::Fitted;
using internal::IsCox;
using internal::PreparedModel;
using internal::RequireSites;
using internal::RoundParams;
using internal::SiteValidation;
using internal::SiteVector;
using internal::ToStd;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

const char* const kSurvivalMetrics[] = {"harrell_c", "uno_c", "auc_t", "brier_t",
                                        "integrated_brier", "calibration_slope", "oe_ratio_t"};
const char* const kBinaryMetrics[] = {"auc", "sensitivity", "specificity", "youden_threshold",
                                      "sensitivity_youden", "specificity_youden", "brier",
                                      "calibration_intercept", "calibration_slope"};

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
    absl::StatusOr<std::vector<double>> g = GetVector(pl, "grid");
    if (!g.ok()) return Annotate(g.status(), absl::StrCat("site ", s));
    b.grid = *g;
    FEDRAD_ASSIGN_OR_RETURN(Eigen::VectorXd e, SiteVector(s, pl, "grid_events", b.grid.size()));
    FEDRAD_ASSIGN_OR_RETURN(Eigen::VectorXd r, SiteVector(s, pl, "grid_risk_sum", b.grid.size()));
    b.events = ToStd(e);
    b.risk = ToStd(r);
    sites.push_back(std::move(b));
  }
  return m::PoolBaseline(sites, t, tau);
}

// The "model" param of a round.
std::string ModelNameOf(const v1::Payload& params) {
  auto it = params.strings().find("model");
  return it == params.strings().end() ? "" : it->second;
}

// Tertiles of the frozen model's linear predictor over the development sites,
// from the cumulative counts each released on a lattice it fixed
// (models.lp_summary: each step >= k patients; no value released), pooled by
// linear interpolation (models::QuantilesFromCounts). One round.
absl::StatusOr<std::vector<double>> RiskGroupCuts(StudyContext& ctx, const v1::Payload& base,
                                                  const Fitted& fit,
                                                  const std::vector<std::string>& dev_sites,
                                                  json* info, v1::Transcript* transcript) {
  FEDRAD_ASSIGN_OR_RETURN(auto first,
                          ctx.RunRound("models.lp_summary", RoundParams(ctx, base, dev_sites),
                                       FitTranscripts(fit, dev_sites)));
  FEDRAD_RETURN_IF_ERROR(RequireSites(dev_sites, first, "models.lp_summary"));
  // The signed counts go to the validation sites, which recompute the cuts.
  FEDRAD_RETURN_IF_ERROR(internal::CollectSigned(ctx, first, dev_sites,
                                      rounds::LpSummaryRound(ModelNameOf(base), fit.fit_id),
                                      transcript));
  std::vector<m::SiteCounts> parts;
  for (const auto& s : dev_sites) {
    const v1::Payload& pl = first.at(s).payload();
    m::SiteCounts sc;
    FEDRAD_ASSIGN_OR_RETURN(sc.n, GetScalar(pl, "n"));
    absl::StatusOr<std::vector<double>> g = GetVector(pl, "grid");
    if (!g.ok()) return Annotate(g.status(), absl::StrCat("site ", s));
    sc.grid = *g;
    FEDRAD_ASSIGN_OR_RETURN(Eigen::VectorXd c, SiteVector(s, pl, "counts", sc.grid.size()));
    sc.counts = ToStd(c);
    parts.push_back(sc);
  }
  std::vector<double> rank_error;
  // The same function validation sites and the auditor run (issue 12).
  FEDRAD_ASSIGN_OR_RETURN(std::vector<double> found, m::TertileCuts(parts, &rank_error));
  const std::vector<double>* cuts = &found;
  json est = json::array();
  for (size_t i = 0; i < cuts->size(); ++i) {
    est.push_back({{"probability", i == 0 ? 1.0 / 3 : 2.0 / 3},
                   {"value", (*cuts)[i]},
                   {"rank_error", rank_error[i]}});
  }
  if (info != nullptr) {
    (*info)["cuts"] = *cuts;
    (*info)["tertiles"] = est;
    (*info)["sites"] = dev_sites;
    (*info)["rounds"] = 1;
    (*info)["method"] =
        "tertiles of the linear predictor over the development sites, interpolated in the "
        "cumulative counts each site released on a lattice it fixed (each step >= k patients; "
        "no individual value released); low: lp <= cuts[0] < intermediate: lp <= cuts[1] < high";
  }
  return *cuts;
}

// The curve aggregates one validation site released ("curve.*" arrays), in
// the keys the report reads (docs/report.md, "Curve aggregates").
void CurvesJson(const v1::Payload& pl, double roc_t, json* site) {
  auto vec = [&](const std::string& name) -> json {
    absl::StatusOr<std::vector<double>> v = GetVector(pl, name);
    if (!v.ok()) return nullptr;
    json a = json::array();
    for (double x : *v) a.push_back(std::isfinite(x) ? json(x) : json(nullptr));
    return a;
  };
  auto has = [&](const std::string& name) { return GetArray(pl, name).ok(); };
  auto scalar = [&](const std::string& name) -> json {
    absl::StatusOr<double> x = GetScalar(pl, name);
    return x.ok() && std::isfinite(*x) ? json(*x) : json(nullptr);
  };
  if (has("curve.calibration.suppressed")) {
    (*site)["calibration"] = {{"suppressed", true},
                              {"reason", "fewer than k patients at the site: no bin released"}};
  } else if (has("curve.calibration.n")) {
    (*site)["calibration"] = {{"predicted", vec("curve.calibration.predicted")},
                              {"observed", vec("curve.calibration.observed")},
                              {"observed_ci_low", vec("curve.calibration.ci_low")},
                              {"observed_ci_high", vec("curve.calibration.ci_high")},
                              {"n", vec("curve.calibration.n")}};
  }
  const char* const keys[] = {"low", "intermediate", "high"};
  json groups = json::array();
  for (const char* key : keys) {
    const std::string prefix = absl::StrCat("curve.km.", key, ".");
    if (!has(prefix + "n") && !has(prefix + "suppressed")) continue;
    // A suppressed group reveals nothing at its site, not even its size.
    json g = {{"label", absl::StrCat(key, " risk")}, {"n", scalar(prefix + "n")}};
    if (has(prefix + "suppressed")) {
      g["suppressed"] = true;
    } else {
      g["suppressed"] = false;
      g["events"] = has(prefix + "events") ? scalar(prefix + "events") : json(nullptr);
      g["time"] = vec(prefix + "time");
      g["survival"] = vec(prefix + "survival");
      g["n_at_risk"] = vec(prefix + "n_at_risk");
    }
    groups.push_back(g);
  }
  if (!groups.empty()) (*site)["km_groups"] = groups;
  if (has("curve.roc.n_pos")) {
    json roc = {{"n_pos", scalar("curve.roc.n_pos")}, {"n_neg", scalar("curve.roc.n_neg")}};
    if (has("curve.roc.suppressed")) {
      roc["suppressed"] = true;
    } else {
      roc["suppressed"] = false;
      roc["fpr"] = vec("curve.roc.fpr");
      roc["tpr"] = vec("curve.roc.tpr");
      roc["threshold"] = vec("curve.roc.threshold");
    }
    if (std::isfinite(roc_t)) {
      roc["time_dependent_t"] = roc_t;  // Cox: cumulative/dynamic ROC at t (area: auc_t)
    }
    (*site)["roc"] = roc;
  }

}

}  // namespace

namespace internal {

absl::StatusOr<std::map<std::string, SiteValidation>> ValidateModel(
    StudyContext& ctx, const PreparedModel& prep, const Fitted& fit,
    const std::vector<std::string>& dev_sites, const std::vector<std::string>& val_sites,
    json* baseline_out, json* risk_groups_out) {
  const v1::Model& model = *prep.spec;
  const v1::Validation& v = ctx.study().validation();
  const bool cox = IsCox(model);
  const double t = v.t() > 0 ? v.t() : m::kDefaultHorizonDays;
  const double tau = v.tau() > 0 ? v.tau() : m::kDefaultTruncationDays;
  // t, tau, the threshold, calibration bins, the Kaplan-Meier step and the
  // bootstrap settings are not sent: every site takes them from the approved
  // spec (site_node/validation_rules.h).
  v1::Payload params;
  (*params.mutable_strings())["model"] = model.name();
  (*params.mutable_strings())["covariates"] = absl::StrJoin(fit.covariates, "\n");
  AddVector(&params, "beta", ToStd(fit.beta));
  // Which fit froze the model: each site recomputes it from fit.transcript.
  (*params.mutable_strings())["fit"] = fit.fit_id;
  (*params.mutable_strings())["fit_sites"] = absl::StrJoin(fit.sites, "\n");
  const v1::Payload frozen = params;  // the model and its coefficients only
  // What the validation sites recompute the frozen model, H0 and the cuts from.
  v1::Transcript val_transcript = fit.transcript;
  if (cox) {
    FEDRAD_ASSIGN_OR_RETURN(auto sums,
                            ctx.RunRound("models.baseline", RoundParams(ctx, params, dev_sites),
                                         FitTranscripts(fit, dev_sites)));
    FEDRAD_RETURN_IF_ERROR(RequireSites(dev_sites, sums, "models.baseline"));
    // The signed sums go to the validation sites, which recompute H0.
    FEDRAD_RETURN_IF_ERROR(internal::CollectSigned(ctx, sums, dev_sites,
                                        rounds::BaselineRound(model.name(), fit.fit_id),
                                        &val_transcript));
    FEDRAD_ASSIGN_OR_RETURN(PooledBaseline base, PoolBaseline(sums, dev_sites, t, tau));
    AddVector(&params, "grid", base.grid);
    AddVector(&params, "cumhaz", base.cumhaz);
    if (baseline_out) {
      (*baseline_out)["cumhaz_t"] = m::CumulativeHazardAt(base.grid, base.cumhaz, t);
      (*baseline_out)["cumhaz_tau"] = m::CumulativeHazardAt(base.grid, base.cumhaz, tau);
      (*baseline_out)["grid_points"] = base.grid.size();
      double step = 0;
      for (size_t j = 1; j < base.grid.size(); ++j) {
        const double d = base.grid[j] - base.grid[j - 1];
        step = step == 0 ? d : std::min(step, d);
      }
      (*baseline_out)["grid_step"] = step;
      (*baseline_out)["grid"] = base.grid;
      for (const auto& [s, points] : base.site_points) (*baseline_out)["site_grid_points"][s] = points;
    }
    const double km_step = v.km_time_step() == 0 ? m::kDefaultKmTimeStepDays : v.km_time_step();
    if (km_step > 0) {
      FEDRAD_ASSIGN_OR_RETURN(std::vector<double> cuts,
                              RiskGroupCuts(ctx, frozen, fit, dev_sites, risk_groups_out,
                                            &val_transcript));
      AddVector(&params, "km_cuts", cuts);
    }
  }
  FEDRAD_ASSIGN_OR_RETURN(auto results,
                          ctx.RunRound("models.validate", RoundParams(ctx, params, val_sites),
                                       [&] {
                                         std::map<std::string, v1::Transcript> by_site;
                                         for (const auto& s : val_sites) by_site[s] = val_transcript;
                                         return by_site;
                                       }()));
  FEDRAD_RETURN_IF_ERROR(RequireSites(val_sites, results, "models.validate"));
  std::map<std::string, SiteValidation> out;
  for (const auto& s : val_sites) {
    const v1::Payload& pl = results.at(s).payload();
    SiteValidation sv;
    auto get = [&](const std::string& name) {
      absl::StatusOr<double> x = GetScalar(pl, absl::StrCat("metric.", name));
      return x.ok() ? *x : kNaN;
    };
    auto put = [&](const std::string& name) {
      const double x = get(name);
      sv.metrics[name] = std::isfinite(x) ? json(x) : json(nullptr);
      for (const char* suffix : {"_ci_low", "_ci_high"}) {
        const double c = get(absl::StrCat(name, suffix));
        if (GetScalar(pl, absl::StrCat("metric.", name, suffix)).ok()) {
          sv.metrics[absl::StrCat(name, suffix)] = std::isfinite(c) ? json(c) : json(nullptr);
        }
      }
      const double se = get(absl::StrCat(name, "_se_logit"));
      if (std::isfinite(x) && x > 0 && x < 1 && std::isfinite(se) && se > 0) {
        sv.logit_and_var[name] = {std::log(x / (1 - x)), se * se};
      }
    };
    if (cox) {
      for (const char* name : kSurvivalMetrics) put(name);
      sv.concordant = get("concordant");
      sv.discordant = get("discordant");
      sv.tied = get("tied_risk");
      sv.metrics["concordant_pairs"] = sv.concordant;
      sv.metrics["discordant_pairs"] = sv.discordant;
      sv.metrics["tied_risk_pairs"] = sv.tied;
    } else {
      for (const char* name : kBinaryMetrics) put(name);
    }
    for (const char* key : {"n", "events", "n_excluded"}) {
      absl::StatusOr<double> x = GetScalar(pl, key);
      if (x.ok()) {
        // NaN: withheld by the site (events below k).
        sv.metrics[key] = std::isfinite(*x) ? json(CountFromDouble(*x)) : json(nullptr);
      }
    }
    // The replicates the site ran (the spec's, capped by the site).
    if (absl::StatusOr<double> reps = GetScalar(pl, "bootstrap_replicates"); reps.ok()) {
      sv.metrics["bootstrap_replicates"] = CountFromDouble(*reps);
    }
    CurvesJson(pl, cox ? t : kNaN, &sv.metrics);
    out[s] = std::move(sv);
  }
  return out;
}

json Pooled(const std::map<std::string, SiteValidation>& sites, bool cox) {
  json pooled = json::object();
  int64_t n = 0, events = 0;
  bool events_withheld = false;
  for (const auto& [s, v] : sites) {
    if (v.metrics.contains("n") && v.metrics["n"].is_number()) n += v.metrics["n"].get<int64_t>();
    if (v.metrics.contains("events") && v.metrics["events"].is_number()) {
      events += v.metrics["events"].get<int64_t>();
    } else {
      events_withheld = true;  // a site with fewer than k events or non-events
    }
  }
  pooled["n"] = n;
  pooled["events"] = events_withheld ? json(nullptr) : json(events);
  pooled["sites"] = sites.size();
  if (cox) {
    m::ConcordanceCounts c;
    for (const auto& [s, v] : sites) c.Add({v.concordant, v.discordant, v.tied});
    pooled["harrell_c_stratified"] = std::isfinite(c.c()) ? json(c.c()) : json(nullptr);
    pooled["comparable_pairs"] = c.comparable();
  }
  std::vector<std::string> meta_metrics =
      cox ? std::vector<std::string>{"harrell_c", "uno_c", "auc_t"} : std::vector<std::string>{"auc"};
  for (const std::string& name : meta_metrics) {
    std::vector<double> y, var;
    for (const auto& [s, v] : sites) {
      auto it = v.logit_and_var.find(name);
      if (it == v.logit_and_var.end()) continue;
      y.push_back(it->second.first);
      var.push_back(it->second.second);
    }
    absl::StatusOr<m::MetaAnalysis> ma = m::DerSimonianLaird(y, var);
    const std::string k = absl::StrCat(name, "_meta");
    if (!ma.ok()) {
      pooled[k] = nullptr;
      pooled[absl::StrCat(k, "_note")] = std::string(ma.status().message());
      continue;
    }
    auto expit = [](double x) { return std::isfinite(x) ? json(m::InverseLogit(x)) : json(nullptr); };
    pooled[k] = expit(ma->mu);
    pooled[absl::StrCat(k, "_ci_low")] = expit(ma->ci_low);
    pooled[absl::StrCat(k, "_ci_high")] = expit(ma->ci_high);
    pooled[absl::StrCat(k, "_pi_low")] = expit(ma->pi_low);
    pooled[absl::StrCat(k, "_pi_high")] = expit(ma->pi_high);
    pooled[absl::StrCat(k, "_tau2")] = ma->tau2;
    pooled[absl::StrCat(k, "_i2")] = ma->i2;
    pooled[absl::StrCat(k, "_q")] = ma->q;
    pooled[absl::StrCat(k, "_k")] = ma->k;
  }
  return pooled;
}

}  // namespace internal
}  // namespace fedrad::coordinator
