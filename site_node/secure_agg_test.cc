// The site's secure-aggregation handlers (site_node/secure_agg.h) driven in
// process for four sites with real certificates: setup, masking, reveal and
// the sum (proto/secure_sum.h) equal the plain sum when D drops before
// masking; and every refusal: two participants, a forged advert, masking
// twice with other values, a contradicting or self-dropping reveal request.
#include "site_node/secure_agg.h"

#include <filesystem>

#include "absl/strings/str_split.h"
#include "core/csv.h"
#include "core/pki.h"
#include "core/status.h"
#include "core/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proto/payload.h"
#include "proto/secure_sum.h"
#include "proto/task_kinds.h"
#include "site_node/study_checkpoint.h"
#include "site_node/study_policy.h"

namespace fedrad::site {
namespace {

namespace fs = std::filesystem;
namespace sg = ::fedrad::kinds::secagg;
using ::testing::HasSubstr;

const std::vector<std::string> kSites = {"A", "B", "C", "D"};
constexpr char kSession[] = "secagg/e0/r1";

class SecureAggTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(::testing::TempDir()) /
           ("secure_agg_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    ASSERT_OK(pki::InitCa((dir_ / "ca").string(), {}));
    for (const auto& s : kSites) {
      ASSERT_OK(
          pki::IssueIdentity((dir_ / "ca").string(), s, pki::Role::kSite, (dir_ / "ids").string()));
    }
    table_ = *ParseCsv("patient_id\n1\n2\n3\n", "test");
    study_.set_name("secure");
    for (const auto& s : kSites) study_.add_sites(s);
    study_.set_secure_aggregation(true);
    RegisterSecAggTasks(registry_);
  }

  v1::Task MakeTask(const std::string& kind, std::map<std::string, std::string> strings,
                    const std::vector<v1::SignedMessage>& transcript = {}) {
    v1::Task t;
    t.set_study_id("study1");
    t.set_kind(kind);
    *t.mutable_study() = study_;
    // Text params as they are; list params ("secagg.participants", ...) given
    // as names joined by newlines.
    for (auto& [k, v] : strings) {
      bool list = false;
      for (const kinds::List* f : {&sg::kParticipants, &sg::kSurvivors, &sg::kUnresponsive}) {
        if (k == f->name) {
          kinds::Put(t.mutable_params(), *f, absl::StrSplit(v, '\n', absl::SkipEmpty()));
          list = true;
        }
      }
      if (!list) (*t.mutable_params()->mutable_strings())[k] = v;
    }
    for (const auto& m : transcript) *t.mutable_transcript()->add_messages() = m;
    return t;
  }

  TaskContext Ctx(const std::string& site, const v1::Task* task) {
    TaskContext ctx;
    ctx.site_id = site;
    ctx.task = task;
    ctx.table = &table_;
    ctx.state = &state_[site];
    ctx.ca_cert_path = (dir_ / "ca" / "ca.crt").string();
    ctx.crl_path = (dir_ / "ca" / "crl.pem").string();
    ctx.cert_path = (dir_ / "ids" / (site + ".crt")).string();
    ctx.key_path = (dir_ / "ids" / (site + ".key")).string();
    ctx.output_dir = (dir_ / "out" / site).string();
    fs::create_directories(StudyStateDir(ctx.output_dir));
    return ctx;
  }

  // Runs a secagg.* kind at `site`; the signed message, or the error.
  absl::StatusOr<v1::SignedMessage> Run(const std::string& site, const v1::Task& task) {
    TaskContext ctx = Ctx(site, &task);
    absl::StatusOr<TaskOutput> out = registry_.Find(task.kind())->handler(ctx);
    if (!out.ok()) return out.status();
    EXPECT_FALSE(out->audit_note.empty());
    return SignRoundMessage(ctx, *out->round_message);
  }

  // Setup over all four sites; returns adverts + shares.
  std::vector<v1::SignedMessage> RunSetup() {
    std::vector<v1::SignedMessage> adverts, setup;
    for (const auto& s : kSites) {
      v1::Task t = MakeTask("secagg.advertise", {{sg::kSession.name, kSession},
                                                 {sg::kParticipants.name, "A\nB\nC\nD"}});
      auto m = Run(s, t);
      EXPECT_OK(m);
      adverts.push_back(*m);
    }
    setup = adverts;
    for (const auto& s : kSites) {
      v1::Task t = MakeTask("secagg.shares", {{sg::kSession.name, kSession}}, adverts);
      auto m = Run(s, t);
      EXPECT_OK(m);
      setup.push_back(*m);
    }
    return setup;
  }

  // Site `site` masks `values` (a debug.vector) in `round` over `participants`.
  absl::StatusOr<v1::SignedMessage> Mask(const std::string& site, const std::string& round,
                                         const std::string& participants,
                                         const std::vector<double>& values,
                                         const std::vector<v1::SignedMessage>& setup,
                                         const RoundContribution* step = nullptr) {
    v1::Task t = MakeTask("debug.vector", {{sg::kSession.name, kSession},
                                           {sg::kRound.name, round},
                                           {sg::kParticipants.name, participants}},
                          setup);
    TaskContext ctx = Ctx(site, &t);
    TaskOutput out;
    AddVector(&out.payload, "vector", values);
    AddScalar(&out.payload, "n", 3);
    if (step != nullptr) out.round = *step;
    FEDRAD_RETURN_IF_ERROR(MaskOutput(ctx, &out));
    // The clear part keeps n only; the vector left masked.
    EXPECT_EQ(out.payload.arrays_size(), 1);
    return SignRoundMessage(ctx, *out.round_message);
  }

  absl::StatusOr<v1::SignedMessage> Reveal(const std::string& site, const std::string& round,
                                           const std::string& survivors,
                                           const std::string& unresponsive = "") {
    std::map<std::string, std::string> p = {
        {sg::kSession.name, kSession}, {sg::kRound.name, round}, {sg::kSurvivors.name, survivors}};
    if (!unresponsive.empty()) p[sg::kUnresponsive.name] = unresponsive;
    return Run(site, MakeTask("secagg.reveal", p));
  }

  static v1::RoundMessage Body(const v1::SignedMessage& m) {
    v1::RoundMessage r;
    r.ParseFromString(m.body());
    return r;
  }

  fs::path dir_;
  CsvTable table_;
  v1::Study study_;
  TaskRegistry registry_;
  std::map<std::string, std::map<std::string, std::string>> state_;
};

TEST_F(SecureAggTest, RoundWithADropoutSumsTheSurvivorsExactly) {
  std::vector<v1::SignedMessage> setup = RunSetup();
  std::vector<v1::RoundMessage> msgs;
  for (const auto& m : setup) msgs.push_back(Body(m));
  const std::vector<std::vector<double>> x = {{1.5, -2e6, 3e-9}, {2.25, 4e6, 1e-9}, {-0.5, 1, 0}};
  for (int i = 0; i < 3; ++i) {  // D drops before masking
    auto m = Mask(kSites[i], "r1", "A\nB\nC\nD", x[i], setup);
    ASSERT_OK(m);
    // Masked: the clear values are nowhere in the contribution.
    EXPECT_EQ(Body(*m).contribution().masked_size(), 6);
    msgs.push_back(Body(*m));
  }
  for (int i = 0; i < 3; ++i) {
    ASSERT_OK_AND_ASSIGN(auto m, Reveal(kSites[i], "r1", "A\nB\nC"));
    EXPECT_EQ(Body(m).reveal().pair_seeds_size(), 1);  // with D
    msgs.push_back(Body(m));
  }
  ASSERT_OK_AND_ASSIGN(rounds::SecureSumResult sum, rounds::SecureSum(msgs, "r1"));
  EXPECT_EQ(sum.dropped, std::vector<std::string>({"D"}));
  const auto& v = sum.sum.arrays(0).values();
  EXPECT_DOUBLE_EQ(v[0], 3.25);
  EXPECT_DOUBLE_EQ(v[1], 2e6 + 1);
  EXPECT_NEAR(v[2], 4e-9, 1e-18);
}

TEST_F(SecureAggTest, SurvivorSilentAtRevealIsRecoveredFromShares) {
  std::vector<v1::SignedMessage> setup = RunSetup();
  std::vector<v1::RoundMessage> msgs;
  for (const auto& m : setup) msgs.push_back(Body(m));
  for (const auto& s : kSites) msgs.push_back(Body(*Mask(s, "r1", "A\nB\nC\nD", {1.0}, setup)));
  // D masked, then went silent: A, B, C reveal, then give shares of D's seed.
  for (const char* s : {"A", "B", "C"}) msgs.push_back(Body(*Reveal(s, "r1", "A\nB\nC\nD")));
  for (const char* s : {"A", "B", "C"}) {
    ASSERT_OK_AND_ASSIGN(auto m, Reveal(s, "r1", "A\nB\nC\nD", "D"));
    msgs.push_back(Body(m));
  }
  ASSERT_OK_AND_ASSIGN(rounds::SecureSumResult sum, rounds::SecureSum(msgs, "r1"));
  EXPECT_DOUBLE_EQ(sum.sum.arrays(0).values(0), 4.0);
}

TEST_F(SecureAggTest, KindsAreNeededOnlyWhenTheSpecAsksForSecureAggregation) {
  EXPECT_OK(CheckKindNeeded(study_, "secagg.advertise", false));
  v1::Study plain = study_;
  plain.set_secure_aggregation(false);
  EXPECT_EQ(CheckKindNeeded(plain, "secagg.reveal", false).code(),
            absl::StatusCode::kPermissionDenied);
  // A secure round in a plain study is refused by the site itself, too.
  v1::Task t = MakeTask("debug.vector", {{sg::kSession.name, kSession}, {sg::kRound.name, "r1"},
                                         {sg::kParticipants.name, "A\nB\nC"}});
  *t.mutable_study() = plain;
  TaskContext ctx = Ctx("A", &t);
  TaskOutput out;
  AddVector(&out.payload, "vector", {1.0});
  EXPECT_EQ(MaskOutput(ctx, &out).code(), absl::StatusCode::kPermissionDenied);
}

TEST_F(SecureAggTest, RefusesTwoParticipants) {
  auto m = Run("A", MakeTask("secagg.advertise",
                             {{sg::kSession.name, kSession}, {sg::kParticipants.name, "A\nB"}}));
  EXPECT_EQ(m.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(m.status().message()), HasSubstr("secagg-min-sites"));
}

TEST_F(SecureAggTest, RefusesAForgedAdvert) {
  std::vector<v1::SignedMessage> adverts;
  for (const auto& s : kSites) {
    adverts.push_back(*Run(s, MakeTask("secagg.advertise", {{sg::kSession.name, kSession},
                                                           {sg::kParticipants.name, "A\nB\nC\nD"}})));
  }
  // The coordinator swaps B's mask key for its own.
  v1::RoundMessage b = Body(adverts[1]);
  b.mutable_advert()->set_mask_public_key(std::string(32, '\x09'));
  adverts[1].set_body(b.SerializeAsString());
  auto m = Run("A", MakeTask("secagg.shares", {{sg::kSession.name, kSession}}, adverts));
  EXPECT_EQ(m.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(std::string(m.status().message()), HasSubstr("does not verify"));
}

TEST_F(SecureAggTest, MasksOneRoundIdOnce) {
  std::vector<v1::SignedMessage> setup = RunSetup();
  auto first = Mask("A", "r1", "A\nB\nC\nD", {1.0, 2.0}, setup);
  ASSERT_OK(first);
  // A retry with the same values gets the same masked vector.
  auto again = Mask("A", "r1", "A\nB\nC\nD", {1.0, 2.0}, setup);
  ASSERT_OK(again);
  EXPECT_EQ(Body(*first).contribution().masked(0), Body(*again).contribution().masked(0));
  auto other = Mask("A", "r1", "A\nB\nC\nD", {1.0, 2.5}, setup);
  EXPECT_EQ(other.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(std::string(other.status().message()), HasSubstr("secagg-one-mask-per-round"));
  auto fewer = Mask("A", "r1", "A\nB\nC", {1.0, 2.0}, setup);
  EXPECT_EQ(fewer.status().code(), absl::StatusCode::kPermissionDenied);
}

// A round others build on (verifiable rounds, issue 12): the site masks
// only under the round id of its own step, and the masked contribution
// carries what it computed at and which clear arrays the round adds.
TEST_F(SecureAggTest, MasksAVerifiableRoundUnderItsOwnRoundId) {
  std::vector<v1::SignedMessage> setup = RunSetup();
  RoundContribution round{"models/cox/fit/dev/eval/0", {"n", "vector"}, {}};
  AddVector(&round.inputs, "beta", {0.5, -0.25});
  auto other = Mask("A", "r1", "A\nB\nC\nD", {1.0, 2.0}, setup, &round);
  EXPECT_EQ(other.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(std::string(other.status().message()), HasSubstr("verified-step"));
  auto own = Mask("A", round.round_id, "A\nB\nC\nD", {1.0, 2.0}, setup, &round);
  ASSERT_OK(own);
  const v1::RoundMessage m = Body(*own);
  EXPECT_EQ(m.round_id(), round.round_id);
  EXPECT_THAT(m.contribution().plain_summed(), ::testing::ElementsAre("n"));
  ASSERT_EQ(m.contribution().inputs().arrays_size(), 1);
  EXPECT_EQ(m.contribution().inputs().arrays(0).name(), "beta");
  EXPECT_EQ(m.contribution().inputs().arrays(0).values(1), -0.25);
}

TEST_F(SecureAggTest, RefusesContradictingRevealRequests) {
  std::vector<v1::SignedMessage> setup = RunSetup();
  for (const auto& s : kSites) ASSERT_OK(Mask(s, "r1", "A\nB\nC\nD", {1.0}, setup));
  ASSERT_OK(Reveal("A", "r1", "A\nB\nC"));  // D "dropped": A gave its pair seed with D
  // Now D "survived" but went silent: shares of D's seed would unmask D.
  auto both = Reveal("A", "r1", "A\nB\nC\nD", "D");
  EXPECT_EQ(both.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(std::string(both.status().message()), HasSubstr("secagg-reveal-once"));
  // A masked in r1: a request naming A dropped is refused too.
  ASSERT_OK(Mask("A", "r2", "A\nB\nC\nD", {1.0}, setup));
  auto self = Reveal("A", "r2", "B\nC\nD");
  EXPECT_EQ(self.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(std::string(self.status().message()), HasSubstr("lists it as dropped"));
}

TEST_F(SecureAggTest, RoundRecordsSurviveARestoreOfTheState) {
  std::vector<v1::SignedMessage> setup = RunSetup();
  ASSERT_OK(Mask("A", "r1", "A\nB\nC\nD", {1.0}, setup));
  ASSERT_OK(Reveal("A", "r1", "A\nB\nC\nD"));
  // The round's records are in the journal beside the state, not in the
  // state that study.restore rewinds.
  for (const auto& [key, value] : state_["A"]) {
    EXPECT_EQ(key.rfind("secagg/round/", 0), std::string::npos) << key;
  }
  EXPECT_TRUE(fs::exists(StudyStateDir((dir_ / "out" / "A").string()) + "/secagg.journal"));
  auto other = Mask("A", "r1", "A\nB\nC\nD", {7.0}, setup);
  EXPECT_EQ(other.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(std::string(other.status().message()), HasSubstr("secagg-one-mask-per-round"));
  auto contradicting = Reveal("A", "r1", "A\nB\nC");
  EXPECT_EQ(contradicting.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(std::string(contradicting.status().message()), HasSubstr("secagg-reveal-once"));
}

}  // namespace
}  // namespace fedrad::site
