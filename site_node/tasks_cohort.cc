// Site-side tasks of the cohort summary ("Table 1"): column moments, and
// cumulative counts on a grid the SITE fixes (for quantiles). See
// models/descriptive.h for the method and coordinator/analysis_cohort.cc for
// the other half.
//
// No parameter comes from the task: the columns, the column pattern and the
// time/event pairs are read from the approved study spec the task carries
// (Task.study.cohort_summary), the id column is the site's own
// (TaskContext::id_column). Any task params (columns, column_regex,
// time_events, id_column, extra_columns, thresholds.*) are ignored.
//
// Small cells: a column with fewer than k non-missing values, and a 0/1
// column with fewer than k ones or fewer than k zeros, is suppressed at the
// site: its statistics are not released (NaN) and it is flagged; below k its
// n is withheld too, so a suppressed cell reveals nothing, not even its size.
// Counts are released only on the site's grid, each step >= k values
// (models::SiteGridCounts), whatever thresholds a coordinator sends.
#include <cmath>
#include <limits>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/csv.h"
#include "core/log.h"
#include "core/pattern.h"
#include "core/status.h"
#include "models/descriptive.h"
#include "proto/payload.h"
#include "rounds/transcript.h"
#include "site_node/builtin_tasks.h"
#include "site_node/site_rules.h"
#include "site_node/task_registry.h"

namespace fedrad::site {
namespace {

// The release ledger's name for a cohort-summary quantity: the ledger
// compares answers within the cohort summary (docs/privacy.md, rule
// no-differencing).
std::string LedgerQuantity(absl::string_view column) { return absl::StrCat("cohort:", column); }

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

absl::Status Refuse(absl::StatusCode code, absl::string_view text) {
  return PublicError(code, text);
}

// A column is numeric when every non-missing cell parses as a number.
bool IsNumericColumn(const CsvTable& table, int col) {
  bool any = false;
  for (size_t r = 0; r < table.num_rows(); ++r) {
    const std::string& cell = table.cell(r, col);
    if (IsMissingCell(cell)) continue;
    double v;
    if (!ParseNumber(cell, &v)) return false;
    any = true;
  }
  return any;
}


// The ids of the rows where every one of `columns` is present.
std::vector<std::string> IdsWhere(const std::vector<std::string>& ids,
                                  const std::vector<const std::vector<double>*>& columns) {
  std::vector<std::string> out;
  for (size_t r = 0; r < ids.size(); ++r) {
    bool present = true;
    for (const auto* c : columns) present = present && !std::isnan((*c)[r]);
    if (present) out.push_back(ids[r]);
  }
  return out;
}

// What the approved spec asks this site to summarise.
struct CohortPlan {
  std::vector<std::string> columns;
  std::vector<v1::TimeEvent> time_events;
};

// The columns to summarise, from the spec: those named, the time columns of
// the time/event pairs (for the median follow-up), then those whose whole
// name matches cohort_summary.column_regex (RE2); with neither names nor a
// pattern, every numeric column but the id and time/event columns.
absl::StatusOr<CohortPlan> PlanFromSpec(const TaskContext& ctx) {
  const v1::CohortSummary& spec = ctx.task->study().cohort_summary();
  const CsvTable& table = *ctx.table;
  CohortPlan plan;
  std::set<std::string> excluded = {ctx.id_column};
  for (const v1::TimeEvent& te : spec.time_events()) {
    if (te.time_column() == ctx.id_column || te.event_column() == ctx.id_column) {
      return Refuse(absl::StatusCode::kInvalidArgument,
                    "cohort_summary.time_events: names the site's id column (rule id-column)");
    }
    for (const std::string& c : {te.time_column(), te.event_column()}) {
      if (!table.HasColumn(c)) {
        return Refuse(absl::StatusCode::kInvalidArgument,
                      absl::StrCat("cohort_summary.time_events: column '", c,
                                   "' is not in this site's table (rule spec-columns)"));
      }
      excluded.insert(c);
    }
    plan.time_events.push_back(te);
  }
  std::set<std::string> seen;
  for (const std::string& c : spec.columns()) {
    if (c == ctx.id_column) {
      return Refuse(absl::StatusCode::kInvalidArgument,
                    "cohort_summary.columns: names the site's id column (rule id-column)");
    }
    if (!table.HasColumn(c)) {
      return Refuse(absl::StatusCode::kInvalidArgument,
                    absl::StrCat("cohort_summary.columns: column '", c,
                                 "' is not in this site's table (rule spec-columns)"));
    }
    if (seen.insert(c).second) plan.columns.push_back(c);
  }
  for (const v1::TimeEvent& te : spec.time_events()) {
    if (seen.insert(te.time_column()).second) plan.columns.push_back(te.time_column());
  }
  if (!spec.column_regex().empty() || spec.columns().empty()) {
    absl::StatusOr<Pattern> re =
        Pattern::Compile(spec.column_regex().empty() ? ".*" : spec.column_regex(),
                         "cohort_summary.column_regex");
    if (!re.ok()) {
      FEDRAD_LOG(WARNING) << "cohort: " << re.status().message();
      return Refuse(absl::StatusCode::kInvalidArgument,
                    "cohort_summary.column_regex: not a valid RE2 pattern within the size "
                    "limits (rule pattern-re2)");
    }
    for (size_t i = 0; i < table.num_columns(); ++i) {
      const std::string& c = table.header()[i];
      if (excluded.count(c) || seen.count(c)) continue;
      if (!re->FullMatch(c)) continue;
      if (!IsNumericColumn(table, static_cast<int>(i))) continue;
      seen.insert(c);
      plan.columns.push_back(c);
    }
  }
  return plan;
}

absl::StatusOr<std::vector<double>> Column(const TaskContext& ctx, const std::string& c) {
  return ctx.table->NumericColumn(c, MissingValues::kAllow);
}

absl::StatusOr<TaskOutput> CohortMoments(TaskContext& ctx) {
  const CsvTable& table = *ctx.table;
  FEDRAD_ASSIGN_OR_RETURN(CohortPlan plan, PlanFromSpec(ctx));
  FEDRAD_ASSIGN_OR_RETURN(std::vector<std::string> ids, PatientIds(ctx));
  const int64_t k = ctx.min_cell_count;
  TaskOutput out;

  std::vector<double> n, n_missing, mean, m2, binary, integer, count_one, suppressed;
  for (const auto& c : plan.columns) {
    FEDRAD_ASSIGN_OR_RETURN(std::vector<double> values, Column(ctx, c));
    models::ColumnMoments m = models::ComputeMoments(values);
    const bool few = m.n < k;
    const bool small = few || (m.binary && (m.count_one < k || m.n - m.count_one < k));
    // Below k even the number of values is withheld (so is the number
    // missing, rows - n).
    n.push_back(few ? kNaN : static_cast<double>(m.n));
    n_missing.push_back(few ? kNaN : static_cast<double>(m.n_missing));
    binary.push_back(m.binary ? 1.0 : 0.0);
    // Whether every value is a whole number: a property of the column's type
    // (counts), for whole-number quantiles; withheld with the column.
    integer.push_back(few ? kNaN : (m.integer ? 1.0 : 0.0));
    suppressed.push_back(small ? 1.0 : 0.0);
    mean.push_back(small ? kNaN : m.mean);
    m2.push_back(small ? kNaN : m.m2);
    // The number of ones means something only for a 0/1 column (then both
    // cells are >= k); for any other column it would count a value's
    // occurrences, which may be fewer than k.
    count_one.push_back(small || !m.binary ? kNaN : static_cast<double>(m.count_one));
    if (!few) out.populations.push_back({{LedgerQuantity(c)}, IdsWhere(ids, {&values})});
  }

  std::vector<double> te_n, te_events, te_suppressed;
  for (const auto& te : plan.time_events) {
    FEDRAD_ASSIGN_OR_RETURN(std::vector<double> time, Column(ctx, te.time_column()));
    FEDRAD_ASSIGN_OR_RETURN(std::vector<double> event, Column(ctx, te.event_column()));
    int64_t count = 0, events = 0;
    for (size_t i = 0; i < time.size(); ++i) {
      if (std::isnan(time[i]) || std::isnan(event[i])) continue;
      if (event[i] != 0.0 && event[i] != 1.0) {
        FEDRAD_LOG(WARNING) << table.source() << ": line " << table.line_of_row(i)
                            << ", column '" << te.event_column() << "': not 0 or 1";
        return Refuse(absl::StatusCode::kInvalidArgument,
                      absl::StrCat("cohort_summary.time_events: column '", te.event_column(),
                                   "' holds a value other than 0 or 1 (rule event-indicator)"));
      }
      ++count;
      events += event[i] == 1.0;
    }
    const bool few = count < k;
    const bool small = few || events < k || count - events < k;
    te_n.push_back(few ? kNaN : static_cast<double>(count));
    te_events.push_back(small ? kNaN : static_cast<double>(events));
    te_suppressed.push_back(small ? 1.0 : 0.0);
    if (!few) {
      out.populations.push_back(
          {{LedgerQuantity(absl::StrCat(te.time_column(), "+", te.event_column()))},
           IdsWhere(ids, {&time, &event})});
    }
  }

  out.n_contributing = static_cast<int64_t>(table.num_rows());
  fedrad::v1::Payload& p = out.payload;
  namespace km = ::fedrad::kinds::cohort_moments;
  kinds::Put(&p, km::kColumns, plan.columns);
  kinds::Put(&p, km::kRows, static_cast<double>(table.num_rows()));
  kinds::Put(&p, km::kMinCellCount, static_cast<double>(k));
  kinds::Put(&p, km::kN, n);
  kinds::Put(&p, km::kNMissing, n_missing);
  kinds::Put(&p, km::kMean, mean);
  kinds::Put(&p, km::kM2, m2);
  kinds::Put(&p, km::kBinary, binary);
  kinds::Put(&p, km::kInteger, integer);
  kinds::Put(&p, km::kCountOne, count_one);
  kinds::Put(&p, km::kSuppressed, suppressed);
  kinds::Put(&p, km::kTimeEventN, te_n);
  kinds::Put(&p, km::kTimeEventEvents, te_events);
  kinds::Put(&p, km::kTimeEventSuppressed, te_suppressed);
  // Signed like a verifiable round, so that an auditor can pool it again
  // (`fedrad audit replay`, rounds/cohort_inputs.h).
  out.round = RoundContribution{rounds::CohortMomentsRound(), {}, {}};
  return out;
}

// Per summarised numeric, non-binary column with at least k values:
// "grid.<column>" (the site's released lattice points, increasing),
// "counts.<column>" (values <= each point) and "n.<column>". The points are
// the site's (models::SiteGridCounts, step max(k, ceil(quantile_rank_error *
// n))); thresholds a coordinator sends are ignored. A column below k
// releases nothing (and says nothing about why).
absl::StatusOr<TaskOutput> CohortCounts(TaskContext& ctx) {
  const CsvTable& table = *ctx.table;
  FEDRAD_ASSIGN_OR_RETURN(CohortPlan plan, PlanFromSpec(ctx));
  FEDRAD_ASSIGN_OR_RETURN(std::vector<std::string> ids, PatientIds(ctx));
  const double fraction = ctx.task->study().cohort_summary().quantile_rank_error() > 0
                              ? ctx.task->study().cohort_summary().quantile_rank_error()
                              : 0.01;
  TaskOutput out;
  out.n_contributing = static_cast<int64_t>(table.num_rows());
  for (const std::string& c : plan.columns) {
    FEDRAD_ASSIGN_OR_RETURN(std::vector<double> values, Column(ctx, c));
    const models::ColumnMoments m = models::ComputeMoments(values);
    if (m.n < ctx.min_cell_count || m.binary) continue;
    const models::GridCounts g = models::SiteGridCounts(
        values, models::GridStep(m.n, ctx.min_cell_count, fraction,
                                 static_cast<int64_t>(kMaxGridPoints)));
    namespace kc = ::fedrad::kinds::cohort_counts;
    kinds::Put(&out.payload, kc::kGrid, c, g.points);
    kinds::Put(&out.payload, kc::kCounts, c, std::vector<double>(g.counts.begin(), g.counts.end()));
    kinds::Put(&out.payload, kc::kN, c, static_cast<double>(g.n));
    out.populations.push_back({{LedgerQuantity(c)}, IdsWhere(ids, {&values})});
  }
  out.round = RoundContribution{rounds::CohortCountsRound(), {}, {}};
  return out;
}

}  // namespace

void RegisterCohortTasks(TaskRegistry& registry) {
  registry.Register(DefinedKind(kinds::cohort_moments::kName, CohortMoments));
  registry.Register(DefinedKind(kinds::cohort_counts::kName, CohortCounts));
}

}  // namespace fedrad::site
