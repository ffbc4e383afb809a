// The coordinator's half of federated ComBat (distributed ComBat, Chen et
// al., NeuroImage 2022); the site half is site_node/tasks_combat.cc and the
// formulas are harmonization/combat.h, the same functions the pooled
// `fedrad harmonize` runs — so the federated result equals the pooled one.
//
// Rounds:
//   1. combat.check: every site reports n, its feature columns, problems
//      (missing/non-numeric/missing-value columns) and features constant at
//      the site. Nothing but counts. The step is refused here, naming every
//      problem, before any aggregate of the data is requested. The plan
//      (features left unadjusted, mean-only) is decided for all sites at once.
//   2. combat.moments -> B-hat (PoolMoments; refuses a rank-deficient design).
//   3. combat.residuals -> var_pooled (FinishPooled).
//   4. combat.fit: each site estimates its own gamma*, delta* and harmonises
//      its table locally; it returns gamma*, delta*.
//   5. combat.distributions (for the report): per site, n, mean and SD of at
//      most 12 features before and after ComBat, and their quartiles from
//      counts on each site's own grid (models::GridQuantiles). With
//      output_suffix both are measured after the fit (raw <feature> and
//      harmonised <feature><suffix>); without it, "before" is measured before
//      combat.fit replaces the values.
// What the sites read from the task: only "features" (the plan's adjusted
// features, a subset of what the spec selects), the pooled estimates and the
// report's "columns". Everything else (covariates, method, EB, reference,
// output file and suffix) each site reads from the approved spec itself.
// results.json: see docs/results.md, "harmonization".
#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "coordinator/analyses.h"
#include "coordinator/secure_round.h"
#include "coordinator/study_context.h"
#include "core/log.h"
#include "core/status.h"
#include "harmonization/combat.h"
#include "harmonization/model.h"
#include "harmonization/table.h"
#include "models/descriptive.h"
#include "proto/payload.h"
#include "proto/round_signing.h"
#include "proto/spec_hash.h"
#include "rounds/transcript.h"

namespace fedrad::coordinator {
namespace {

namespace h = ::fedrad::harmonization;
using nlohmann::json;

std::string GetStr(const v1::Payload& p, const std::string& key) {
  auto it = p.strings().find(key);
  return it == p.strings().end() ? "" : it->second;
}

std::vector<double> ToVector(const Eigen::VectorXd& v) {
  return std::vector<double>(v.data(), v.data() + v.size());
}

void AddEigenMatrix(v1::Payload* p, const std::string& name, const Eigen::MatrixXd& m) {
  std::vector<double> row_major(m.size());
  for (Eigen::Index r = 0; r < m.rows(); ++r) {
    for (Eigen::Index c = 0; c < m.cols(); ++c) row_major[r * m.cols() + c] = m(r, c);
  }
  AddMatrix(p, name, m.rows(), m.cols(), row_major);
}

absl::StatusOr<Eigen::VectorXd> SiteVector(const std::string& site, const v1::Payload& p,
                                           const std::string& name, size_t size) {
  absl::StatusOr<std::vector<double>> v = GetVector(p, name);
  if (!v.ok()) return Annotate(v.status(), absl::StrCat("site ", site));
  if (v->size() != size) {
    return absl::DataLossError(absl::StrCat("site ", site, ": '", name, "' has ", v->size(),
                                            " values, expected ", size));
  }
  return Eigen::Map<Eigen::VectorXd>(v->data(), v->size());
}

absl::StatusOr<Eigen::MatrixXd> SiteMatrix(const std::string& site, const v1::Payload& p,
                                           const std::string& name, int64_t rows, int64_t cols) {
  int64_t r = 0, c = 0;
  absl::StatusOr<std::vector<double>> v = GetMatrix(p, name, &r, &c);
  if (!v.ok()) return Annotate(v.status(), absl::StrCat("site ", site));
  if (r != rows || c != cols) {
    return absl::DataLossError(absl::StrCat("site ", site, ": '", name, "' is ", r, "x", c,
                                            ", expected ", rows, "x", cols));
  }
  Eigen::MatrixXd m(rows, cols);
  for (int64_t i = 0; i < rows; ++i) {
    for (int64_t j = 0; j < cols; ++j) m(i, j) = (*v)[i * cols + j];
  }
  return m;
}

// Checks the signed contribution of each of `sites` to `round_id` (against
// the study CA; unverified with an in-process test host) and appends it to
// *transcript.
absl::Status CollectSigned(StudyContext& ctx, const std::map<std::string, v1::TaskResult>& results,
                           const std::vector<std::string>& sites, const std::string& round_id,
                           v1::Transcript* transcript) {
  for (const std::string& site : sites) {
    const v1::TaskResult& r = results.at(site);
    if (ctx.round_verifier() == nullptr) {
      if (r.has_signed_()) *transcript->add_messages() = r.signed_();
      continue;
    }
    if (!r.has_signed_()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "site ", site, " sent no signed contribution to round '", round_id, "'"));
    }
    rounds::Expectation expect;
    expect.study_id = ctx.study_id();
    expect.spec_sha256 = StudySpecHash(ctx.study());
    expect.signers = {site};
    expect.round_id = round_id;
    absl::StatusOr<v1::RoundMessage> m = ctx.round_verifier()->Verify(r.signed_(), expect);
    if (!m.ok()) return Annotate(m.status(), absl::StrCat("site ", site));
    *transcript->add_messages() = r.signed_();
  }
  return absl::OkStatus();
}

std::map<std::string, v1::Transcript> ForEach(const std::vector<std::string>& sites,
                                              const v1::Transcript& transcript) {
  std::map<std::string, v1::Transcript> out;
  for (const auto& s : sites) out[s] = transcript;
  return out;
}

std::vector<std::string> Keys(const std::map<std::string, v1::TaskResult>& results) {
  std::vector<std::string> keys;
  for (const auto& [k, v] : results) keys.push_back(k);
  return keys;
}

// Every later round must be answered by exactly the sites of the moments
// round: the pooled estimates are over those sites.
absl::Status RequireSameSites(const std::vector<std::string>& expected,
                              const std::map<std::string, v1::TaskResult>& results,
                              const std::string& round) {
  if (Keys(results) != expected) {
    return absl::FailedPreconditionError(absl::StrCat(
        "a site dropped out during ComBat (", round, "): the pooled estimates were made over ",
        absl::StrJoin(expected, ", "), " but only ", absl::StrJoin(Keys(results), ", "),
        " answered; run the study again"));
  }
  return absl::OkStatus();
}

json FeatureObject(const std::vector<std::string>& names, const Eigen::VectorXd& v) {
  json o = json::object();
  for (size_t i = 0; i < names.size(); ++i) o[names[i]] = v(i);
  return o;
}

constexpr size_t kMaxDistributionFeatures = 12;

json NumberOrNull(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }

// Per site and column: n, mean, SD and quartiles (from the counts each site
// releases on its own grid, models::GridQuantiles), or {suppressed} when the
// site has fewer than k values. `columns[i]` is measured and reported as
// `features[i]`. Result: {feature: {site: {...}}}. One round: the site
// releases its moments and its grid counts together.
absl::StatusOr<json> SiteDistributions(StudyContext& ctx, const std::vector<std::string>& features,
                                       const std::vector<std::string>& columns,
                                       const std::string& phase) {
  json out = json::object();
  v1::Payload params;
  (*params.mutable_strings())["columns"] = absl::StrJoin(columns, ",");
  (*params.mutable_strings())["phase"] = phase;
  FEDRAD_ASSIGN_OR_RETURN(auto results, ctx.Broadcast("combat.distributions", params));
  for (const auto& [site, r] : results) {
    const v1::Payload& p = r.payload();
    FEDRAD_ASSIGN_OR_RETURN(Eigen::VectorXd n, SiteVector(site, p, "n", columns.size()));
    FEDRAD_ASSIGN_OR_RETURN(Eigen::VectorXd mean, SiteVector(site, p, "mean", columns.size()));
    FEDRAD_ASSIGN_OR_RETURN(Eigen::VectorXd m2, SiteVector(site, p, "m2", columns.size()));
    FEDRAD_ASSIGN_OR_RETURN(Eigen::VectorXd supp,
                            SiteVector(site, p, "suppressed", columns.size()));
    for (size_t i = 0; i < columns.size(); ++i) {
      const Eigen::Index j = static_cast<Eigen::Index>(i);
      json& e = out[features[i]][site];
      if (supp[j] != 0.0 || !std::isfinite(n[j])) {
        // The site withheld the cell, its size included.
        e["suppressed"] = true;
        e["reason"] = "fewer than k values at the site";
        continue;
      }
      e["n"] = CountFromDouble(n[j]);
      models::ColumnMoments cm;
      cm.n = CountFromDouble(n[j]);
      cm.mean = mean[j];
      cm.m2 = m2[j];
      cm.binary = false;
      e["mean"] = NumberOrNull(cm.mean);
      e["sd"] = NumberOrNull(models::StandardDeviation(cm));
      absl::StatusOr<std::vector<double>> grid = GetVector(p, "grid." + columns[i]);
      absl::StatusOr<std::vector<double>> counts = GetVector(p, "counts." + columns[i]);
      if (!grid.ok() || !counts.ok() || grid->size() != counts->size()) {
        return absl::DataLossError(absl::StrCat("site ", site, ": malformed grid counts for '",
                                                columns[i], "'"));
      }
      models::GridPart part;
      part.grid.n = cm.n;
      part.grid.points = *grid;
      for (double k : *counts) {
        // A count outside 0..2^53 is malformed (tests/fuzz; as cohort.counts).
        if (CountFromDouble(k) < 0) {
          return absl::DataLossError(absl::StrCat("site ", site, ": malformed grid counts for '",
                                                  columns[i], "'"));
        }
        part.grid.counts.push_back(CountFromDouble(k));
      }
      part.mean = cm.mean;
      part.sd = models::StandardDeviation(cm);
      const std::vector<models::QuantileEstimate> est =
          models::GridQuantiles({part}, {0.25, 0.5, 0.75});
      const char* const names[] = {"q1", "median", "q3"};
      double worst = 0;
      for (size_t q = 0; q < est.size() && q < 3; ++q) {
        e[names[q]] = NumberOrNull(est[q].value);
        worst = std::max(worst, est[q].rank_error);
      }
      e["quartile_rank_error"] = NumberOrNull(worst);
    }
  }
  return out;
}

// The features drawn in the report: Harmonization.report_features when given
// (must be adjusted features), else the (at most 12) features whose site
// location effects differ most between sites: the largest SD over sites of
// `location[site][g]` (γ* after the fit, or the unshrunk site means in pooled
// SD units before it).
absl::StatusOr<std::vector<int>> ChooseDistributionFeatures(
    const v1::Harmonization& spec, const std::vector<std::string>& adjusted,
    const std::vector<Eigen::VectorXd>& location) {
  std::vector<int> chosen;
  if (spec.report_features_size() > 0) {
    for (const std::string& f : spec.report_features()) {
      auto it = std::find(adjusted.begin(), adjusted.end(), f);
      if (it == adjusted.end()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "harmonization.report_features names '", f, "', which is not a harmonised feature"));
      }
      chosen.push_back(static_cast<int>(it - adjusted.begin()));
    }
    if (chosen.size() > kMaxDistributionFeatures) chosen.resize(kMaxDistributionFeatures);
    return chosen;
  }
  std::vector<std::pair<double, int>> spread;
  for (size_t g = 0; g < adjusted.size(); ++g) {
    double sum = 0, sum2 = 0;
    for (const Eigen::VectorXd& l : location) {
      sum += l[static_cast<Eigen::Index>(g)];
      sum2 += l[static_cast<Eigen::Index>(g)] * l[static_cast<Eigen::Index>(g)];
    }
    const double k = static_cast<double>(location.size());
    const double var = k > 1 ? (sum2 - sum * sum / k) / (k - 1) : 0.0;
    spread.emplace_back(-(std::isfinite(var) ? var : 0.0), static_cast<int>(g));
  }
  std::stable_sort(spread.begin(), spread.end());
  for (size_t i = 0; i < spread.size() && i < kMaxDistributionFeatures; ++i) {
    chosen.push_back(spread[i].second);
  }
  std::sort(chosen.begin(), chosen.end());
  return chosen;
}

}  // namespace

absl::Status RunHarmonization(StudyContext& ctx) {
  const v1::Harmonization& spec = ctx.study().harmonization();
  if (spec.features().empty()) {
    return absl::InvalidArgumentError(
        "harmonization.features (a regular expression naming the feature columns) is required");
  }
  if (spec.report_features_size() > static_cast<int>(kMaxDistributionFeatures)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "harmonization.report_features lists ", spec.report_features_size(),
        " features; the report draws at most ", kMaxDistributionFeatures));
  }
  h::ComBatOptions options;
  FEDRAD_ASSIGN_OR_RETURN(options.method, h::ParseMethod(spec.method()));
  options.empirical_bayes = !spec.has_empirical_bayes() || spec.empirical_bayes();
  options.nonparametric_mean_only = spec.nonparametric_mean_only();
  options.reference_site = spec.reference_site();
  const std::vector<std::string> covariates(spec.covariates().begin(), spec.covariates().end());
  const bool mean_only_method = options.method == h::ComBatMethod::kMeanOnly ||
                                (options.method == h::ComBatMethod::kNonParametric &&
                                 options.nonparametric_mean_only);

  // Round 1: the cheap check, before any aggregate of the data moves.
  ctx.SetProgress("harmonization", 0.0, "checking site tables (combat.check)");
  FEDRAD_ASSIGN_OR_RETURN(auto checks, ctx.Broadcast("combat.check", v1::Payload()));
  std::vector<std::string> problems;
  std::vector<std::string> sites = Keys(checks);
  std::vector<std::string> features;  // in the first site's column order
  std::map<std::string, std::set<std::string>> features_by_site;
  for (const auto& [site, r] : checks) {
    for (const std::string& f : h::SplitList(GetStr(r.payload(), "features"))) {
      features_by_site[site].insert(f);
      if (std::find(features.begin(), features.end(), f) == features.end()) features.push_back(f);
    }
    for (absl::string_view p : absl::StrSplit(GetStr(r.payload(), "problems"), '\n')) {
      if (!p.empty()) problems.push_back(absl::StrCat("site ", site, ": ", p));
    }
  }
  if (features.empty()) {
    problems.push_back(absl::StrCat("no site has a column matching '", spec.features(), "'"));
  }
  for (const std::string& f : features) {
    std::vector<std::string> missing_at;
    for (const std::string& site : sites) {
      if (!features_by_site[site].count(f)) missing_at.push_back(site);
    }
    if (!missing_at.empty()) {
      problems.push_back(absl::StrCat("feature '", f, "' is missing at site(s) ",
                                      absl::StrJoin(missing_at, ", ")));
    }
  }
  if (!options.reference_site.empty() &&
      std::find(sites.begin(), sites.end(), options.reference_site) == sites.end()) {
    problems.push_back(absl::StrCat("the reference site '", options.reference_site,
                                     "' is not among the sites (", absl::StrJoin(sites, ", "),
                                     ")"));
  }
  std::vector<int64_t> site_n;
  std::vector<std::vector<int>> constant;
  for (const std::string& site : sites) {
    const v1::Payload& p = checks.at(site).payload();
    FEDRAD_ASSIGN_OR_RETURN(double n, GetScalar(p, "n"));
    site_n.push_back(CountFromDouble(n));
    if (n < 2 && !mean_only_method) {
      problems.push_back(absl::StrCat(
          "site ", site, " has ", n, " patient(s), fewer than the 2 parameters per feature "
          "(location and scale) of its site effect; exclude the site or use method mean-only"));
    }
    // Map the site's constant flags (indexed by its own column order) to ours.
    std::vector<std::string> own = h::SplitList(GetStr(p, "features"));
    absl::StatusOr<std::vector<double>> flags = GetVector(p, "constant");
    std::vector<int> c;
    if (flags.ok() && flags->size() == own.size()) {
      for (size_t j = 0; j < own.size(); ++j) {
        if ((*flags)[j] == 0.0) continue;
        auto it = std::find(features.begin(), features.end(), own[j]);
        if (it != features.end()) c.push_back(static_cast<int>(it - features.begin()));
      }
    }
    constant.push_back(c);
  }
  if (!problems.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("ComBat cannot run: ", absl::StrJoin(problems, "; ")));
  }
  FEDRAD_ASSIGN_OR_RETURN(h::ComBatPlan plan,
                          h::MakePlan(sites, site_n, constant,
                                      static_cast<int>(features.size()), options));
  for (const std::string& note : plan.notes) FEDRAD_LOG(WARNING) << "ComBat: " << note;
  std::vector<std::string> adjusted;
  for (int g : plan.adjusted_features) adjusted.push_back(features[g]);
  const size_t num_g = adjusted.size();
  const size_t q = covariates.size();

  // Round 2: moments -> B-hat.
  ctx.SetProgress("harmonization", 0.25, "pooled regression (combat.moments)");
  v1::Payload base;
  (*base.mutable_strings())["features"] = absl::StrJoin(adjusted, ",");
  // Secure aggregation: the cross-products are only used pooled, so they
  // arrive summed (coordinator/secure_round.h) and stand in the first
  // site's entry (PoolMoments adds the sites' entries); n and the sums of
  // covariates and features stay per site (the site indicators' rows).
  // Verifiable rounds (issue 12): every site recomputes the pooled estimates
  // from the sites' signed moments (and residuals) before it uses them; in a
  // secure study the transcript also holds the session's adverts and the
  // rounds' reveals, from which each site unmasks the sums itself.
  const bool secure = SecureAggregation(ctx.study());
  std::map<std::string, v1::TaskResult> moment_results;
  v1::Payload pooled_moments;
  v1::Transcript transcript;
  if (secure) {
    std::map<std::string, v1::Payload> by_site;
    for (const std::string& site : ctx.active_sites()) by_site[site] = base;
    FEDRAD_ASSIGN_OR_RETURN(SecureRoundResult r,
                            RunSecureRound(ctx, "combat.moments", by_site, ctx.active_sites(),
                                           rounds::CombatMomentsRound()));
    moment_results = std::move(r.by_site);
    pooled_moments = std::move(r.sum);
    transcript = std::move(r.session_adverts);
    for (const auto& m : r.signed_messages.messages()) *transcript.add_messages() = m;
  } else {
    FEDRAD_ASSIGN_OR_RETURN(moment_results, ctx.Broadcast("combat.moments", base));
  }
  sites = Keys(moment_results);
  if (!secure) {
    FEDRAD_RETURN_IF_ERROR(CollectSigned(ctx, moment_results, sites, rounds::CombatMomentsRound(),
                                         &transcript));
  }
  std::vector<h::LocalMoments> moments;
  for (const std::string& site : sites) {
    const v1::Payload& p = moment_results.at(site).payload();
    h::LocalMoments m;
    FEDRAD_ASSIGN_OR_RETURN(double n, GetScalar(p, "n"));
    m.n = CountFromDouble(n);
    FEDRAD_ASSIGN_OR_RETURN(m.sum_covariates, SiteVector(site, p, "sum_covariates", q));
    FEDRAD_ASSIGN_OR_RETURN(m.sum_features, SiteVector(site, p, "sum_features", num_g));
    const bool from_sum = secure && site == sites.front();
    const v1::Payload& cross = from_sum ? pooled_moments : p;
    const std::string who = from_sum ? "(secure sum)" : site;
    if (secure && !from_sum) {
      m.covariate_cross = Eigen::MatrixXd::Zero(q, q);
      m.covariate_feature_cross = Eigen::MatrixXd::Zero(q, num_g);
    } else {
      FEDRAD_ASSIGN_OR_RETURN(m.covariate_cross, SiteMatrix(who, cross, "covariate_cross", q, q));
      FEDRAD_ASSIGN_OR_RETURN(m.covariate_feature_cross,
                              SiteMatrix(who, cross, "covariate_feature_cross", q, num_g));
    }
    moments.push_back(std::move(m));
  }
  FEDRAD_ASSIGN_OR_RETURN(h::PooledRegression reg,
                          h::PoolMoments(sites, moments, covariates, options.reference_site));

  // Round 3: residual sums of squares -> var_pooled.
  ctx.SetProgress("harmonization", 0.5, "pooled variance (combat.residuals)");
  std::map<std::string, v1::Payload> residual_params;
  for (size_t i = 0; i < sites.size(); ++i) {
    v1::Payload p = base;
    AddVector(&p, "intercept", ToVector(h::SiteIntercept(reg, static_cast<int>(i))));
    AddEigenMatrix(&p, "beta", reg.beta);
    residual_params[sites[i]] = std::move(p);
  }
  std::map<std::string, v1::TaskResult> rss_results;
  v1::Payload pooled_rss;
  if (secure) {
    // Only their sum is used (var_pooled): summed securely, in the first
    // site's entry.
    FEDRAD_ASSIGN_OR_RETURN(SecureRoundResult r,
                            RunSecureRound(ctx, "combat.residuals", residual_params, sites,
                                           rounds::CombatResidualsRound(),
                                           ForEach(sites, transcript)));
    rss_results = std::move(r.by_site);
    pooled_rss = std::move(r.sum);
    for (const auto& m : r.signed_messages.messages()) *transcript.add_messages() = m;
  } else {
    FEDRAD_ASSIGN_OR_RETURN(rss_results,
                            ctx.RunRound("combat.residuals", residual_params, ForEach(sites, transcript)));
  }
  FEDRAD_RETURN_IF_ERROR(RequireSameSites(sites, rss_results, "combat.residuals"));
  if (!secure) {
    FEDRAD_RETURN_IF_ERROR(CollectSigned(ctx, rss_results, sites, rounds::CombatResidualsRound(),
                                         &transcript));
  }
  std::vector<Eigen::VectorXd> rss;
  for (const std::string& site : sites) {
    if (secure) {
      if (site != sites.front()) {
        rss.push_back(Eigen::VectorXd::Zero(static_cast<Eigen::Index>(num_g)));
        continue;
      }
      FEDRAD_ASSIGN_OR_RETURN(Eigen::VectorXd v, SiteVector("(secure sum)", pooled_rss, "rss", num_g));
      rss.push_back(std::move(v));
      continue;
    }
    FEDRAD_ASSIGN_OR_RETURN(Eigen::VectorXd v,
                            SiteVector(site, rss_results.at(site).payload(), "rss", num_g));
    rss.push_back(std::move(v));
  }
  FEDRAD_ASSIGN_OR_RETURN(h::PooledEstimates pooled, h::FinishPooled(reg, rss));

  // Feature distributions for the report. Without output_suffix the raw
  // values are replaced by combat.fit, so "before" is measured now, for the
  // features whose unshrunk site means (in pooled SD units) differ most.
  const std::string suffix = spec.output_suffix();
  json distributions = json::object();
  std::vector<int> shown;
  if (suffix.empty() && num_g > 0) {
    std::vector<Eigen::VectorXd> location;
    for (size_t i = 0; i < sites.size(); ++i) {
      Eigen::VectorXd l(num_g);
      for (size_t g = 0; g < num_g; ++g) {
        const Eigen::Index j = static_cast<Eigen::Index>(g);
        l[j] = moments[i].n > 0 && pooled.var_pooled[j] > 0
                   ? (moments[i].sum_features[j] / static_cast<double>(moments[i].n)) /
                         std::sqrt(pooled.var_pooled[j])
                   : 0.0;
      }
      location.push_back(l);
    }
    FEDRAD_ASSIGN_OR_RETURN(shown, ChooseDistributionFeatures(spec, adjusted, location));
    std::vector<std::string> names;
    for (int g : shown) names.push_back(adjusted[static_cast<size_t>(g)]);
    ctx.SetProgress("harmonization", 0.6, "feature distributions before ComBat");
    FEDRAD_ASSIGN_OR_RETURN(json before, SiteDistributions(ctx, names, names, "before"));
    for (auto& [f, by_site] : before.items()) distributions[f]["before"] = by_site;
  }

  // Round 4: each site's own EB effects; the site harmonises locally.
  ctx.SetProgress("harmonization", 0.75, "site effects and local harmonisation (combat.fit)");
  std::map<std::string, v1::Payload> fit_params;
  for (const std::string& site : sites) {
    v1::Payload p = base;
    AddVector(&p, "grand_mean", ToVector(pooled.grand_mean));
    AddVector(&p, "var_pooled", ToVector(pooled.var_pooled));
    AddEigenMatrix(&p, "beta", pooled.beta);
    fit_params[site] = std::move(p);
  }
  FEDRAD_ASSIGN_OR_RETURN(auto fit_results,
                          ctx.RunRound("combat.fit", fit_params, ForEach(sites, transcript)));
  FEDRAD_RETURN_IF_ERROR(RequireSameSites(sites, fit_results, "combat.fit"));

  // results.json
  h::ComBatModel model;
  model.options = options;
  model.mean_only = plan.mean_only;
  model.features = features;
  model.adjusted = adjusted;
  model.covariates = covariates;
  model.pooled = pooled;
  json& out = ctx.results()["harmonization"];
  out["method"] = std::string(h::MethodName(options.method));
  out["empirical_bayes"] = options.empirical_bayes;
  out["mean_only"] = plan.mean_only;
  out["reference_site"] = options.reference_site;
  out["covariates"] = covariates;
  out["features"] = adjusted;
  out["output_suffix"] = spec.output_suffix();
  std::vector<std::string> unadjusted;
  for (int g : plan.constant_features) unadjusted.push_back(features[g]);
  out["unadjusted_features"] = unadjusted;
  out["notes"] = plan.notes;
  out["pooled"]["n"] = std::accumulate(reg.site_n.begin(), reg.site_n.end(), int64_t{0});
  out["pooled"]["grand_mean"] = FeatureObject(adjusted, pooled.grand_mean);
  out["pooled"]["var_pooled"] = FeatureObject(adjusted, pooled.var_pooled);
  out["pooled"]["beta"] = json::object();
  for (size_t c = 0; c < q; ++c) {
    out["pooled"]["beta"][covariates[c]] =
        FeatureObject(adjusted, pooled.beta.row(c).transpose());
  }
  for (const std::string& site : sites) {
    const v1::Payload& p = fit_results.at(site).payload();
    h::SiteModel sm;
    FEDRAD_ASSIGN_OR_RETURN(double n, GetScalar(p, "n"));
    sm.n = CountFromDouble(n);
    FEDRAD_ASSIGN_OR_RETURN(sm.gamma_star, SiteVector(site, p, "gamma_star", num_g));
    FEDRAD_ASSIGN_OR_RETURN(sm.delta_star, SiteVector(site, p, "delta_star", num_g));
    json& js = out["sites"][site];
    js["n"] = sm.n;
    js["gamma_star"] = FeatureObject(adjusted, sm.gamma_star);
    js["delta_star"] = FeatureObject(adjusted, sm.delta_star);
    model.sites[site] = std::move(sm);
  }
  // The whole model in the format `fedrad harmonize --model-in` reads, for
  // centres that join later and for new patients.
  out["model"] = h::ModelToJson(model);

  // Feature distributions after ComBat (and, with output_suffix, before it:
  // the raw columns are still there), for the report.
  if (num_g > 0) {
    if (!suffix.empty()) {
      std::vector<Eigen::VectorXd> location;
      for (const auto& [site, sm] : model.sites) location.push_back(sm.gamma_star);
      FEDRAD_ASSIGN_OR_RETURN(shown, ChooseDistributionFeatures(spec, adjusted, location));
    }
    std::vector<std::string> names, after_columns;
    for (int g : shown) {
      names.push_back(adjusted[static_cast<size_t>(g)]);
      after_columns.push_back(adjusted[static_cast<size_t>(g)] + suffix);
    }
    if (!suffix.empty()) {
      ctx.SetProgress("harmonization", 1.0, "feature distributions before ComBat");
      FEDRAD_ASSIGN_OR_RETURN(json before, SiteDistributions(ctx, names, names, "before"));
      for (auto& [f, by_site] : before.items()) distributions[f]["before"] = by_site;
    }
    ctx.SetProgress("harmonization", 1.0, "feature distributions after ComBat");
    FEDRAD_ASSIGN_OR_RETURN(json after, SiteDistributions(ctx, names, after_columns, "after"));
    for (auto& [f, by_site] : after.items()) distributions[f]["after"] = by_site;
    out["distributions"] = distributions;
    out["distributions_method"] =
        absl::StrCat("Per site: n, mean and SD (n - 1) from site sums; quartiles interpolated "
                     "from counts on a grid each site fixes (3-significant-digit lattice, every "
                     "step >= k values; no value released, approximate to the grid; "
                     "quartile_rank_error bounds the rank error). Features shown: ",
                     spec.report_features_size() > 0 ? "those listed in harmonization.report_features"
                     : adjusted.size() <= kMaxDistributionFeatures
                         ? absl::StrCat("all ", adjusted.size(), " harmonised features")
                     : suffix.empty()
                         ? "the 12 whose raw site means (in pooled SD units) differ most between sites"
                         : "the 12 whose site effects gamma* differ most between sites");
  }
  ctx.SetProgress("harmonization", 1.0,
                  absl::StrCat("harmonised ", num_g, " feature(s) at ", sites.size(), " sites"));
  return absl::OkStatus();
}

}  // namespace fedrad::coordinator
