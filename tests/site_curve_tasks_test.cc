// The minimum-count rule in the site handlers that release the report's
// aggregates: the real handlers of models.validate (curve.* arrays) and
// combat.distributions (site_node/tasks_models.cc, tasks_combat.cc), called
// with a TaskContext on a small in-memory table, then the real privacy guard;
// and the spec check of the curve settings (coordinator::CheckModelSpec).
// Expected values are written out in each test from the table below.
#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "coordinator/analyses.h"
#include "core/csv.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proto/payload.h"
#include "site_node/builtin_tasks.h"
#include "site_node/privacy_guard.h"
#include "site_node/task_registry.h"

namespace fedrad::site {
namespace {

// 24 patients: x = 1..24 (the linear predictor with beta = 1), times 30, 60,
// ..., 720, an event for every third patient; y = 1 for 7 of them.
CsvTable Table(int rows) {
  std::string csv = "patient_id,time,status,x1,y,f1\n";
  for (int i = 1; i <= rows; ++i) {
    absl::StrAppend(&csv, "P", i, ",", 30 * i, ",", i % 3 == 0 ? 1 : 0, ",", i, ",",
                    i <= 7 ? 1 : 0, ",", 0.5 * i, "\n");
  }
  absl::StatusOr<CsvTable> t = ParseCsv(csv, "test.csv");
  EXPECT_TRUE(t.ok()) << t.status();
  return *t;
}

struct HandlerRun {
  absl::StatusOr<TaskOutput> output;
  absl::Status guard;
};

HandlerRun RunTask(const v1::Task& task, CsvTable* table, int k) {
  TaskRegistry registry;
  RegisterModelTasks(registry);
  RegisterCombatTasks(registry);
  const TaskKind* kind = registry.Find(task.kind());
  EXPECT_NE(kind, nullptr) << task.kind();
  std::map<std::string, std::string> state;
  TaskContext ctx;
  ctx.site_id = "V";
  ctx.task = &task;
  ctx.table = table;
  ctx.output_dir = ::testing::TempDir();
  ctx.min_cell_count = k;
  ctx.state = &state;
  HandlerRun run{kind->handler(ctx), absl::OkStatus()};
  if (run.output.ok()) {
    run.guard = PrivacyGuard(GuardPolicy{k, {}, false}).CheckRelease(*kind, *run.output);
  }
  return run;
}

bool Has(const v1::Payload& p, const std::string& name) { return GetArray(p, name).ok(); }

v1::Task ValidateTask(bool cox) {
  v1::Task task;
  task.set_study_id(cox ? "curves-cox" : "curves-logistic");
  task.set_kind("models.validate");
  v1::Model* model = task.mutable_study()->add_models();
  model->set_name("m");
  if (cox) {
    model->set_type(v1::Model::COX);
  } else {
    model->set_type(v1::Model::LOGISTIC);
    model->set_outcome_column("y");
  }
  v1::Payload& p = *task.mutable_params();
  (*p.mutable_strings())["model"] = "m";
  (*p.mutable_strings())["covariates"] = "x1";
  AddVector(&p, "beta", cox ? std::vector<double>{0.1} : std::vector<double>{-2, 0.1});
  AddScalar(&p, "replicates", 0);
  AddScalar(&p, "seed", 1);
  AddScalar(&p, "calibration_bins", 10);
  if (cox) {
    AddVector(&p, "grid", {100, 200, 300, 400, 500, 600, 700, 800});
    AddVector(&p, "cumhaz", {.05, .1, .15, .2, .25, .3, .35, .4});
    AddScalar(&p, "t", 365);
    AddScalar(&p, "tau", 720);
    // lp = 0.1 x: low <= 0.55 (x 1..5: 5 patients), intermediate <= 1.45
    // (x 6..14: 9), high (x 15..24: 10).
    AddVector(&p, "km_cuts", {0.55, 1.45});
    AddVector(&p, "km_grid", {90, 180, 270, 360, 450, 540, 630, 720});
    AddVector(&p, "roc_thresholds", {0, 0.25, 0.5, 0.75, 1});
  } else {
    AddScalar(&p, "threshold", 0.5);
    AddVector(&p, "roc_thresholds", {0, 0.25, 0.5, 0.75, 1});
  }
  return task;
}

TEST(CurveTasks, CoxValidationWithholdsGroupsAndGridPointsBelowK) {
  CsvTable table = Table(24);
  HandlerRun run = RunTask(ValidateTask(true), &table, 10);
  ASSERT_TRUE(run.output.ok()) << run.output.status();
  EXPECT_TRUE(run.guard.ok()) << run.guard;  // every curve.* array is declared
  const v1::Payload& p = run.output->payload;
  // floor(24 / 10) = 2 bins of 12.
  EXPECT_THAT(*GetVector(p, "curve.calibration.n"), ::testing::ElementsAre(12, 12));
  // Low (5) and intermediate (9) are below k: their size only.
  for (const char* g : {"low", "intermediate"}) {
    SCOPED_TRACE(g);
    EXPECT_TRUE(Has(p, absl::StrCat("curve.km.", g, ".suppressed")));
    EXPECT_TRUE(Has(p, absl::StrCat("curve.km.", g, ".n")));
    EXPECT_FALSE(Has(p, absl::StrCat("curve.km.", g, ".time")));
    EXPECT_FALSE(Has(p, absl::StrCat("curve.km.", g, ".survival")));
    EXPECT_FALSE(Has(p, absl::StrCat("curve.km.", g, ".events")));
  }
  EXPECT_EQ(*GetScalar(p, "curve.km.low.n"), 5);
  EXPECT_EQ(*GetScalar(p, "curve.km.intermediate.n"), 9);
  // High: x 15..24, times 450..720. At risk at 90..450: 10; at 540: 7 < k,
  // so the curve stops after 450. Events (x = 15, 18, 21, 24): 4 < k, withheld.
  EXPECT_FALSE(Has(p, "curve.km.high.suppressed"));
  EXPECT_THAT(*GetVector(p, "curve.km.high.time"), ::testing::ElementsAre(90, 180, 270, 360, 450));
  EXPECT_THAT(*GetVector(p, "curve.km.high.n_at_risk"), ::testing::ElementsAre(10, 10, 10, 10, 10));
  // The first event of the group is at 450 (x = 15): S(450) = 9/10.
  EXPECT_THAT(*GetVector(p, "curve.km.high.survival"), ::testing::ElementsAre(1, 1, 1, 1, 0.9));
  EXPECT_FALSE(Has(p, "curve.km.high.events"));
  // ROC at t = 365: cases (event by 365) x = 3, 6, 9, 12: 4 < k; controls
  // (T > 365) x = 13..24: 12. Counts only.
  EXPECT_TRUE(Has(p, "curve.roc.suppressed"));
  EXPECT_EQ(*GetScalar(p, "curve.roc.n_pos"), 4);
  EXPECT_EQ(*GetScalar(p, "curve.roc.n_neg"), 12);
  EXPECT_FALSE(Has(p, "curve.roc.fpr"));
}

TEST(CurveTasks, LogisticValidationWithholdsRocBelowK) {
  CsvTable table = Table(24);
  HandlerRun run = RunTask(ValidateTask(false), &table, 10);
  ASSERT_TRUE(run.output.ok()) << run.output.status();
  EXPECT_TRUE(run.guard.ok()) << run.guard;
  const v1::Payload& p = run.output->payload;
  // 7 events < k: only the counts and the flag.
  EXPECT_TRUE(Has(p, "curve.roc.suppressed"));
  EXPECT_EQ(*GetScalar(p, "curve.roc.n_pos"), 7);
  EXPECT_EQ(*GetScalar(p, "curve.roc.n_neg"), 17);
  EXPECT_FALSE(Has(p, "curve.roc.fpr"));
  EXPECT_FALSE(Has(p, "curve.roc.tpr"));
  EXPECT_THAT(*GetVector(p, "curve.calibration.n"), ::testing::ElementsAre(12, 12));
  // Bin 1 = the 12 lowest p (x 1..12): 7 events -> 7/12 observed.
  EXPECT_NEAR((*GetVector(p, "curve.calibration.observed"))[0], 7.0 / 12, 1e-15);
  EXPECT_EQ((*GetVector(p, "curve.calibration.observed"))[1], 0);

  // With k = 5 the ROC is released: 7 and 17 are both >= 5.
  HandlerRun small_k = RunTask(ValidateTask(false), &table, 5);
  ASSERT_TRUE(small_k.output.ok());
  EXPECT_FALSE(Has(small_k.output->payload, "curve.roc.suppressed"));
  EXPECT_GE(GetVector(small_k.output->payload, "curve.roc.fpr")->size(), 3u);
}

TEST(CurveTasks, ValidationSiteBelowKReleasesNoCalibrationBin) {
  CsvTable table = Table(9);
  HandlerRun run = RunTask(ValidateTask(true), &table, 10);
  ASSERT_TRUE(run.output.ok()) << run.output.status();
  // The guard refuses the whole result (9 < k); the handler already withheld the bins.
  EXPECT_TRUE(absl::IsPermissionDenied(run.guard)) << run.guard;
  EXPECT_TRUE(Has(run.output->payload, "curve.calibration.suppressed"));
  EXPECT_FALSE(Has(run.output->payload, "curve.calibration.n"));
}

// combat.distributions reads its features from the approved spec and counts
// only on the site's own grid (issue 11): a column below k is withheld, its
// n too; thresholds a coordinator sends are ignored.
TEST(CurveTasks, DistributionsWithholdColumnsBelowKAndIgnoreThresholds) {
  CsvTable table = Table(8);
  v1::Task task;
  task.set_kind("combat.distributions");
  task.mutable_study()->mutable_harmonization()->set_features("^f1$");
  (*task.mutable_params()->mutable_strings())["columns"] = "f1";
  HandlerRun run = RunTask(task, &table, 5);
  ASSERT_TRUE(run.output.ok()) << run.output.status();
  EXPECT_TRUE(run.guard.ok()) << run.guard;
  EXPECT_THAT(*GetVector(run.output->payload, "n"), ::testing::ElementsAre(8));
  EXPECT_THAT(*GetVector(run.output->payload, "suppressed"), ::testing::ElementsAre(0));
  EXPECT_NEAR((*GetVector(run.output->payload, "mean"))[0], 0.5 * 4.5, 1e-12);  // mean of 0.5..4
  // 8 values < 2k = 10: no grid point can hold k values on both sides.
  EXPECT_TRUE(GetVector(run.output->payload, "grid.f1")->empty());

  HandlerRun strict = RunTask(task, &table, 10);  // 8 values < k = 10
  ASSERT_TRUE(strict.output.ok());
  EXPECT_THAT(*GetVector(strict.output->payload, "suppressed"), ::testing::ElementsAre(1));
  EXPECT_TRUE(std::isnan((*GetVector(strict.output->payload, "n"))[0]));  // size withheld
  EXPECT_TRUE(std::isnan((*GetVector(strict.output->payload, "mean"))[0]));
  EXPECT_TRUE(std::isnan((*GetVector(strict.output->payload, "m2"))[0]));
  EXPECT_FALSE(Has(strict.output->payload, "counts.f1"));

  AddVector(task.mutable_params(), "thresholds.f1", {1, 2, 3});
  HandlerRun counts = RunTask(task, &table, 5);
  ASSERT_TRUE(counts.output.ok()) << counts.output.status();
  EXPECT_TRUE(GetVector(counts.output->payload, "counts.f1")->empty());  // not 2, 4, 6
}

TEST(CurveSpec, BadCurveSettingsAreRefusedNamingTheField) {
  v1::Study study;
  v1::Model* model = study.add_models();
  model->set_name("m");
  study.mutable_validation()->set_enabled(true);
  EXPECT_TRUE(coordinator::CheckModelSpec(study).ok());
  study.mutable_validation()->set_km_time_step(0.5);
  absl::Status s = coordinator::CheckModelSpec(study);
  EXPECT_TRUE(absl::IsInvalidArgument(s));
  EXPECT_THAT(std::string(s.message()), ::testing::HasSubstr("validation.km_time_step"));
  study.mutable_validation()->set_km_time_step(-1);  // none
  EXPECT_TRUE(coordinator::CheckModelSpec(study).ok());
  study.mutable_validation()->set_calibration_bins(500);
  s = coordinator::CheckModelSpec(study);
  EXPECT_THAT(std::string(s.message()), ::testing::HasSubstr("validation.calibration_bins"));
}

}  // namespace
}  // namespace fedrad::site
