// The site's gate against a rogue coordinator: a real fedrad-site process
// with mutual TLS, and in this test a Federation server holding a valid
// coordinator certificate that sends hand-made tasks. The site must refuse
// a study its operator has not approved (exact public message), run it once
// `fedrad-site approve` approves the exact spec while the site runs, refuse
// a path-like study id writing nothing, refuse kinds the spec does not need,
// stop a task at its deadline without blocking another study, redact the
// reason, and refuse again after `fedrad-site withdraw`.
#include <sys/wait.h>

#include <condition_variable>
#include <deque>
#include <filesystem>
#include <map>
#include <mutex>
#include <thread>

#include <grpcpp/grpcpp.h>

#include "absl/strings/match.h"
#include "core/pki.h"
#include "core/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proto/fedrad.grpc.pb.h"
#include "proto/payload.h"
#include "proto/textproto.h"
#include "proto/transport.h"
#include "site_node/approvals.h"
#include "tests/sandbox_testutil.h"

namespace fedrad::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
namespace fs = std::filesystem;

// A coordinator that sends whatever the test asks, one site at a time.
class RogueCoordinator final : public v1::Federation::Service {
 public:
  grpc::Status Connect(grpc::ServerContext* context,
                       grpc::ServerReaderWriter<v1::CoordinatorMessage, v1::SiteMessage>* stream) override {
    v1::SiteMessage hello;
    if (!stream->Read(&hello) || !hello.has_hello()) return grpc::Status::CANCELLED;
    v1::CoordinatorMessage welcome;
    welcome.mutable_welcome()->set_protocol_version(transport::kProtocolVersion);
    welcome.mutable_welcome()->set_coordinator_id("rogue");
    welcome.mutable_welcome()->set_site_id("S1");
    if (!stream->Write(welcome)) return grpc::Status::CANCELLED;
    {
      std::lock_guard<std::mutex> lock(mu_);
      connected_ = true;
    }
    cv_.notify_all();
    std::atomic<bool> ended{false};
    std::thread reader([&] {
      v1::SiteMessage m;
      while (stream->Read(&m)) {
        if (!m.has_result()) continue;
        std::lock_guard<std::mutex> lock(mu_);
        results_[m.result().task_id()] = m.result();
        cv_.notify_all();
      }
      ended = true;
      cv_.notify_all();
    });
    while (true) {
      v1::Task task;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [&] { return stop_ || ended || !outbox_.empty(); });
        if (stop_ || ended) break;
        task = outbox_.front();
        outbox_.pop_front();
      }
      v1::CoordinatorMessage msg;
      *msg.mutable_task() = task;
      stream->Write(msg);
    }
    context->TryCancel();
    reader.join();
    return grpc::Status::OK;
  }

  bool WaitConnected(double seconds) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, std::chrono::milliseconds(static_cast<int>(seconds * 1000)),
                        [&] { return connected_; });
  }
  void Send(const v1::Task& task) {
    std::lock_guard<std::mutex> lock(mu_);
    outbox_.push_back(task);
    cv_.notify_all();
  }
  // The result of `task_id`, or a result with status_code -1 after `seconds`.
  v1::TaskResult Await(const std::string& task_id, double seconds) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, std::chrono::milliseconds(static_cast<int>(seconds * 1000)),
                 [&] { return results_.count(task_id) > 0; });
    auto it = results_.find(task_id);
    if (it != results_.end()) return it->second;
    v1::TaskResult none;
    none.set_status_code(-1);
    none.set_status_message("no answer");
    return none;
  }
  v1::TaskResult Ask(const v1::Task& task, double seconds = 20) {
    Send(task);
    return Await(task.task_id(), seconds);
  }
  void Stop() {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool connected_ = false, stop_ = false;
  std::deque<v1::Task> outbox_;
  std::map<std::string, v1::TaskResult> results_;
};

// True while `p` runs (reaps it once it ended).
bool Alive(Process& p) {
  if (p.pid <= 0) return false;
  int status = 0;
  pid_t r = waitpid(p.pid, &status, WNOHANG);
  if (r == p.pid) {
    p.pid = -1;
    return false;
  }
  return r == 0;
}

constexpr char kSpec[] = R"(name: "gate"
sites: "S1"
cohort_summary { enabled: true columns: "age" }
debug { sleep_rounds: 1 sleep_seconds: 0.1 }
)";

class SiteGate : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::make_unique<TempDir>("gate");
    d_ = dir_->path();
    ASSERT_OK(pki::InitCa(d_ + "/ca", {}));
    ASSERT_OK(
        pki::IssueIdentity(d_ + "/ca", "coordinator", pki::Role::kCoordinator, d_ + "/certs"));
    ASSERT_OK(pki::IssueIdentity(d_ + "/ca", "S1", pki::Role::kSite, d_ + "/certs"));
    transport::TlsFiles files{d_ + "/ca/ca.crt", d_ + "/certs/coordinator.crt",
                              d_ + "/certs/coordinator.key", d_ + "/ca/crl.pem", false, "rogue"};
    ASSERT_OK_AND_ASSIGN(auto creds, transport::MakeServerCredentials(files));
    grpc::ServerBuilder builder;
    transport::ConfigureServerBuilder(&builder);
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", creds, &port);
    builder.RegisterService(&rogue_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(port, 0);
    fs::create_directories(d_ + "/data");
    WriteCohortCsv(d_ + "/data/S1.csv", "S1", 40, 7);
    config_ = d_ + "/S1.textproto";
    WriteAll(config_, "coordinator_address: \"127.0.0.1:" + std::to_string(port) + "\"\n" +
                          "coordinator_name: \"coordinator\"\n"
                          "tls { ca_cert: \"" + d_ + "/ca/ca.crt\" crl: \"" + d_ +
                          "/ca/crl.pem\" cert: \"" + d_ + "/certs/S1.crt\" key: \"" + d_ +
                          "/certs/S1.key\" }\n"
                          "data_csv: \"" + d_ + "/data/S1.csv\"\noutput_dir: \"" + d_ +
                          "/out\"\naudit_log: \"" + d_ + "/audit/S1.log\"\nstate_dir: \"" + d_ +
                          "/state\"\nheartbeat_seconds: 1\n"
                          "policy { min_cell_count: 10 enable_debug_tasks: true max_task_seconds: 1 }\n");
    WriteAll(d_ + "/study.textproto", kSpec);
    ASSERT_OK(ParseTextProto(kSpec, "spec", &spec_));
    site_ = Start({BinDir() + "/fedrad-site", "--config", config_}, d_ + "/site.log");
    ASSERT_TRUE(rogue_.WaitConnected(30)) << ReadAll(d_ + "/site.log");
  }
  void TearDown() override {
    Terminate(site_);
    rogue_.Stop();
    if (server_) server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  }

  v1::Task Task(const std::string& study_id, const std::string& kind, double sleep = 0) {
    v1::Task t;
    t.set_task_id(absl::StrCat("t", ++counter_));
    t.set_study_id(study_id);
    t.set_kind(kind);
    *t.mutable_study() = spec_;
    if (sleep > 0) AddScalar(t.mutable_params(), "seconds", sleep);
    return t;
  }
  // Every file under the test folder, except the site's own folders.
  std::vector<std::string> StrayFiles() {
    std::vector<std::string> out;
    for (const auto& e : fs::recursive_directory_iterator(d_)) {
      const std::string p = e.path().string();
      bool known = false;
      for (const char* prefix : {"/ca", "/certs", "/data", "/out", "/audit", "/state"}) {
        if (absl::StartsWith(p, d_ + prefix)) known = true;
      }
      if (!known && e.is_regular_file() && !absl::EndsWith(p, ".log") &&
          !absl::EndsWith(p, ".textproto")) {
        out.push_back(p);
      }
    }
    return out;
  }

  std::unique_ptr<TempDir> dir_;
  std::string d_, config_;
  RogueCoordinator rogue_;
  std::unique_ptr<grpc::Server> server_;
  Process site_;
  v1::Study spec_;
  int counter_ = 0;
};

TEST_F(SiteGate, ApprovalNeededKindsPathsDeadlinesRedactionWithdrawal) {
  const std::string hash = site::StudySpecHash(spec_);

  // 1. Not approved: refused with the exact public message.
  v1::TaskResult r = rogue_.Ask(Task("gate-1", "debug.sleep", 0.05));
  EXPECT_EQ(r.status_code(), static_cast<int>(absl::StatusCode::kPermissionDenied));
  EXPECT_EQ(r.status_message(),
            "S1 has not approved study gate (spec sha256 " + hash.substr(0, 8) + "\xE2\x80\xA6)");
  EXPECT_FALSE(fs::exists(d_ + "/out/gate-1")) << "a refused study gets no folder";

  // 2. The operator approves while the site runs: the next task runs.
  std::string out;
  ASSERT_TRUE(ApproveStudy(config_, d_ + "/study.textproto", d_ + "/approve.log", &out)) << out;
  EXPECT_THAT(out, HasSubstr(hash));
  EXPECT_THAT(out, HasSubstr("the site is running"));
  // The coordinator's side names the same hash (what a study coordinator
  // publishes with the spec).
  std::string hash_out;
  ASSERT_EQ(fedrad::testing::Run({FedradBin(), "study", "hash", d_ + "/study.textproto"}, d_ + "/hash.log", &hash_out), 0)
      << hash_out;
  EXPECT_THAT(hash_out, HasSubstr(hash + "  gate"));
  r = rogue_.Ask(Task("gate-1", "debug.sleep", 0.05));
  EXPECT_EQ(r.status_code(), 0) << r.status_message();
  EXPECT_TRUE(WaitFor([&] { return absl::StrContains(ReadAll(d_ + "/audit/S1.log"), "site.approve"); }, 5));

  // 3. A spec changed by one field is not approved.
  v1::Task changed = Task("gate-1", "debug.sleep", 0.05);
  changed.mutable_study()->set_min_cell_count(2);
  r = rogue_.Ask(changed);
  EXPECT_EQ(r.status_code(), static_cast<int>(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(r.status_message(), HasSubstr("S1 has not approved study gate (spec sha256 "));

  // 4. Path-like study ids: refused, nothing written anywhere.
  const std::string absolute = d_ + "/escape-abs";
  for (const std::string& id : {std::string("../escape"), std::string("../../escape"), absolute,
                                std::string(".state"), std::string("a/b")}) {
    r = rogue_.Ask(Task(id, "debug.sleep", 0.05));
    EXPECT_EQ(r.status_code(), static_cast<int>(absl::StatusCode::kInvalidArgument)) << id;
    EXPECT_THAT(r.status_message(), HasSubstr("study_id: not a plain name")) << id;
  }
  EXPECT_FALSE(fs::exists(absolute));
  EXPECT_FALSE(fs::exists(d_ + "/escape"));
  EXPECT_FALSE(fs::exists(fs::path(d_).parent_path() / "escape"));
  EXPECT_THAT(StrayFiles(), ::testing::IsEmpty());

  // 5. A kind the spec does not need (no harmonisation, no models).
  r = rogue_.Ask(Task("gate-1", "combat.fit"));
  EXPECT_EQ(r.status_code(), static_cast<int>(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(r.status_message(), HasSubstr("(rule needed-kinds)"));
  r = rogue_.Ask(Task("gate-1", "models.derivatives"));
  EXPECT_THAT(r.status_message(), HasSubstr("(rule needed-kinds)"));

  // 6. A task past the site's max_task_seconds (1 s) is stopped with
  //    DeadlineExceeded, and another study's task is not kept waiting.
  v1::Task slow = Task("gate-1", "debug.sleep", 30);
  rogue_.Send(slow);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  auto t0 = std::chrono::steady_clock::now();
  r = rogue_.Ask(Task("gate-2", "debug.sleep", 0.05), 5);
  EXPECT_EQ(r.status_code(), 0) << r.status_message();
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 0.9);
  r = rogue_.Await(slow.task_id(), 10);
  EXPECT_EQ(r.status_code(), static_cast<int>(absl::StatusCode::kDeadlineExceeded)) << r.status_message();
  // 7. ... and its reason leaves redacted (site_rules.h ForTheWire): the kind
  //    and a fixed text; the details stay in the site's log.
  EXPECT_EQ(r.status_message(),
            "debug.sleep: the task ran past the site's deadline and was stopped (details in the "
            "site's own log; they do not leave the site)");
  EXPECT_THAT(ReadAll(d_ + "/site.log"), HasSubstr("max_task_seconds=1"));

  // 8. Withdrawn: refused again, saying so.
  ASSERT_EQ(fedrad::testing::Run({BinDir() + "/fedrad-site", "withdraw", "--config", config_, hash.substr(0, 10)},
                d_ + "/withdraw.log", &out),
            0)
      << out;
  r = rogue_.Ask(Task("gate-1", "debug.sleep", 0.05));
  EXPECT_EQ(r.status_code(), static_cast<int>(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(r.status_message(), HasSubstr("its approval was withdrawn on"));
  EXPECT_TRUE(WaitFor([&] { return absl::StrContains(ReadAll(d_ + "/audit/S1.log"), "site.withdraw"); }, 5));

  // The audit record of a received task carries its params' digest and summary.
  EXPECT_THAT(ReadAll(d_ + "/audit/S1.log"), HasSubstr("params sha256 "));
  // `approvals` lists the withdrawal.
  ASSERT_EQ(fedrad::testing::Run({BinDir() + "/fedrad-site", "approvals", "--config", config_}, d_ + "/list.log", &out), 0);
  EXPECT_THAT(out, HasSubstr("gate\t" + hash));
  EXPECT_THAT(out, HasSubstr("withdrawn"));
  EXPECT_THAT(ReadAll(d_ + "/site.log"), Not(HasSubstr("Segmentation")));
}

// A task that crashes the worker stops its study at this site, not the site:
// after the restart the study's tasks are refused (public, naming the kind
// and the operator's reset), another study runs, and `fedrad-site
// reset-study` lets it run again.
TEST_F(SiteGate, CrashingTaskStopsItsStudyNotTheSite) {
  std::string out;
  ASSERT_TRUE(ApproveStudy(config_, d_ + "/study.textproto", d_ + "/approve.log", &out)) << out;
  v1::Task crash = Task("gate-c", "debug.crash");
  rogue_.Send(crash);
  EXPECT_TRUE(WaitFor([&] { return !Alive(site_); }, 20)) << ReadAll(d_ + "/site.log");
  EXPECT_TRUE(fs::exists(d_ + "/out/gate-c/.state/crashed"));

  // The site restarts (as systemd would) and reconnects.
  site_ = Start({BinDir() + "/fedrad-site", "--config", config_}, d_ + "/site2.log");
  v1::TaskResult r = rogue_.Ask(Task("gate-c", "debug.sleep", 0.05), 30);
  EXPECT_EQ(r.status_code(), static_cast<int>(absl::StatusCode::kFailedPrecondition)) << r.status_message();
  EXPECT_EQ(r.status_message(),
            "this site stopped study gate-c after its worker crashed on a task of kind debug.crash; "
            "the operator can reset it with `fedrad-site reset-study --config SITE.textproto "
            "gate-c` (rule crash-guard)");
  // The same crashing task again: refused, no crash loop.
  r = rogue_.Ask(Task("gate-c", "debug.crash"), 10);
  EXPECT_EQ(r.status_code(), static_cast<int>(absl::StatusCode::kFailedPrecondition));
  EXPECT_TRUE(Alive(site_));
  // Another study runs normally.
  r = rogue_.Ask(Task("gate-d", "debug.sleep", 0.05));
  EXPECT_EQ(r.status_code(), 0) << r.status_message();
  EXPECT_THAT(ReadAll(d_ + "/audit/S1.log"), HasSubstr("study.crash-guard"));

  // The operator resets the study: it runs again.
  ASSERT_EQ(fedrad::testing::Run({BinDir() + "/fedrad-site", "reset-study", "--config", config_, "gate-c"},
                                 d_ + "/reset.log", &out),
            0)
      << out;
  r = rogue_.Ask(Task("gate-c", "debug.sleep", 0.05));
  EXPECT_EQ(r.status_code(), 0) << r.status_message();
  EXPECT_TRUE(WaitFor([&] { return absl::StrContains(ReadAll(d_ + "/audit/S1.log"), "site.reset-study"); }, 5));
}

// The site refuses to start when its output folder holds its audit log or
// its data (a task could write there).
TEST(SiteGateConfig, OutputDirMustNotContainTheAuditLogOrTheData) {
  TempDir dir("gatecfg");
  const std::string d = dir.path();
  WriteCohortCsv(d + "/out/S1.csv", "S1", 20, 1);
  WriteAll(d + "/site.textproto",
           "coordinator_address: \"127.0.0.1:1\"\ntls { ca_cert: \"x\" cert: \"x\" key: \"x\" }\n"
           "data_csv: \"" + d + "/out/S1.csv\"\noutput_dir: \"" + d + "/out\"\naudit_log: \"" + d +
               "/audit/S1.log\"\n");
  std::string out;
  EXPECT_EQ(fedrad::testing::Run({BinDir() + "/fedrad-site", "--config", d + "/site.textproto"}, d + "/a.log", &out), 1);
  EXPECT_THAT(out, HasSubstr("contains the data table's folder"));
  WriteCohortCsv(d + "/data/S1.csv", "S1", 20, 1);
  WriteAll(d + "/site.textproto",
           "coordinator_address: \"127.0.0.1:1\"\ntls { ca_cert: \"x\" cert: \"x\" key: \"x\" }\n"
           "data_csv: \"" + d + "/data/S1.csv\"\noutput_dir: \"" + d + "\"\naudit_log: \"" + d +
               "/audit/S1.log\"\n");
  EXPECT_EQ(fedrad::testing::Run({BinDir() + "/fedrad-site", "--config", d + "/site.textproto"}, d + "/b.log", &out), 1);
  EXPECT_THAT(out, HasSubstr("contains the audit log's folder"));
}

}  // namespace
}  // namespace fedrad::testing
