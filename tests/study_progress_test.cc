// Progress a study coordinator sees (issue 18), in one process:
//  - the models step reports progress while a Cox model is fitted (every
//    status the coordinator publishes, not a watch's sample): the real
//    coordinator step (coordinator/analysis_models.cc) drives the real site
//    handlers (site_node/tasks_models.cc) on models/testdata/site_{A,B,C}.csv;
//  - `fedrad study watch`'s line filter (coordinator::StatusLines) prints one
//    line per real change: per-round site states left out, progress in 5%
//    steps, each notice once.
#include <string>
#include <utility>
#include <vector>

#include "coordinator/admin_client.h"
#include "coordinator/analyses.h"
#include "coordinator/study_context.h"
#include "core/status.h"
#include "core/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "models/testutil.h"
#include "site_node/builtin_tasks.h"
#include "site_node/privacy_guard.h"
#include "site_node/task_registry.h"

namespace fedrad {
namespace {

using ::testing::HasSubstr;

// Sites that answer by calling their handlers behind the guard; records
// every progress report.
class RecordingFederation : public coordinator::StudyHost {
 public:
  RecordingFederation() : guard_(site::GuardPolicy{10, {}, false}) {
    site::RegisterModelTasks(registry_);
    for (const auto& s : models::testing::SiteNames()) tables_[s] = models::testing::SiteTable(s);
  }
  std::map<std::string, absl::StatusOr<v1::TaskResult>> Exchange(
      const std::map<std::string, v1::Task>& tasks, double) override {
    std::map<std::string, absl::StatusOr<v1::TaskResult>> out;
    for (const auto& [s, task] : tasks) {
      v1::TaskResult r;
      r.set_task_id(task.task_id());
      r.set_kind(task.kind());
      absl::Status status = Run(s, task, &r);
      r.set_status_code(static_cast<int>(status.code()));
      r.set_status_message(std::string(status.message()));
      out.emplace(s, r);
    }
    return out;
  }
  void OnSiteState(const std::string&, const std::string&) override {}
  void OnProgress(const std::string& step, double fraction, const std::string& message) override {
    progress.emplace_back(fraction, message);
    (void)step;
  }
  bool Cancelled() const override { return false; }

  std::vector<std::pair<double, std::string>> progress;

 private:
  absl::Status Run(const std::string& s, const v1::Task& task, v1::TaskResult* r) {
    const site::TaskKind* kind = registry_.Find(task.kind());
    if (kind == nullptr) return absl::UnimplementedError(task.kind());
    site::TaskContext ctx;
    ctx.site_id = s;
    ctx.task = &task;
    ctx.table = &tables_[s];
    ctx.output_dir = ::testing::TempDir();
    ctx.min_cell_count = 10;
    ctx.state = &state_[s];
    absl::StatusOr<site::TaskOutput> output = kind->handler(ctx);
    if (!output.ok()) return output.status();
    FEDRAD_RETURN_IF_ERROR(guard_.CheckRelease(*kind, *output));
    r->set_n_contributing(output->n_contributing);
    *r->mutable_payload() = output->payload;
    return absl::OkStatus();
  }

  site::TaskRegistry registry_;
  std::map<std::string, CsvTable> tables_;
  std::map<std::string, std::map<std::string, std::string>> state_;
  site::PrivacyGuard guard_;
};

TEST(StudyProgress, MovesWhileTheCoxModelIsFitted) {
  v1::Study study;
  study.set_name("progress");
  for (const auto& s : models::testing::SiteNames()) study.add_sites(s);
  v1::Model* cox = study.add_models();
  cox->set_name("cox");
  cox->set_type(v1::Model::COX);
  for (const auto& c : models::testing::Covariates()) cox->add_covariates(c);
  ASSERT_OK(coordinator::CheckStudy(study));

  RecordingFederation host;
  coordinator::StudyContext ctx("progress", study, models::testing::SiteNames(), &host);
  ASSERT_OK(coordinator::RunAnalyses(ctx, 0, nullptr));
  // The only step is the models step: while 'fitting' is the message,
  // progress rises through several values strictly between 0 and 1.
  std::vector<double> during_fit;
  double last = -1;
  for (const auto& [fraction, message] : host.progress) {
    EXPECT_GE(fraction, last) << "progress went backwards at '" << message << "'";
    last = fraction;
    if (message.find("fitting 'cox'") != std::string::npos && fraction > 0 && fraction < 1) {
      if (during_fit.empty() || fraction > during_fit.back()) during_fit.push_back(fraction);
    }
  }
  EXPECT_GE(during_fit.size(), 3u);
  ASSERT_FALSE(host.progress.empty());
  EXPECT_DOUBLE_EQ(host.progress.back().first, 1.0);
}

v1::StudyStatus Status(const std::string& step, double fraction,
                       std::map<std::string, std::string> sites,
                       std::vector<std::string> notices = {}) {
  v1::StudyStatus s;
  s.set_study_id("x");
  s.set_state("RUNNING");
  s.set_step(step);
  s.set_fraction_done(fraction);
  for (const auto& [site, state] : sites) (*s.mutable_sites())[site] = state;
  for (const auto& n : notices) s.add_notices(n);
  return s;
}

TEST(StatusLines, OneLinePerRealChange) {
  coordinator::StatusLines lines;
  std::vector<std::string> out;
  auto feed = [&](const v1::StudyStatus& s) {
    for (auto& l : lines.Next(s)) out.push_back(l);
  };
  feed(Status("models", 0.0, {{"S1", "connected"}, {"S2", "connected"}}));
  ASSERT_EQ(out.size(), 1u);
  // 100 rounds of flapping site states and small progress steps: no line
  // but one per 5% of progress.
  for (int round = 0; round < 100; ++round) {
    const double f = 0.2 * round / 100;
    feed(Status("models", f, {{"S1", "working on models.derivatives"}, {"S2", "answered"}}));
    feed(Status("models", f, {{"S1", "answered"}, {"S2", "answered"}}));
  }
  EXPECT_LE(out.size(), 6u);
  for (const auto& l : out) EXPECT_THAT(l, ::testing::Not(HasSubstr("working on")));
  // An unusual site state and a notice show at once; the notice once.
  size_t before = out.size();
  feed(Status("models", 0.2, {{"S1", "excluded: no answer"}}, {"site S1 is now served by x"}));
  feed(Status("models", 0.2, {{"S1", "excluded: no answer"}}, {"site S1 is now served by x"}));
  ASSERT_EQ(out.size(), before + 2);
  EXPECT_EQ(out[before], "notice: site S1 is now served by x");
  EXPECT_THAT(out[before + 1], HasSubstr("S1: excluded: no answer"));
}

}  // namespace
}  // namespace fedrad
