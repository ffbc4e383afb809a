// The report's feature distributions for the coordinator's ComBat step
// (coordinator/analysis_combat.cc; declared in internal/combat_internal.h):
// task kind combat.distributions, answered per site with n, mean and SD of
// at most 12 features and their quartiles from counts on each site's own
// grid (models::GridQuantiles), before and after ComBat. With output_suffix
// both are measured after the fit (raw <feature> and harmonised
// <feature><suffix>); without it, "before" is measured before combat.fit
// replaces the values. results.json: docs/results.md, "harmonization"
// (distributions, distributions_method).
#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "coordinator/internal/combat_internal.h"
#include "coordinator/study_context.h"
#include "core/status.h"
#include "models/descriptive.h"
#include "proto/payload.h"
#include "proto/task_kinds.h"
#include "rounds/kind_eigen.h"

namespace fedrad::coordinator::internal {
namespace {

namespace h = ::fedrad::harmonization;
using Distributions = std::map<std::string, std::map<std::string, v1::Results::Distribution>>;
namespace cd = ::fedrad::kinds::combat_distributions;
using ::fedrad::kinds::Put;
using ::fedrad::kinds::SiteVector;

// Per site and column: n, mean, SD and quartiles (from the counts each site
// releases on its own grid, models::GridQuantiles), or {suppressed} when the
// site has fewer than k values. `columns[i]` is measured and reported as
// `features[i]`. Result: {feature: {site: {...}}}. One round: the site
// releases its moments and its grid counts together.
absl::StatusOr<Distributions> SiteDistributions(StudyContext& ctx,
                                                const std::vector<std::string>& features,
                                                const std::vector<std::string>& columns,
                                                const std::string& phase) {
  Distributions out;
  v1::Payload params;
  Put(&params, cd::kColumns, columns);
  Put(&params, cd::kPhase, phase);
  FEDRAD_ASSIGN_OR_RETURN(auto results, ctx.Broadcast(cd::kName, params));
  for (const auto& [site, r] : results) {
    const v1::Payload& p = r.payload();
    FEDRAD_ASSIGN_OR_RETURN(Eigen::VectorXd n, SiteVector(site, p, cd::kN, columns.size()));
    FEDRAD_ASSIGN_OR_RETURN(Eigen::VectorXd mean, SiteVector(site, p, cd::kMean, columns.size()));
    FEDRAD_ASSIGN_OR_RETURN(Eigen::VectorXd m2, SiteVector(site, p, cd::kM2, columns.size()));
    FEDRAD_ASSIGN_OR_RETURN(Eigen::VectorXd supp,
                            SiteVector(site, p, cd::kSuppressed, columns.size()));
    for (size_t i = 0; i < columns.size(); ++i) {
      const Eigen::Index j = static_cast<Eigen::Index>(i);
      v1::Results::Distribution& e = out[features[i]][site];
      if (supp[j] != 0.0 || !std::isfinite(n[j])) {
        // The site withheld the cell, its size included.
        e.set_suppressed(true);
        e.set_reason("fewer than k values at the site");
        continue;
      }
      e.set_n(static_cast<int32_t>(CountFromDouble(n[j])));
      models::ColumnMoments cm;
      cm.n = CountFromDouble(n[j]);
      cm.mean = mean[j];
      cm.m2 = m2[j];
      cm.binary = false;
      e.set_mean(cm.mean);
      e.set_sd(models::StandardDeviation(cm));
      absl::StatusOr<std::vector<double>> grid = kinds::Get(p, cd::kGrid, columns[i]);
      absl::StatusOr<std::vector<double>> counts = kinds::Get(p, cd::kCounts, columns[i]);
      if (!grid.ok() || !counts.ok() || grid->size() != counts->size()) {
        return absl::DataLossError(
            absl::StrCat("site ", site, ": malformed grid counts for '", columns[i], "'"));
      }
      models::GridPart part;
      part.grid.n = cm.n;
      part.grid.points = *grid;
      for (double k : *counts) {
        // A count outside 0..2^53 is malformed (tests/fuzz; as cohort.counts).
        if (CountFromDouble(k) < 0) {
          return absl::DataLossError(
              absl::StrCat("site ", site, ": malformed grid counts for '", columns[i], "'"));
        }
        part.grid.counts.push_back(CountFromDouble(k));
      }
      part.mean = cm.mean;
      part.sd = models::StandardDeviation(cm);
      const std::vector<models::QuantileEstimate> est =
          models::GridQuantiles({part}, {0.25, 0.5, 0.75});
      using Setter = void (v1::Results::Distribution::*)(double);
      const Setter quartiles[] = {&v1::Results::Distribution::set_q1,
                                  &v1::Results::Distribution::set_median,
                                  &v1::Results::Distribution::set_q3};
      double worst = 0;
      for (size_t q = 0; q < est.size() && q < 3; ++q) {
        (e.*quartiles[q])(est[q].value);
        worst = std::max(worst, est[q].rank_error);
      }
      e.set_quartile_rank_error(worst);
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
        return absl::InvalidArgumentError(absl::StrCat("harmonization.report_features names '", f,
                                                       "', which is not a harmonised feature"));
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

// How the distributions were computed and chosen, in words
// (harmonization.distributions_method).
std::string DistributionsMethod(const v1::Harmonization& spec, size_t adjusted) {
  return absl::StrCat(
      "Per site: n, mean and SD (n - 1) from site sums; quartiles interpolated "
      "from counts on a grid each site fixes (3-significant-digit lattice, every "
      "step >= k values; no value released, approximate to the grid; "
      "quartile_rank_error bounds the rank error). Features shown: ",
      spec.report_features_size() > 0 ? "those listed in harmonization.report_features"
      : adjusted <= kMaxDistributionFeatures
          ? absl::StrCat("all ", adjusted, " harmonised features")
      : spec.output_suffix().empty()
          ? "the 12 whose raw site means (in pooled SD units) differ most between sites"
          : "the 12 whose site effects gamma* differ most between sites");
}

// Adds one phase's distributions ("before" or "after") to `shown`.
void AddPhase(Distributions measured, bool before, ShownDistributions* shown) {
  for (auto& [f, by_site] : measured) {
    v1::Results::FeatureDistributions& d = shown->distributions[f];
    (before ? d.mutable_before() : d.mutable_after())->insert(by_site.begin(), by_site.end());
  }
}

}  // namespace

absl::Status MeasureBefore(StudyContext& ctx, const std::vector<std::string>& adjusted,
                           const std::vector<h::LocalMoments>& moments,
                           const h::PooledEstimates& pooled, ShownDistributions* shown) {
  const size_t num_g = adjusted.size();
  std::vector<Eigen::VectorXd> location;
  for (const h::LocalMoments& m : moments) {
    Eigen::VectorXd l(num_g);
    for (size_t g = 0; g < num_g; ++g) {
      const Eigen::Index j = static_cast<Eigen::Index>(g);
      l[j] = m.n > 0 && pooled.var_pooled[j] > 0
                 ? (m.sum_features[j] / static_cast<double>(m.n)) / std::sqrt(pooled.var_pooled[j])
                 : 0.0;
    }
    location.push_back(l);
  }
  FEDRAD_ASSIGN_OR_RETURN(
      shown->features, ChooseDistributionFeatures(ctx.study().harmonization(), adjusted, location));
  std::vector<std::string> names;
  for (int g : shown->features) names.push_back(adjusted[static_cast<size_t>(g)]);
  ctx.SetProgress("harmonization", 0.6, "feature distributions before ComBat");
  FEDRAD_ASSIGN_OR_RETURN(Distributions before, SiteDistributions(ctx, names, names, "before"));
  AddPhase(std::move(before), /*before=*/true, shown);
  return absl::OkStatus();
}

absl::Status MeasureAfter(StudyContext& ctx, const h::ComBatModel& model, ShownDistributions shown,
                          v1::Results::Harmonization& out) {
  const v1::Harmonization& spec = ctx.study().harmonization();
  const std::string& suffix = spec.output_suffix();
  const std::vector<std::string>& adjusted = model.adjusted;
  if (!suffix.empty()) {
    std::vector<Eigen::VectorXd> location;
    for (const auto& [site, sm] : model.sites) location.push_back(sm.gamma_star);
    FEDRAD_ASSIGN_OR_RETURN(shown.features, ChooseDistributionFeatures(spec, adjusted, location));
  }
  std::vector<std::string> names, after_columns;
  for (int g : shown.features) {
    names.push_back(adjusted[static_cast<size_t>(g)]);
    after_columns.push_back(adjusted[static_cast<size_t>(g)] + suffix);
  }
  if (!suffix.empty()) {
    ctx.SetProgress("harmonization", 1.0, "feature distributions before ComBat");
    FEDRAD_ASSIGN_OR_RETURN(Distributions before, SiteDistributions(ctx, names, names, "before"));
    AddPhase(std::move(before), /*before=*/true, &shown);
  }
  ctx.SetProgress("harmonization", 1.0, "feature distributions after ComBat");
  FEDRAD_ASSIGN_OR_RETURN(Distributions after,
                          SiteDistributions(ctx, names, after_columns, "after"));
  AddPhase(std::move(after), /*before=*/false, &shown);
  *out.mutable_distributions() = std::move(shown.distributions);
  out.set_distributions_method(DistributionsMethod(spec, adjusted.size()));
  return absl::OkStatus();
}

}  // namespace fedrad::coordinator::internal
