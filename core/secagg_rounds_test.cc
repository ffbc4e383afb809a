// The per-round layer of secure aggregation (core/secagg_rounds.h): the
// 128-bit fixed point is exact and refuses what it cannot hold, AES-256-GCM
// shares authenticate only between their ends and their session, per-round
// seeds differ by round and the pairwise one is symmetric. (The property
// that masks cancel for every dropout pattern is proto/secure_sum_test.cc.)
#include "core/secagg_rounds.h"

#include <cmath>

#include "core/testing/status_matchers.h"
#include "gtest/gtest.h"

namespace fedrad::secagg {
namespace {

using ::fedrad::testing::StatusIs;

namespace sa = ::fedrad::secagg;

TEST(SecAggRounds, WideEncodingIsExactAndRefusesOutOfRange) {
  std::vector<double> x = {1e-300, -3.25, 1e15, -0.1, 0.0};
  std::vector<uint64_t> a = *sa::EncodeWide(x, 4);
  std::vector<uint64_t> b = *sa::EncodeWide(x, 4);
  ASSERT_OK(sa::AddWide(&a, b, false));
  std::vector<double> d = *sa::DecodeWide(a);
  EXPECT_EQ(d[1], -6.5);
  EXPECT_EQ(d[2], 2e15);
  EXPECT_NEAR(d[3], -0.2, 1e-18);
  EXPECT_EQ(d[4], 0.0);
  EXPECT_EQ(sa::EncodeWide({std::ldexp(1.0, 62)}, 4).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(sa::EncodeWide({NAN}, 4).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(SecAggRounds, SharesAuthenticateOnlyBetweenTheirEnds) {
  sa::KeyPair a = *sa::GenerateKeyPair(), b = *sa::GenerateKeyPair(), c = *sa::GenerateKeyPair();
  sa::Key32 ab = *sa::AgreeKey(a.private_key, b.public_key);
  sa::Key32 ba = *sa::AgreeKey(b.private_key, a.public_key);
  std::string ct = *sa::EncryptShare(ab, "secagg/e0/s1", "A", "B", "secret share");
  EXPECT_EQ(*sa::DecryptShare(ba, "secagg/e0/s1", "A", "B", ct), "secret share");
  // Another session, other ends, another key, one flipped bit: refused.
  EXPECT_EQ(sa::DecryptShare(ba, "other", "A", "B", ct).status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(sa::DecryptShare(ba, "secagg/e0/s1", "A", "C", ct).status().code(),
            absl::StatusCode::kPermissionDenied);
  sa::Key32 cb = *sa::AgreeKey(c.private_key, b.public_key);
  EXPECT_EQ(sa::DecryptShare(cb, "secagg/e0/s1", "A", "B", ct).status().code(),
            absl::StatusCode::kPermissionDenied);
  std::string bad = ct;
  bad[14] ^= 1;
  EXPECT_EQ(sa::DecryptShare(ba, "secagg/e0/s1", "A", "B", bad).status().code(),
            absl::StatusCode::kPermissionDenied);
}

TEST(SecAggRounds, PerRoundSeedsDifferAndPairSeedIsSymmetric) {
  sa::Key32 k = *sa::RandomSeed();
  EXPECT_EQ(*sa::RoundPairSeed(k, "secagg/e0/s1", "r1", "A", "B"),
            *sa::RoundPairSeed(k, "secagg/e0/s1", "r1", "B", "A"));
  EXPECT_NE(*sa::RoundPairSeed(k, "secagg/e0/s1", "r1", "A", "B"),
            *sa::RoundPairSeed(k, "secagg/e0/s1", "r2", "A", "B"));
  EXPECT_NE(*sa::RoundSelfSeed(k, "secagg/e0/s1", "r1"), *sa::RoundSelfSeed(k, "secagg/e0/s1", "r2"));
  EXPECT_THAT(sa::RoundPairSeed(k, "secagg/e0/s1", "r1", "A", "A"),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(sa::DefaultThreshold(3), 2);
  EXPECT_EQ(sa::DefaultThreshold(4), 3);
  EXPECT_EQ(sa::DefaultThreshold(50), 26);
}

}  // namespace
}  // namespace fedrad::secagg
