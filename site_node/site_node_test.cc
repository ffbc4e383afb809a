// Tests of the site daemon's connection (site_node.cc) against an
// in-process fake coordinator on loopback (plaintext, insecure_for_tests):
// what the site says in its Hello, that a task it has not approved is
// refused with PERMISSION_DENIED and the reason, and that a coordinator of
// another protocol version stops it.
#include "site_node/site_node.h"

#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>
#include <thread>

#include <grpcpp/grpcpp.h>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "core/csv.h"
#include "core/pki.h"
#include "core/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proto/fedrad.grpc.pb.h"
#include "proto/transport.h"

namespace fedrad::site {
namespace {

namespace fs = std::filesystem;
using ::fedrad::testing::StatusIs;
using ::testing::HasSubstr;

// Welcomes the first stream with `version`; then (same version) sends one
// task and keeps the site's first result. Records the Hello.
class FakeCoordinator final : public v1::Federation::Service {
 public:
  explicit FakeCoordinator(int version) : version_(version) {}

  grpc::Status Connect(
      grpc::ServerContext* context,
      grpc::ServerReaderWriter<v1::CoordinatorMessage, v1::SiteMessage>* stream) override {
    v1::SiteMessage in;
    if (!stream->Read(&in) || !in.has_hello()) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "expected a Hello");
    }
    {
      absl::MutexLock lock(&mu_);
      hello_ = in.hello();
      hellos_++;
    }
    v1::CoordinatorMessage welcome;
    welcome.mutable_welcome()->set_protocol_version(version_);
    welcome.mutable_welcome()->set_coordinator_id("fake-coordinator");
    welcome.mutable_welcome()->set_site_id("insecure-site");
    stream->Write(welcome);
    if (version_ != transport::kProtocolVersion) return grpc::Status::OK;
    v1::CoordinatorMessage task;
    task.mutable_task()->set_task_id("st1/e0/1/insecure-site");
    task.mutable_task()->set_study_id("st1");
    task.mutable_task()->set_kind("cohort.moments");
    task.mutable_task()->mutable_study()->set_name("unapproved");
    task.mutable_task()->mutable_study()->mutable_cohort_summary()->set_enabled(true);
    stream->Write(task);
    while (stream->Read(&in)) {
      if (!in.has_result()) continue;  // heartbeats
      absl::MutexLock lock(&mu_);
      result_ = in.result();
      has_result_ = true;
      break;
    }
    // Keep the stream open until the site goes (a closed stream would make
    // it reconnect).
    while (!context->IsCancelled() && stream->Read(&in)) {
    }
    return grpc::Status::OK;
  }

  bool AwaitResult(absl::Duration limit) {
    absl::MutexLock lock(&mu_);
    return mu_.AwaitWithTimeout(absl::Condition(&has_result_), limit);
  }
  v1::Hello hello() {
    absl::MutexLock lock(&mu_);
    return hello_;
  }
  v1::TaskResult result() {
    absl::MutexLock lock(&mu_);
    return result_;
  }

 private:
  const int version_;
  absl::Mutex mu_;
  v1::Hello hello_ ABSL_GUARDED_BY(mu_);
  int hellos_ ABSL_GUARDED_BY(mu_) = 0;
  v1::TaskResult result_ ABSL_GUARDED_BY(mu_);
  bool has_result_ ABSL_GUARDED_BY(mu_) = false;
};

class SiteNodeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    setenv("FEDRAD_ALLOW_INSECURE_FOR_TESTS", "1", 1);
    dir_ = (fs::temp_directory_path() /
            absl::StrCat("fedrad-site-node-test-", getpid(), "-",
                         ::testing::UnitTest::GetInstance()->current_test_info()->name()))
               .string();
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    // The audit log signs its checkpoints with the site's key.
    ASSERT_OK(pki::InitCa(dir_ + "/ca", {}));
    ASSERT_OK(pki::IssueIdentity(dir_ + "/ca", "S1", pki::Role::kSite, dir_ + "/ids").status());
    std::string csv = "patient_id,age\n";
    for (int i = 0; i < 12; ++i) absl::StrAppend(&csv, "P", i, ",", 50 + i, "\n");
    ASSERT_OK(WriteStringToFile(dir_ + "/cohort.csv", csv));
  }
  void TearDown() override {
    if (server_) server_->Shutdown();
    fs::remove_all(dir_);
  }

  int StartCoordinator(int version) {
    service_ = std::make_unique<FakeCoordinator>(version);
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(service_.get());
    server_ = builder.BuildAndStart();
    EXPECT_NE(server_, nullptr);
    return port;
  }

  v1::SiteConfig Config(int port) const {
    v1::SiteConfig c;
    c.set_coordinator_address(absl::StrCat("127.0.0.1:", port));
    c.mutable_tls()->set_insecure_for_tests(true);
    c.mutable_tls()->set_key(dir_ + "/ids/S1.key");
    c.mutable_tls()->set_cert(dir_ + "/ids/S1.crt");
    c.set_data_csv(dir_ + "/cohort.csv");
    c.set_output_dir(dir_ + "/output");
    c.set_state_dir(dir_ + "/state");
    c.set_audit_log(dir_ + "/audit/site.log");
    return c;
  }

  std::string dir_;
  std::unique_ptr<FakeCoordinator> service_;
  std::unique_ptr<grpc::Server> server_;
};

TEST_F(SiteNodeTest, SaysHelloThenRefusesATaskOfAStudyItsOperatorDidNotApprove) {
  const int port = StartCoordinator(transport::kProtocolVersion);
  ASSERT_OK_AND_ASSIGN(auto node, SiteNode::Create(Config(port)));
  absl::Status run = absl::UnknownError("not run");
  std::thread runner([&] { run = node->Run(); });
  const bool answered = service_->AwaitResult(absl::Seconds(60));
  node->Shutdown();
  runner.join();
  EXPECT_OK(run);  // Shutdown() ends Run() without an error
  ASSERT_TRUE(answered);

  const v1::Hello hello = service_->hello();
  EXPECT_EQ(hello.protocol_version(), transport::kProtocolVersion);
  EXPECT_FALSE(hello.check_only());
  EXPECT_EQ(hello.min_cell_count(), 10);  // the default k
  EXPECT_EQ(hello.instance_id().size(), 32u);
  EXPECT_EQ(hello.audit_log_id(), AuditLogId(dir_ + "/audit/site.log"));

  const v1::TaskResult result = service_->result();
  EXPECT_EQ(result.task_id(), "st1/e0/1/insecure-site");
  EXPECT_EQ(result.status_code(), static_cast<int>(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(result.status_message(), HasSubstr("has not approved study unapproved"));
  EXPECT_FALSE(result.has_payload());
}

TEST_F(SiteNodeTest, ACoordinatorOfAnotherProtocolVersionStopsTheSite) {
  const int port = StartCoordinator(transport::kProtocolVersion + 1);
  ASSERT_OK_AND_ASSIGN(auto node, SiteNode::Create(Config(port)));
  // Run() returns by itself: retrying cannot help.
  EXPECT_THAT(node->Run(), StatusIs(absl::StatusCode::kFailedPrecondition,
                                    HasSubstr("protocol version mismatch: this site speaks")));
}

TEST(AuditLogId, NamesALogByItsFirstRecordAndIsEmptyWithoutOne) {
  const std::string path =
      (fs::temp_directory_path() / absl::StrCat("fedrad-audit-log-id-", getpid())).string();
  ASSERT_OK(WriteStringToFile(path, std::string("{\"seq\":0,\"hash\":\"") + std::string(64, 'a') +
                                        "\"}\n{\"seq\":1,\"hash\":\"" + std::string(64, 'b') +
                                        "\"}\n"));
  EXPECT_EQ(AuditLogId(path), std::string(64, 'a'));
  ASSERT_OK(WriteStringToFile(path, "{\"seq\":0,\"hash\":\"not hex\"}\n"));
  EXPECT_EQ(AuditLogId(path), "");
  fs::remove(path);
  EXPECT_EQ(AuditLogId(path), "");
  EXPECT_NE(NewInstanceId(), NewInstanceId());
}

}  // namespace
}  // namespace fedrad::site
