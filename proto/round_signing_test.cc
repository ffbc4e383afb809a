// Signed round messages (proto/round_signing.h): a site's signature checks
// out; any change to the body, another signer's certificate, a certificate
// from another CA, a non-site role, a revoked certificate, or a message of
// another study, spec, round or signer set is refused.
#include "proto/round_signing.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/testing/status_matchers.h"
#include "gtest/gtest.h"

namespace fedrad::rounds {
namespace {

namespace fs = std::filesystem;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

class RoundSigningTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(::testing::TempDir()) /
           ("round_signing_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    ASSERT_OK(pki::InitCa((dir_ / "ca").string(), {}));
    ASSERT_OK(pki::InitCa((dir_ / "other_ca").string(), {}));
    for (const char* site : {"C1", "C2"}) {
      ASSERT_OK(pki::IssueIdentity((dir_ / "ca").string(), site, pki::Role::kSite,
                                   (dir_ / "ids").string()));
    }
    ASSERT_OK(pki::IssueIdentity((dir_ / "ca").string(), "coord", pki::Role::kCoordinator,
                                 (dir_ / "ids").string()));
    ASSERT_OK(pki::IssueIdentity((dir_ / "other_ca").string(), "C1", pki::Role::kSite,
                                 (dir_ / "other").string()));
    trust_.ca_cert_path = (dir_ / "ca" / "ca.crt").string();
    trust_.crl_path = (dir_ / "ca" / "crl.pem").string();
    message_.set_study_id("s1");
    message_.set_spec_sha256("ab12");
    message_.set_site("C1");
    message_.set_round_id("models/m/fit/dev/eval/1");
    message_.set_kind("models.derivatives");
    message_.mutable_contribution()->add_summed(1.5);
    message_.mutable_contribution()->add_summed_names("gradient");
    message_.mutable_contribution()->add_summed_sizes(1);
  }

  v1::SignedMessage SignAs(const std::string& dir, const std::string& name,
                           const v1::RoundMessage& m) {
    auto key = pki::PrivateKey::Load((dir_ / dir / (name + ".key")).string());
    EXPECT_OK(key);
    auto signed_message = Sign(m, **key, ReadFile((dir_ / dir / (name + ".crt")).string()));
    EXPECT_OK(signed_message);
    return *signed_message;
  }

  fs::path dir_;
  Trust trust_;
  v1::RoundMessage message_;
  Expectation expect_{"s1", "ab12", {"C1", "C2"}, "models/m/fit/dev/eval/1"};
};

TEST_F(RoundSigningTest, AGenuineMessageVerifiesAndRoundTrips) {
  v1::SignedMessage s = SignAs("ids", "C1", message_);
  ASSERT_OK_AND_ASSIGN(v1::RoundMessage m, Verify(s, trust_, expect_));
  EXPECT_EQ(m.site(), "C1");
  ASSERT_EQ(m.contribution().summed_size(), 1);
  EXPECT_EQ(m.contribution().summed(0), 1.5);
}

TEST_F(RoundSigningTest, AnAlteredBodyIsRefused) {
  v1::SignedMessage s = SignAs("ids", "C1", message_);
  v1::RoundMessage altered = message_;
  altered.mutable_contribution()->set_summed(0, 1.5000001);
  std::string body;
  ASSERT_TRUE(altered.SerializeToString(&body));
  s.set_body(body);
  absl::StatusOr<v1::RoundMessage> m = Verify(s, trust_, expect_);
  EXPECT_EQ(m.status().code(), absl::StatusCode::kUnauthenticated) << m.status();
}

TEST_F(RoundSigningTest, AMessageClaimingAnotherSiteIsRefused) {
  // C2 signs a message that says it is C1's.
  v1::SignedMessage s = SignAs("ids", "C2", message_);
  absl::StatusOr<v1::RoundMessage> m = Verify(s, trust_, expect_);
  EXPECT_EQ(m.status().code(), absl::StatusCode::kUnauthenticated) << m.status();
  EXPECT_NE(m.status().message().find("signed by 'C2'"), std::string::npos) << m.status();
}

TEST_F(RoundSigningTest, ACertificateFromAnotherCaIsRefused) {
  v1::SignedMessage s = SignAs("other", "C1", message_);
  absl::StatusOr<v1::RoundMessage> m = Verify(s, trust_, expect_);
  EXPECT_EQ(m.status().code(), absl::StatusCode::kUnauthenticated) << m.status();
}

TEST_F(RoundSigningTest, ACoordinatorCertificateCannotSignForASite) {
  v1::RoundMessage m = message_;
  m.set_site("coord");
  v1::SignedMessage s = SignAs("ids", "coord", m);
  Expectation any = expect_;
  any.signers.clear();
  absl::StatusOr<v1::RoundMessage> got = Verify(s, trust_, any);
  EXPECT_EQ(got.status().code(), absl::StatusCode::kUnauthenticated) << got.status();
}

TEST_F(RoundSigningTest, ARevokedCertificateIsRefused) {
  v1::SignedMessage s = SignAs("ids", "C1", message_);
  ASSERT_OK(pki::Revoke((dir_ / "ca").string(), (dir_ / "ids" / "C1.crt").string()));
  absl::StatusOr<v1::RoundMessage> m = Verify(s, trust_, expect_);
  EXPECT_EQ(m.status().code(), absl::StatusCode::kUnauthenticated) << m.status();
}

TEST_F(RoundSigningTest, AnotherStudySpecRoundOrSignerIsRefused) {
  v1::SignedMessage s = SignAs("ids", "C1", message_);
  Expectation e = expect_;
  e.study_id = "s2";
  EXPECT_EQ(Verify(s, trust_, e).status().code(), absl::StatusCode::kPermissionDenied);
  e = expect_;
  e.spec_sha256 = "cd34";
  EXPECT_EQ(Verify(s, trust_, e).status().code(), absl::StatusCode::kPermissionDenied);
  e = expect_;
  e.round_id = "models/m/fit/dev/eval/2";  // a replay of round 1 offered as round 2
  EXPECT_EQ(Verify(s, trust_, e).status().code(), absl::StatusCode::kPermissionDenied);
  e = expect_;
  e.signers = {"C2", "C3"};
  EXPECT_EQ(Verify(s, trust_, e).status().code(), absl::StatusCode::kPermissionDenied);
}

}  // namespace
}  // namespace fedrad::rounds
