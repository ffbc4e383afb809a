// Mutual TLS and identity against a real fedrad-coordinator process on
// loopback: refused connections (no certificate, another CA's certificate,
// a revoked one, an expired one), identity from the certificate only,
// duplicate connections, protocol version mismatch, admin roles. Each
// refusal must leave a log line at the coordinator that says why.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <filesystem>
#include <memory>

#include "absl/strings/str_cat.h"
#include "core/pki.h"
#include "core/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proto/fedrad.grpc.pb.h"
#include "proto/transport.h"
#include "tests/sandbox_testutil.h"

namespace fedrad::testing {
namespace {

using ::fedrad::testing::StatusIs;

using ::testing::HasSubstr;
namespace fs = std::filesystem;

class FederationSecurity : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir("security");
    const std::string d = dir_->path();
    ca_ = d + "/ca";
    ASSERT_OK(pki::InitCa(ca_, {}));
    for (auto [name, role] : {std::pair<std::string, pki::Role>{"coordinator", pki::Role::kCoordinator},
                              {"S1", pki::Role::kSite},
                              {"S2", pki::Role::kSite},
                              {"R1", pki::Role::kSite},
                              {"alice", pki::Role::kAdmin},
                              {"dpo", pki::Role::kAuditor}}) {
      ASSERT_OK(pki::IssueIdentity(ca_, name, role, d + "/certs")) << name;
    }
    pki::SignOptions expired;
    expired.validity_days = 1;
    expired.not_before_offset_seconds = -3 * 86400;
    ASSERT_OK(pki::IssueIdentity(ca_, "OLD", pki::Role::kSite, d + "/certs", expired));
    ASSERT_OK(pki::Revoke(ca_, d + "/certs/R1.crt", "keyCompromise"));
    // Another CA issues a certificate claiming to be S1.
    ASSERT_OK(pki::InitCa(d + "/otherca", {"rogue CA"}));
    ASSERT_OK(pki::IssueIdentity(d + "/otherca", "S1", pki::Role::kSite, d + "/rogue"));

    WriteAll(d + "/coordinator.textproto",
             "listen_address: \"127.0.0.1:0\"\n"
             "tls { ca_cert: \"" + ca_ + "/ca.crt\" cert: \"" + d + "/certs/coordinator.crt\" key: \"" +
                 d + "/certs/coordinator.key\" crl: \"" + ca_ + "/crl.pem\" }\n"
             "data_dir: \"" + d + "/data\"\naudit_log: \"" + d + "/audit/coordinator.log\"\n"
             "port_file: \"" + d + "/port\"\nsite_wait_seconds: 1\n");
    log_ = d + "/coordinator.log";
    coordinator_ = Start({BinDir() + "/fedrad-coordinator", "--config", d + "/coordinator.textproto"}, log_);
    ASSERT_TRUE(WaitFor([&] { return ReadAll(d + "/port").find('\n') != std::string::npos; }))
        << ReadAll(log_);
    address_ = "127.0.0.1:" + std::to_string(std::atoi(ReadAll(d + "/port").c_str()));
  }
  static void TearDownTestSuite() {
    Terminate(coordinator_);
    delete dir_;
  }

  static transport::TlsFiles Files(const std::string& cert_dir, const std::string& name) {
    transport::TlsFiles f;
    f.ca_cert = ca_ + "/ca.crt";
    f.cert = dir_->path() + "/" + cert_dir + "/" + name + ".crt";
    f.key = dir_->path() + "/" + cert_dir + "/" + name + ".key";
    f.crl = ca_ + "/crl.pem";
    f.node_name = "test-client";
    return f;
  }

  // One Federation stream, kept open until destruction.
  struct Stream {
    std::unique_ptr<v1::Federation::Stub> stub;
    grpc::ClientContext context;
    std::unique_ptr<grpc::ClientReaderWriter<v1::SiteMessage, v1::CoordinatorMessage>> rw;
    ~Stream() {
      if (rw) {
        context.TryCancel();
        rw->Finish();
      }
    }
    absl::StatusOr<v1::Welcome> Hello(int version = transport::kProtocolVersion) {
      v1::SiteMessage hello;
      hello.mutable_hello()->set_protocol_version(version);
      v1::CoordinatorMessage reply;
      if (!rw->Write(hello) || !rw->Read(&reply)) {
        absl::Status s = transport::FromGrpcStatus(rw->Finish());
        rw.reset();
        return s.ok() ? absl::UnknownError("stream ended") : s;
      }
      if (!reply.has_welcome()) return absl::UnknownError("no welcome");
      return reply.welcome();
    }
  };

  static std::unique_ptr<Stream> Open(std::shared_ptr<grpc::ChannelCredentials> creds) {
    auto s = std::make_unique<Stream>();
    s->stub = v1::Federation::NewStub(transport::MakeChannel(address_, creds));
    transport::SetDeadline(&s->context, 20);
    s->rw = s->stub->Connect(&s->context);
    return s;
  }
  static std::unique_ptr<Stream> OpenAs(const std::string& cert_dir, const std::string& name) {
    auto creds = transport::MakeChannelCredentials(Files(cert_dir, name));
    EXPECT_OK(creds);
    return Open(*creds);
  }
  static bool LogSays(const std::string& text) {
    return WaitFor([&] { return ReadAll(log_).find(text) != std::string::npos; }, 10);
  }

  static TempDir* dir_;
  static std::string ca_, log_, address_;
  static Process coordinator_;
};

TempDir* FederationSecurity::dir_ = nullptr;
std::string FederationSecurity::ca_, FederationSecurity::log_, FederationSecurity::address_;
Process FederationSecurity::coordinator_;

TEST_F(FederationSecurity, SiteIdentityIsTheCertificateCommonName) {
  auto s2 = OpenAs("certs", "S2");
  auto welcome = s2->Hello();
  ASSERT_OK(welcome) << ReadAll(log_);
  EXPECT_EQ(welcome->site_id(), "S2");
  EXPECT_EQ(welcome->protocol_version(), transport::kProtocolVersion);
}

TEST_F(FederationSecurity, SecondConnectionForConnectedSiteIsRefused) {
  auto first = OpenAs("certs", "S1");
  ASSERT_OK(first->Hello());
  auto second = OpenAs("certs", "S1");
  auto refused = second->Hello();
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(std::string(refused.status().message()), HasSubstr("already connected"));
  EXPECT_TRUE(LogSays("refused site S1: site 'S1' is already connected"));
}

TEST_F(FederationSecurity, ConnectionWithoutCertificateIsRefused) {
  grpc::SslCredentialsOptions options;
  options.pem_root_certs = ReadAll(ca_ + "/ca.crt");
  auto s = Open(grpc::SslCredentials(options));
  EXPECT_THAT(s->Hello(), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_TRUE(LogSays("no client certificate")) << ReadAll(log_);
}

TEST_F(FederationSecurity, CertificateFromAnotherCaIsRefused) {
  auto s = OpenAs("rogue", "S1");
  EXPECT_THAT(s->Hello(), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_TRUE(LogSays("not issued by this study's CA (issuer rogue CA)")) << ReadAll(log_);
}

TEST_F(FederationSecurity, RevokedCertificateIsRefused) {
  auto s = OpenAs("certs", "R1");
  EXPECT_THAT(s->Hello(), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_TRUE(LogSays("certificate CN=R1 revoked")) << ReadAll(log_);
}

TEST_F(FederationSecurity, ExpiredCertificateIsRefused) {
  auto s = OpenAs("certs", "OLD");
  EXPECT_THAT(s->Hello(), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_TRUE(LogSays("certificate CN=OLD expired on")) << ReadAll(log_);
}

TEST_F(FederationSecurity, ProtocolVersionMismatchIsRefusedNamingBothVersions) {
  auto s = OpenAs("certs", "S2");
  auto refused = s->Hello(transport::kProtocolVersion + 98);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(refused.status().message()),
              HasSubstr(absl::StrCat("speaks ", transport::kProtocolVersion + 98,
                                     ", this coordinator speaks ", transport::kProtocolVersion)));
}

TEST_F(FederationSecurity, AdminCallsNeedTheAdminRole) {
  auto call = [&](const std::string& who, bool submit) {
    auto creds = transport::MakeChannelCredentials(Files("certs", who));
    auto stub = v1::Admin::NewStub(transport::MakeChannel(address_, *creds));
    grpc::ClientContext context;
    transport::SetDeadline(&context, 10);
    if (submit) {
      v1::SubmitStudyRequest request;
      request.mutable_study()->set_name("x");  // enables nothing: InvalidArgument if authorised
      v1::SubmitStudyResponse response;
      return transport::FromGrpcStatus(stub->SubmitStudy(&context, request, &response));
    }
    v1::ListStudiesResponse response;
    return transport::FromGrpcStatus(stub->ListStudies(&context, v1::Empty(), &response));
  };
  EXPECT_EQ(call("S1", true).code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(call("S1", false).code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(call("dpo", true).code(), absl::StatusCode::kPermissionDenied);
  EXPECT_OK(call("dpo", false));
  EXPECT_EQ(call("alice", true).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_OK(call("alice", false));
}

// The `fedrad study` commands end to end with an admin certificate: a study
// whose only site never connects fails at the start, saying so, and its
// results.json can be fetched.
TEST_F(FederationSecurity, StudyCommandsSubmitStatusWatchAndResults) {
  const std::string d = dir_->path();
  WriteAll(d + "/admin.textproto", "coordinator_address: \"" + address_ + "\"\ntls { ca_cert: \"" + ca_ +
                                       "/ca.crt\" cert: \"" + d + "/certs/alice.crt\" key: \"" + d +
                                       "/certs/alice.key\" }\n");
  WriteAll(d + "/study.textproto", "name: \"lonely\"\nsites: \"NOBODY\"\ncohort_summary { enabled: true }\n");
  std::string out;
  ASSERT_EQ(fedrad::testing::Run({FedradBin(), "study", "submit", d + "/study.textproto", "--admin-config",
                 d + "/admin.textproto"},
                d + "/submit.log", &out),
            0)
      << out;
  std::string id = out.substr(0, out.find('\n'));
  EXPECT_THAT(id, ::testing::StartsWith("lonely-"));
  EXPECT_EQ(fedrad::testing::Run({FedradBin(), "study", "watch", id, "--admin-config", d + "/admin.textproto"},
                d + "/watch.log", &out),
            1);
  EXPECT_THAT(out, HasSubstr("FAILED"));
  EXPECT_THAT(out, HasSubstr("NOBODY: not connected"));
  ASSERT_EQ(fedrad::testing::Run({FedradBin(), "study", "status", id, "--admin-config", d + "/admin.textproto"},
                d + "/status.log", &out),
            0);
  EXPECT_THAT(out, HasSubstr("FAILED"));
  ASSERT_EQ(fedrad::testing::Run({FedradBin(), "study", "results", id, "--admin-config", d + "/admin.textproto", "--out",
                 d + "/results.json"},
                d + "/results.log", &out),
            0)
      << out;
  auto results = nlohmann::json::parse(ReadAll(d + "/results.json"));
  EXPECT_EQ(results["study"]["state"], "FAILED");
  EXPECT_THAT(results["study"]["excluded_sites"]["NOBODY"].get<std::string>(),
              HasSubstr("not connected within 1 s"));
  // The results are kept in the coordinator's data dir.
  EXPECT_TRUE(fs::exists(d + "/data/studies/" + id + "/results.json"));
}

// A site started before its coordinator keeps retrying with backoff and
// connects once the coordinator is up; when the coordinator goes away and
// comes back, the site reconnects by itself.
TEST(SiteReconnect, RetriesWithBackoffUntilTheCoordinatorIsUp) {
  TempDir dir("reconnect");
  const std::string d = dir.path();
  ASSERT_OK(pki::InitCa(d + "/ca", {}));
  ASSERT_OK(pki::IssueIdentity(d + "/ca", "coordinator", pki::Role::kCoordinator, d + "/certs"));
  ASSERT_OK(pki::IssueIdentity(d + "/ca", "S1", pki::Role::kSite, d + "/certs"));
  // A free port: bind to port 0, note it, release it.
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr = {};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  const std::string address = "127.0.0.1:" + std::to_string(ntohs(addr.sin_port));
  close(fd);
  auto tls = [&](const std::string& who) {
    return "tls { ca_cert: \"" + d + "/ca/ca.crt\" crl: \"" + d + "/ca/crl.pem\" cert: \"" + d +
           "/certs/" + who + ".crt\" key: \"" + d + "/certs/" + who + ".key\" }\n";
  };
  WriteCohortCsv(d + "/S1.csv", "S1", 20, 1);
  WriteAll(d + "/site.textproto", "coordinator_address: \"" + address + "\"\n" + tls("S1") +
                                      "data_csv: \"" + d + "/S1.csv\"\noutput_dir: \"" + d +
                                      "/out\"\naudit_log: \"" + d + "/audit/S1.log\"\n"
                                      "state_dir: \"" + d + "/state\"\n");
  WriteAll(d + "/coordinator.textproto", "listen_address: \"" + address + "\"\n" + tls("coordinator") +
                                             "data_dir: \"" + d + "/data\"\naudit_log: \"" + d +
                                             "/audit/coordinator.log\"\n");
  Process site = Start({BinDir() + "/fedrad-site", "--config", d + "/site.textproto"}, d + "/site.log");
  auto site_log_count = [&](const std::string& text) {
    std::string log = ReadAll(d + "/site.log");
    int n = 0;
    for (size_t at = log.find(text); at != std::string::npos; at = log.find(text, at + 1)) ++n;
    return n;
  };
  EXPECT_TRUE(WaitFor([&] { return site_log_count("retrying in") >= 2; }, 30)) << ReadAll(d + "/site.log");
  Process coordinator =
      Start({BinDir() + "/fedrad-coordinator", "--config", d + "/coordinator.textproto"}, d + "/c1.log");
  EXPECT_TRUE(WaitFor([&] { return site_log_count("as site 'S1'") == 1; }, 30)) << ReadAll(d + "/site.log");
  Terminate(coordinator);
  EXPECT_TRUE(WaitFor([&] { return site_log_count("lost") >= 1; }, 30)) << ReadAll(d + "/site.log");
  coordinator = Start({BinDir() + "/fedrad-coordinator", "--config", d + "/coordinator.textproto"}, d + "/c2.log");
  EXPECT_TRUE(WaitFor([&] { return site_log_count("as site 'S1'") == 2; }, 30)) << ReadAll(d + "/site.log");
  Terminate(site);
  Terminate(coordinator);
}

}  // namespace
}  // namespace fedrad::testing
