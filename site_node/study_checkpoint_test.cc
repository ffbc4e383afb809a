// Site checkpoints: a checkpoint written and loaded gives back the same
// working table and key/value state (binary values included); the latest
// step is found; later steps are removed on restore; the study.checkpoint
// and study.restore kinds are accepted by a policy that lists other kinds
// only, and release only "n".
#include "site_node/study_checkpoint.h"
#include "core/testing/status_matchers.h"
#include "site_node/site_rules.h"

#include <unistd.h>

#include <filesystem>
#include <map>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proto/payload.h"
#include "site_node/privacy_guard.h"

namespace fedrad::site {
namespace {

using ::testing::HasSubstr;
namespace fs = std::filesystem;

std::string FreshDir(const std::string& name) {
  std::string dir = ::testing::TempDir() + "/checkpoint_" + std::to_string(getpid()) + "_" + name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

CsvTable Table(const std::string& text) {
  auto t = ParseCsv(text, "site.csv");
  EXPECT_OK(t);
  return *t;
}

TEST(StudyCheckpoint, WriteThenLoadGivesBackTableAndState) {
  std::string dir = FreshDir("roundtrip");
  CsvTable table = Table("patient_id,f1,note\nP1,0.10000000000000001,\"a, b\"\nP2,-3e-300,\n");
  std::map<std::string, std::string> kv = {{"combat.fit", std::string("\0\x01\xff bin", 7)},
                                           {"plain", "text with spaces\nand lines"}};
  ASSERT_OK(WriteCheckpoint(dir, 1, "harmonization", table, kv));
  EXPECT_EQ(LatestCheckpoint(dir), 1);
  CsvTable loaded;
  std::map<std::string, std::string> loaded_kv;
  ASSERT_OK(LoadCheckpoint(dir, 1, "site.csv", &loaded, &loaded_kv));
  EXPECT_EQ(loaded.header(), table.header());
  EXPECT_EQ(loaded.rows(), table.rows());
  EXPECT_EQ(loaded.source(), "site.csv");
  EXPECT_EQ(loaded_kv, kv);

  auto missing = LoadCheckpoint(dir, 4, "site.csv", &loaded, &loaded_kv);
  EXPECT_EQ(missing.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(missing.message(), HasSubstr("step-0004"));
}

TEST(StudyCheckpoint, LatestAndRemoveAfter) {
  std::string dir = FreshDir("latest");
  EXPECT_EQ(LatestCheckpoint(dir), -1);
  CsvTable table = Table("patient_id\nP1\n");
  for (int step : {0, 1, 2, 10}) ASSERT_OK(WriteCheckpoint(dir, step, "s", table, {}));
  EXPECT_EQ(LatestCheckpoint(dir), 10);
  RemoveCheckpointsAfter(dir, 1);
  EXPECT_EQ(LatestCheckpoint(dir), 1);
  RemoveCheckpointsAfter(dir, -1);
  EXPECT_EQ(LatestCheckpoint(dir), -1);
}

TEST(StudyCheckpoint, KindsRestoreStateAndPassAGuardThatListsOtherKindsOnly) {
  TaskRegistry registry;
  RegisterStudyTasks(registry);
  PrivacyGuard guard(GuardPolicy{10, {"cohort.*"}, false});
  const TaskKind* checkpoint = registry.Find("study.checkpoint");
  const TaskKind* restore = registry.Find("study.restore");
  ASSERT_NE(checkpoint, nullptr);
  ASSERT_NE(restore, nullptr);
  EXPECT_OK(guard.CheckAccepted(*checkpoint));
  EXPECT_OK(guard.CheckAccepted(*restore));

  std::string dir = FreshDir("kinds");
  std::string csv = "patient_id,x\n";
  for (int i = 0; i < 12; ++i) csv += "P" + std::to_string(i) + "," + std::to_string(i) + "\n";
  const CsvTable data = Table(csv);
  CsvTable working = data;
  std::map<std::string, std::string> state;
  v1::Task task;
  task.set_study_id("st");
  TaskContext ctx;
  ctx.task = &task;
  ctx.table = &working;
  ctx.state = &state;
  ctx.output_dir = dir;
  ctx.data_table = &data;

  // Step 0 done: the table was changed and a value kept; checkpoint it.
  working.mutable_cell(0, 1) = "100";
  state["k"] = "v0";
  task.set_kind("study.checkpoint");
  AddScalar(task.mutable_params(), "step", 0);
  ASSERT_OK_AND_ASSIGN(auto out, checkpoint->handler(ctx));
  EXPECT_OK(guard.CheckRelease(*checkpoint, out));
  EXPECT_EQ(out.n_contributing, 12);

  // Step 1 ran partly (changed things), then the coordinator restarted.
  working.mutable_cell(0, 1) = "999";
  state["k"] = "v1";
  task.set_kind("study.restore");
  ASSERT_OK_AND_ASSIGN(auto restored, restore->handler(ctx));
  EXPECT_OK(guard.CheckRelease(*restore, restored));
  EXPECT_EQ(working.cell(0, 1), "100");
  EXPECT_EQ(state.at("k"), "v0");

  // Restore to before the first step: the data table as loaded, no state.
  task.clear_params();
  AddScalar(task.mutable_params(), "step", -1);
  ASSERT_OK(restore->handler(ctx));
  EXPECT_EQ(working.cell(0, 1), "0");
  EXPECT_TRUE(state.empty());
  EXPECT_EQ(LatestCheckpoint(dir), -1);
}

TEST(StudyCheckpoint, WorkingStateKeepsAnswersAndIsRemovedByCheckpointAndRestore) {
  std::string dir = FreshDir("working");
  std::string csv = "patient_id,x\n";
  for (int i = 0; i < 12; ++i) csv += "P" + std::to_string(i) + ",1\n";
  const CsvTable data = Table(csv);
  CsvTable working = data;
  working.mutable_cell(3, 1) = "2.5";
  std::map<std::string, std::string> kv = {{"combat.applied", "harmonized.csv"}};
  v1::TaskResult answer;
  answer.set_task_id("st/e0/7/S1");
  answer.set_n_contributing(12);
  std::map<std::string, std::string> answered = {{answer.task_id(), answer.SerializeAsString()}};
  EXPECT_FALSE(HasWorkingState(dir));
  ASSERT_OK(WriteWorkingState(dir, working, kv, answered));
  ASSERT_TRUE(HasWorkingState(dir));
  EXPECT_EQ(LatestCheckpoint(dir), -1);  // not a step checkpoint

  CsvTable loaded;
  std::map<std::string, std::string> loaded_kv, loaded_answered;
  ASSERT_OK(LoadWorkingState(dir, "site.csv", &loaded, &loaded_kv, &loaded_answered));
  EXPECT_EQ(loaded.rows(), working.rows());
  EXPECT_EQ(loaded_kv, kv);
  ASSERT_EQ(loaded_answered.count(answer.task_id()), 1u);
  v1::TaskResult parsed;
  ASSERT_TRUE(parsed.ParseFromString(loaded_answered.at(answer.task_id())));
  EXPECT_EQ(parsed.n_contributing(), 12);

  // The step's checkpoint supersedes the working snapshot.
  TaskRegistry registry;
  RegisterStudyTasks(registry);
  v1::Task task;
  task.set_study_id("st");
  task.set_kind("study.checkpoint");
  AddScalar(task.mutable_params(), "step", 0);
  TaskContext ctx;
  ctx.task = &task;
  ctx.table = &working;
  ctx.state = &kv;
  ctx.output_dir = dir;
  ctx.data_table = &data;
  ASSERT_OK(registry.Find("study.checkpoint")->handler(ctx));
  EXPECT_FALSE(HasWorkingState(dir));
  EXPECT_EQ(LatestCheckpoint(dir), 0);

  // So does a restore.
  ASSERT_OK(WriteWorkingState(dir, working, kv, answered));
  task.set_kind("study.restore");
  ASSERT_OK(registry.Find("study.restore")->handler(ctx));
  EXPECT_FALSE(HasWorkingState(dir));
  EXPECT_EQ(working.cell(3, 1), "2.5");  // the checkpoint of step 0
}

// Study-internal files live under .state/, out of reach of any plain name.
TEST(StudyState, CheckpointsAndLedgerAreUnderTheHiddenStateFolder) {
  const std::string dir = FreshDir("state_layout");
  CsvTable table({"patient_id"}, "t");
  ASSERT_OK(WriteCheckpoint(dir, 0, "s", table, {}));
  EXPECT_TRUE(fs::exists(dir + "/.state/checkpoints/step-0000"));
  EXPECT_FALSE(fs::exists(dir + "/checkpoints"));
  EXPECT_EQ(LedgerPath(dir), dir + "/.state/release-ledger.tsv");
  EXPECT_FALSE(IsPlainName(".state"));
}

// The crash-loop guard: a worker that crashed stops its study at once; a
// study interrupted twice (e.g. killed twice mid-task) stops too; once is
// forgiven (a site killed by its operator resumes); reset-study clears it.
TEST(CrashGuard, StopsAStudyWhoseWorkerCrashedOrDiedTwiceAndResets) {
  const std::string out = FreshDir("crash_guard");
  const std::string a = out + "/study-a", b = out + "/study-b", c = out + "/study-c";
  // a: killed once.
  ASSERT_OK(WriteRunningMarker(a, "t1", "models.derivatives"));
  // b: crashed (the signal handler wrote .state/crashed).
  ASSERT_OK(WriteRunningMarker(b, "t7", "cohort.counts"));
  ASSERT_OK(WriteStringToFile(CrashedMarkerPath(b), "t7\tcohort.counts\n"));
  // c: finished its task (no marker).
  ASSERT_OK(WriteRunningMarker(c, "t2", "cohort.counts"));
  RemoveRunningMarker(c);

  auto found = ScanInterruptedStudies(out);
  ASSERT_EQ(found.size(), 2u);
  std::map<std::string, InterruptedStudy> by_id;
  for (auto& s : found) by_id[s.study_id] = s;
  EXPECT_FALSE(by_id["study-a"].failed);
  EXPECT_TRUE(by_id["study-b"].failed);
  EXPECT_TRUE(by_id["study-b"].crashed);
  EXPECT_EQ(by_id["study-b"].kind, "cohort.counts");
  EXPECT_FALSE(StudyStopped(a).has_value());
  ASSERT_TRUE(StudyStopped(b).has_value());
  EXPECT_EQ(StudyStopped(b)->kind, "cohort.counts");
  EXPECT_FALSE(StudyStopped(c).has_value());
  EXPECT_FALSE(fs::exists(RunningMarkerPath(a)));

  // A second scan with nothing left running finds nothing new.
  EXPECT_TRUE(ScanInterruptedStudies(out).empty());
  // a dies again on another task: stopped now.
  ASSERT_OK(WriteRunningMarker(a, "t9", "models.validate"));
  found = ScanInterruptedStudies(out);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_TRUE(found[0].failed);
  EXPECT_EQ(StudyStopped(a)->kind, "models.validate");

  ASSERT_OK_AND_ASSIGN(auto reset, ResetStudy(out, "study-a"));
  EXPECT_TRUE(reset);
  EXPECT_FALSE(StudyStopped(a).has_value());
  EXPECT_FALSE(*ResetStudy(out, "study-c"));
}

}  // namespace
}  // namespace fedrad::site
