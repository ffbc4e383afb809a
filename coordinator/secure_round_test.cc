// The coordinator checks every signed message of a secure round the way it
// checks a plain verified contribution (coordinator/secure_round.h): a
// site's advert, shares, masked contribution and reveal must carry that
// site's valid signature over this study, spec and round. Sites answer here
// from a scripted host with real certificates of a test CA (core/pki);
// the session setup's first exchange (secagg.advertise) is where a forged,
// altered or misattributed answer is caught.
#include "coordinator/secure_round.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/pki.h"
#include "core/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proto/round_signing.h"
#include "proto/spec_hash.h"
#include "site_node/secure_agg.h"

namespace fedrad::coordinator {
namespace {

namespace fs = std::filesystem;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::fedrad::testing::StatusIs;

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Answers secagg.advertise with a signed advert per site, as `behaviour`
// says ("genuine", "altered", "impostor": signed by another site's key,
// "foreign_round": for another round id); every other kind with an
// unsigned OK answer (the tests stop at the adverts).
class SigningHost : public StudyHost {
 public:
  SigningHost(fs::path ids, v1::Study study) : ids_(std::move(ids)), study_(std::move(study)) {}

  std::map<std::string, std::string> behaviour;
  std::vector<std::string> kinds;  // every task kind sent, in order

  std::map<std::string, absl::StatusOr<v1::TaskResult>> Exchange(
      const std::map<std::string, v1::Task>& tasks, double) override {
    std::map<std::string, absl::StatusOr<v1::TaskResult>> out;
    for (const auto& [site, task] : tasks) {
      kinds.push_back(task.kind());
      v1::TaskResult r;
      r.set_task_id(task.task_id());
      r.set_kind(task.kind());
      if (task.kind() == "secagg.advertise") {
        const std::string how = behaviour.count(site) ? behaviour.at(site) : "genuine";
        v1::RoundMessage m;
        m.set_study_id("st");
        m.set_spec_sha256(StudySpecHash(study_));
        m.set_site(site);
        m.set_kind(task.kind());
        const std::string session = task.params().strings().at(site::kSecAggSession);
        m.set_round_id(how == "foreign_round" ? session + "x" : session);
        m.mutable_advert()->set_mask_public_key(std::string(32, 'm'));
        m.mutable_advert()->set_share_public_key(std::string(32, 's'));
        const std::string signer = how == "impostor" ? "C2" : site;
        auto key = pki::PrivateKey::Load((ids_ / (signer + ".key")).string());
        EXPECT_OK(key);
        auto signed_message = rounds::Sign(m, **key, ReadFile(ids_ / (signer + ".crt")));
        EXPECT_OK(signed_message);
        if (how == "altered") {
          v1::RoundMessage changed;
          EXPECT_TRUE(changed.ParseFromString(signed_message->body()));
          changed.mutable_advert()->set_mask_public_key(std::string(32, 'x'));
          signed_message->set_body(changed.SerializeAsString());
        }
        *r.mutable_signed_() = *signed_message;
      }
      out.emplace(site, r);
    }
    return out;
  }
  void OnSiteState(const std::string&, const std::string&) override {}
  void OnProgress(const std::string&, double, const std::string&) override {}
  bool Cancelled() const override { return false; }

 private:
  fs::path ids_;
  v1::Study study_;
};

class SecureRoundSignatures : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(::testing::TempDir()) /
           ("secure_round_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    ASSERT_OK(pki::InitCa((dir_ / "ca").string(), {}));
    for (const char* site : {"C1", "C2", "C3"}) {
      ASSERT_OK(pki::IssueIdentity((dir_ / "ca").string(), site, pki::Role::kSite,
                                   (dir_ / "ids").string()));
    }
    study_.set_secure_aggregation(true);
    for (const char* site : {"C1", "C2", "C3"}) study_.add_sites(site);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // RunSecureRound over C1..C3 with the adverts `behaviour` says.
  absl::Status Run(const std::map<std::string, std::string>& behaviour, SigningHost* host) {
    host->behaviour = behaviour;
    StudyContext ctx("st", study_, {"C1", "C2", "C3"}, host);
    rounds::Trust trust;
    trust.ca_cert_path = (dir_ / "ca" / "ca.crt").string();
    trust.crl_path = (dir_ / "ca" / "crl.pem").string();
    ctx.set_round_trust(trust);
    std::map<std::string, v1::Payload> by_site;
    for (const char* site : {"C1", "C2", "C3"}) by_site[site] = v1::Payload();
    return RunSecureRound(ctx, "debug.vector", by_site, {"C1", "C2", "C3"}).status();
  }

  fs::path dir_;
  v1::Study study_;
};

TEST_F(SecureRoundSignatures, GenuineAdvertsPassOnToTheShares) {
  SigningHost host(dir_ / "ids", study_);
  // The scripted host does not answer secagg.shares with signed shares, so
  // the round stops there: the adverts were accepted.
  absl::Status s = Run({}, &host);
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kDataLoss, HasSubstr("secagg.shares")));
  EXPECT_NE(std::find(host.kinds.begin(), host.kinds.end(), "secagg.shares"), host.kinds.end());
}

TEST_F(SecureRoundSignatures, AnAlteredAdvertIsRefusedNamingTheSite) {
  SigningHost host(dir_ / "ids", study_);
  EXPECT_THAT(Run({{"C3", "altered"}}, &host),
              StatusIs(absl::StatusCode::kUnauthenticated,
                       AllOf(HasSubstr("site C3"), HasSubstr("secagg.advertise"))));
  EXPECT_EQ(std::find(host.kinds.begin(), host.kinds.end(), "secagg.shares"), host.kinds.end());
}

TEST_F(SecureRoundSignatures, AnAdvertSignedByAnotherSiteIsRefused) {
  SigningHost host(dir_ / "ids", study_);
  absl::Status s = Run({{"C1", "impostor"}}, &host);
  EXPECT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.message()), HasSubstr("site C1"));
  EXPECT_EQ(std::find(host.kinds.begin(), host.kinds.end(), "secagg.shares"), host.kinds.end());
}

TEST_F(SecureRoundSignatures, AnAdvertForAnotherRoundIsRefused) {
  SigningHost host(dir_ / "ids", study_);
  EXPECT_THAT(Run({{"C2", "foreign_round"}}, &host),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("site C2")));
}

}  // namespace
}  // namespace fedrad::coordinator
