// The cohort-summary site tasks (site_node/tasks_cohort.cc) called directly
// with a TaskContext on an in-memory table and a Task carrying a study spec,
// then the real privacy guard with a release ledger: the spec, not the task,
// decides what is summarised; counts come only on the site's own grid; a
// crafted pattern fails cleanly and fast; refusals reveal no count and no
// path; every release names the patients it rests on.
#include <chrono>
#include <cmath>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/csv.h"
#include "core/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "models/descriptive.h"
#include "proto/payload.h"
#include "site_node/builtin_tasks.h"
#include "site_node/privacy_guard.h"
#include "site_node/site_rules.h"
#include "site_node/task_registry.h"

namespace fedrad::site {
namespace {

using ::fedrad::testing::StatusIs;

using ::testing::HasSubstr;
using ::testing::Not;

// 60 patients: age 30.5, 31.5, ... (distinct, one per patient), bmi with 3
// values present (a small cell), sex 0/1 alternating, time 10, 20, ... and an
// event for every third patient; a column "secret" that no spec names.
CsvTable Table() {
  std::string csv = "patient_id,age,bmi,sex,time,status,secret\n";
  for (int i = 1; i <= 60; ++i) {
    absl::StrAppend(&csv, "P", i, ",", 29.5 + i, ",", i <= 3 ? absl::StrCat(20 + i) : "NA", ",",
                    i % 2, ",", 10 * i, ",", i % 3 == 0 ? 1 : 0, ",", 1000 + i, "\n");
  }
  absl::StatusOr<CsvTable> t = ParseCsv(csv, "/data/hospital/cohort.csv");
  EXPECT_OK(t);
  return *t;
}

v1::Study Spec() {
  v1::Study study;
  study.set_name("cohort-test");
  auto* cs = study.mutable_cohort_summary();
  cs->set_enabled(true);
  cs->add_columns("age");
  cs->add_columns("bmi");
  cs->add_columns("sex");
  auto* te = cs->add_time_events();
  te->set_name("os");
  te->set_time_column("time");
  te->set_event_column("status");
  return study;
}

struct TaskRun {
  absl::StatusOr<TaskOutput> output;
  absl::Status guard;
  double seconds = 0;
};

// Runs `kind` on `table` with k, then the guard (and `ledger` when given).
TaskRun RunTask(const std::string& kind_name, const v1::Study& study, const v1::Payload& params,
            CsvTable* table, int k = 10, ReleaseLedger* ledger = nullptr) {
  TaskRegistry registry;
  RegisterCohortTasks(registry);
  const TaskKind* kind = registry.Find(kind_name);
  EXPECT_NE(kind, nullptr) << kind_name;
  v1::Task task;
  task.set_kind(kind_name);
  *task.mutable_study() = study;
  *task.mutable_params() = params;
  std::map<std::string, std::string> state;
  TaskContext ctx;
  ctx.site_id = "S1";
  ctx.task = &task;
  ctx.table = table;
  ctx.output_dir = ::testing::TempDir();
  ctx.min_cell_count = k;
  ctx.state = &state;
  const auto start = std::chrono::steady_clock::now();
  TaskRun run{kind->handler(ctx), absl::OkStatus()};
  run.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (run.output.ok()) {
    run.guard = PrivacyGuard(GuardPolicy{k, {}, false}).CheckRelease(*kind, *run.output, 0, ledger);
    if (run.guard.ok() && ledger != nullptr) ledger->Record(run.output->populations);
  }
  return run;
}

std::string Columns(const TaskOutput& out) {
  return absl::StrJoin(kinds::Get(out.payload, kinds::cohort_moments::kColumns), ",");
}

TEST(CohortTasks, ColumnsComeFromTheSpecNotTheTask) {
  CsvTable table = Table();
  v1::Payload crafted;
  auto& s = *crafted.mutable_strings();
  s["columns"] = "secret";
  s["column_regex"] = ".*";
  s["id_column"] = "age";
  s["extra_columns"] = "secret";
  s["time_events"] = "x:secret:sex";
  TaskRun honest = RunTask("cohort.moments", Spec(), v1::Payload(), &table);
  TaskRun run = RunTask("cohort.moments", Spec(), crafted, &table);
  ASSERT_OK(run.output);
  // The spec's columns, then the time column of its time/event pair.
  EXPECT_EQ(Columns(*run.output), "age,bmi,sex,time");
  EXPECT_EQ(run.output->payload.SerializeAsString(), honest.output->payload.SerializeAsString());
  EXPECT_THAT(*GetVector(run.output->payload, "time_event_n"), ::testing::ElementsAre(60));
  EXPECT_THAT(*GetVector(run.output->payload, "time_event_events"), ::testing::ElementsAre(20));

  // The spec's pattern is a whole-name match; the id and time/event columns
  // never count.
  v1::Study by_pattern = Spec();
  by_pattern.mutable_cohort_summary()->clear_columns();
  by_pattern.mutable_cohort_summary()->set_column_regex("(age|patient_id|status|se.*)");
  TaskRun pattern = RunTask("cohort.moments", by_pattern, crafted, &table);
  ASSERT_OK(pattern.output);
  EXPECT_EQ(Columns(*pattern.output), "time,age,sex,secret");
}

TEST(CohortTasks, SmallCellIsWithheldWithItsSize) {
  CsvTable table = Table();
  TaskRun run = RunTask("cohort.moments", Spec(), v1::Payload(), &table);
  ASSERT_OK(run.output);
  EXPECT_OK(run.guard);
  const std::vector<double> n = *GetVector(run.output->payload, "n");
  const std::vector<double> missing = *GetVector(run.output->payload, "n_missing");
  const std::vector<double> suppressed = *GetVector(run.output->payload, "suppressed");
  // bmi (3 values < k): suppressed, and neither 3 nor 57 is released.
  EXPECT_EQ(suppressed[1], 1.0);
  EXPECT_TRUE(std::isnan(n[1]));
  EXPECT_TRUE(std::isnan(missing[1]));
  EXPECT_TRUE(std::isnan((*GetVector(run.output->payload, "mean"))[1]));
  EXPECT_EQ(n[0], 60);
  // Populations: one per released column (bmi has none), ids of the
  // patients with a value; the pair over {time, status}.
  std::map<std::string, size_t> by_quantity;
  for (const Population& p : run.output->populations) {
    by_quantity[absl::StrJoin(p.quantities, "+")] = p.ids.size();
  }
  EXPECT_EQ(by_quantity, (std::map<std::string, size_t>{
                             {"cohort:age", 60},
                             {"cohort:sex", 60},
                             {"cohort:time", 60},
                             {"cohort:time+status", 60}}));
}

// A threshold sweep (every 0.5 from 0 to 100, the bisection attack) gets the
// site's grid only: the same answer as with no thresholds, every step >= k.
TEST(CohortTasks, ThresholdSweepGetsOnlyTheSiteGrid) {
  CsvTable table = Table();
  v1::Payload sweep;
  std::vector<double> thresholds;
  for (double t = 0; t <= 100; t += 0.5) thresholds.push_back(t);
  for (const char* c : {"age", "bmi", "time", "secret"}) {
    AddVector(&sweep, absl::StrCat("thresholds.", c), thresholds);
  }
  TaskRun plain = RunTask("cohort.counts", Spec(), v1::Payload(), &table);
  TaskRun run = RunTask("cohort.counts", Spec(), sweep, &table);
  ASSERT_OK(run.output);
  EXPECT_OK(run.guard);
  EXPECT_EQ(run.output->payload.SerializeAsString(), plain.output->payload.SerializeAsString());
  // bmi (< k values), sex (0/1) and secret (not in the spec): nothing.
  for (const char* c : {"bmi", "sex", "secret"}) {
    EXPECT_THAT(GetArray(run.output->payload, absl::StrCat("counts.", c)),
                StatusIs(absl::StatusCode::kNotFound))
        << c;
  }
  for (const char* c : {"age", "time"}) {
    SCOPED_TRACE(c);
    const std::vector<double> grid = *GetVector(run.output->payload, absl::StrCat("grid.", c));
    const std::vector<double> counts = *GetVector(run.output->payload, absl::StrCat("counts.", c));
    EXPECT_EQ(*GetScalar(run.output->payload, absl::StrCat("n.", c)), 60);
    ASSERT_EQ(grid.size(), counts.size());
    // 60 distinct values, k = 10: counts 10, 20, ..., 50, the top 10 above.
    EXPECT_THAT(counts, ::testing::ElementsAre(10, 20, 30, 40, 50));
    double below = 0;
    for (size_t i = 0; i < grid.size(); ++i) {
      EXPECT_EQ(models::LatticeCeil(grid[i]), grid[i]);  // a lattice point
      EXPECT_GE(counts[i] - below, 10);
      below = counts[i];
    }
    EXPECT_GE(60 - below, 10);
  }
  // age: the 10th value is 39.5, so the first point is 39.5 itself.
  EXPECT_EQ((*GetVector(run.output->payload, "grid.age"))[0], 39.5);
}

TEST(CohortTasks, CraftedPatternsFailCleanlyAndFast) {
  CsvTable table = Table();
  v1::Study deep = Spec();
  deep.mutable_cohort_summary()->set_column_regex(std::string(100000, '(') + "a" +
                                                  std::string(100000, ')'));
  TaskRun run = RunTask("cohort.moments", deep, v1::Payload(), &table);
  ASSERT_THAT(run.output, StatusIs(absl::StatusCode::kInvalidArgument,
                                   HasSubstr("cohort_summary.column_regex")));
  EXPECT_TRUE(IsPublic(run.output.status()));
  EXPECT_LT(run.output.status().message().size(), 200u);  // the pattern is not echoed
  EXPECT_LT(run.seconds, 1.0);

  v1::Study stars = Spec();
  std::string pattern;
  for (int i = 0; i < 100; ++i) pattern += ".*";
  stars.mutable_cohort_summary()->set_column_regex(pattern + "Z");
  TaskRun fast = RunTask("cohort.moments", stars, v1::Payload(), &table);
  ASSERT_OK(fast.output);
  EXPECT_EQ(Columns(*fast.output), "age,bmi,sex,time");  // no column ends in Z
  EXPECT_LT(fast.seconds, 1.0);
}

// Every refusal is public and names a field and a rule, never a count, a
// value, a line or a path; anything else would be redacted at the edge.
TEST(CohortTasks, RefusalsRevealNoCountNoValueAndNoPath) {
  CsvTable table = Table();
  table.mutable_cell(6, table.ColumnIndex("status")) = "7";  // not 0/1, line 8
  TaskRun bad_event = RunTask("cohort.moments", Spec(), v1::Payload(), &table);
  v1::Study missing = Spec();
  missing.mutable_cohort_summary()->add_columns("weight");
  CsvTable clean = Table();
  TaskRun bad_column = RunTask("cohort.moments", missing, v1::Payload(), &clean);
  v1::Study id = Spec();
  id.mutable_cohort_summary()->add_columns("patient_id");
  TaskRun id_column = RunTask("cohort.moments", id, v1::Payload(), &clean);
  for (const TaskRun* r : {&bad_event, &bad_column, &id_column}) {
    ASSERT_THAT(r->output, StatusIs(absl::StatusCode::kInvalidArgument));
    const absl::Status& s = r->output.status();
    EXPECT_TRUE(IsPublic(s)) << s;
    const std::string text(ForTheWire(s, "cohort.moments").message());
    EXPECT_THAT(text, HasSubstr("(rule "));
    EXPECT_THAT(text, Not(HasSubstr("/data")));
    EXPECT_THAT(text, Not(HasSubstr("line")));
    EXPECT_THAT(text, Not(HasSubstr("7")));
    EXPECT_THAT(text, Not(HasSubstr("60")));
  }
  EXPECT_THAT(std::string(bad_event.output.status().message()), HasSubstr("'status'"));
  EXPECT_THAT(std::string(bad_column.output.status().message()), HasSubstr("'weight'"));

  // The old refusal "column 'bmi' has 3 values, fewer than k" is gone:
  // counts of a small column are simply not released.
  TaskRun counts = RunTask("cohort.counts", Spec(), v1::Payload(), &clean);
  ASSERT_OK(counts.output);
  for (const auto& a : counts.output->payload.arrays()) {
    EXPECT_THAT(a.name(), Not(HasSubstr("bmi")));
  }
}

// Moments then counts, through the guard and one ledger: both released (the
// same populations), and a table that lost 3 patients is refused afterwards
// (no differencing), in words without a count.
TEST(CohortTasks, LedgerAcceptsTheSummaryAndRefusesADifference) {
  CsvTable table = Table();
  ReleaseLedger ledger;
  TaskRun moments = RunTask("cohort.moments", Spec(), v1::Payload(), &table, 10, &ledger);
  ASSERT_OK(moments.output);
  EXPECT_OK(moments.guard);
  TaskRun counts = RunTask("cohort.counts", Spec(), v1::Payload(), &table, 10, &ledger);
  ASSERT_OK(counts.output);
  EXPECT_OK(counts.guard);
  for (int i = 0; i < 3; ++i) table.mutable_cell(i, table.ColumnIndex("age")) = "NA";
  TaskRun later = RunTask("cohort.moments", Spec(), v1::Payload(), &table, 10, &ledger);
  ASSERT_OK(later.output);
  EXPECT_EQ(later.guard.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(std::string(later.guard.message()), HasSubstr("'cohort:age'"));
  EXPECT_THAT(std::string(later.guard.message()), Not(HasSubstr("3")));
}

}  // namespace
}  // namespace fedrad::site
