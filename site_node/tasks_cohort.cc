// Site-side tasks of the cohort summary ("Table 1"): column moments and
// counts at coordinator-chosen thresholds (for quantiles). See
// models/descriptive.h for the method and coordinator/analysis_cohort.cc for
// the other half.
//
// Small cells: a column with fewer than k non-missing values, and a 0/1
// column with fewer than k ones or fewer than k zeros, is suppressed at the
// site: its statistics are not released (NaN) and it is flagged, so the
// coordinator can mark it.
#include <cmath>
#include <limits>
#include <regex>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "core/csv.h"
#include "core/status.h"
#include "models/descriptive.h"
#include "proto/payload.h"
#include "site_node/builtin_tasks.h"
#include "site_node/task_registry.h"

namespace fedrad::site {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

std::vector<std::string> SplitList(const std::string& s) {
  std::vector<std::string> out;
  for (absl::string_view part : absl::StrSplit(s, ',', absl::SkipEmpty())) {
    out.emplace_back(part);
  }
  return out;
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

struct TimeEventSpec {
  std::string name, time_column, event_column;
};

absl::StatusOr<std::vector<TimeEventSpec>> ParseTimeEvents(const std::string& s) {
  std::vector<TimeEventSpec> out;
  for (absl::string_view item : absl::StrSplit(s, ';', absl::SkipEmpty())) {
    std::vector<std::string> parts = absl::StrSplit(item, ':');
    if (parts.size() != 3) {
      return absl::InvalidArgumentError(absl::StrCat("time_events entry '", item,
                                                     "' is not name:time_column:event_column"));
    }
    out.push_back({parts[0], parts[1], parts[2]});
  }
  return out;
}

// The columns to summarise: those named, plus those matching the regex; with
// neither, every numeric column but the id and time/event columns. Columns in
// "extra_columns" are always included.
absl::StatusOr<std::vector<std::string>> SelectColumns(const CsvTable& table,
                                                       const fedrad::v1::Payload& params,
                                                       const std::string& default_id_column) {
  const auto& strings = params.strings();
  auto get = [&](const std::string& key) {
    auto it = strings.find(key);
    return it == strings.end() ? std::string() : it->second;
  };
  std::string id_column = get("id_column");
  if (id_column.empty()) id_column = default_id_column;
  FEDRAD_ASSIGN_OR_RETURN(std::vector<TimeEventSpec> time_events, ParseTimeEvents(get("time_events")));
  std::set<std::string> excluded = {id_column};
  for (const auto& te : time_events) {
    excluded.insert(te.time_column);
    excluded.insert(te.event_column);
  }
  std::vector<std::string> named = SplitList(get("columns"));
  std::string regex_text = get("column_regex");
  std::vector<std::string> out;
  std::set<std::string> seen;
  for (const auto& c : named) {
    if (!table.HasColumn(c)) {
      return absl::InvalidArgumentError(
          absl::StrCat(table.source(), ": the study asks for column '", c, "', which is missing"));
    }
    if (seen.insert(c).second) out.push_back(c);
  }
  // Always summarised (the coordinator adds the time columns, for the median
  // follow-up).
  for (const auto& c : SplitList(get("extra_columns"))) {
    if (!table.HasColumn(c)) {
      return absl::InvalidArgumentError(
          absl::StrCat(table.source(), ": the study asks for column '", c, "', which is missing"));
    }
    if (seen.insert(c).second) out.push_back(c);
  }
  if (!regex_text.empty() || named.empty()) {
    std::regex re;
    try {
      re = std::regex(regex_text.empty() ? std::string(".*") : regex_text);
    } catch (const std::regex_error& e) {
      return absl::InvalidArgumentError(
          absl::StrCat("column_regex '", regex_text, "' is not a valid regular expression"));
    }
    for (size_t i = 0; i < table.num_columns(); ++i) {
      const std::string& c = table.header()[i];
      if (excluded.count(c) || seen.count(c)) continue;
      if (!std::regex_match(c, re)) continue;
      if (!IsNumericColumn(table, static_cast<int>(i))) continue;
      seen.insert(c);
      out.push_back(c);
    }
  }
  return out;
}

absl::StatusOr<TaskOutput> CohortMoments(TaskContext& ctx) {
  const CsvTable& table = *ctx.table;
  const fedrad::v1::Payload& params = ctx.task->params();
  FEDRAD_ASSIGN_OR_RETURN(std::vector<std::string> columns, SelectColumns(table, params, ctx.id_column));
  auto te_it = params.strings().find("time_events");
  FEDRAD_ASSIGN_OR_RETURN(
      std::vector<TimeEventSpec> time_events,
      ParseTimeEvents(te_it == params.strings().end() ? std::string() : te_it->second));
  const int64_t k = ctx.min_cell_count;

  std::vector<double> n, n_missing, mean, m2, binary, count_one, suppressed;
  for (const auto& c : columns) {
    FEDRAD_ASSIGN_OR_RETURN(std::vector<double> values,
                            table.NumericColumn(c, MissingValues::kAllow));
    models::ColumnMoments m = models::ComputeMoments(values);
    bool small = m.n < k || (m.binary && (m.count_one < k || m.n - m.count_one < k));
    n.push_back(static_cast<double>(m.n));
    n_missing.push_back(static_cast<double>(m.n_missing));
    binary.push_back(m.binary ? 1.0 : 0.0);
    suppressed.push_back(small ? 1.0 : 0.0);
    mean.push_back(small ? kNaN : m.mean);
    m2.push_back(small ? kNaN : m.m2);
    count_one.push_back(small ? kNaN : static_cast<double>(m.count_one));
  }

  std::vector<double> te_n, te_events, te_suppressed;
  for (const auto& te : time_events) {
    FEDRAD_RETURN_IF_ERROR(table.RequireColumns({te.time_column, te.event_column}));
    FEDRAD_ASSIGN_OR_RETURN(std::vector<double> time, table.NumericColumn(te.time_column, MissingValues::kAllow));
    FEDRAD_ASSIGN_OR_RETURN(std::vector<double> event, table.NumericColumn(te.event_column, MissingValues::kAllow));
    int64_t count = 0, events = 0;
    for (size_t i = 0; i < time.size(); ++i) {
      if (std::isnan(time[i]) || std::isnan(event[i])) continue;
      if (event[i] != 0.0 && event[i] != 1.0) {
        return absl::InvalidArgumentError(absl::StrCat(
            table.source(), ": line ", table.line_of_row(i), ", column '", te.event_column,
            "': an event indicator must be 0 or 1, found ", FormatNumber(event[i])));
      }
      ++count;
      events += event[i] == 1.0;
    }
    bool small = count < k || events < k || count - events < k;
    te_n.push_back(static_cast<double>(count));
    te_events.push_back(small ? kNaN : static_cast<double>(events));
    te_suppressed.push_back(small ? 1.0 : 0.0);
  }

  TaskOutput out;
  out.n_contributing = static_cast<int64_t>(table.num_rows());
  fedrad::v1::Payload& p = out.payload;
  (*p.mutable_strings())["columns"] = absl::StrJoin(columns, ",");
  const std::vector<int64_t> shape = {static_cast<int64_t>(columns.size())};
  AddArray(&p, "rows", {}, {static_cast<double>(table.num_rows())});
  AddArray(&p, "min_cell_count", {}, {static_cast<double>(k)});
  AddArray(&p, "n", shape, n);
  AddArray(&p, "n_missing", shape, n_missing);
  AddArray(&p, "mean", shape, mean);
  AddArray(&p, "m2", shape, m2);
  AddArray(&p, "binary", shape, binary);
  AddArray(&p, "count_one", shape, count_one);
  AddArray(&p, "suppressed", shape, suppressed);
  const std::vector<int64_t> te_shape = {static_cast<int64_t>(time_events.size())};
  AddArray(&p, "time_event_n", te_shape, te_n);
  AddArray(&p, "time_event_events", te_shape, te_events);
  AddArray(&p, "time_event_suppressed", te_shape, te_suppressed);
  return out;
}

// params: arrays "thresholds.<column>"; returns "counts.<column>", the number
// of the column's non-missing values at or below each threshold.
absl::StatusOr<TaskOutput> CohortCounts(TaskContext& ctx) {
  const CsvTable& table = *ctx.table;
  TaskOutput out;
  out.n_contributing = static_cast<int64_t>(table.num_rows());
  for (const auto& array : ctx.task->params().arrays()) {
    const std::string prefix = "thresholds.";
    if (array.name().rfind(prefix, 0) != 0) continue;
    std::string column = array.name().substr(prefix.size());
    FEDRAD_ASSIGN_OR_RETURN(std::vector<double> values,
                            table.NumericColumn(column, MissingValues::kAllow));
    std::vector<double> thresholds(array.values().begin(), array.values().end());
    models::ColumnMoments m = models::ComputeMoments(values);
    if (m.n < ctx.min_cell_count) {
      return absl::PermissionDeniedError(absl::StrCat(
          "column '", column, "' has ", m.n, " values, fewer than k=", ctx.min_cell_count));
    }
    std::vector<int64_t> counts = models::CountAtOrBelow(values, thresholds);
    AddArray(&out.payload, "counts." + column, {static_cast<int64_t>(counts.size())},
             std::vector<double>(counts.begin(), counts.end()));
  }
  return out;
}

}  // namespace

void RegisterCohortTasks(TaskRegistry& registry) {
  registry.Register(TaskKind{
      "cohort.moments",
      "Per-column n, missing count, mean, sum of squared deviations and 0/1 counts "
      "(small cells suppressed); per time/event pair n and number of events.",
      {"columns", "rows", "min_cell_count", "n", "n_missing", "mean", "m2", "binary", "count_one", "suppressed",
       "time_event_n", "time_event_events", "time_event_suppressed"},
      CohortMoments});
  registry.Register(TaskKind{
      "cohort.counts",
      "Per column, how many values lie at or below each coordinator-chosen threshold "
      "(for quantiles; no value is released).",
      {"counts.*"},
      CohortCounts});
}

}  // namespace fedrad::site
