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
#include "proto/payload.h"

namespace fedrad::coordinator {
namespace {

using nlohmann::json;

const std::vector<double> kProbabilities = {0.25, 0.5, 0.75};
const char* const kQuantileNames[] = {"q1", "median", "q3"};

struct SiteColumns {
  std::vector<std::string> columns;
  std::map<std::string, models::ColumnMoments> moments;
  std::set<std::string> suppressed;
  std::set<std::string> size_withheld;  // suppressed below k: n not released
  int64_t rows = 0;
  int64_t min_cell_count = 10;  // the site's k, as it reported it
  std::vector<int64_t> te_n, te_events;
  std::vector<bool> te_suppressed;
};

absl::StatusOr<std::vector<double>> Vector(const fedrad::v1::Payload& p, const std::string& name) {
  return GetVector(p, name);
}

absl::StatusOr<SiteColumns> ParseMoments(const std::string& site, const fedrad::v1::TaskResult& r) {
  SiteColumns out;
  const auto& p = r.payload();
  auto it = p.strings().find("columns");
  std::string joined = it == p.strings().end() ? "" : it->second;
  for (absl::string_view c : absl::StrSplit(joined, ',', absl::SkipEmpty())) {
    out.columns.emplace_back(c);
  }
  FEDRAD_ASSIGN_OR_RETURN(auto rows, Vector(p, "rows"));
  FEDRAD_ASSIGN_OR_RETURN(auto n, Vector(p, "n"));
  FEDRAD_ASSIGN_OR_RETURN(auto n_missing, Vector(p, "n_missing"));
  FEDRAD_ASSIGN_OR_RETURN(auto mean, Vector(p, "mean"));
  FEDRAD_ASSIGN_OR_RETURN(auto m2, Vector(p, "m2"));
  FEDRAD_ASSIGN_OR_RETURN(auto binary, Vector(p, "binary"));
  FEDRAD_ASSIGN_OR_RETURN(auto count_one, Vector(p, "count_one"));
  // Optional (older sites do not send it): whole-number columns.
  std::vector<double> integer = Vector(p, "integer").value_or(std::vector<double>(count_one.size(), 0.0));
  FEDRAD_ASSIGN_OR_RETURN(auto suppressed, Vector(p, "suppressed"));
  size_t m = out.columns.size();
  if (rows.size() != 1 || n.size() != m || n_missing.size() != m || mean.size() != m ||
      m2.size() != m || binary.size() != m || count_one.size() != m || suppressed.size() != m) {
    return absl::DataLossError(absl::StrCat("site ", site, ": malformed cohort.moments result"));
  }
  out.rows = CountFromDouble(rows[0]);
  FEDRAD_ASSIGN_OR_RETURN(auto k, Vector(p, "min_cell_count"));
  if (k.size() == 1) out.min_cell_count = static_cast<int64_t>(k[0]);
  for (size_t i = 0; i < m; ++i) {
    models::ColumnMoments cm;
    if (std::isfinite(n[i]) && std::isfinite(n_missing[i])) {
      cm.n = CountFromDouble(n[i]);
      cm.n_missing = CountFromDouble(n_missing[i]);
    } else {
      out.size_withheld.insert(out.columns[i]);
      suppressed[i] = 1.0;
    }
    cm.binary = binary[i] != 0.0;
    cm.integer = i < integer.size() && integer[i] == 1.0;
    if (suppressed[i] != 0.0) {
      out.suppressed.insert(out.columns[i]);
    } else {
      cm.mean = mean[i];
      cm.m2 = m2[i];
      cm.count_one = std::isfinite(count_one[i]) ? CountFromDouble(count_one[i]) : 0;
    }
    out.moments[out.columns[i]] = cm;
  }
  FEDRAD_ASSIGN_OR_RETURN(auto te_n, Vector(p, "time_event_n"));
  FEDRAD_ASSIGN_OR_RETURN(auto te_events, Vector(p, "time_event_events"));
  FEDRAD_ASSIGN_OR_RETURN(auto te_suppressed, Vector(p, "time_event_suppressed"));
  for (size_t i = 0; i < te_n.size() && i < te_events.size() && i < te_suppressed.size(); ++i) {
    // -1: withheld (fewer than k pairs).
    out.te_n.push_back(std::isfinite(te_n[i]) ? CountFromDouble(te_n[i]) : -1);
    out.te_suppressed.push_back(te_suppressed[i] != 0.0 || !std::isfinite(te_n[i]));
    out.te_events.push_back(te_suppressed[i] != 0.0 ? 0 : CountFromDouble(te_events[i]));
  }
  return out;
}

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

// A site's released grid counts of one column (cohort.counts), if any.
struct SiteGrids {
  std::map<std::string, models::GridCounts> by_column;
};

absl::StatusOr<SiteGrids> ParseCounts(const std::string& site, const fedrad::v1::TaskResult& r,
                                      const std::vector<std::string>& columns) {
  SiteGrids out;
  const auto& p = r.payload();
  for (const std::string& c : columns) {
    absl::StatusOr<std::vector<double>> grid = GetVector(p, "grid." + c);
    if (!grid.ok()) continue;  // the site released no counts for this column
    FEDRAD_ASSIGN_OR_RETURN(auto counts, Vector(p, "counts." + c));
    FEDRAD_ASSIGN_OR_RETURN(auto n, Vector(p, "n." + c));
    if (counts.size() != grid->size() || n.size() != 1 || !std::isfinite(n[0])) {
      return absl::DataLossError(
          absl::StrCat("site ", site, ": malformed cohort.counts result for '", c, "'"));
    }
    models::GridCounts g;
    g.n = CountFromDouble(n[0]);
    g.points = *grid;
    for (double k : counts) {
      // A count outside 0..2^53 is malformed (a double past int64_t was
      // converted: undefined behaviour; found by tests/fuzz).
      if (CountFromDouble(k) < 0) {
        return absl::DataLossError(
            absl::StrCat("site ", site, ": malformed cohort.counts result for '", c, "'"));
      }
      g.counts.push_back(CountFromDouble(k));
    }
    out.by_column[c] = std::move(g);
  }
  return out;
}

// The part a site contributes to a quantile of column `c`: its grid counts
// (none when it released none, e.g. a column 0/1 there) and its moments.
models::GridPart Part(const SiteColumns& sc, const SiteGrids* grids, const std::string& c) {
  models::GridPart part;
  const models::ColumnMoments& m = sc.moments.at(c);
  part.grid.n = m.n;
  part.mean = m.mean;
  part.sd = models::StandardDeviation(m);
  part.integer = m.integer;
  if (grids != nullptr) {
    auto it = grids->by_column.find(c);
    if (it != grids->by_column.end() && it->second.n == m.n) part.grid = it->second;
  }
  return part;
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
  std::map<std::string, SiteColumns> sites;
  for (const auto& [site, result] : moment_results) {
    FEDRAD_ASSIGN_OR_RETURN(sites[site], ParseMoments(site, result));
  }
  if (sites.empty()) return absl::FailedPreconditionError("cohort summary: no site answered");

  // Columns in the order the first site lists them, then any others.
  std::vector<std::string> columns;
  std::set<std::string> seen;
  for (const auto& [site, sc] : sites) {
    for (const auto& c : sc.columns) {
      if (seen.insert(c).second) columns.push_back(c);
    }
  }

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

  // Pooled moments, from the sites that released each column.
  std::map<std::string, models::ColumnMoments> pooled;
  std::map<std::string, std::vector<std::string>> pooled_missing_sites;
  int64_t pooled_rows = 0;
  for (const auto& [site, sc] : sites) pooled_rows += sc.rows;
  for (const auto& c : columns) {
    std::vector<models::ColumnMoments> parts;
    for (const auto& [site, sc] : sites) {
      auto it = sc.moments.find(c);
      if (it == sc.moments.end()) {
        pooled_missing_sites[c].push_back(absl::StrCat(site, " (column absent)"));
      } else if (sc.suppressed.count(c)) {
        pooled_missing_sites[c].push_back(absl::StrCat(site, " (suppressed)"));
      } else {
        parts.push_back(it->second);
      }
    }
    pooled[c] = models::CombineMoments(parts);
  }

  // Quantiles: one round of grid counts, pooled and per site, for numeric
  // (non-binary) columns.
  ctx.SetProgress("cohort summary", 0.5, "quantiles (counts on the sites' grids)");
  FEDRAD_ASSIGN_OR_RETURN(auto count_results, ctx.Broadcast("cohort.counts", params));
  std::map<std::string, SiteGrids> grids;
  for (const auto& [site, result] : count_results) {
    if (!sites.count(site)) continue;
    FEDRAD_ASSIGN_OR_RETURN(grids[site], ParseCounts(site, result, sites.at(site).columns));
  }
  std::map<std::string, std::vector<models::QuantileEstimate>> pooled_quantiles;
  std::map<std::string, std::map<std::string, std::vector<models::QuantileEstimate>>> site_quantiles;
  for (const auto& c : columns) {
    if (pooled[c].binary || pooled[c].n == 0) continue;
    std::vector<models::GridPart> parts;
    bool complete = pooled_missing_sites[c].empty();
    for (const auto& [site, sc] : sites) {
      auto it = sc.moments.find(c);
      if (it == sc.moments.end() || sc.suppressed.count(c)) continue;
      auto g = grids.find(site);
      if (g == grids.end()) {
        complete = false;  // the site stopped answering
        continue;
      }
      models::GridPart part = Part(sc, &g->second, c);
      if (!it->second.binary && part.grid.n > 0) {
        site_quantiles[site][c] = models::GridQuantiles({part}, kProbabilities);
      }
      parts.push_back(std::move(part));
    }
    if (complete) {
      pooled_quantiles[c] = models::GridQuantiles(parts, kProbabilities);
    } else if (pooled_missing_sites[c].empty()) {
      pooled_missing_sites[c].push_back("a site that stopped answering");
    }
  }

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
