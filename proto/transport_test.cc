#include "proto/transport.h"

#include <filesystem>

#include "core/csv.h"
#include "core/pki.h"
#include "core/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proto/node_audit.h"
#include "proto/payload.h"

namespace fedrad {
namespace {

using ::fedrad::testing::StatusIs;

using ::testing::HasSubstr;

TEST(Transport, StatusConversionKeepsCodeAndMessage) {
  absl::Status s = absl::PermissionDeniedError("below k");
  grpc::Status g = transport::ToGrpcStatus(s);
  EXPECT_EQ(g.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(g.error_message(), "below k");
  EXPECT_EQ(transport::FromGrpcStatus(g), s);
  EXPECT_OK(transport::FromGrpcStatus(grpc::Status::OK));
}

class VerifyPeer : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("fedrad-transport-" + std::to_string(getpid()));
    std::filesystem::remove_all(dir_);
    ca_ = (dir_ / "ca").string();
    ASSERT_OK(pki::InitCa(ca_, {}));
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string Issue(const std::string& ca, const std::string& name, pki::SignOptions o = {}) {
    EXPECT_OK(pki::IssueIdentity(ca, name, pki::Role::kSite, (dir_ / "certs").string(), o));
    return *ReadFileToString((dir_ / "certs" / (name + ".crt")).string());
  }
  absl::Status Verify(const std::string& pem) {
    return transport::VerifyPeerCertificate(pem, ca_ + "/ca.crt", ca_ + "/crl.pem");
  }
  std::filesystem::path dir_;
  std::string ca_;
};

TEST_F(VerifyPeer, AcceptsCertificateFromTheStudyCa) {
  std::string pem = Issue(ca_, "S1");
  EXPECT_OK(Verify(pem));
  ASSERT_OK_AND_ASSIGN(auto who, transport::DescribeCertificate(pem));
  EXPECT_EQ(who.common_name, "S1");
  EXPECT_EQ(who.role, "site");
}

TEST_F(VerifyPeer, SaysWhyItRefuses) {
  EXPECT_THAT(std::string(Verify("").message()), HasSubstr("no client certificate"));
  pki::SignOptions expired;
  expired.validity_days = 1;
  expired.not_before_offset_seconds = -3 * 86400;
  EXPECT_THAT(std::string(Verify(Issue(ca_, "OLD", expired)).message()), HasSubstr("expired on"));
  std::string revoked = Issue(ca_, "R1");
  ASSERT_OK(pki::Revoke(ca_, (dir_ / "certs" / "R1.crt").string(), "keyCompromise"));
  EXPECT_THAT(std::string(Verify(revoked).message()), HasSubstr("revoked"));
  ASSERT_OK(pki::InitCa((dir_ / "other").string(), {"other CA"}));
  absl::Status foreign = Verify(Issue((dir_ / "other").string(), "X"));
  EXPECT_EQ(foreign.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(std::string(foreign.message()), HasSubstr("not issued by this study's CA (issuer other CA)"));
}

TEST_F(VerifyPeer, UnreadableCrlRefusesEveryone) {
  std::string pem = Issue(ca_, "S1");
  absl::Status s = transport::VerifyPeerCertificate(pem, ca_ + "/ca.crt", ca_ + "/missing.pem");
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(VerifyPeer, ChainIsCheckedBeforeTheCrl) {
  // A certificate of another CA, checked with this CA's CRL: the chain is
  // what is wrong, not the CRL.
  ASSERT_OK(pki::InitCa((dir_ / "other").string(), {"other CA"}));
  absl::Status s = Verify(Issue((dir_ / "other").string(), "X"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("not issued by this study's CA"));
  EXPECT_THAT(std::string(s.message()), ::testing::Not(HasSubstr("CRL")));
  // The right chain with another CA's CRL: the CRL is named.
  absl::Status crl = transport::VerifyPeerCertificate(
      Issue(ca_, "S1"), ca_ + "/ca.crt", (dir_ / "other" / "crl.pem").string());
  EXPECT_EQ(crl.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(crl.message()), HasSubstr("is not signed by the CA"));
}

class ServerCertificate : public VerifyPeer {
 protected:
  std::string IssueAs(const std::string& name, pki::Role role) {
    EXPECT_OK(pki::IssueIdentity(ca_, name, role, (dir_ / "ids").string()));
    return *ReadFileToString((dir_ / "ids" / (name + ".crt")).string());
  }
  absl::Status Check(const std::string& pem, const std::string& name) {
    return transport::CheckServerCertificate(pem, ca_ + "/ca.crt", ca_ + "/crl.pem", name,
                                             "coordinator");
  }
};

TEST_F(ServerCertificate, AcceptsTheCoordinatorByAnyOfItsNames) {
  std::string pem = IssueAs("coordinator", pki::Role::kCoordinator);
  EXPECT_OK(Check(pem, "coordinator"));
  EXPECT_OK(Check(pem, "COORDINATOR"));
  EXPECT_OK(Check(pem, "localhost"));
  EXPECT_OK(Check(pem, "127.0.0.1"));
  EXPECT_OK(Check(pem, "::1"));
  EXPECT_OK(Check(pem, ""));  // no name to check
}

TEST_F(ServerCertificate, RefusalsNameTheFieldTheExpectedAndThePresented) {
  absl::Status name = Check(IssueAs("impostor", pki::Role::kCoordinator), "coordinator");
  EXPECT_EQ(name.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(std::string(name.message()),
              HasSubstr("coordinator_name: expected a certificate for 'coordinator', the server "
                        "presented CN=impostor (role coordinator, names impostor, localhost, "
                        "127.0.0.1, ::1)"));
  EXPECT_THAT(Check(IssueAs("c2", pki::Role::kCoordinator), "10.0.0.1"),
              StatusIs(absl::StatusCode::kPermissionDenied));

  absl::Status role = Check(IssueAs("coordinator", pki::Role::kSite), "coordinator");
  EXPECT_EQ(role.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(std::string(role.message()),
              HasSubstr("coordinator_address: certificate CN=coordinator has role 'site', "
                        "expected 'coordinator'"));

  std::string revoked = IssueAs("old-coordinator", pki::Role::kCoordinator);
  ASSERT_OK(pki::Revoke(ca_, (dir_ / "ids" / "old-coordinator.crt").string(), "superseded"));
  EXPECT_THAT(std::string(Check(revoked, "old-coordinator").message()),
              HasSubstr("tls.crl: the coordinator's certificate is refused: certificate "
                        "CN=old-coordinator revoked"));

  ASSERT_OK(pki::InitCa((dir_ / "other").string(), {"other CA"}));
  ASSERT_OK(pki::IssueIdentity((dir_ / "other").string(), "coordinator", pki::Role::kCoordinator,
                               (dir_ / "oids").string()));
  absl::Status chain =
      Check(*ReadFileToString((dir_ / "oids" / "coordinator.crt").string()), "coordinator");
  EXPECT_THAT(std::string(chain.message()),
              HasSubstr("tls.ca_cert: the coordinator's certificate is not signed by this CA"));
  EXPECT_THAT(std::string(chain.message()), HasSubstr("(issuer other CA)"));
}

TEST_F(VerifyPeer, RevocationListSpellsSerialsAsPeerIdentity) {
  std::string pem = Issue(ca_, "S3");
  ASSERT_OK_AND_ASSIGN(auto before,
                       transport::ReadRevocationList(ca_ + "/crl.pem", ca_ + "/ca.crt"));
  EXPECT_TRUE(before.reasons.empty());
  ASSERT_OK(pki::Revoke(ca_, (dir_ / "certs" / "S3.crt").string(), "keyCompromise"));
  ASSERT_OK_AND_ASSIGN(auto after,
                       transport::ReadRevocationList(ca_ + "/crl.pem", ca_ + "/ca.crt"));
  EXPECT_EQ(after.crl_number, before.crl_number + 1);
  ASSERT_OK_AND_ASSIGN(auto who, transport::DescribeCertificate(pem));
  ASSERT_EQ(after.reasons.count(who.serial_hex), 1u) << who.serial_hex;
  EXPECT_EQ(after.reasons.at(who.serial_hex), "keyCompromise");
  // Another CA's CRL is refused (a forged list cannot cut anyone off).
  ASSERT_OK(pki::InitCa((dir_ / "other").string(), {"other CA"}));
  EXPECT_EQ(transport::ReadRevocationList((dir_ / "other" / "crl.pem").string(), ca_ + "/ca.crt")
                .status()
                .code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(ConnectionFailure, IsSaidAsTheConfigFieldInvolved) {
  using transport::ExplainConnectionFailure;
  // Texts as gRPC 1.51 words them.
  EXPECT_THAT(ExplainConnectionFailure(
                  absl::UnavailableError(
                      "DNS resolution failed for nowhere.invalid:7443: C-ares status is not "
                      "ARES_SUCCESS qtype=A name=nowhere.invalid is_balancer=0: Domain name not "
                      "found"),
                  "nowhere.invalid:7443", ""),
              HasSubstr("coordinator_address: cannot resolve host 'nowhere.invalid'"));
  EXPECT_THAT(ExplainConnectionFailure(
                  absl::UnavailableError("failed to connect to all addresses; last error: "
                                         "UNKNOWN: ipv4:127.0.0.1:9: Failed to connect to remote "
                                         "host: Connection refused"),
                  "127.0.0.1:9", ""),
              HasSubstr("coordinator_address: nothing listens at 127.0.0.1:9"));
  EXPECT_THAT(ExplainConnectionFailure(
                  absl::UnavailableError("failed to connect to all addresses; last error: "
                                         "UNKNOWN: ipv4:127.0.0.1:9: Ssl handshake failed: "
                                         "SSL_ERROR_SSL: error:0A000418:SSL routines::tlsv1 "
                                         "alert unknown ca"),
                  "127.0.0.1:9", ""),
              HasSubstr("the coordinator refused this site's certificate"));
  // This side's own refusal is the better explanation.
  EXPECT_EQ(ExplainConnectionFailure(absl::UnavailableError("Handshake failed"), "c:1",
                                     "coordinator_name: expected ..."),
            "coordinator_name: expected ...");
  // The coordinator's own words (a refused hello, a dropped stream) stay.
  EXPECT_EQ(ExplainConnectionFailure(absl::UnauthenticatedError("certificate revoked"), "c:1", ""),
            "certificate revoked");
}

TEST(Payload, ArraysRoundTripAndMissingNamesAreNamed) {
  v1::Payload p;
  AddVector(&p, "sum", {1, 2, 3});
  AddMatrix(&p, "h", 2, 2, {1, 0, 0, 1});
  AddScalar(&p, "n", 12);
  EXPECT_EQ(*GetVector(p, "sum"), (std::vector<double>{1, 2, 3}));
  int64_t r = 0, c = 0;
  EXPECT_EQ(GetMatrix(p, "h", &r, &c)->size(), 4u);
  EXPECT_EQ(r, 2);
  EXPECT_EQ(*GetScalar(p, "n"), 12);
  absl::Status missing = GetVector(p, "mean").status();
  EXPECT_EQ(missing.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(missing.message()), HasSubstr("sum, h, n"));
  AddArray(&p, "bad", {3}, {1, 2});
  EXPECT_EQ(GetVector(p, "bad").status().code(), absl::StatusCode::kDataLoss);
}

TEST(Payload, DigestDoesNotDependOnMapInsertionOrder) {
  v1::Payload a, b;
  (*a.mutable_strings())["x"] = "1";
  (*a.mutable_strings())["y"] = "2";
  (*b.mutable_strings())["y"] = "2";
  (*b.mutable_strings())["x"] = "1";
  EXPECT_EQ(WireDigest(a), WireDigest(b));
  v1::Payload parsed;
  ASSERT_TRUE(parsed.ParseFromString(DeterministicBytes(a)));
  EXPECT_EQ(WireDigest(parsed), WireDigest(a));
}

}  // namespace
}  // namespace fedrad
