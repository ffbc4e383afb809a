// The minimum-count rule in the site handlers that release the report's
// aggregates: the real handlers of models.validate (curve.* arrays) and
// combat.distributions (site_node/tasks_models.cc, tasks_combat.cc), called
// with a TaskContext on a small in-memory table, then the real privacy guard;
// and the spec check of the curve settings (coordinator::CheckModelSpec).
// Expected values are written out in each test from the table below.
// Also the attacks of issue 11 on these handlers (a rogue coordinator's
// params): a 1-day baseline grid, a packed linear predictor and a threshold
// sweep in models.lp_summary, ROC thresholds between a covariate's values, a
// risk group of one patient, 1e9 bootstrap replicates.
#include <chrono>
#include <functional>
#include <cmath>
#include <limits>
#include <map>
#include <tuple>
#include <utility>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "coordinator/analyses.h"
#include "core/csv.h"
#include "core/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "absl/strings/str_split.h"
#include "proto/payload.h"
#include "proto/task_kinds.h"
#include "rounds/transcript.h"
#include "rounds/validation_pool.h"
#include "site_node/builtin_tasks.h"
#include "site_node/privacy_guard.h"
#include "site_node/site_fits.h"
#include "site_node/site_rules.h"
#include "site_node/task_registry.h"

namespace fedrad::site {
namespace {

using ::fedrad::testing::StatusIs;

// 24 patients: x = 1..24 (the linear predictor with beta = 1), times 30, 60,
// ..., 720, an event for every third patient; y = 1 for 7 of them.
CsvTable Table(int rows) {
  std::string csv = "patient_id,time,status,x1,y,f1\n";
  for (int i = 1; i <= rows; ++i) {
    absl::StrAppend(&csv, "P", i, ",", 30 * i, ",", i % 3 == 0 ? 1 : 0, ",", i, ",",
                    i <= 7 ? 1 : 0, ",", 0.5 * i, "\n");
  }
  absl::StatusOr<CsvTable> t = ParseCsv(csv, "test.csv");
  EXPECT_OK(t);
  return *t;
}

struct HandlerRun {
  absl::StatusOr<TaskOutput> output;
  absl::Status guard;
};

HandlerRun RunTask(const v1::Task& task, CsvTable* table, int k,
                   std::map<std::string, std::string>* state = nullptr,
                   std::function<bool()> cancelled = nullptr) {
  TaskRegistry registry;
  RegisterModelTasks(registry);
  RegisterCombatTasks(registry);
  const TaskKind* kind = registry.Find(task.kind());
  EXPECT_NE(kind, nullptr) << task.kind();
  std::map<std::string, std::string> own_state;
  TaskContext ctx;
  ctx.site_id = "V";
  ctx.task = &task;
  ctx.table = table;
  ctx.output_dir = ::testing::TempDir();
  ctx.min_cell_count = k;
  ctx.state = state != nullptr ? state : &own_state;
  if (cancelled) ctx.cancelled = cancelled;
  HandlerRun run{kind->handler(ctx), absl::OkStatus()};
  if (run.output.ok()) {
    run.guard = PrivacyGuard(GuardPolicy{k, {}, false}).CheckRelease(*kind, *run.output);
  }
  return run;
}

bool Has(const v1::Payload& p, const std::string& name) { return GetArray(p, name).ok(); }

// The settings come from the approved spec (Task.study): t = 365, tau =
// 720, no bootstrap. The params a coordinator could also send for them (t,
// tau, replicates, km_grid, roc_thresholds) are set to other values to show
// they are ignored.
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
  v1::Validation* v = task.mutable_study()->mutable_validation();
  v->set_enabled(true);
  v->set_t(365);
  v->set_tau(720);
  v->set_bootstrap_replicates(-1);
  v1::Payload& p = *task.mutable_params();
  kinds::Put(&p, kinds::model_task::kModel, "m");
  kinds::Put(&p, kinds::model_task::kCovariates, {"x1"});
  AddVector(&p, "beta", cox ? std::vector<double>{0.1} : std::vector<double>{-2, 0.1});
  AddScalar(&p, "replicates", 1e9);  // ignored
  AddScalar(&p, "seed", 1);
  AddScalar(&p, "calibration_bins", 100);  // ignored (the spec's default 10)
  AddVector(&p, "roc_thresholds", {0, 0.25, 0.5, 0.75, 1});  // ignored
  if (cox) {
    AddVector(&p, "grid", {100, 200, 300, 400, 500, 600, 700, 800});
    AddVector(&p, "cumhaz", {.05, .1, .15, .2, .25, .3, .35, .4});
    AddScalar(&p, "t", 1);    // ignored
    AddScalar(&p, "tau", 1);  // ignored
    // lp = 0.1 x: low <= 0.55 (x 1..5: 5 patients), intermediate <= 1.45
    // (x 6..14: 9), high (x 15..24: 10).
    AddVector(&p, "km_cuts", {0.55, 1.45});
    AddVector(&p, "km_grid", {1, 2, 3, 4, 5, 6, 7, 8});  // ignored
  } else {
    AddScalar(&p, "threshold", 0.5);
  }
  return task;
}

TEST(CurveTasks, CoxValidationWithholdsGroupsAndGridPointsBelowK) {
  CsvTable table = Table(24);
  HandlerRun run = RunTask(ValidateTask(true), &table, 10);
  ASSERT_OK(run.output);
  EXPECT_OK(run.guard);  // every curve.* array is declared
  const v1::Payload& p = run.output->payload;
  // floor(24 / 10) = 2 bins of 12.
  EXPECT_THAT(*GetVector(p, "curve.calibration.n"), ::testing::ElementsAre(12, 12));
  // Low (5) and intermediate (9) are below k. Before issue 11 they released
  // their size and the high group its curve; now a group of 1..k-1 patients
  // suppresses every group and reveals nothing, not even its size (n minus
  // the other groups' sizes would give it away).
  for (const char* g : {"low", "intermediate", "high"}) {
    SCOPED_TRACE(g);
    EXPECT_TRUE(Has(p, absl::StrCat("curve.km.", g, ".suppressed")));
    EXPECT_FALSE(Has(p, absl::StrCat("curve.km.", g, ".n")));
    EXPECT_FALSE(Has(p, absl::StrCat("curve.km.", g, ".time")));
    EXPECT_FALSE(Has(p, absl::StrCat("curve.km.", g, ".survival")));
    EXPECT_FALSE(Has(p, absl::StrCat("curve.km.", g, ".n_at_risk")));
    EXPECT_FALSE(Has(p, absl::StrCat("curve.km.", g, ".events")));
  }
  // ROC at t = 365: cases (event by 365) x = 3, 6, 9, 12: 4 < k; controls
  // (T > 365) x = 13..24: 12. Counts only, and a count below k is withheld.
  EXPECT_TRUE(Has(p, "curve.roc.suppressed"));
  EXPECT_TRUE(std::isnan(*GetScalar(p, "curve.roc.n_pos")));
  EXPECT_EQ(*GetScalar(p, "curve.roc.n_neg"), 12);
  EXPECT_FALSE(Has(p, "curve.roc.fpr"));
}

// Issue 12: a validation site signs its answer (the daemon builds the
// signed message from the released payload, rounds::MakeContribution): per
// site, nothing summed, under the round of the fit it scored, with the
// coefficients it scored; the signed message carries the metrics the
// coordinator and `fedrad audit replay` read (rounds::ReadSiteValidation).
TEST(CurveTasks, ValidationAnswerIsSignedWithTheCoefficientsItScored) {
  CsvTable table = Table(24);
  HandlerRun run = RunTask(ValidateTask(false), &table, 10);
  ASSERT_OK(run.output);
  ASSERT_TRUE(run.output->round.has_value());
  const RoundContribution& round = *run.output->round;
  EXPECT_EQ(round.round_id, "models/m/fit/dev/validate");
  EXPECT_TRUE(round.summed.empty());
  EXPECT_THAT(*GetVector(round.inputs, "beta"), ::testing::ElementsAre(-2, 0.1));
  EXPECT_EQ(kinds::Get(round.inputs, kinds::model_task::kFit), "dev");
  absl::StatusOr<v1::Contribution> c =
      rounds::MakeContribution(run.output->payload, round.summed, round.inputs);
  ASSERT_OK(c);
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const rounds::SiteValidation from_signed = rounds::ReadSiteValidation(c->plain(), false, nan);
  const rounds::SiteValidation released =
      rounds::ReadSiteValidation(run.output->payload, false, nan);
  EXPECT_TRUE(from_signed.metrics.has_auc());
  EXPECT_EQ(from_signed.metrics.SerializeAsString(), released.metrics.SerializeAsString());

  // The site left out of a leave-one-site-out fold: the fold's round.
  v1::Task loso = ValidateTask(true);
  kinds::Put(loso.mutable_params(), kinds::model_task::kFit, "loso-V");
  HandlerRun fold = RunTask(loso, &table, 10);
  ASSERT_OK(fold.output);
  ASSERT_TRUE(fold.output->round.has_value());
  EXPECT_EQ(fold.output->round->round_id, "models/m/fit/loso-V/validate");
}

TEST(CurveTasks, LogisticValidationWithholdsRocBelowK) {
  CsvTable table = Table(24);
  HandlerRun run = RunTask(ValidateTask(false), &table, 10);
  ASSERT_OK(run.output);
  EXPECT_OK(run.guard);
  const v1::Payload& p = run.output->payload;
  // 7 events < k: only the flag and the count of controls (7 is withheld).
  EXPECT_TRUE(Has(p, "curve.roc.suppressed"));
  EXPECT_TRUE(std::isnan(*GetScalar(p, "curve.roc.n_pos")));
  EXPECT_EQ(*GetScalar(p, "curve.roc.n_neg"), 17);
  EXPECT_FALSE(Has(p, "curve.roc.fpr"));
  EXPECT_FALSE(Has(p, "curve.roc.tpr"));
  EXPECT_THAT(*GetVector(p, "curve.calibration.n"), ::testing::ElementsAre(12, 12));
  // Bin 1 = the 12 lowest p (x 1..12): 7 events -> 7/12 observed.
  EXPECT_NEAR((*GetVector(p, "curve.calibration.observed"))[0], 7.0 / 12, 1e-15);
  EXPECT_EQ((*GetVector(p, "curve.calibration.observed"))[1], 0);

  // With k = 5 the ROC is released: 7 and 17 are both >= 5.
  HandlerRun small_k = RunTask(ValidateTask(false), &table, 5);
  ASSERT_OK(small_k.output);
  EXPECT_FALSE(Has(small_k.output->payload, "curve.roc.suppressed"));
  EXPECT_GE(GetVector(small_k.output->payload, "curve.roc.fpr")->size(), 3u);
}

TEST(CurveTasks, ValidationSiteBelowKReleasesNoCalibrationBin) {
  CsvTable table = Table(9);
  HandlerRun run = RunTask(ValidateTask(true), &table, 10);
  ASSERT_OK(run.output);
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
  kinds::Put(task.mutable_params(), kinds::combat_distributions::kColumns, {"f1"});
  HandlerRun run = RunTask(task, &table, 5);
  ASSERT_OK(run.output);
  EXPECT_OK(run.guard);
  EXPECT_THAT(*GetVector(run.output->payload, "n"), ::testing::ElementsAre(8));
  EXPECT_THAT(*GetVector(run.output->payload, "suppressed"), ::testing::ElementsAre(0));
  EXPECT_NEAR((*GetVector(run.output->payload, "mean"))[0], 0.5 * 4.5, 1e-12);  // mean of 0.5..4
  // 8 values < 2k = 10: no grid point can hold k values on both sides.
  EXPECT_TRUE(GetVector(run.output->payload, "grid.f1")->empty());

  HandlerRun strict = RunTask(task, &table, 10);  // 8 values < k = 10
  ASSERT_OK(strict.output);
  EXPECT_THAT(*GetVector(strict.output->payload, "suppressed"), ::testing::ElementsAre(1));
  EXPECT_TRUE(std::isnan((*GetVector(strict.output->payload, "n"))[0]));  // size withheld
  EXPECT_TRUE(std::isnan((*GetVector(strict.output->payload, "mean"))[0]));
  EXPECT_TRUE(std::isnan((*GetVector(strict.output->payload, "m2"))[0]));
  EXPECT_FALSE(Has(strict.output->payload, "counts.f1"));

  AddVector(task.mutable_params(), "thresholds.f1", {1, 2, 3});
  HandlerRun counts = RunTask(task, &table, 5);
  ASSERT_OK(counts.output);
  EXPECT_TRUE(GetVector(counts.output->payload, "counts.f1")->empty());  // not 2, 4, 6
}

TEST(CurveSpec, BadCurveSettingsAreRefusedNamingTheField) {
  v1::Study study;
  v1::Model* model = study.add_models();
  model->set_name("m");
  study.mutable_validation()->set_enabled(true);
  EXPECT_OK(coordinator::CheckModelSpec(study));
  study.mutable_validation()->set_km_time_step(0.5);
  absl::Status s = coordinator::CheckModelSpec(study);
  EXPECT_TRUE(absl::IsInvalidArgument(s));
  EXPECT_THAT(std::string(s.message()), ::testing::HasSubstr("validation.km_time_step"));
  study.mutable_validation()->set_km_time_step(-1);  // none
  EXPECT_OK(coordinator::CheckModelSpec(study));
  study.mutable_validation()->set_calibration_bins(500);
  s = coordinator::CheckModelSpec(study);
  EXPECT_THAT(std::string(s.message()), ::testing::HasSubstr("validation.calibration_bins"));
}

// ---- Issue 11: a rogue coordinator's params -----------------------------------

// A Cox (or logistic) task on model "m" with covariates `covs`, the approved
// spec's validation section `v`.
v1::Task ModelTask(const std::string& kind, bool cox, const std::string& covs,
                   const std::vector<double>& beta, const v1::Validation& v = v1::Validation()) {
  // A study id of its own: the site caches prepared rows per study and model
  // (and tables in these tests may reuse an address).
  static int studies = 0;
  v1::Task task;
  task.set_study_id(absl::StrCat("attack-", ++studies));
  task.set_kind(kind);
  v1::Model* model = task.mutable_study()->add_models();
  model->set_name("m");
  model->set_type(cox ? v1::Model::COX : v1::Model::LOGISTIC);
  if (!cox) model->set_outcome_column("y");
  *task.mutable_study()->mutable_validation() = v;
  kinds::Put(task.mutable_params(), kinds::model_task::kModel, "m");
  const std::vector<std::string> cov_list = absl::StrSplit(covs, '\n', absl::SkipEmpty());
  kinds::Put(task.mutable_params(), kinds::model_task::kCovariates, cov_list);
  AddVector(task.mutable_params(), "beta", beta);
  return task;
}

// 100 patients with distinct follow-up times 7, 14, ..., 700 days, an event
// for every other one; x1 = 1..100, age a column of small integers.
CsvTable LongTable() {
  std::string csv = "patient_id,time,status,x1,age,y\n";
  for (int i = 1; i <= 100; ++i) {
    absl::StrAppend(&csv, "P", i, ",", 7 * i, ",", i % 2, ",", i, ",", 40 + (i * 37) % 30, ",",
                    i % 2, "\n");
  }
  absl::StatusOr<CsvTable> t = ParseCsv(csv, "long.csv");
  EXPECT_OK(t);
  return *t;
}

std::vector<double> Times(const CsvTable& table) {
  std::vector<double> t;
  for (size_t r = 0; r < table.num_rows(); ++r) {
    t.push_back(std::stod(table.cell(r, static_cast<size_t>(table.ColumnIndex("time")))));
  }
  return t;
}

// Between consecutive released points p < g: #{p <= T < g} (left the risk
// set) and #{p < T <= g} (counted at g) are 0 or >= k; >= k at risk at g.
void ExpectReleasedStepsOfK(const std::vector<double>& time, const std::vector<double>& grid,
                            int k) {
  double prev = -std::numeric_limits<double>::infinity();
  for (double g : grid) {
    int left = 0, counted = 0, at_risk = 0;
    for (double t : time) {
      left += prev <= t && t < g;
      counted += prev < t && t <= g;
      at_risk += t >= g;
    }
    EXPECT_TRUE(left == 0 || left >= k) << left << " left before " << g;
    EXPECT_TRUE(counted == 0 || counted >= k) << counted << " counted at " << g;
    EXPECT_GE(at_risk, k) << g;
    prev = g;
  }
}

TEST(ModelAttacks, OneDayBaselineGridIsCoarsenedToStepsOfK) {
  CsvTable table = LongTable();
  // The approved spec itself asks for a 1-day grid; the coordinator sends one.
  v1::Validation v;
  v.set_time_grid_step(1);
  v1::Task task = ModelTask("models.baseline", true, "x1", {0.01}, v);
  std::vector<double> one_day;
  for (int d = 1; d <= 1825; ++d) one_day.push_back(d);
  AddVector(task.mutable_params(), "grid", one_day);
  HandlerRun run = RunTask(task, &table, 10);
  ASSERT_OK(run.output);
  EXPECT_OK(run.guard);
  const std::vector<double> grid = *GetVector(run.output->payload, "grid");
  const std::vector<double> events = *GetVector(run.output->payload, "grid_events");
  ASSERT_EQ(events.size(), grid.size());
  // 100 times 7 days apart on a 30-day lattice (the site's floor): 10 leave
  // every 70 days, so at most ~10 points, each >= 30 days apart.
  ASSERT_GE(grid.size(), 3u);
  EXPECT_LE(grid.size(), 11u);
  for (size_t j = 1; j < grid.size(); ++j) EXPECT_GE(grid[j] - grid[j - 1], 30);
  ExpectReleasedStepsOfK(Times(table), grid, 10);
  // The population is the model's rows, about its outcome.
  ASSERT_EQ(run.output->populations.size(), 1u);
  EXPECT_EQ(run.output->populations[0].ids.size(), 100u);
  EXPECT_THAT(run.output->populations[0].quantities,
              ::testing::ElementsAre("models:time=time,event=status"));
}

TEST(ModelAttacks, PackedLinearPredictorIsRefused) {
  CsvTable table = LongTable();
  // beta = [1e4, 1] on (age, x1) packs both columns into one number.
  for (const char* kind : {"models.lp_summary", "models.baseline", "models.validate"}) {
    SCOPED_TRACE(kind);
    HandlerRun run = RunTask(ModelTask(kind, true, "age\nx1", {1e4, 1}), &table, 10);
    ASSERT_THAT(run.output, StatusIs(absl::StatusCode::kPermissionDenied,
                                     ::testing::HasSubstr("rule linear-predictor-bound")));
    EXPECT_TRUE(IsPublic(run.output.status()));
  }
}

TEST(ModelAttacks, LpSummaryIgnoresThresholdsAndReleasesOnlyStepsOfK) {
  CsvTable table = LongTable();
  // A scaled-down packing that passes the bound, and a threshold between
  // every pair of patients: the site ignores the thresholds.
  v1::Task task = ModelTask("models.lp_summary", true, "age\nx1", {1e-1, 1e-4});
  std::vector<double> sweep;
  for (int i = 0; i < 4000; ++i) sweep.push_back(3.9 + i * 0.001);
  AddVector(task.mutable_params(), "thresholds", sweep);
  HandlerRun run = RunTask(task, &table, 10);
  ASSERT_OK(run.output);
  EXPECT_OK(run.guard);
  EXPECT_FALSE(Has(run.output->payload, "lp_counts"));
  const std::vector<double> grid = *GetVector(run.output->payload, "grid");
  const std::vector<double> counts = *GetVector(run.output->payload, "counts");
  ASSERT_EQ(grid.size(), counts.size());
  ASSERT_FALSE(grid.empty());
  double prev = 0;
  for (double c : counts) {
    EXPECT_GE(c - prev, 10);
    EXPECT_TRUE(100 - c == 0 || 100 - c >= 10);
    prev = c;
  }
}

TEST(ModelAttacks, ADevelopmentSiteAcceptsOnlyItsOwnFit) {
  CsvTable table = LongTable();
  std::map<std::string, std::string> state;
  StoreSiteFit(&state, "m", SiteFit{{"x1"}, {0.01}});
  for (const char* kind : {"models.lp_summary", "models.baseline"}) {
    SCOPED_TRACE(kind);
    HandlerRun other = RunTask(ModelTask(kind, true, "x1", {0.02}), &table, 10, &state);
    EXPECT_TRUE(absl::IsPermissionDenied(other.output.status())) << other.output.status();
    EXPECT_THAT(std::string(other.output.status().message()), ::testing::HasSubstr("site-fit"));
    HandlerRun own = RunTask(ModelTask(kind, true, "x1", {0.01}), &table, 10, &state);
    EXPECT_OK(own.output);
  }
}

TEST(ModelAttacks, RocOfACovariateWithThresholdsBetweenItsValuesMovesKPerStep) {
  CsvTable table = LongTable();
  // The "model" is x1 itself, p = expit(0.05 (x1 - 50)); thresholds between
  // every two patients' p would give each patient's y next to its x1.
  v1::Validation v;
  v.set_bootstrap_replicates(-1);
  v1::Task task = ModelTask("models.validate", false, "x1", {-2.5, 0.05}, v);
  std::vector<double> between;
  for (int i = 1; i < 100; ++i) between.push_back(1 / (1 + std::exp(-0.05 * (i + 0.5 - 50))));
  AddVector(task.mutable_params(), "roc_thresholds", between);
  HandlerRun run = RunTask(task, &table, 10);
  ASSERT_OK(run.output);
  EXPECT_OK(run.guard);
  const v1::Payload& p = run.output->payload;
  ASSERT_FALSE(Has(p, "curve.roc.suppressed"));
  const std::vector<double> fpr = *GetVector(p, "curve.roc.fpr");
  const std::vector<double> tpr = *GetVector(p, "curve.roc.tpr");
  const double n_pos = *GetScalar(p, "curve.roc.n_pos"), n_neg = *GetScalar(p, "curve.roc.n_neg");
  EXPECT_EQ(n_pos, 50);
  EXPECT_EQ(n_neg, 50);
  ASSERT_GE(fpr.size(), 3u);
  EXPECT_LT(fpr.size(), 20u);  // not one vertex per patient
  for (size_t j = 1; j < fpr.size(); ++j) {
    const double cases = std::round((tpr[j] - tpr[j - 1]) * n_pos);
    const double controls = std::round((fpr[j] - fpr[j - 1]) * n_neg);
    EXPECT_TRUE(cases == 0 || cases >= 10) << j << ": " << cases << " cases";
    EXPECT_TRUE(controls == 0 || controls >= 10) << j << ": " << controls << " controls";
  }
}

TEST(ModelAttacks, RiskGroupOfOnePatientIsSuppressedWithoutItsSize) {
  CsvTable table = Table(24);
  v1::Task task = ValidateTask(true);
  // Cut-points around the lowest patient only: lp 0.1 <= 0.15.
  AddVector(task.mutable_params(), "km_cuts", {0.15, 1.45});
  HandlerRun run = RunTask(task, &table, 5);
  ASSERT_OK(run.output);
  EXPECT_OK(run.guard);
  for (const char* g : {"low", "intermediate", "high"}) {
    SCOPED_TRACE(g);
    EXPECT_TRUE(Has(run.output->payload, absl::StrCat("curve.km.", g, ".suppressed")));
    EXPECT_FALSE(Has(run.output->payload, absl::StrCat("curve.km.", g, ".n")));
    EXPECT_FALSE(Has(run.output->payload, absl::StrCat("curve.km.", g, ".n_at_risk")));
  }
  for (const Population& pop : run.output->populations) {
    EXPECT_THAT(pop.quantities, ::testing::Not(::testing::Contains("models.m.risk_group")));
  }
  // Non-finite cut-points are refused.
  AddVector(task.mutable_params(), "km_cuts", {std::nan(""), 1.0});
  EXPECT_TRUE(absl::IsInvalidArgument(RunTask(task, &table, 5).output.status()));
}

TEST(ModelAttacks, RiskGroupCurvesStepOnlyAfterKLeftTheRiskSet) {
  CsvTable table = LongTable();
  v1::Validation v;
  v.set_bootstrap_replicates(-1);
  v.set_km_time_step(1);  // the spec's 1 day is raised to the site's 30
  v.set_tau(700);
  v1::Task task = ModelTask("models.validate", true, "x1", {0.01}, v);
  AddVector(task.mutable_params(), "grid", {100, 400, 700});
  AddVector(task.mutable_params(), "cumhaz", {0.1, 0.4, 0.8});
  AddVector(task.mutable_params(), "km_cuts", {0.335, 0.665});  // x1 1..33, 34..66, 67..100
  HandlerRun run = RunTask(task, &table, 10);
  ASSERT_OK(run.output);
  EXPECT_OK(run.guard);
  const std::vector<double> all = Times(table);
  int groups = 0;
  for (const auto& [g, lo, hi] : std::vector<std::tuple<std::string, int, int>>{
           {"low", 1, 33}, {"intermediate", 34, 66}, {"high", 67, 100}}) {
    SCOPED_TRACE(g);
    const std::string prefix = absl::StrCat("curve.km.", g, ".");
    ASSERT_FALSE(Has(run.output->payload, prefix + "suppressed"));
    EXPECT_EQ(*GetScalar(run.output->payload, prefix + "n"), hi - lo + 1);
    const std::vector<double> time = *GetVector(run.output->payload, prefix + "time");
    const std::vector<double> at_risk = *GetVector(run.output->payload, prefix + "n_at_risk");
    ASSERT_EQ(time.size(), at_risk.size());
    ASSERT_FALSE(time.empty());
    std::vector<double> group_times(all.begin() + lo - 1, all.begin() + hi);
    ExpectReleasedStepsOfK(group_times, time, 10);
    for (double t : time) EXPECT_EQ(std::fmod(t, 30.0), 0.0) << t;
    ++groups;
  }
  EXPECT_EQ(groups, 3);
  int group_populations = 0;
  for (const Population& pop : run.output->populations) {
    if (pop.quantities == std::vector<std::string>{"models.m.risk_group"}) {
      ++group_populations;
      EXPECT_GE(pop.ids.size(), 10u);
    }
  }
  EXPECT_EQ(group_populations, 3);
}

TEST(ModelAttacks, BillionReplicatesAreCappedAndCancellable) {
  CsvTable table = LongTable();
  v1::Validation v;
  v.set_bootstrap_replicates(1000000000);
  v1::Task task = ModelTask("models.validate", false, "x1", {-2.5, 0.05}, v);
  AddScalar(task.mutable_params(), "replicates", 1e9);
  const auto start = std::chrono::steady_clock::now();
  HandlerRun run = RunTask(task, &table, 10);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_OK(run.output);
  EXPECT_EQ(*GetScalar(run.output->payload, "bootstrap_replicates"), kMaxBootstrapReplicates);
  EXPECT_LT(seconds, 60);
  // A cancelled worker stops inside the bootstrap loop.
  int calls = 0;
  HandlerRun cancelled =
      RunTask(task, &table, 10, nullptr, [&calls] { return ++calls > 5; });
  EXPECT_TRUE(absl::IsCancelled(cancelled.output.status())) << cancelled.output.status();
  EXPECT_EQ(calls, 6);
}

TEST(ModelAttacks, BadBaselineHazardIsRefused) {
  CsvTable table = Table(24);
  for (const auto& [grid, cumhaz] :
       std::vector<std::pair<std::vector<double>, std::vector<double>>>{
           {{100, 200}, {0.2, 0.1}},                   // decreasing
           {{200, 100}, {0.1, 0.2}},                   // grid not increasing
           {{100, 200}, {0.1, std::nan("")}},          // not finite
           {{100, 200}, {-0.1, 0.2}},                  // negative
           {{100, 200, 300}, {0.1, 0.2}}}) {           // sizes differ
    v1::Task task = ValidateTask(true);
    AddVector(task.mutable_params(), "grid", grid);
    AddVector(task.mutable_params(), "cumhaz", cumhaz);
    absl::Status s = RunTask(task, &table, 10).output.status();
    EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
    EXPECT_THAT(std::string(s.message()), ::testing::HasSubstr("rule baseline-hazard"));
  }
}

}  // namespace
}  // namespace fedrad::site
