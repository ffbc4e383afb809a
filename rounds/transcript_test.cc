// rounds/transcript.h: the sum of a round (site order, layouts, masked
// contributions), the caching Verifier (same verdicts as rounds::Verify, each
// message checked once, a revocation seen), verified transcripts
// (equivocation, rounds by site) and the audit-record form of a signed
// message.
#include "rounds/transcript.h"

#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "core/testing/status_matchers.h"
#include "gtest/gtest.h"
#include "core/secagg.h"
#include "core/secagg_rounds.h"
#include "proto/node_audit.h"
#include "proto/payload.h"

namespace fedrad::rounds {
namespace {

using ::fedrad::testing::StatusIs;

namespace fs = std::filesystem;

v1::RoundMessage Contribution(const std::string& site, const std::string& round,
                              const std::vector<double>& g, double n) {
  v1::Payload released;
  AddVector(&released, "gradient", g);
  AddScalar(&released, "n", n);
  (*released.mutable_strings())["note"] = "plain";
  v1::Payload inputs;
  AddVector(&inputs, "beta", {0.5});
  absl::StatusOr<v1::Contribution> c = MakeContribution(released, {"n", "gradient"}, inputs);
  EXPECT_OK(c);
  v1::RoundMessage m;
  m.set_study_id("s1");
  m.set_spec_sha256("ab12");
  m.set_site(site);
  m.set_round_id(round);
  m.set_kind("models.derivatives");
  *m.mutable_contribution() = *c;
  return m;
}

TEST(SumRound, AddsSiteBySiteInNameOrder) {
  // Values whose floating-point sum depends on the order: the result must be
  // ((0 + A) + B) + C whatever order the messages come in.
  const v1::RoundMessage a = Contribution("A", "r", {1e16, 1}, 10);
  const v1::RoundMessage b = Contribution("B", "r", {1, 2}, 20);
  const v1::RoundMessage c = Contribution("C", "r", {-1e16, 3}, 30);
  absl::StatusOr<Sums> s1 = SumRound(std::vector<v1::RoundMessage>{c, a, b});
  absl::StatusOr<Sums> s2 = SumRound(std::vector<v1::RoundMessage>{a, b, c});
  ASSERT_OK(s1);
  ASSERT_OK(s2);
  EXPECT_EQ(s1->at("gradient"), s2->at("gradient"));
  EXPECT_EQ(s1->at("gradient")[0], ((0.0 + 1e16) + 1.0) + -1e16);
  EXPECT_EQ(s1->at("n")[0], 60);
  EXPECT_EQ(s1->count("note"), 0u);  // plain values are not summed
  EXPECT_EQ(InputString(a, "note"), "plain");
  EXPECT_EQ(*InputArray(a, "beta"), std::vector<double>{0.5});
}

TEST(SumRound, RefusesOtherLayoutsAndMaskedContributions) {
  v1::RoundMessage a = Contribution("A", "r", {1, 2}, 10);
  v1::RoundMessage b = Contribution("B", "r", {1, 2, 3}, 10);
  EXPECT_THAT(SumRound(std::vector<v1::RoundMessage>{a, b}),
              StatusIs(absl::StatusCode::kInvalidArgument));
  v1::RoundMessage broken = a;
  broken.mutable_contribution()->set_summed_sizes(0, 7);
  EXPECT_EQ(SummedArrays(broken).status().code(), absl::StatusCode::kInvalidArgument);
  v1::RoundMessage masked = a;
  masked.mutable_contribution()->add_masked(42);
  EXPECT_EQ(SumRound(std::vector<v1::RoundMessage>{masked}).status().code(),
            absl::StatusCode::kUnimplemented);
  EXPECT_THAT(SumRound(std::vector<v1::RoundMessage>{}),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(AuditSummary, RoundTripsTheSignedMessage) {
  v1::SignedMessage s;
  s.set_body("body");
  s.set_signature("sig");
  s.set_certificate_pem("pem");
  const std::string summary = AuditSummaryOf(Contribution("A", "models/m/prepare", {1}, 10), s);
  EXPECT_NE(summary.find("round message 'models/m/prepare' of site 'A'"), std::string::npos);
  ASSERT_OK_AND_ASSIGN(v1::SignedMessage back, SignedFromAuditSummary(summary));
  EXPECT_EQ(back.body(), "body");
  EXPECT_EQ(back.signature(), "sig");
  EXPECT_THAT(SignedFromAuditSummary("released: n=12"),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(Agree, AllowsReorderingNotChoices) {
  EXPECT_TRUE(Agree({1.0, 0.0, -2.0}, {1.0 + 1e-15, 0.0, -2.0}));
  EXPECT_FALSE(Agree({1.0, 0.0}, {1.0 + 1e-9, 0.0}));
  EXPECT_FALSE(Agree({1.0}, {1.0, 0.0}));
  EXPECT_TRUE(Agree({0.0}, {0.0}));
  EXPECT_FALSE(Agree({0.0}, {1e-300}));
}

class VerifierTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(::testing::TempDir()) /
           ("rounds_verifier_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    ASSERT_OK(pki::InitCa((dir_ / "ca").string(), {}));
    for (const char* site : {"A", "B"}) {
      ASSERT_OK(pki::IssueIdentity((dir_ / "ca").string(), site, pki::Role::kSite,
                                   (dir_ / "ids").string()));
    }
    trust_ = {(dir_ / "ca" / "ca.crt").string(), (dir_ / "ca" / "crl.pem").string(), 0};
  }
  v1::SignedMessage SignAs(const std::string& name, const v1::RoundMessage& m) {
    auto key = pki::PrivateKey::Load((dir_ / "ids" / (name + ".key")).string());
    EXPECT_OK(key);
    std::ifstream in(dir_ / "ids" / (name + ".crt"));
    std::stringstream pem;
    pem << in.rdbuf();
    auto s = Sign(m, **key, pem.str());
    EXPECT_OK(s);
    return *s;
  }
  fs::path dir_;
  Trust trust_;
  Expectation expect_{"s1", "ab12", {}, ""};
};

TEST_F(VerifierTest, SameVerdictsAsVerifyAndEachMessageCheckedOnce) {
  Verifier verifier(trust_);
  const v1::SignedMessage a = SignAs("A", Contribution("A", "r0", {1, 2}, 10));
  ASSERT_OK(verifier.Verify(a, expect_));
  ASSERT_OK(verifier.Verify(a, expect_));
  EXPECT_EQ(verifier.messages_cached(), 1u);
  // A cached message is still held to each call's expectation.
  Expectation other = expect_;
  other.round_id = "r1";
  EXPECT_EQ(verifier.Verify(a, other).status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(Verify(a, trust_, other).status().code(), absl::StatusCode::kPermissionDenied);
  // The same signature with another body or certificate is checked, and refused.
  v1::SignedMessage altered = a;
  v1::RoundMessage body = Contribution("A", "r0", {1, 3}, 10);
  altered.set_body(DeterministicBytes(body));
  EXPECT_EQ(verifier.Verify(altered, expect_).status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(Verify(altered, trust_, expect_).status().code(), absl::StatusCode::kUnauthenticated);
  v1::SignedMessage other_cert = a;
  other_cert.set_certificate_pem(SignAs("B", body).certificate_pem());
  EXPECT_EQ(verifier.Verify(other_cert, expect_).status().code(),
            absl::StatusCode::kUnauthenticated);
  // B's certificate claiming A.
  EXPECT_EQ(verifier.Verify(SignAs("B", body), expect_).status().code(),
            absl::StatusCode::kUnauthenticated);
}

TEST_F(VerifierTest, ARevocationIsSeenEvenForCachedMessages) {
  Verifier verifier(trust_);
  const v1::SignedMessage a = SignAs("A", Contribution("A", "r0", {1, 2}, 10));
  ASSERT_OK(verifier.Verify(a, expect_));
  ASSERT_OK(
      pki::Revoke((dir_ / "ca").string(), (dir_ / "ids" / "A.crt").string(), "keyCompromise"));
  std::this_thread::sleep_for(std::chrono::milliseconds(250));  // the files are looked at every 0.2 s
  absl::StatusOr<v1::RoundMessage> m = verifier.Verify(a, expect_);
  EXPECT_EQ(m.status().code(), absl::StatusCode::kUnauthenticated) << m.status();
}

TEST_F(VerifierTest, TranscriptsRefuseEquivocationAndIndexRoundsBySite) {
  Verifier verifier(trust_);
  v1::Transcript t;
  *t.add_messages() = SignAs("A", Contribution("A", "r0", {1, 2}, 10));
  *t.add_messages() = SignAs("B", Contribution("B", "r0", {3, 4}, 20));
  *t.add_messages() = SignAs("A", Contribution("A", "r0", {1, 2}, 10));  // the same again: fine
  absl::StatusOr<VerifiedTranscript> vt = VerifiedTranscript::Build(t, expect_, &verifier);
  ASSERT_OK(vt);
  EXPECT_EQ(vt->size(), 2u);
  EXPECT_OK(vt->RoundOf("r0", {"B", "A"}));
  EXPECT_EQ(vt->RoundOf("r0", {"A"}).status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_OK(vt->RoundFrom("r0", {"A"}));
  EXPECT_EQ(vt->RoundOf("r1", {"A"}).status().code(), absl::StatusCode::kNotFound);
  absl::StatusOr<Sums> sums = SumRound(*vt->RoundOf("r0", {"A", "B"}));
  ASSERT_OK(sums);
  EXPECT_EQ(sums->at("gradient"), (std::vector<double>{4, 6}));
  // A second, different message of A for the same round.
  *t.add_messages() = SignAs("A", Contribution("A", "r0", {9, 9}, 10));
  absl::StatusOr<VerifiedTranscript> bad = VerifiedTranscript::Build(t, expect_, &verifier);
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("two different messages"), std::string::npos);
  // A message the spec's signers do not include.
  Expectation only_b = expect_;
  only_b.signers = {"B"};
  EXPECT_EQ(VerifiedTranscript::Build(t, only_b, &verifier).status().code(),
            absl::StatusCode::kPermissionDenied);
}

// A secure round's reveal that holds only its site's self seed is accepted
// against the commitment in that site's signed contribution, even without
// a valid signature of its own; a seed that does not match, or a reveal of
// a site whose contribution has no commitment, must carry a valid signature.
TEST_F(VerifierTest, SelfSeedRevealsAreCheckedAgainstTheSignedCommitment) {
  const secagg::Key32 seed = *secagg::RandomSeed();
  auto contribution = [&](bool commit) {
    v1::RoundMessage c = Contribution("A", "r0", {1, 2}, 10);
    if (commit) c.mutable_contribution()->set_self_seed_sha256(secagg::SelfSeedCommitment(seed));
    return SignAs("A", c);
  };
  auto reveal = [&](const secagg::Key32& revealed, bool signature_ok) {
    v1::RoundMessage r;
    r.set_study_id("s1");
    r.set_spec_sha256("ab12");
    r.set_site("A");
    r.set_round_id("r0");
    r.set_kind("secagg.reveal");
    r.mutable_reveal()->add_survivors("A");
    r.mutable_reveal()->set_self_seed(secagg::KeyBytes(revealed));
    v1::SignedMessage signed_reveal = SignAs("A", r);
    if (!signature_ok) signed_reveal.set_signature(std::string(64, 'x'));
    return signed_reveal;
  };
  auto build = [&](bool commit, const secagg::Key32& revealed, bool signature_ok) {
    Verifier verifier(trust_);
    v1::Transcript t;
    *t.add_messages() = reveal(revealed, signature_ok);  // before its contribution: order is free
    *t.add_messages() = contribution(commit);
    return VerifiedTranscript::Build(t, expect_, &verifier);
  };
  const secagg::Key32 other = *secagg::RandomSeed();
  ASSERT_OK_AND_ASSIGN(VerifiedTranscript by_commitment, build(true, seed, false));
  ASSERT_EQ(by_commitment.SecAgg().size(), 1u);
  EXPECT_EQ(by_commitment.SecAgg()[0]->reveal().self_seed(), secagg::KeyBytes(seed));
  EXPECT_THAT(build(true, other, false), StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_THAT(build(false, seed, false), StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_OK(build(false, seed, true));
  EXPECT_OK(build(true, seed, true));
  // Held to the expectation like any message: a reveal naming another
  // study is refused, though its seed matches.
  v1::SignedMessage foreign = reveal(seed, false);
  v1::RoundMessage body;
  ASSERT_TRUE(body.ParseFromString(foreign.body()));
  body.set_study_id("s2");
  foreign.set_body(body.SerializeAsString());
  Verifier verifier(trust_);
  v1::Transcript t;
  *t.add_messages() = contribution(true);
  *t.add_messages() = foreign;
  EXPECT_THAT(VerifiedTranscript::Build(t, expect_, &verifier),
              StatusIs(absl::StatusCode::kPermissionDenied));
}

}  // namespace
}  // namespace fedrad::rounds
