// Tests of the coordinator's composition (coordinator.cc) and its Admin
// service (admin_service.cc) with the study runner (study_runner.cc): a
// study's status reaches its watchers when it changes, not at a poll.
//
// The coordinator runs in-process on loopback without TLS
// (insecure_for_tests); no site connects, so a study waits for its site
// until the test cancels it.
#include "coordinator/coordinator.h"

#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "coordinator/admin_client.h"
#include "coordinator/internal/coordinator_impl.h"
#include "coordinator/study_store.h"
#include "core/pki.h"
#include "core/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proto/node_audit.h"

namespace fedrad::coordinator {
namespace {

using ::fedrad::testing::StatusIs;
using ::testing::Contains;
using ::testing::HasSubstr;

// Records every status it is handed, in order.
class RecordingWatcher : public StatusWatcher {
 public:
  void OnStatus(const v1::StudyStatus& status, int64_t version) override {
    absl::MutexLock lock(&mu_);
    statuses_.push_back(status);
    versions_.push_back(version);
  }
  void OnEnd(const absl::Status& why) override {
    absl::MutexLock lock(&mu_);
    end_ = why;
    ended_ = true;
  }
  std::string serial() const override { return ""; }

  std::vector<v1::StudyStatus> statuses() const {
    absl::MutexLock lock(&mu_);
    return statuses_;
  }
  std::vector<int64_t> versions() const {
    absl::MutexLock lock(&mu_);
    return versions_;
  }
  // Waits (at most `limit`, a safety net) until a status in `state` came.
  bool AwaitState(const std::string& state, absl::Duration limit) const {
    absl::MutexLock lock(&mu_);
    auto seen = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return !statuses_.empty() && statuses_.back().state() == state;
    };
    return mu_.AwaitWithTimeout(absl::Condition(&seen), limit);
  }

 private:
  mutable absl::Mutex mu_;
  std::vector<v1::StudyStatus> statuses_ ABSL_GUARDED_BY(mu_);
  std::vector<int64_t> versions_ ABSL_GUARDED_BY(mu_);
  absl::Status end_ ABSL_GUARDED_BY(mu_);
  bool ended_ ABSL_GUARDED_BY(mu_) = false;
};

class CoordinatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    setenv("FEDRAD_ALLOW_INSECURE_FOR_TESTS", "1", 1);
    dir_ = std::filesystem::temp_directory_path() /
           ("fedrad-coordinator-test-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    config_.set_listen_address("127.0.0.1:0");
    config_.set_data_dir((dir_ / "data").string());
    config_.set_audit_log((dir_ / "audit" / "coordinator.log").string());
    config_.mutable_tls()->set_insecure_for_tests(true);
    // Plaintext on the wire, but the audit log signs its checkpoints.
    ASSERT_OK(pki::InitCa((dir_ / "ca").string(), {}));
    ASSERT_OK(pki::IssueIdentity((dir_ / "ca").string(), "coordinator", pki::Role::kCoordinator,
                                 (dir_ / "ids").string())
                  .status());
    config_.mutable_tls()->set_key((dir_ / "ids" / "coordinator.key").string());
    config_.mutable_tls()->set_cert((dir_ / "ids" / "coordinator.crt").string());
    // Long enough that the study is still waiting for S1 when the test
    // cancels it; the test never waits this long.
    config_.set_site_wait_seconds(600);
    study_.set_name("watched");
    study_.add_sites("S1");
    study_.mutable_cohort_summary()->set_enabled(true);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::filesystem::path dir_;
  v1::CoordinatorConfig config_;
  v1::Study study_;
};

TEST_F(CoordinatorTest, AStatusChangeReachesTheWatcherBeforeTheChangeReturns) {
  ASSERT_OK_AND_ASSIGN(v1::CoordinatorConfig config, NormalizeCoordinatorConfig(config_));
  std::filesystem::create_directories(dir_ / "audit");
  std::filesystem::create_directories(config.data_dir());
  ASSERT_OK_AND_ASSIGN(auto store, StudyStore::Open((dir_ / "data" / "coordinator.db").string()));
  ASSERT_OK_AND_ASSIGN(auto audit, NodeAudit::Open({config.audit_log(), "coordinator", config.tls().key(),
                                                           config.tls().cert()}));
  Coordinator::Impl impl(config, std::move(audit), grpc::InsecureServerCredentials(),
                         std::move(store));
  ASSERT_OK(impl.Start());
  ASSERT_OK_AND_ASSIGN(std::string id, impl.SubmitStudy(study_, "test"));
  EXPECT_THAT(impl.AddWatcher("no-such-study", nullptr), StatusIs(absl::StatusCode::kNotFound));

  RecordingWatcher watcher;
  ASSERT_OK(impl.AddWatcher(id, &watcher));
  // The current status at once, on registration.
  ASSERT_FALSE(watcher.statuses().empty());
  EXPECT_EQ(watcher.statuses().front().study_id(), id);

  // A change is handed over inside the call that makes it: when the call
  // returns, the watcher has it (a watcher polling once a second would not).
  const std::string notice = "site S1 is now served by another process writing another audit log";
  impl.NoticeForSite("S1", notice);
  EXPECT_THAT(watcher.statuses().back().notices(), Contains(notice));

  ASSERT_OK(impl.CancelStudy(id, "test").status());
  EXPECT_TRUE(watcher.AwaitState("CANCELLED", absl::Seconds(60)));
  // Every change once, in order: versions strictly increase.
  const std::vector<int64_t> versions = watcher.versions();
  for (size_t i = 1; i < versions.size(); ++i) EXPECT_LT(versions[i - 1], versions[i]);

  // After RemoveWatcher nothing more is handed to it.
  impl.RemoveWatcher(id, &watcher);
  const size_t count = watcher.statuses().size();
  impl.NoticeForSite("S1", "another notice");
  EXPECT_EQ(watcher.statuses().size(), count);
  impl.Shutdown();
}

// Through gRPC: the Admin service's WatchStudy reactor streams each status
// and ends with the terminal one.
TEST_F(CoordinatorTest, WatchStudyStreamsEachChangeAndEndsWithTheTerminalState) {
  ASSERT_OK_AND_ASSIGN(auto coordinator, Coordinator::Create(config_));
  ASSERT_OK(coordinator->Start());
  v1::AdminClientConfig client_config;
  client_config.set_coordinator_address("127.0.0.1:" + std::to_string(coordinator->port()));
  client_config.mutable_tls()->set_insecure_for_tests(true);
  ASSERT_OK_AND_ASSIGN(auto client, AdminClient::Connect(client_config));
  ASSERT_OK_AND_ASSIGN(auto canceller, AdminClient::Connect(client_config));
  ASSERT_OK_AND_ASSIGN(std::string id, client->Submit(study_));

  EXPECT_THAT(client->Watch("no-such-study", [](const v1::StudyStatus&) {}),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("no study 'no-such-study'")));

  absl::Mutex mu;
  std::vector<std::string> states;  // guarded by mu
  absl::StatusOr<v1::StudyStatus> last = absl::UnknownError("not watched");
  std::thread watch([&] {
    last = client->Watch(id, [&](const v1::StudyStatus& s) {
      absl::MutexLock lock(&mu);
      states.push_back(s.state());
    });
  });
  {
    // The first status arrives on registration; then cancel.
    absl::MutexLock lock(&mu);
    auto any = [&] { return !states.empty(); };
    EXPECT_TRUE(mu.AwaitWithTimeout(absl::Condition(&any), absl::Seconds(60)));
  }
  EXPECT_OK(canceller->Cancel(id).status());
  watch.join();
  ASSERT_OK(last.status());
  EXPECT_EQ(last->state(), "CANCELLED");
  absl::MutexLock lock(&mu);
  ASSERT_FALSE(states.empty());
  EXPECT_EQ(states.back(), "CANCELLED");
  EXPECT_THAT(states.front(), ::testing::AnyOf("PENDING", "RUNNING"));
}

TEST_F(CoordinatorTest, ShutdownEndsAnOpenWatchSayingWhy) {
  ASSERT_OK_AND_ASSIGN(auto coordinator, Coordinator::Create(config_));
  ASSERT_OK(coordinator->Start());
  v1::AdminClientConfig client_config;
  client_config.set_coordinator_address("127.0.0.1:" + std::to_string(coordinator->port()));
  client_config.mutable_tls()->set_insecure_for_tests(true);
  ASSERT_OK_AND_ASSIGN(auto client, AdminClient::Connect(client_config));
  ASSERT_OK_AND_ASSIGN(std::string id, client->Submit(study_));

  absl::Mutex mu;
  bool first = false;  // guarded by mu
  absl::StatusOr<v1::StudyStatus> last = absl::UnknownError("not watched");
  std::thread watch([&] {
    last = client->Watch(id, [&](const v1::StudyStatus&) {
      absl::MutexLock lock(&mu);
      first = true;
    });
  });
  {
    absl::MutexLock lock(&mu);
    EXPECT_TRUE(mu.AwaitWithTimeout(absl::Condition(&first), absl::Seconds(60)));
  }
  coordinator->Shutdown();
  watch.join();
  EXPECT_THAT(last.status(),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("the coordinator is shutting down")));
}

}  // namespace
}  // namespace fedrad::coordinator
