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
#include "proto/results_json.h"
#include "proto/task_kinds.h"

namespace fedrad::coordinator {
namespace {

using Column = v1::Results::CohortColumn;
using Group = v1::Results::CohortGroup;

// A column's moments as results.json reports them (NaN prints as null).
Column MomentsColumn(const models::ColumnMoments& m) {
  Column col;
  col.set_n(static_cast<int32_t>(m.n));
  col.set_n_missing(static_cast<int32_t>(m.n_missing));
  if (m.binary) {
    col.set_type("binary");
    col.set_count(static_cast<int32_t>(m.count_one));
    col.set_percent(m.n > 0 ? 100.0 * static_cast<double>(m.count_one) / static_cast<double>(m.n)
                            : kResultsNull);
  } else {
    col.set_type("numeric");
  }
  col.set_mean(m.mean);
  col.set_sd(models::StandardDeviation(m));
  return col;
}

// q1, median, q3 (est[0..2]) and their details.
void AddQuantiles(Column& col, const std::vector<models::QuantileEstimate>& est) {
  using Setter = void (Column::*)(double);
  using Detail = v1::Results::Quantile* (v1::Results::Quantiles::*)();
  const Setter values[] = {&Column::set_q1, &Column::set_median, &Column::set_q3};
  const Detail details[] = {&v1::Results::Quantiles::mutable_q1,
                            &v1::Results::Quantiles::mutable_median,
                            &v1::Results::Quantiles::mutable_q3};
  for (size_t q = 0; q < est.size() && q < 3; ++q) {
    (col.*values[q])(est[q].value);
    v1::Results::Quantile& d = *(col.mutable_quantiles()->*details[q])();
    d.set_value(est[q].value);
    d.set_probability(est[q].probability);
    d.set_rank_error(est[q].rank_error);
    d.set_bracket_low(est[q].bracket_low);
    d.set_bracket_high(est[q].bracket_high);
  }
}

std::string SuppressedReason(int64_t k, const std::string& why) {
  return absl::StrCat(why, " (site policy k=", k, ")");
}

// The median of `column` in `group`, if it has one; else NaN (null).
double MedianOf(const Group& group, const std::string& column) {
  auto it = group.columns().find(column);
  return it != group.columns().end() && it->second.has_median() ? it->second.median()
                                                                : kResultsNull;
}

using Estimates = std::vector<models::QuantileEstimate>;

// How the cohort's numbers were computed, in words (cohort.method).
void FillMethod(const v1::CohortSummary& spec, v1::Results::CohortMethod& method) {
  method.set_sd("sample standard deviation (n - 1)");
  method.set_quantiles(
      "interpolated from cumulative counts on a grid each site fixes (3-significant-digit lattice, "
      "merged so that every released step holds at least k values and neither extreme is "
      "isolated); pooled: from the sum of the sites' step functions. Approximate to the grid: "
      "bracket_low/bracket_high are released points that certainly enclose the sample quantile "
      "(null: unbounded on that side), rank_error bounds the rank error; no individual value is "
      "released");
  method.set_quantile_rank_error(spec.quantile_rank_error() > 0 ? spec.quantile_rank_error()
                                                                : 0.01);
  method.set_small_cells(
      "a site suppresses a column with fewer than k values, and a 0/1 column or event count with "
      "fewer than k in either category");
}

// One site's columns: moments and quantiles, or why the site has none.
void FillSiteColumns(const rounds::CohortSite& sc, const std::vector<std::string>& columns,
                     const std::map<std::string, Estimates>& quantiles, Group& out) {
  for (const auto& c : columns) {
    Column& col = (*out.mutable_columns())[c];
    auto it = sc.moments.find(c);
    if (it == sc.moments.end()) {
      col.set_absent(true);
      continue;
    }
    if (sc.suppressed.count(c)) {
      col.set_suppressed(true);
      col.set_reason(SuppressedReason(sc.min_cell_count, "fewer than k values in a cell"));
      // n only when the site released it (k or more values, a 0/1 column
      // with a small category); below k its size is withheld too.
      if (!sc.size_withheld.count(c)) col.set_n(static_cast<int32_t>(it->second.n));
      continue;
    }
    col = MomentsColumn(it->second);
    auto q = quantiles.find(c);
    if (q != quantiles.end()) AddQuantiles(col, q->second);
  }
}

// cohort.{method,min_cell_count,pooled,sites} (docs/results.md, "cohort").
void FillCohort(const v1::CohortSummary& spec, const std::vector<std::string>& columns,
                const std::map<std::string, rounds::CohortSite>& sites, int64_t pooled_rows,
                const std::map<std::string, models::ColumnMoments>& pooled,
                const std::map<std::string, std::vector<std::string>>& pooled_missing_sites,
                const std::map<std::string, Estimates>& pooled_quantiles,
                const std::map<std::string, std::map<std::string, Estimates>>& site_quantiles,
                v1::Results::Cohort& out) {
  FillMethod(spec, *out.mutable_method());
  Group& pooled_group = *out.mutable_pooled();
  pooled_group.set_n(static_cast<int32_t>(pooled_rows));
  pooled_group.set_sites(static_cast<int32_t>(sites.size()));
  for (const auto& c : columns) {
    Column col = MomentsColumn(pooled.at(c));
    auto missing = pooled_missing_sites.find(c);
    if (missing != pooled_missing_sites.end() && !missing->second.empty()) {
      col.set_incomplete(true);
      *col.mutable_excluded_sites() = {missing->second.begin(), missing->second.end()};
    }
    auto ps = pooled_quantiles.find(c);
    if (ps != pooled_quantiles.end()) AddQuantiles(col, ps->second);
    (*pooled_group.mutable_columns())[c] = std::move(col);
  }
  int64_t k_seen = 0;
  static const std::map<std::string, Estimates> kNone;
  for (const auto& [site, sc] : sites) {
    Group& group = (*out.mutable_sites())[site];
    group.set_n(static_cast<int32_t>(sc.rows));
    k_seen = std::max(k_seen, sc.min_cell_count);
    auto q = site_quantiles.find(site);
    FillSiteColumns(sc, columns, q == site_quantiles.end() ? kNone : q->second, group);
  }
  out.set_min_cell_count(static_cast<int32_t>(k_seen));
  // Time/event pairs: events and median follow-up (median observed time).
  for (int i = 0; i < spec.time_events_size(); ++i) {
    const auto& te = spec.time_events(i);
    int64_t n = 0, events = 0;
    bool suppressed_any = false;
    for (const auto& [site, sc] : sites) {
      Group& group = (*out.mutable_sites())[site];
      v1::Results::TimeEventSummary entry;
      if (static_cast<size_t>(i) < sc.te_n.size()) {
        if (sc.te_n[i] >= 0) {
          entry.set_n(static_cast<int32_t>(sc.te_n[i]));
          n += sc.te_n[i];
        }
        if (sc.te_suppressed[i]) {
          suppressed_any = true;
          entry.set_suppressed(true);
          entry.set_reason(
              SuppressedReason(sc.min_cell_count, "fewer than k events or non-events"));
        } else {
          entry.set_events(static_cast<double>(sc.te_events[i]));
          events += sc.te_events[i];
        }
      }
      entry.set_median_followup(MedianOf(group, te.time_column()));
      (*group.mutable_time_events())[te.name()] = std::move(entry);
    }
    v1::Results::TimeEventSummary pooled_te;
    pooled_te.set_n(static_cast<int32_t>(n));
    pooled_te.set_time_column(te.time_column());
    pooled_te.set_event_column(te.event_column());
    if (suppressed_any) pooled_te.set_incomplete(true);
    pooled_te.set_events(suppressed_any ? kResultsNull : static_cast<double>(events));
    pooled_te.set_median_followup(MedianOf(pooled_group, te.time_column()));
    (*pooled_group.mutable_time_events())[te.name()] = std::move(pooled_te);
  }
}

}  // namespace

absl::Status RunCohortSummary(StudyContext& ctx) {
  const auto& spec = ctx.study().cohort_summary();
  ctx.SetProgress("cohort summary", 0.0, "collecting column moments");
  // No parameter: each site reads the columns and time/event pairs from the
  // approved spec the task carries.
  const fedrad::v1::Payload params;
  FEDRAD_ASSIGN_OR_RETURN(auto moment_results, ctx.Broadcast(kinds::cohort_moments::kName, params));
  std::map<std::string, rounds::CohortSite> sites;
  for (const auto& [site, result] : moment_results) {
    FEDRAD_ASSIGN_OR_RETURN(sites[site], rounds::ParseCohortMoments(site, result.payload()));
  }
  if (sites.empty()) return absl::FailedPreconditionError("cohort summary: no site answered");

  // Quantiles: one round of grid counts, pooled and per site, for numeric
  // (non-binary) columns; pooled with the replay's own function
  // (rounds/cohort_inputs.h).
  ctx.SetProgress("cohort summary", 0.5, "quantiles (counts on the sites' grids)");
  FEDRAD_ASSIGN_OR_RETURN(auto count_results, ctx.Broadcast(kinds::cohort_counts::kName, params));
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

  FillCohort(spec, columns, sites, pooled_rows, pooled, pooled_missing_sites, pooled_quantiles,
             site_quantiles, *ctx.results().mutable_cohort());
  ctx.SetProgress("cohort summary", 1.0,
                  absl::StrCat("done: ", columns.size(), " columns, ", sites.size(), " sites"));
  return absl::OkStatus();
}

}  // namespace fedrad::coordinator
