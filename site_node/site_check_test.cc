// Tests of `fedrad-site --check` (site_check.h). The local steps run on a
// study CA, certificates and a data table made here; the network steps run
// against loopback only: a closed port, a listener that never speaks TLS,
// and a minimal in-process Federation server with the transport layer's
// mutual-TLS credentials that answers a Hello with a Welcome.
#include "site_node/site_check.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <sstream>
#include <string>

#include <grpcpp/grpcpp.h>

#include "absl/strings/str_cat.h"
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
using ::testing::HasSubstr;

// A Federation service that answers the first Hello with a Welcome carrying
// `version` and the caller's certificate CN, then ends the stream; or, with
// `duplicate`, refuses it as the coordinator refuses a second stream from a
// site that is already connected.
class FakeFederation final : public v1::Federation::Service {
 public:
  FakeFederation(int version, bool duplicate) : version_(version), duplicate_(duplicate) {}
  grpc::Status Connect(
      grpc::ServerContext* context,
      grpc::ServerReaderWriter<v1::CoordinatorMessage, v1::SiteMessage>* stream) override {
    auto who = transport::GetPeerIdentity(*context, /*insecure=*/false);
    if (!who.ok()) return transport::ToGrpcStatus(who.status());
    v1::SiteMessage hello;
    if (!stream->Read(&hello) || !hello.has_hello()) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "expected a Hello");
    }
    if (duplicate_) {
      return grpc::Status(grpc::StatusCode::ALREADY_EXISTS,
                          "site '" + who->common_name + "' is already connected");
    }
    v1::CoordinatorMessage welcome;
    welcome.mutable_welcome()->set_protocol_version(version_);
    welcome.mutable_welcome()->set_coordinator_id("fake-coordinator");
    welcome.mutable_welcome()->set_site_id(who->common_name);
    stream->Write(welcome);
    return grpc::Status::OK;
  }

 private:
  const int version_;
  const bool duplicate_;
};

class SiteCheckTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/fedrad_site_check_XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    ca_ = dir_ + "/ca";
    ASSERT_OK(pki::InitCa(ca_, {}));
    ASSERT_OK(pki::IssueIdentity(ca_, "coordinator", pki::Role::kCoordinator, dir_));
    ASSERT_OK(pki::IssueIdentity(ca_, "S1", pki::Role::kSite, dir_));
    // 12 patients: more than the default k = 10.
    std::string csv = "patient_id,age,volume\n";
    for (int i = 0; i < 12; ++i) absl::StrAppend(&csv, "P", i, ",", 50 + i, ",", i * 1.5, "\n");
    ASSERT_OK(WriteStringToFile(dir_ + "/cohort.csv", csv));
    WriteConfig();
  }
  void TearDown() override {
    if (server_) server_->Shutdown();
    fs::remove_all(dir_);
  }

  // The files a config names; tests change some before WriteConfig().
  struct Files {
    std::string ca_cert, cert, key, crl;
  };
  Files DefaultFiles() const {
    return {ca_ + "/ca.crt", dir_ + "/S1.crt", dir_ + "/S1.key", ca_ + "/crl.pem"};
  }

  // Writes site.textproto; `extra` is appended (top-level fields only).
  void WriteConfig(const std::string& address = "127.0.0.1:1",
                   const std::string& extra = "") {
    WriteConfigWith(DefaultFiles(), address, extra);
  }
  void WriteConfigWith(const Files& f, const std::string& address = "127.0.0.1:1",
                       const std::string& extra = "") {
    std::string text = absl::StrCat(
        "coordinator_address: \"", address, "\"\n",
        "tls { ca_cert: \"", f.ca_cert, "\" cert: \"", f.cert, "\" key: \"", f.key,
        "\" crl: \"", f.crl, "\" }\n",
        "data_csv: \"", dir_, "/cohort.csv\"\n",
        "output_dir: \"", dir_, "/output\"\n",
        "audit_log: \"", dir_, "/audit/site.log\"\n", extra);
    if (extra.find("coordinator_name") == std::string::npos) {
      text += "coordinator_name: \"coordinator\"\n";
    }
    ASSERT_OK(WriteStringToFile(config(), text));
  }
  std::string config() const { return dir_ + "/site.textproto"; }

  SiteCheckReport Offline() {
    SiteCheckOptions options;
    options.offline = true;
    return CheckSite(config(), options);
  }
  SiteCheckReport Online(double timeout = 5) {
    SiteCheckOptions options;
    options.network_timeout_seconds = timeout;
    return CheckSite(config(), options);
  }
  static CheckOutcome OutcomeOf(const SiteCheckReport& r, const std::string& step) {
    const CheckStep* s = r.Find(step);
    EXPECT_NE(s, nullptr) << "no step " << step;
    return s ? s->outcome : CheckOutcome::kSkipped;
  }
  static std::string DetailOf(const SiteCheckReport& r, const std::string& step) {
    const CheckStep* s = r.Find(step);
    return s ? s->detail + " | " + s->advice : "";
  }

  // Starts the fake coordinator with the transport layer's mutual TLS using
  // `crl` (the coordinator's own copy of the CRL); returns its port.
  int StartCoordinator(int version = transport::kProtocolVersion,
                       const std::string& crl = "", bool duplicate = false) {
    service_ = std::make_unique<FakeFederation>(version, duplicate);
    transport::TlsFiles files{ca_ + "/ca.crt", dir_ + "/coordinator.crt",
                              dir_ + "/coordinator.key", crl.empty() ? ca_ + "/crl.pem" : crl,
                              false, "test-coordinator"};
    auto creds = transport::MakeServerCredentials(files);
    EXPECT_OK(creds);
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", *creds, &port);
    builder.RegisterService(service_.get());
    server_ = builder.BuildAndStart();
    EXPECT_NE(server_, nullptr);
    return port;
  }

  std::string dir_, ca_;
  std::unique_ptr<FakeFederation> service_;
  std::unique_ptr<grpc::Server> server_;
};

TEST_F(SiteCheckTest, AllLocalStepsPassForAWellConfiguredSite) {
  SiteCheckReport r = Offline();
  EXPECT_TRUE(r.ok()) << FormatSiteCheckReport(r);
  for (const char* step : {"config", "data", "storage", "key", "cert", "ca"}) {
    EXPECT_EQ(OutcomeOf(r, step), CheckOutcome::kOk) << step << ": " << DetailOf(r, step);
  }
  for (const char* step : {"dns", "tcp", "tls", "protocol"}) {
    EXPECT_EQ(OutcomeOf(r, step), CheckOutcome::kSkipped) << step;
  }
  EXPECT_THAT(DetailOf(r, "data"), HasSubstr("12 patients, 3 columns"));
  EXPECT_THAT(DetailOf(r, "cert"), HasSubstr("site 'S1'"));
}

TEST_F(SiteCheckTest, ReportPrintsOneLinePerStepAndExitCodeZeroWhenAllPass) {
  std::ostringstream out;
  SiteCheckOptions options;
  options.offline = true;
  EXPECT_EQ(RunSiteCheck(config(), out, options), 0);
  EXPECT_THAT(out.str(), HasSubstr("[ OK ] config"));
  EXPECT_THAT(out.str(), HasSubstr("[SKIP] protocol"));
  EXPECT_THAT(out.str(), HasSubstr("site check passed"));
}

TEST_F(SiteCheckTest, ConfigSyntaxErrorFailsConfigAndSkipsEverythingElse) {
  ASSERT_OK(WriteStringToFile(config(), "coordinator_address: \"x:1\"\nno_such_field: 3\n"));
  std::ostringstream out;
  EXPECT_EQ(RunSiteCheck(config(), out, {}), 1);
  SiteCheckReport r = Offline();
  EXPECT_EQ(OutcomeOf(r, "config"), CheckOutcome::kFail);
  EXPECT_THAT(DetailOf(r, "config"), HasSubstr("no_such_field"));
  for (const char* step : {"data", "key", "cert", "ca"}) {
    EXPECT_EQ(OutcomeOf(r, step), CheckOutcome::kSkipped) << step;
  }
  EXPECT_THAT(out.str(), HasSubstr("[FAIL] config"));
  EXPECT_THAT(out.str(), HasSubstr("-> "));
  EXPECT_THAT(out.str(), HasSubstr("site check FAILED"));
}

TEST_F(SiteCheckTest, MissingConfigFileSaysWhichPathToPass) {
  SiteCheckReport r = CheckSite(dir_ + "/nope.textproto", {.offline = true});
  EXPECT_FALSE(r.ok());
  EXPECT_THAT(DetailOf(r, "config"), HasSubstr("--config"));
}

TEST_F(SiteCheckTest, MissingDataTableFailsOnlyTheDataStep) {
  fs::remove(dir_ + "/cohort.csv");
  SiteCheckReport r = Offline();
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(OutcomeOf(r, "data"), CheckOutcome::kFail);
  EXPECT_THAT(DetailOf(r, "data"), HasSubstr("cohort.csv"));
  EXPECT_EQ(OutcomeOf(r, "cert"), CheckOutcome::kOk);
}

TEST_F(SiteCheckTest, DuplicatePatientIdsFailTheDataStep) {
  ASSERT_OK(WriteStringToFile(dir_ + "/cohort.csv", "patient_id,age\nP1,50\nP1,51\n"));
  SiteCheckReport r = Offline();
  EXPECT_EQ(OutcomeOf(r, "data"), CheckOutcome::kFail);
}

TEST_F(SiteCheckTest, FewerPatientsThanKWarnsButPasses) {
  ASSERT_OK(WriteStringToFile(dir_ + "/cohort.csv", "patient_id,age\nP1,50\nP2,51\n"));
  SiteCheckReport r = Offline();
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(OutcomeOf(r, "data"), CheckOutcome::kWarn);
  EXPECT_THAT(DetailOf(r, "data"), HasSubstr("k=10"));
}

TEST_F(SiteCheckTest, KeyReadableByOtherUsersFails) {
  ASSERT_EQ(::chmod((dir_ + "/S1.key").c_str(), 0644), 0);
  SiteCheckReport r = Offline();
  EXPECT_EQ(OutcomeOf(r, "key"), CheckOutcome::kFail);
  EXPECT_THAT(DetailOf(r, "key"), HasSubstr("0644"));
  EXPECT_THAT(DetailOf(r, "key"), HasSubstr("chmod 600"));
  EXPECT_EQ(OutcomeOf(r, "cert"), CheckOutcome::kSkipped);
}

TEST_F(SiteCheckTest, KeyOfAnotherIdentityDoesNotMatchTheCertificate) {
  ASSERT_OK(pki::IssueIdentity(ca_, "S2", pki::Role::kSite, dir_));
  Files f = DefaultFiles();
  f.key = dir_ + "/S2.key";
  WriteConfigWith(f);
  SiteCheckReport r = Offline();
  EXPECT_EQ(OutcomeOf(r, "key"), CheckOutcome::kOk);
  EXPECT_EQ(OutcomeOf(r, "cert"), CheckOutcome::kFail);
  EXPECT_THAT(DetailOf(r, "cert"), HasSubstr("not a pair"));
}

TEST_F(SiteCheckTest, ExpiredCertificateFailsWithTheDateAndRotationAdvice) {
  fs::create_directories(dir_ + "/old");
  pki::SignOptions options;
  options.validity_days = 1;
  options.not_before_offset_seconds = -3 * 86400;
  ASSERT_OK(pki::IssueIdentity(ca_, "S1", pki::Role::kSite, dir_ + "/old", options));
  Files f = DefaultFiles();
  f.cert = dir_ + "/old/S1.crt";
  f.key = dir_ + "/old/S1.key";
  WriteConfigWith(f);
  SiteCheckReport r = Offline();
  EXPECT_EQ(OutcomeOf(r, "cert"), CheckOutcome::kFail);
  EXPECT_THAT(DetailOf(r, "cert"), HasSubstr("expired on"));
  EXPECT_THAT(DetailOf(r, "cert"), HasSubstr("Rotate a certificate"));
}

TEST_F(SiteCheckTest, CertificateExpiringWithinThirtyDaysWarnsButPasses) {
  fs::create_directories(dir_ + "/short");
  pki::SignOptions options;
  options.validity_days = 10;
  ASSERT_OK(pki::IssueIdentity(ca_, "S1", pki::Role::kSite, dir_ + "/short", options));
  Files f = DefaultFiles();
  f.cert = dir_ + "/short/S1.crt";
  f.key = dir_ + "/short/S1.key";
  WriteConfigWith(f);
  SiteCheckReport r = Offline();
  EXPECT_TRUE(r.ok()) << FormatSiteCheckReport(r);
  EXPECT_EQ(OutcomeOf(r, "cert"), CheckOutcome::kWarn);
}

TEST_F(SiteCheckTest, CoordinatorCertificateIsNotASiteCertificate) {
  Files f = DefaultFiles();
  f.cert = dir_ + "/coordinator.crt";
  f.key = dir_ + "/coordinator.key";
  WriteConfigWith(f);
  SiteCheckReport r = Offline();
  EXPECT_EQ(OutcomeOf(r, "cert"), CheckOutcome::kFail);
  EXPECT_THAT(DetailOf(r, "cert"), HasSubstr("not a site certificate"));
}

TEST_F(SiteCheckTest, CertificateFromAnotherStudyCaFailsTheCaStep) {
  ASSERT_OK(pki::InitCa(dir_ + "/other", {}));
  Files f = DefaultFiles();
  f.ca_cert = dir_ + "/other/ca.crt";
  f.crl = dir_ + "/other/crl.pem";
  WriteConfigWith(f);
  SiteCheckReport r = Offline();
  EXPECT_EQ(OutcomeOf(r, "cert"), CheckOutcome::kOk);
  EXPECT_EQ(OutcomeOf(r, "ca"), CheckOutcome::kFail);
  EXPECT_THAT(DetailOf(r, "ca"), HasSubstr("same study CA"));
}

TEST_F(SiteCheckTest, RevokedCertificateFailsTheCaStep) {
  ASSERT_OK(pki::Revoke(ca_, dir_ + "/S1.crt", "keyCompromise"));
  SiteCheckReport r = Offline();
  EXPECT_EQ(OutcomeOf(r, "ca"), CheckOutcome::kFail);
  EXPECT_THAT(DetailOf(r, "ca"), HasSubstr("revoked"));
}

TEST_F(SiteCheckTest, MissingCrlFileFailsTheCaStep) {
  Files f = DefaultFiles();
  f.crl = dir_ + "/missing-crl.pem";
  WriteConfigWith(f);
  SiteCheckReport r = Offline();
  EXPECT_EQ(OutcomeOf(r, "ca"), CheckOutcome::kFail);
  EXPECT_THAT(DetailOf(r, "ca"), HasSubstr("crl.pem"));
}

TEST_F(SiteCheckTest, NothingListeningFailsTheTcpStepAndSkipsTheRest) {
  // A port that was free a moment ago (bound, then closed).
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  int port = ntohs(addr.sin_port);
  ::close(fd);
  WriteConfig(absl::StrCat("127.0.0.1:", port));
  SiteCheckReport r = Online(2);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(OutcomeOf(r, "dns"), CheckOutcome::kOk);
  EXPECT_EQ(OutcomeOf(r, "tcp"), CheckOutcome::kFail);
  EXPECT_THAT(DetailOf(r, "tcp"), HasSubstr("refused"));
  EXPECT_THAT(DetailOf(r, "tcp"), HasSubstr("is the coordinator running"));
  EXPECT_EQ(OutcomeOf(r, "tls"), CheckOutcome::kSkipped);
  EXPECT_EQ(OutcomeOf(r, "protocol"), CheckOutcome::kSkipped);
}

TEST_F(SiteCheckTest, ListenerThatNeverSpeaksTlsFailsTheTlsStep) {
  // The kernel completes the TCP handshake from the backlog; nobody answers
  // the ClientHello.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(::listen(fd, 4), 0);
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  WriteConfig(absl::StrCat("127.0.0.1:", ntohs(addr.sin_port)));
  SiteCheckReport r = Online(1);
  ::close(fd);
  EXPECT_EQ(OutcomeOf(r, "tcp"), CheckOutcome::kOk);
  EXPECT_EQ(OutcomeOf(r, "tls"), CheckOutcome::kFail);
  EXPECT_THAT(DetailOf(r, "tls"), HasSubstr("no TLS answer"));
  EXPECT_EQ(OutcomeOf(r, "protocol"), CheckOutcome::kSkipped);
}

TEST_F(SiteCheckTest, EveryStepPassesAgainstACoordinatorOverMutualTls) {
  int port = StartCoordinator();
  WriteConfig(absl::StrCat("127.0.0.1:", port));
  SiteCheckReport r = Online();
  EXPECT_TRUE(r.ok()) << FormatSiteCheckReport(r);
  for (const auto& step : r.steps) {
    EXPECT_EQ(step.outcome, CheckOutcome::kOk) << step.name << ": " << step.detail;
  }
  EXPECT_THAT(DetailOf(r, "tls"), HasSubstr("certificate accepted"));
  EXPECT_THAT(DetailOf(r, "protocol"), HasSubstr("site id 'S1'"));
}

TEST_F(SiteCheckTest, WrongCoordinatorNameFailsTheTlsStepListingTheCertificateNames) {
  int port = StartCoordinator();
  WriteConfig(absl::StrCat("127.0.0.1:", port), "coordinator_name: \"fedrad.example.org\"\n");
  SiteCheckReport r = Online();
  EXPECT_EQ(OutcomeOf(r, "tls"), CheckOutcome::kFail);
  EXPECT_THAT(DetailOf(r, "tls"), HasSubstr("fedrad.example.org"));
  EXPECT_THAT(DetailOf(r, "tls"), HasSubstr("coordinator, localhost"));
}

TEST_F(SiteCheckTest, CoordinatorThatRevokedTheSiteFailsTheTlsStep) {
  // The site's copy of the CRL predates the revocation, so its local steps
  // pass; the coordinator's copy lists the site's serial.
  fs::copy_file(ca_ + "/crl.pem", dir_ + "/site-crl.pem");
  ASSERT_OK(pki::Revoke(ca_, dir_ + "/S1.crt"));
  int port = StartCoordinator(transport::kProtocolVersion, ca_ + "/crl.pem");
  Files f = DefaultFiles();
  f.crl = dir_ + "/site-crl.pem";
  WriteConfigWith(f, absl::StrCat("127.0.0.1:", port));
  SiteCheckReport r = Online();
  EXPECT_EQ(OutcomeOf(r, "ca"), CheckOutcome::kOk);
  EXPECT_EQ(OutcomeOf(r, "tls"), CheckOutcome::kFail);
  EXPECT_THAT(DetailOf(r, "tls"), HasSubstr("refused this site's certificate"));
  EXPECT_EQ(OutcomeOf(r, "protocol"), CheckOutcome::kSkipped);
}

TEST_F(SiteCheckTest, ProtocolVersionMismatchFailsTheProtocolStep) {
  int port = StartCoordinator(transport::kProtocolVersion + 1);
  WriteConfig(absl::StrCat("127.0.0.1:", port));
  SiteCheckReport r = Online();
  EXPECT_EQ(OutcomeOf(r, "tls"), CheckOutcome::kOk);
  EXPECT_EQ(OutcomeOf(r, "protocol"), CheckOutcome::kFail);
  EXPECT_THAT(DetailOf(r, "protocol"), HasSubstr("protocol version mismatch"));
}

TEST_F(SiteCheckTest, SiteAlreadyConnectedPassesTheProtocolStep) {
  // The service is running: the coordinator refuses the check's second stream
  // after it has checked the protocol version.
  int port = StartCoordinator(transport::kProtocolVersion, "", /*duplicate=*/true);
  WriteConfig(absl::StrCat("127.0.0.1:", port));
  SiteCheckReport r = Online();
  EXPECT_TRUE(r.ok()) << FormatSiteCheckReport(r);
  EXPECT_EQ(OutcomeOf(r, "protocol"), CheckOutcome::kOk);
  EXPECT_THAT(DetailOf(r, "protocol"), HasSubstr("already has its stream"));
}

}  // namespace
}  // namespace fedrad::site
