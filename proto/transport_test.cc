#include "proto/transport.h"

#include <filesystem>

#include "core/csv.h"
#include "core/pki.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proto/node_audit.h"
#include "proto/payload.h"

namespace fedrad {
namespace {

using ::testing::HasSubstr;

TEST(Transport, StatusConversionKeepsCodeAndMessage) {
  absl::Status s = absl::PermissionDeniedError("below k");
  grpc::Status g = transport::ToGrpcStatus(s);
  EXPECT_EQ(g.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(g.error_message(), "below k");
  EXPECT_EQ(transport::FromGrpcStatus(g), s);
  EXPECT_TRUE(transport::FromGrpcStatus(grpc::Status::OK).ok());
}

class VerifyPeer : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("fedrad-transport-" + std::to_string(getpid()));
    std::filesystem::remove_all(dir_);
    ca_ = (dir_ / "ca").string();
    ASSERT_TRUE(pki::InitCa(ca_, {}).ok());
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string Issue(const std::string& ca, const std::string& name, pki::SignOptions o = {}) {
    EXPECT_TRUE(pki::IssueIdentity(ca, name, pki::Role::kSite, (dir_ / "certs").string(), o).ok());
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
  EXPECT_TRUE(Verify(pem).ok());
  auto who = transport::DescribeCertificate(pem);
  ASSERT_TRUE(who.ok());
  EXPECT_EQ(who->common_name, "S1");
  EXPECT_EQ(who->role, "site");
}

TEST_F(VerifyPeer, SaysWhyItRefuses) {
  EXPECT_THAT(std::string(Verify("").message()), HasSubstr("no client certificate"));
  pki::SignOptions expired;
  expired.validity_days = 1;
  expired.not_before_offset_seconds = -3 * 86400;
  EXPECT_THAT(std::string(Verify(Issue(ca_, "OLD", expired)).message()), HasSubstr("expired on"));
  std::string revoked = Issue(ca_, "R1");
  ASSERT_TRUE(pki::Revoke(ca_, (dir_ / "certs" / "R1.crt").string(), "keyCompromise").ok());
  EXPECT_THAT(std::string(Verify(revoked).message()), HasSubstr("revoked"));
  ASSERT_TRUE(pki::InitCa((dir_ / "other").string(), {"other CA"}).ok());
  absl::Status foreign = Verify(Issue((dir_ / "other").string(), "X"));
  EXPECT_EQ(foreign.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(std::string(foreign.message()), HasSubstr("not issued by this study's CA (issuer other CA)"));
}

TEST_F(VerifyPeer, UnreadableCrlRefusesEveryone) {
  std::string pem = Issue(ca_, "S1");
  absl::Status s = transport::VerifyPeerCertificate(pem, ca_ + "/ca.crt", ca_ + "/missing.pem");
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
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
