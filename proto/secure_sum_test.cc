// SecureSum (proto/secure_sum.h): simulated sites mask with per-round seeds
// (core/secagg_rounds.h), reveal as the protocol says, and the unmasked sum
// equals the plain sum for every n in 3..7 and every dropout pattern the
// threshold allows; the refusals.
#include "proto/secure_sum.h"

#include <cmath>
#include <map>
#include <random>

#include "core/secagg.h"
#include "core/secagg_rounds.h"
#include "core/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fedrad::rounds {
namespace {

namespace sa = ::fedrad::secagg;
using ::fedrad::testing::StatusIs;

constexpr char kSession[] = "secagg/e0/s1";

struct Site {
  std::string name;
  sa::KeyPair mask;
  sa::Key32 master;
  std::vector<sa::Share> shares;  // of master, share k for participant k
};

struct World {
  std::vector<Site> sites;
  std::vector<std::string> names;
  int t = 0;
  std::vector<v1::RoundMessage> messages;
};

World MakeWorld(int n, int t) {
  World w;
  w.t = t;
  for (int i = 0; i < n; ++i) w.names.push_back(absl::StrCat("S", i));
  for (int i = 0; i < n; ++i) {
    Site s;
    s.name = w.names[i];
    s.mask = *sa::GenerateKeyPair();
    s.master = *sa::RandomSeed();
    s.shares = *sa::SplitSecret(s.master, t, n);
    v1::RoundMessage m;
    m.set_site(s.name);
    m.set_round_id(kSession);
    m.mutable_advert()->set_mask_public_key(sa::KeyBytes(s.mask.public_key));
    for (const auto& p : w.names) m.mutable_advert()->add_participants(p);
    m.mutable_advert()->set_threshold(t);
    w.messages.push_back(m);
    w.sites.push_back(std::move(s));
  }
  return w;
}

sa::Key32 PairSeed(const World& w, int i, int j, const std::string& round) {
  sa::Key32 agreed = *sa::AgreeKey(w.sites[i].mask.private_key, w.sites[j].mask.public_key);
  return *sa::RoundPairSeed(agreed, kSession, round, w.names[i], w.names[j]);
}

// `commit`: the contribution carries the commitment to its self seed (as
// sites sign it since it was introduced; false: an older contribution).
v1::RoundMessage Contribute(const World& w, int i, const std::string& round,
                            const std::vector<int>& participants, const std::vector<double>& x,
                            bool commit = true) {
  std::vector<uint64_t> y = *sa::EncodeWide(x, 1024);
  const sa::Key32 self = *sa::RoundSelfSeed(w.sites[i].master, kSession, round);
  EXPECT_OK(sa::AddMask(&y, self, false));
  for (int j : participants) {
    if (j == i) continue;
    EXPECT_OK(sa::AddMask(&y, PairSeed(w, i, j, round), !sa::AddsPairMask(w.names[i], w.names[j])));
  }
  v1::RoundMessage m;
  m.set_site(w.names[i]);
  m.set_round_id(round);
  v1::Contribution* c = m.mutable_contribution();
  c->add_summed_names("v");
  c->add_summed_sizes(static_cast<int64_t>(x.size()));
  c->set_words_per_value(sa::kWideWords);
  c->set_scale_bits(sa::kWideScaleBits);
  c->set_secagg_session(kSession);
  for (int j : participants) c->add_round_participants(w.names[j]);
  for (uint64_t word : y) c->add_masked(word);
  if (commit) c->set_self_seed_sha256(sa::SelfSeedCommitment(self));
  return m;
}

TEST(SecureSum, MasksCancelForEveryDropoutPatternWithinThreshold) {
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> value(-1e6, 1e6);
  for (int n = 3; n <= 7; ++n) {
    const int t = sa::DefaultThreshold(n);
    World w = MakeWorld(n, t);
    // Every subset split: dropped before masking (bit 1), masked but silent
    // at the reveal (bit 2), else a full survivor.
    int patterns = 1;
    for (int i = 0; i < n; ++i) patterns *= 3;
    for (int code = 0; code < patterns; ++code) {
      std::vector<int> state(n);
      int c = code, survivors = 0, answering = 0;
      for (int i = 0; i < n; ++i, c /= 3) {
        state[i] = c % 3;
        if (state[i] != 1) ++survivors;
        if (state[i] == 0) ++answering;
      }
      const bool both = std::count(state.begin(), state.end(), 1) > 0 &&
                        std::count(state.begin(), state.end(), 2) > 0;
      const std::string round = absl::StrCat("r", n, "/", code);
      std::vector<int> all;
      for (int i = 0; i < n; ++i) all.push_back(i);
      std::vector<v1::RoundMessage> msgs = w.messages;
      std::vector<double> plain(5, 0.0);
      std::vector<std::string> surv_names;
      for (int i = 0; i < n; ++i) {
        if (state[i] != 1) surv_names.push_back(w.names[i]);
      }
      for (int i = 0; i < n; ++i) {
        if (state[i] == 1) continue;
        std::vector<double> x(5);
        for (double& v : x) v = value(rng);
        for (size_t k = 0; k < x.size(); ++k) plain[k] += x[k];
        msgs.push_back(Contribute(w, i, round, all, x));
      }
      for (int i = 0; i < n; ++i) {
        if (state[i] != 0) continue;
        v1::RoundMessage m;
        m.set_site(w.names[i]);
        m.set_round_id(round);
        v1::SecAggReveal* r = m.mutable_reveal();
        for (const auto& s : surv_names) r->add_survivors(s);
        r->set_self_seed(sa::KeyBytes(*sa::RoundSelfSeed(w.sites[i].master, kSession, round)));
        for (int d = 0; d < n; ++d) {
          if (state[d] != 1) continue;
          v1::PairSeed* ps = r->add_pair_seeds();
          ps->set_dropped_site(w.names[d]);
          ps->set_seed(sa::KeyBytes(PairSeed(w, i, d, round)));
        }
        for (int u = 0; u < n; ++u) {
          if (state[u] != 2) continue;
          v1::SeedShare* s = r->add_seed_shares();
          s->set_of_site(w.names[u]);
          s->set_x(static_cast<int>(w.sites[u].shares[i].x));
          s->set_y(w.sites[u].shares[i].y);
        }
        msgs.push_back(m);
      }
      absl::StatusOr<SecureSumResult> got = SecureSum(msgs, round);
      SCOPED_TRACE(absl::StrCat("n=", n, " pattern ", code));
      if (survivors < 3) {
        EXPECT_EQ(got.status().code(), absl::StatusCode::kFailedPrecondition);
      } else if (both || (answering < t && answering < survivors)) {
        EXPECT_EQ(got.status().code(), absl::StatusCode::kFailedPrecondition) << got.status();
      } else {
        ASSERT_OK(got);
        ASSERT_EQ(got->sum.arrays_size(), 1);
        for (size_t k = 0; k < plain.size(); ++k) {
          EXPECT_NEAR(got->sum.arrays(0).values(static_cast<int>(k)), plain[k],
                      1e-12 * std::abs(plain[k]) + 1e-9);
        }
        EXPECT_EQ(got->survivors, surv_names);
      }
    }
  }
}

TEST(SecureSum, RevealsOfOneRoundDoNotUnmaskAnother) {
  for (bool commit : {false, true}) {
    World w = MakeWorld(3, 2);
    std::vector<int> all = {0, 1, 2};
    std::vector<v1::RoundMessage> msgs = w.messages;
    for (int i = 0; i < 3; ++i) msgs.push_back(Contribute(w, i, "r2", all, {1.0 + i}, commit));
    for (int i = 0; i < 3; ++i) {
      v1::RoundMessage m;
      m.set_site(w.names[i]);
      m.set_round_id("r2");
      for (const auto& s : w.names) m.mutable_reveal()->add_survivors(s);
      // The self seed of round r1, not r2.
      m.mutable_reveal()->set_self_seed(
          sa::KeyBytes(*sa::RoundSelfSeed(w.sites[i].master, kSession, "r1")));
      msgs.push_back(m);
    }
    absl::StatusOr<SecureSumResult> got = SecureSum(msgs, "r2");
    if (!commit) {
      // Without a commitment: garbage, not the sum.
      ASSERT_OK(got);
      EXPECT_GT(std::abs(got->sum.arrays(0).values(0) - 6.0), 1.0);
    } else {
      // With one (what sites sign): refused, naming the site and the rule.
      EXPECT_THAT(got, StatusIs(absl::StatusCode::kInvalidArgument,
                                ::testing::AllOf(::testing::HasSubstr("site S0"),
                                                 ::testing::HasSubstr("secagg-commitment"))));
    }
  }
}

// The commitment binds the seed a site reveals to the contribution it
// signed: a coordinator that swaps one site's revealed seed (a reveal it
// may forward without that site's signature, rounds::VerifiedTranscript)
// cannot move the sum.
TEST(SecureSum, ASeedOtherThanTheCommittedOneIsRefused) {
  World w = MakeWorld(4, 3);
  std::vector<int> all = {0, 1, 2, 3};
  std::vector<v1::RoundMessage> msgs = w.messages;
  for (int i = 0; i < 4; ++i) msgs.push_back(Contribute(w, i, "r", all, {0.5 * i}));
  for (int i = 0; i < 4; ++i) {
    v1::RoundMessage m;
    m.set_site(w.names[i]);
    m.set_round_id("r");
    for (const auto& s : w.names) m.mutable_reveal()->add_survivors(s);
    m.mutable_reveal()->set_self_seed(
        sa::KeyBytes(*sa::RoundSelfSeed(w.sites[i].master, kSession, "r")));
    msgs.push_back(m);
  }
  ASSERT_OK_AND_ASSIGN(SecureSumResult honest, SecureSum(msgs, "r"));
  EXPECT_NEAR(honest.sum.arrays(0).values(0), 3.0, 1e-12);
  msgs.back().mutable_reveal()->set_self_seed(sa::KeyBytes(*sa::RandomSeed()));
  EXPECT_THAT(SecureSum(msgs, "r"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       ::testing::AllOf(::testing::HasSubstr("site S3"),
                                        ::testing::HasSubstr("secagg-commitment"))));
}

TEST(SecureSum, RefusesTwoSitesAndInconsistentSurvivors) {
  World w = MakeWorld(3, 2);
  std::vector<v1::RoundMessage> msgs = w.messages;
  msgs.push_back(Contribute(w, 0, "r", {0, 1}, {1.0}));
  msgs.push_back(Contribute(w, 1, "r", {0, 1}, {2.0}));
  EXPECT_EQ(SecureSum(msgs, "r").status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(SecureSum(msgs, "r").status().message()),
              ::testing::HasSubstr("at least 3"));
  std::vector<v1::RoundMessage> m2 = w.messages;
  for (int i = 0; i < 3; ++i) m2.push_back(Contribute(w, i, "q", {0, 1, 2}, {1.0}));
  v1::RoundMessage liar;
  liar.set_site("S0");
  liar.set_round_id("q");
  liar.mutable_reveal()->add_survivors("S0");
  liar.mutable_reveal()->add_survivors("S1");
  m2.push_back(liar);
  absl::StatusOr<SecureSumResult> got = SecureSum(m2, "q");
  EXPECT_EQ(got.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(got.status().message()), ::testing::HasSubstr("site S0"));
}

}  // namespace
}  // namespace fedrad::rounds
