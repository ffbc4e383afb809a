#include "coordinator/study_context.h"

#include "core/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fedrad::coordinator {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Answers every task from a script: OK, a refusal, or no answer.
class FakeHost : public StudyHost {
 public:
  std::map<std::string, std::string> behaviour;  // site -> "ok" | "refuse" | "timeout"
  std::vector<std::string> task_ids;             // every task sent
  std::map<std::string, absl::StatusOr<v1::TaskResult>> Exchange(
      const std::map<std::string, v1::Task>& tasks, double) override {
    std::map<std::string, absl::StatusOr<v1::TaskResult>> out;
    for (const auto& [site, task] : tasks) {
      task_ids.push_back(task.task_id());
      const std::string& b = behaviour[site];
      if (b == "timeout") {
        out.emplace(site, absl::DeadlineExceededError("no answer within 1 s"));
        continue;
      }
      v1::TaskResult r;
      r.set_task_id(task.task_id());
      if (b == "refuse") {
        r.set_status_code(static_cast<int>(absl::StatusCode::kPermissionDenied));
        r.set_status_message("below k");
      }
      out.emplace(site, r);
    }
    return out;
  }
  void OnSiteState(const std::string&, const std::string&) override {}
  void OnProgress(const std::string&, double fraction, const std::string&) override {
    fractions.push_back(fraction);
  }
  bool Cancelled() const override { return false; }
  std::vector<double> fractions;  // every study fraction shown
};

TEST(StudyContext, ProgressIsTheStudyFractionAndNeverGoesBackWithinAStep) {
  FakeHost host;
  StudyContext ctx("st", v1::Study(), {"S1"}, &host);
  ctx.BeginStep(0, 4);
  ctx.SetProgress("a", 0.5);
  ctx.BeginStep(2, 4);
  ctx.SetProgress("c", 0.5);
  ctx.SetProgress("c", 0.0);  // a sub-task restarting its own count
  ctx.SetProgress("c", 1.0);
  EXPECT_THAT(host.fractions, ElementsAre(0.125, 0.625, 0.625, 0.75));
}

TEST(StudyContext, DropsRefusingSiteWhenQuorumAllows) {
  FakeHost host;
  host.behaviour = {{"S1", "ok"}, {"S2", "refuse"}, {"S3", "ok"}};
  v1::Study study;
  study.mutable_quorum()->set_min_sites(2);
  StudyContext ctx("st", study, {"S3", "S1", "S2"}, &host);
  auto results = ctx.Broadcast("cohort.summary", {});
  ASSERT_OK(results);
  EXPECT_EQ(results->size(), 2u);
  EXPECT_THAT(ctx.active_sites(), ElementsAre("S1", "S3"));
  EXPECT_THAT(ctx.excluded_sites().at("S2"), HasSubstr("PERMISSION_DENIED"));
  EXPECT_THAT(ctx.results().study().excluded_sites().at("S2"), HasSubstr("below k"));
}

TEST(StudyContext, FailsNamingTheSiteWhenQuorumIsLost) {
  FakeHost host;
  host.behaviour = {{"S1", "ok"}, {"S2", "timeout"}};
  v1::Study study;  // min_sites 0: every site is needed
  StudyContext ctx("st", study, {"S1", "S2"}, &host);
  auto results = ctx.Broadcast("debug.sleep", {});
  EXPECT_EQ(results.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(results.status().message()), HasSubstr("S2: no answer"));
}

// A resumed study continues the round numbering, keeps its excluded sites
// out and its results so far, and its task ids carry the new epoch, so they
// differ from every id of the run before the restart.
TEST(StudyContext, RestoreContinuesRoundsKeepsExclusionsAndPutsTheEpochInTaskIds) {
  FakeHost host;
  host.behaviour = {{"S1", "ok"}, {"S2", "ok"}, {"S3", "ok"}};
  v1::Study study;
  study.mutable_quorum()->set_min_sites(2);
  StudyContext first("st", study, {"S1", "S2", "S3"}, &host);
  ASSERT_OK(first.Broadcast("cohort.moments", {}));
  EXPECT_THAT(host.task_ids, ElementsAre("st/e0/1/S1", "st/e0/1/S2", "st/e0/1/S3"));

  host.task_ids.clear();
  StudyContext resumed("st", study, {"S1", "S2", "S3"}, &host);
  v1::Results so_far;
  so_far.mutable_cohort()->mutable_pooled()->set_n(55);
  resumed.Restore(so_far, {{"S3", "no answer"}}, /*rounds=*/4, /*epoch=*/1);
  EXPECT_THAT(resumed.active_sites(), ElementsAre("S1", "S2"));
  EXPECT_EQ(resumed.results().cohort().pooled().n(), 55);
  EXPECT_EQ(resumed.results().study().excluded_sites().at("S3"), "no answer");
  ASSERT_OK(resumed.Broadcast("models.prepare", {}));
  EXPECT_THAT(host.task_ids, ElementsAre("st/e1/5/S1", "st/e1/5/S2"));
  EXPECT_EQ(resumed.rounds(), 5);
  EXPECT_EQ(resumed.epoch(), 1);
}

}  // namespace
}  // namespace fedrad::coordinator
