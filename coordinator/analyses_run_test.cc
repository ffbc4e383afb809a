// Tests of RunAnalyses (analyses.cc) and the analysis steps through the
// StudyHost seam (study_context.h): sites answer from a script, and the
// tests check which rounds a step asks for next, what it makes of the
// answers, and that a failure names the site and the step.
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "coordinator/analyses.h"
#include "coordinator/study_context.h"
#include "core/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proto/payload.h"

namespace fedrad::coordinator {
namespace {

using ::fedrad::testing::StatusIs;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

// A site's scripted answer to one task: a TaskResult (OK, or a status the
// site returns) or no answer at all (absl error).
using Answer = std::function<absl::StatusOr<v1::TaskResult>(const v1::Task&)>;

Answer Ok(std::function<void(v1::Payload*)> fill) {
  return [fill](const v1::Task& task) -> absl::StatusOr<v1::TaskResult> {
    v1::TaskResult r;
    r.set_task_id(task.task_id());
    r.set_study_id(task.study_id());
    r.set_kind(task.kind());
    fill(r.mutable_payload());
    return r;
  };
}

Answer SiteError(absl::StatusCode code, std::string message) {
  return [code, message](const v1::Task& task) -> absl::StatusOr<v1::TaskResult> {
    v1::TaskResult r;
    r.set_task_id(task.task_id());
    r.set_kind(task.kind());
    r.set_status_code(static_cast<int>(code));
    r.set_status_message(message);
    return r;
  };
}

// Answers each task from script[kind][site]; a kind or site without a
// script times out. Records every (kind, site) asked, in order.
class ScriptedHost : public StudyHost {
 public:
  std::map<std::string, std::map<std::string, Answer>> script;
  std::vector<std::string> kinds;  // one entry per round, in order
  bool cancelled = false;

  std::map<std::string, absl::StatusOr<v1::TaskResult>> Exchange(
      const std::map<std::string, v1::Task>& tasks, double) override {
    std::map<std::string, absl::StatusOr<v1::TaskResult>> out;
    if (!tasks.empty()) kinds.push_back(tasks.begin()->second.kind());
    for (const auto& [site, task] : tasks) {
      auto by_site = script.find(task.kind());
      if (by_site == script.end() || by_site->second.count(site) == 0) {
        out.emplace(site, absl::DeadlineExceededError("no answer within 120 s"));
        continue;
      }
      out.emplace(site, by_site->second.at(site)(task));
    }
    return out;
  }
  void OnSiteState(const std::string&, const std::string&) override {}
  void OnProgress(const std::string&, double, const std::string&) override {}
  bool Cancelled() const override { return cancelled; }
};

// A study with debug rounds (one sleep round, one vector round of 3) and a
// cohort summary, over sites S1 and S2, each of which must answer.
v1::Study DebugThenCohort() {
  v1::Study study;
  study.set_name("scripted");
  study.add_sites("S1");
  study.add_sites("S2");
  study.mutable_debug()->set_sleep_rounds(1);
  study.mutable_debug()->set_sleep_seconds(0);
  study.mutable_debug()->set_vector_rounds(1);
  study.mutable_debug()->set_vector_length(3);
  study.mutable_cohort_summary()->set_enabled(true);
  return study;
}

// debug.sleep: the site's n; debug.vector: i * rows at index i.
void ScriptDebugRounds(ScriptedHost& host, const std::string& site, int rows) {
  host.script["debug.sleep"][site] = Ok([rows](v1::Payload* p) { AddScalar(p, "n", rows); });
  host.script["debug.vector"][site] = Ok([rows](v1::Payload* p) {
    AddVector(p, "vector", {0.0, 1.0 * rows, 2.0 * rows});
  });
}

TEST(RunAnalyses, EnabledStepsRunInOrderAndAFailureNamesTheSiteAndTheStep) {
  ScriptedHost host;
  ScriptDebugRounds(host, "S1", 12);
  ScriptDebugRounds(host, "S2", 20);
  host.script["cohort.moments"]["S1"] = SiteError(absl::StatusCode::kInvalidArgument, "no column");
  host.script["cohort.moments"]["S2"] =
      SiteError(absl::StatusCode::kPermissionDenied, "below k (rule min-cell-count, k=10)");
  StudyContext ctx("st", DebugThenCohort(), {"S1", "S2"}, &host);
  std::vector<std::pair<int, std::string>> done;
  absl::Status status = RunAnalyses(ctx, 0, [&](int index, const std::string& name) {
    done.emplace_back(index, name);
    return absl::OkStatus();
  });
  // The debug step took its two rounds and summed the vectors:
  // (0 + 12 + 24) + (0 + 20 + 40) = 96.
  EXPECT_EQ(ctx.results().debug().sleep_n(), 32);
  EXPECT_EQ(ctx.results().debug().vector_sum(), 96);
  EXPECT_THAT(done, ElementsAre(std::make_pair(0, std::string("debug rounds"))));
  // Then the cohort summary's first round, where both sites failed: the
  // study stops there, naming the step and each site with its reason.
  EXPECT_THAT(host.kinds, ElementsAre("debug.sleep", "debug.vector", "cohort.moments"));
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kFailedPrecondition,
                               AllOf(HasSubstr("cohort summary"), HasSubstr("S1"),
                                     HasSubstr("S2"), HasSubstr("below k"))));
  EXPECT_THAT(ctx.excluded_sites(),
              ElementsAre(std::make_pair(std::string("S1"),
                                         std::string("failed 'cohort.moments' (INVALID_ARGUMENT): "
                                                     "no column")),
                          std::make_pair(std::string("S2"),
                                         std::string("refused 'cohort.moments' "
                                                     "(PERMISSION_DENIED): below k (rule "
                                                     "min-cell-count, k=10)"))));
}

TEST(RunAnalyses, AResumedStudyStartsAfterItsLastCompletedStep) {
  ScriptedHost host;  // no answers: the first round times out at every site
  StudyContext ctx("st", DebugThenCohort(), {"S1", "S2"}, &host);
  ASSERT_THAT(EnabledSteps(ctx.study()), ElementsAre("debug rounds", "cohort summary"));
  absl::Status status = RunAnalyses(ctx, /*first_step=*/1);
  EXPECT_THAT(host.kinds, ElementsAre("cohort.moments"));
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kFailedPrecondition,
                               AllOf(HasSubstr("cohort summary"), HasSubstr("S1: no answer"))));
}

TEST(RunAnalyses, ASiteSendingAMalformedVectorFailsTheStepNamingIt) {
  ScriptedHost host;
  ScriptDebugRounds(host, "S1", 12);
  ScriptDebugRounds(host, "S2", 20);
  host.script["debug.vector"]["S2"] = Ok([](v1::Payload* p) { AddVector(p, "vector", {1, 2}); });
  StudyContext ctx("st", DebugThenCohort(), {"S1", "S2"}, &host);
  EXPECT_THAT(RunAnalyses(ctx),
              StatusIs(absl::StatusCode::kDataLoss,
                       AllOf(HasSubstr("debug rounds"),
                             HasSubstr("site S2 sent a vector of 2 values, expected 3"))));
  EXPECT_THAT(host.kinds, ElementsAre("debug.sleep", "debug.vector"));
}

TEST(RunAnalyses, ASiteDroppedWithinTheQuorumLeavesTheOthersToFinishTheStep) {
  ScriptedHost host;
  ScriptDebugRounds(host, "S1", 12);
  ScriptDebugRounds(host, "S2", 20);
  host.script["debug.sleep"].erase("S2");  // S2 does not answer
  v1::Study study = DebugThenCohort();
  study.mutable_quorum()->set_min_sites(1);
  study.mutable_cohort_summary()->set_enabled(false);
  StudyContext ctx("st", study, {"S1", "S2"}, &host);
  EXPECT_OK(RunAnalyses(ctx));
  // S2 was asked once and dropped; the vector round went to S1 alone.
  EXPECT_EQ(ctx.active_sites(), std::vector<std::string>{"S1"});
  EXPECT_THAT(ctx.excluded_sites().at("S2"), HasSubstr("no answer"));
  EXPECT_EQ(ctx.results().debug().vector_sum(), 36);
}

TEST(RunAnalyses, ACancelledStudyAsksNothingMore) {
  ScriptedHost host;
  host.cancelled = true;
  StudyContext ctx("st", DebugThenCohort(), {"S1", "S2"}, &host);
  EXPECT_THAT(RunAnalyses(ctx), StatusIs(absl::StatusCode::kCancelled));
  EXPECT_THAT(host.kinds, IsEmpty());
}

TEST(RunAnalyses, AStepDoneCallbackErrorStopsTheStudy) {
  ScriptedHost host;
  ScriptDebugRounds(host, "S1", 12);
  ScriptDebugRounds(host, "S2", 20);
  StudyContext ctx("st", DebugThenCohort(), {"S1", "S2"}, &host);
  absl::Status status = RunAnalyses(ctx, 0, [](int, const std::string&) {
    return absl::UnavailableError("S1 could not checkpoint");
  });
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kUnavailable, HasSubstr("could not checkpoint")));
  EXPECT_THAT(host.kinds, ElementsAre("debug.sleep", "debug.vector"));
}

}  // namespace
}  // namespace fedrad::coordinator
