// The coordinator's half of the cohort summary ("Table 1" by center).
//
// Round 1 ("cohort.moments"): every site returns per-column n, missing count,
// mean and sum of squared deviations (and 0/1 counts); the coordinator
// combines them exactly (models::CombineMoments). Round 2 ("cohort.counts"):
// every site returns, per numeric column, its cumulative counts on a grid the
// site fixes (every step >= k values); the coordinator interpolates the sum of
// the sites' step functions for pooled quantiles and each site's own for the
// site's (models::GridQuantiles), so quantiles are approximate to the sites'
// grids. Both tasks carry no parameter: each site reads the columns and the
// time/event pairs from the approved spec. Small cells are suppressed at the
// site (their size too) and marked here; a pooled statistic that would need a
// suppressed cell is marked too. See docs/results.md, "cohort".
#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "coordinator/analyses.h"
#include "coordinator/study_context.h"
#include "core/log.h"
#include "core/status.h"
#include "models/descriptive.h"
#include "rounds/cohort_inputs.h"
#include "proto/payload.h"

namespace fedrad::coordinator {
namespace {

using nlohmann::json;

const char* const kQuantileNames[] = {"q1", "median", "q3"};

json Number(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }

json MomentsJson(const models::ColumnMoments& m) {
  json j;
  j["n"] = m.n;
  j["n_missing"] = m.n_missing;
  if (m.binary) {
    j["type"] = "binary";
    j["count"] = m.count_one;
    j["percent"] = m.n > 0 ? Number(100.0 * static_cast<double>(m.count_one) / static_cast<double>(m.n))
                           : json(nullptr);
  } else {
    j["type"] = "numeric";
  }
  j["mean"] = Number(m.mean);
  j["sd"] = Number(models::StandardDeviation(m));
  return j;
}

void AddQuantiles(json& j, const std::vector<models::QuantileEstimate>& est) {
  for (size_t q = 0; q < est.size(); ++q) {
    j[kQuantileNames[q]] = Number(est[q].value);
    j["quantiles"][kQuantileNames[q]] = {{"value", Number(est[q].value)},
                                         {"probability", est[q].probability},
                                         {"rank_error", Number(est[q].rank_error)},
                                         {"bracket_low", Number(est[q].bracket_low)},
                                         {"bracket_high", Number(est[q].bracket_high)}};
  }
}

json Suppressed(int64_t k, const std::string& why) {
  return {{"suppressed", true}, {"reason", absl::StrCat(why, " (site policy k=", k, ")")}};
}

}  // namespace

absl::Status RunCohortSummary(StudyContext& ctx) {
  const auto& spec = ctx.study().cohort_summary();
  ctx.SetProgress("cohort summary", 0.0, "collecting column moments");
  // No parameter: each site reads the columns and time/event pairs from the
  // approved spec the task carries.
  const fedrad::v1::Payload params;
  FEDRAD_ASSIGN_OR_RETURN(auto moment_results, ctx.Broadcast("cohort.moments", params));
  std::map<std::string, rounds::CohortSite> sites;
  for (const auto& [site, result] : moment_results) {
    FEDRAD_ASSIGN_OR_RETURN(sites[site], rounds::ParseCohortMoments(site, result.payload()));
  }
  if (sites.empty()) return absl::FailedPreconditionError("cohort summary: no site answered");

  json& results = ctx.results()["cohort"];
  results["method"] = {
      {"sd", "sample standard deviation (n - 1)"},
      {"quantiles",
       "interpolated from cumulative counts on a grid each site fixes (3-significant-digit lattice, "
       "merged so that every released step holds at least k values and neither extreme is "
       "isolated); pooled: from the sum of the sites' step functions. Approximate to the grid: "
       "bracket_low/bracket_high are released points that certainly enclose the sample quantile "
       "(null: unbounded on that side), rank_error bounds the rank error; no individual value is "
       "released"},
      {"quantile_rank_error", spec.quantile_rank_error() > 0 ? spec.quantile_rank_error() : 0.01},
      {"small_cells",
       "a site suppresses a column with fewer than k values, and a 0/1 column or event count with "
       "fewer than k in either category"}};

  // Quantiles: one round of grid counts, pooled and per site, for numeric
  // (non-binary) columns; pooled with the replay's own function
  // (rounds/cohort_inputs.h).
  ctx.SetProgress("cohort summary", 0.5, "quantiles (counts on the sites' grids)");
  FEDRAD_ASSIGN_OR_RETURN(auto count_results, ctx.Broadcast("cohort.counts", params));
  std::map<std::string, rounds::CohortGrids> grids;
  for (const auto& [site, result] : count_results) {
    if (!sites.count(site)) continue;
    FEDRAD_ASSIGN_OR_RETURN(grids[site], rounds::ParseCohortCounts(site, result.payload(),
                                                                   sites.at(site).columns));
  }
  rounds::CohortPool pool = rounds::PoolCohort(sites, grids);
  const std::vector<std::string>& columns = pool.columns;
  auto& pooled = pool.pooled;
  auto& pooled_missing_sites = pool.missing_sites;
  auto& pooled_quantiles = pool.pooled_quantiles;
  auto& site_quantiles = pool.site_quantiles;
  const int64_t pooled_rows = pool.rows;

  // results.json
  json& pooled_json = results["pooled"];
  pooled_json["n"] = pooled_rows;
  pooled_json["sites"] = static_cast<int64_t>(sites.size());
  for (const auto& c : columns) {
    json col = MomentsJson(pooled[c]);
    if (!pooled_missing_sites[c].empty()) {
      col["incomplete"] = true;
      col["excluded_sites"] = pooled_missing_sites[c];
    }
    auto ps = pooled_quantiles.find(c);
    if (ps != pooled_quantiles.end()) AddQuantiles(col, ps->second);
    pooled_json["columns"][c] = col;
  }
  int64_t k_seen = 0;
  for (const auto& [site, sc] : sites) {
    json& sj = results["sites"][site];
    sj["n"] = sc.rows;
    int64_t k = sc.min_cell_count;
    k_seen = std::max(k_seen, k);
    for (const auto& c : columns) {
      auto it = sc.moments.find(c);
      if (it == sc.moments.end()) {
        sj["columns"][c] = {{"absent", true}};
        continue;
      }
      if (sc.suppressed.count(c)) {
        json s = Suppressed(k, "fewer than k values in a cell");
        // n only when the site released it (k or more values, a 0/1 column
        // with a small category); below k its size is withheld too.
        if (!sc.size_withheld.count(c)) s["n"] = it->second.n;
        sj["columns"][c] = s;
        continue;
      }
      json col = MomentsJson(it->second);
      auto ss = site_quantiles[site].find(c);
      if (ss != site_quantiles[site].end()) AddQuantiles(col, ss->second);
      sj["columns"][c] = col;
    }
  }
  results["min_cell_count"] = k_seen;
  // Time/event pairs: events and median follow-up (median observed time).
  for (int i = 0; i < spec.time_events_size(); ++i) {
    const auto& te = spec.time_events(i);
    int64_t n = 0, events = 0;
    bool suppressed_any = false;
    for (const auto& [site, sc] : sites) {
      json entry;
      if (static_cast<size_t>(i) < sc.te_n.size()) {
        if (sc.te_n[i] >= 0) {
          entry["n"] = sc.te_n[i];
          n += sc.te_n[i];
        }
        if (sc.te_suppressed[i]) {
          suppressed_any = true;
          entry.update(Suppressed(sc.min_cell_count, "fewer than k events or non-events"));
        } else {
          entry["events"] = sc.te_events[i];
          events += sc.te_events[i];
        }
      }
      const json& tcol = results["sites"][site]["columns"][te.time_column()];
      entry["median_followup"] = tcol.contains("median") ? tcol["median"] : json(nullptr);
      results["sites"][site]["time_events"][te.name()] = entry;
    }
    json pooled_te = {{"n", n}, {"time_column", te.time_column()}, {"event_column", te.event_column()}};
    if (suppressed_any) {
      pooled_te["events"] = nullptr;
      pooled_te["incomplete"] = true;
    } else {
      pooled_te["events"] = events;
    }
    const json& ptcol = pooled_json["columns"][te.time_column()];
    pooled_te["median_followup"] = ptcol.contains("median") ? ptcol["median"] : json(nullptr);
    pooled_json["time_events"][te.name()] = pooled_te;
  }
  ctx.SetProgress("cohort summary", 1.0,
                  absl::StrCat("done: ", columns.size(), " columns, ", sites.size(), " sites"));
  return absl::OkStatus();
}

}  // namespace fedrad::coordinator
