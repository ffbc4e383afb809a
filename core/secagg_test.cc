#include "core/secagg.h"

#include <algorithm>
#include <bitset>
#include <cmath>
#include <map>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "core/hash.h"
#include "core/testing/status_matchers.h"
#include "gtest/gtest.h"

namespace fedrad {
namespace secagg {
namespace {

using ::fedrad::testing::StatusIs;

std::string FromHex(const std::string& hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  }
  return out;
}

std::string Hex(absl::string_view bytes) {
  return ToHex(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
}
std::string Hex(const Key32& k) { return ToHex(k.data(), k.size()); }

Key32 Key(const std::string& hex) {
  std::string raw = FromHex(hex);
  Key32 k{};
  std::copy(raw.begin(), raw.end(), k.begin());
  return k;
}

std::string Range(int from, int to) {  // bytes from..to inclusive
  std::string out;
  for (int b = from; b <= to; ++b) out.push_back(static_cast<char>(b));
  return out;
}

// ---- Published test vectors --------------------------------------------------

// RFC 7748, section 6.1 (Curve25519 Diffie-Hellman example).
TEST(X25519, MatchesRfc7748Section6_1) {
  const Key32 alice_private =
      Key("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
  const Key32 alice_public =
      Key("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
  const Key32 bob_private = Key("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb");
  const Key32 bob_public = Key("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f");
  const std::string shared = "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742";

  absl::StatusOr<Key32> a_pub = PublicKeyOf(alice_private);
  absl::StatusOr<Key32> b_pub = PublicKeyOf(bob_private);
  ASSERT_OK(a_pub);
  ASSERT_OK(b_pub);
  EXPECT_EQ(Hex(*a_pub), Hex(alice_public));
  EXPECT_EQ(Hex(*b_pub), Hex(bob_public));

  absl::StatusOr<Key32> k_ab = AgreeKey(alice_private, bob_public);
  absl::StatusOr<Key32> k_ba = AgreeKey(bob_private, alice_public);
  ASSERT_OK(k_ab);
  ASSERT_OK(k_ba);
  EXPECT_EQ(Hex(*k_ab), shared);
  EXPECT_EQ(Hex(*k_ba), shared);
}

TEST(X25519, RefusesSmallOrderPeerKey) {
  ASSERT_OK_AND_ASSIGN(KeyPair pair, GenerateKeyPair());
  // u = 0 and u = 1 are points of small order (RFC 7748 section 6.1 check).
  Key32 zero{};
  Key32 one{};
  one[0] = 1;
  EXPECT_EQ(AgreeKey(pair.private_key, zero).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(AgreeKey(pair.private_key, one).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(X25519, GeneratedPairsAgree) {
  absl::StatusOr<KeyPair> a = GenerateKeyPair();
  absl::StatusOr<KeyPair> b = GenerateKeyPair();
  ASSERT_OK(a);
  ASSERT_OK(b);
  EXPECT_NE(a->private_key, b->private_key);
  EXPECT_EQ(*PublicKeyOf(a->private_key), a->public_key);
  EXPECT_EQ(*AgreeKey(a->private_key, b->public_key), *AgreeKey(b->private_key, a->public_key));
}

// RFC 5869, appendix A, test cases 1-3 (HKDF with SHA-256).
TEST(HkdfSha256, MatchesRfc5869TestCases1To3) {
  // Test case 1: basic.
  absl::StatusOr<std::string> okm1 =
      HkdfSha256(FromHex("0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b"),
                 FromHex("000102030405060708090a0b0c"), FromHex("f0f1f2f3f4f5f6f7f8f9"), 42);
  ASSERT_OK(okm1);
  EXPECT_EQ(Hex(*okm1),
            "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865");

  // Test case 2: longer inputs and outputs (80-byte IKM, salt and info).
  absl::StatusOr<std::string> okm2 =
      HkdfSha256(Range(0x00, 0x4f), Range(0x60, 0xaf), Range(0xb0, 0xff), 82);
  ASSERT_OK(okm2);
  EXPECT_EQ(Hex(*okm2),
            "b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c"
            "59045a99cac7827271cb41c65e590e09da3275600c2f09b8367793a9aca3db71"
            "cc30c58179ec3e87c14c01d5c1f3434f1d87");

  // Test case 3: zero-length salt and info.
  absl::StatusOr<std::string> okm3 =
      HkdfSha256(FromHex("0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b"), "", "", 42);
  ASSERT_OK(okm3);
  EXPECT_EQ(Hex(*okm3),
            "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8");
}

TEST(HkdfSha256, RefusesLengthOutOfRange) {
  EXPECT_EQ(HkdfSha256("k", "", "", 0).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(HkdfSha256("k", "", "", 8161).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_OK(HkdfSha256("k", "", "", 8160));
}

// NIST SP 800-38A, appendix F.5.5, CTR-AES256.Encrypt.
TEST(Aes256Ctr, MatchesSp800_38aF55) {
  const Key32 key = Key("603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4");
  Block16 iv{};
  std::string iv_raw = FromHex("f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff");
  std::copy(iv_raw.begin(), iv_raw.end(), iv.begin());
  const std::string plaintext = FromHex(
      "6bc1bee22e409f96e93d7e117393172a"
      "ae2d8a571e03ac9c9eb76fac45af8e51"
      "30c81c46a35ce411e5fbc1191a0a52ef"
      "f69f2445df4f9b17ad2b417be66c3710");
  const std::string ciphertext =
      "601ec313775789a5b7a7f504bbf3d228"
      "f443e3ca4d62b59aca84e990cacaf5c5"
      "2b0930daa23de94ce87017ba2d84988d"
      "dfc9c58db67aada613c2dd08457941a6";
  ASSERT_OK_AND_ASSIGN(std::string out, Aes256Ctr(key, iv, plaintext));
  EXPECT_EQ(Hex(out), ciphertext);
  // CTR-AES256.Decrypt (F.5.6) is the same operation.
  EXPECT_EQ(Hex(*Aes256Ctr(key, iv, FromHex(ciphertext))), Hex(plaintext));
}

TEST(ExpandMask, IsTheLittleEndianKeystreamAndPrefixStable) {
  const Key32 seed = Key("603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4");
  absl::StatusOr<std::string> stream = Aes256Ctr(seed, Block16{}, std::string(80, '\0'));
  absl::StatusOr<std::vector<uint64_t>> words = ExpandMask(seed, 10);
  ASSERT_OK(stream);
  ASSERT_OK(words);
  for (size_t k = 0; k < 10; ++k) {
    uint64_t w = 0;
    for (int b = 0; b < 8; ++b) {
      w |= uint64_t{static_cast<uint8_t>((*stream)[8 * k + static_cast<size_t>(b)])} << (8 * b);
    }
    EXPECT_EQ((*words)[k], w) << k;
  }
  ASSERT_OK_AND_ASSIGN(auto prefix, ExpandMask(seed, 3));
  EXPECT_TRUE(std::equal(prefix.begin(), prefix.end(), words->begin()));
  EXPECT_EQ(ExpandMask(seed, kMaxVectorLength + 1).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// ---- Fixed point ----------------------------------------------------------------

TEST(FixedPoint, DefaultRangeIsAsDocumented) {
  // floor((2^63 - 1) / 1024) = 2^53 - 1 quanta of 2^-40.
  EXPECT_EQ(MaxEncodable(), std::ldexp(std::ldexp(1.0, 53) - 1, -40));
  EXPECT_EQ(MaxEncodable(), 8192.0 - std::ldexp(1.0, -40));
  EXPECT_OK(EncodeFixed(MaxEncodable()));
  EXPECT_OK(EncodeFixed(-MaxEncodable()));
  EXPECT_EQ(EncodeFixed(8192.0).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(EncodeFixed(-8192.0).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(EncodeFixed(1e300).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(EncodeFixed(std::nan("")).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(EncodeFixed(INFINITY).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(EncodeFixed(1.0, 63).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(EncodeFixed(1.0, 40, 0).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(DecodeFixed(0, -1).status().code(), absl::StatusCode::kInvalidArgument);
  // One participant may use the whole int64 range.
  EXPECT_OK(EncodeFixed(MaxEncodable(0, 1), 0, 1));
  EXPECT_EQ(EncodeFixed(9223372036854775808.0, 0, 1).status().code(),
            absl::StatusCode::kInvalidArgument);
  absl::StatusOr<std::vector<uint64_t>> bad = EncodeFixedVector({1.0, 2.0, 1e9});
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("element 2"), std::string::npos) << bad.status();
}

TEST(FixedPoint, RoundTripsWithinHalfAQuantum) {
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> u(-8000.0, 8000.0);
  for (int k = 0; k < 10000; ++k) {
    const double x = u(rng);
    ASSERT_OK_AND_ASSIGN(uint64_t e, EncodeFixed(x));
    EXPECT_LE(std::fabs(*DecodeFixed(e) - x), std::ldexp(1.0, -41));
  }
  EXPECT_EQ(*EncodeFixed(-1.0), ~uint64_t{0} - (uint64_t{1} << 40) + 1);  // two's complement
  EXPECT_EQ(*DecodeFixed(*EncodeFixed(-3.25)), -3.25);
}

TEST(FixedPoint, SumOf1000SitesMatchesDoubleSumTo1e12Relative) {
  // The documented range: same sign, magnitudes in [1, 8192), up to 1024
  // summands. Magnitudes are log-uniform so every order of magnitude occurs.
  std::mt19937_64 rng(12);
  std::uniform_real_distribution<double> log_mag(0.0, std::log(8191.0));
  for (double sign : {1.0, -1.0}) {
    for (int trial = 0; trial < 20; ++trial) {
      uint64_t acc = 0;
      double plain = 0.0;
      for (int site = 0; site < 1000; ++site) {
        const double x = sign * std::exp(log_mag(rng));
        absl::StatusOr<uint64_t> e = EncodeFixed(x);
        ASSERT_OK(e) << x;
        acc += *e;  // modulo 2^64
        plain += x;
      }
      const double decoded = *DecodeFixed(acc);
      EXPECT_LE(std::fabs(decoded - plain), 1e-12 * std::fabs(plain)) << decoded << " " << plain;
    }
  }
  // The extremes of the range, 1000 times each, do not overflow.
  uint64_t acc = 0;
  for (int site = 0; site < 1024; ++site) acc += *EncodeFixed(-MaxEncodable());
  EXPECT_EQ(*DecodeFixed(acc), -1024 * MaxEncodable());
}

TEST(FixedPoint, ScaleBitsForBoundKeepsTheBoundEncodable) {
  EXPECT_EQ(*ScaleBitsForBound(8192.0 - std::ldexp(1.0, -40), 1024), 40);
  EXPECT_EQ(*ScaleBitsForBound(8192.0, 1024), 39);
  EXPECT_EQ(*ScaleBitsForBound(1e-30, 1), 62);
  for (double bound : {0.003, 1.0, 77.0, 1e6, 3e12}) {
    for (int n : {3, 50, 1000}) {
      ASSERT_OK_AND_ASSIGN(int s, ScaleBitsForBound(bound, n));
      EXPECT_OK(EncodeFixed(bound, s, n)) << bound << " " << n;
      EXPECT_OK(EncodeFixed(-bound, s, n)) << bound << " " << n;
      if (s < 62) {
        EXPECT_THAT(EncodeFixed(bound, s + 1, n), StatusIs(absl::StatusCode::kInvalidArgument))
            << bound << " " << n;
      }
    }
  }
  // The 1e-12 relative window of the header: values of mean magnitude down
  // to ~1e-7 * N * B (here 5, with B = 1e6 and N = 50).
  const int s = *ScaleBitsForBound(1e6, 50);
  std::mt19937_64 rng(3);
  std::uniform_real_distribution<double> small(5.0, 10.0);  // the low edge
  for (int trial = 0; trial < 100; ++trial) {
    uint64_t acc = 0;
    double plain = 0.0;
    for (int site = 0; site < 50; ++site) {
      const double x = small(rng);
      acc += *EncodeFixed(x, s, 50);
      plain += x;
    }
    EXPECT_LE(std::fabs(*DecodeFixed(acc, s) - plain), 1e-12 * plain);
  }
  EXPECT_EQ(ScaleBitsForBound(0.0).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ScaleBitsForBound(1e300).status().code(), absl::StatusCode::kInvalidArgument);
}

// ---- Shamir -----------------------------------------------------------------------

TEST(Shamir, AnyThresholdSubsetReconstructs) {
  const Key32 secret = Key("ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff");
  for (int n : {1, 2, 5, 7}) {
    for (int t = 1; t <= n; ++t) {
      ASSERT_OK_AND_ASSIGN(auto shares, SplitSecret(secret, t, n));
      ASSERT_EQ(shares.size(), static_cast<size_t>(n));
      for (unsigned mask = 1; mask < (1u << n); ++mask) {
        std::vector<Share> subset;
        for (int k = 0; k < n; ++k) {
          if (mask & (1u << k)) subset.push_back(shares[static_cast<size_t>(k)]);
        }
        // A different order must not matter.
        std::reverse(subset.begin(), subset.end());
        absl::StatusOr<Key32> got = ReconstructSecret(subset);
        if (subset.size() >= static_cast<size_t>(t)) {
          ASSERT_OK(got) << "n=" << n << " t=" << t << " mask=" << mask;
          EXPECT_EQ(*got, secret);
        } else {
          EXPECT_EQ(got.status().code(), absl::StatusCode::kFailedPrecondition);
          EXPECT_NE(got.status().message().find("threshold is"), std::string::npos);
        }
      }
    }
  }
}

TEST(Shamir, FewerThanThresholdSharesFailClearly) {
  ASSERT_OK_AND_ASSIGN(KeyPair pair, GenerateKeyPair());
  ASSERT_OK_AND_ASSIGN(auto shares, SplitSecret(pair.private_key, 4, 6));
  std::vector<Share> three(shares.begin(), shares.begin() + 3);
  absl::StatusOr<Key32> got = ReconstructSecret(three);
  EXPECT_EQ(got.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(got.status().message(),
            "secagg: 3 Shamir shares given, threshold is 4: the secret cannot be "
            "reconstructed from fewer than 4");
  EXPECT_EQ(ReconstructSecret({}).status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(Shamir, SharesOfADifferentSecretLookRandom) {
  // Two splits of the same secret share no y value (fresh coefficients).
  const Key32 secret{};
  absl::StatusOr<std::vector<Share>> a = SplitSecret(secret, 3, 5);
  absl::StatusOr<std::vector<Share>> b = SplitSecret(secret, 3, 5);
  ASSERT_OK(a);
  ASSERT_OK(b);
  for (size_t k = 0; k < 5; ++k) EXPECT_NE((*a)[k].y, (*b)[k].y);
}

TEST(Shamir, RefusesBadArgumentsAndInconsistentShares) {
  const Key32 secret = Key("0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20");
  EXPECT_EQ(SplitSecret(secret, 0, 3).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(SplitSecret(secret, 4, 3).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(SplitSecret(secret, 2, kMaxShares + 1).status().code(),
            absl::StatusCode::kInvalidArgument);

  ASSERT_OK_AND_ASSIGN(auto shares, SplitSecret(secret, 3, 5));
  // A corrupted share beyond the first t is caught by the consistency check.
  std::vector<Share> corrupt = shares;
  corrupt[4].y[kShareValueSize - 1] ^= 1;
  EXPECT_EQ(ReconstructSecret(corrupt).status().code(), absl::StatusCode::kInvalidArgument);
  // Duplicate x, zero x, wrong length, disagreeing thresholds.
  std::vector<Share> dup = {shares[0], shares[1], shares[1]};
  EXPECT_EQ(ReconstructSecret(dup).status().code(), absl::StatusCode::kInvalidArgument);
  std::vector<Share> zero_x = {shares[0], shares[1], shares[2]};
  zero_x[2].x = 0;
  EXPECT_EQ(ReconstructSecret(zero_x).status().code(), absl::StatusCode::kInvalidArgument);
  std::vector<Share> short_y = {shares[0], shares[1], shares[2]};
  short_y[1].y.pop_back();
  EXPECT_EQ(ReconstructSecret(short_y).status().code(), absl::StatusCode::kInvalidArgument);
  std::vector<Share> mixed = {shares[0], shares[1], shares[2]};
  mixed[2].threshold = 2;
  EXPECT_EQ(ReconstructSecret(mixed).status().code(), absl::StatusCode::kInvalidArgument);
}

// ---- Masking and unmasking ---------------------------------------------------------

struct Round {
  std::vector<KeyPair> keys;
  std::vector<Key32> public_keys;
  std::vector<Key32> self_seeds;
  std::vector<std::vector<Share>> sk_shares;  // [owner][holder]
  std::vector<std::vector<Share>> b_shares;   // [owner][holder]
};

Round MakeRound(int n, int t) {
  Round r;
  for (int i = 0; i < n; ++i) {
    r.keys.push_back(*GenerateKeyPair());
    r.public_keys.push_back(r.keys.back().public_key);
    r.self_seeds.push_back(*RandomSeed());
    r.sk_shares.push_back(*SplitSecret(r.keys.back().private_key, t, n));
    r.b_shares.push_back(*SplitSecret(r.self_seeds.back(), t, n));
  }
  return r;
}

TEST(PairwiseSeed, IsSymmetricAndBoundToTheRound) {
  Round r = MakeRound(3, 3);
  const KeyPair& a = r.keys[0];
  const KeyPair& b = r.keys[2];
  Key32 ab = *PairwiseSeed(a.private_key, a.public_key, 0, b.public_key, 2, "round-1");
  Key32 ba = *PairwiseSeed(b.private_key, b.public_key, 2, a.public_key, 0, "round-1");
  EXPECT_EQ(ab, ba);
  EXPECT_NE(ab, *PairwiseSeed(a.private_key, a.public_key, 0, b.public_key, 2, "round-2"));
  EXPECT_NE(ab, *PairwiseSeed(a.private_key, a.public_key, 1, b.public_key, 2, "round-1"));
  EXPECT_NE(ab, *AgreeKey(a.private_key, b.public_key));  // the raw secret is not used directly
  EXPECT_EQ(PairwiseSeed(a.private_key, a.public_key, 1, b.public_key, 1, "r").status().code(),
            absl::StatusCode::kInvalidArgument);
}

// Masks cancel: for n = 3..12 participants and every set of participants
// dropping out after masking (size <= n - t), the survivors hand over t
// shares each of the survivors' self-mask seeds and of the dropped
// participants' private keys, and the aggregator recovers the exact encoded
// sum of the survivors. The threshold is t = max(3, n/2 + 1) (a majority,
// the honest-but-curious setting of Bonawitz et al.) up to n = 10 and
// t = 2n/3 + 1 (their active-adversary setting) for n = 11, 12, which keeps
// the X25519 work of the test (27576 agreements) near 2 s.
TEST(SecureAggregation, MasksCancelForEveryDropoutSetWithinThreshold) {
  std::mt19937_64 rng(2017);
  std::uniform_real_distribution<double> log_mag(0.0, std::log(8191.0));
  constexpr size_t kLength = 4;
  int rounds_checked = 0;
  for (int n = 3; n <= 12; ++n) {
    const int t = n <= 10 ? std::max(3, n / 2 + 1) : 2 * n / 3 + 1;
    Round r = MakeRound(n, t);
    const std::string round_id = "study-x/round-" + std::to_string(n);
    // Values in the documented range; each coordinate keeps one sign.
    std::vector<std::vector<double>> values(static_cast<size_t>(n));
    std::vector<std::vector<uint64_t>> encoded, masked;
    for (int i = 0; i < n; ++i) {
      for (size_t k = 0; k < kLength; ++k) {
        values[static_cast<size_t>(i)].push_back((k % 2 ? -1.0 : 1.0) * std::exp(log_mag(rng)));
      }
      encoded.push_back(*EncodeFixedVector(values[static_cast<size_t>(i)]));
      absl::StatusOr<std::vector<uint64_t>> y =
          MaskContribution(encoded.back(), static_cast<size_t>(i), r.keys[i].private_key,
                           r.public_keys, r.self_seeds[static_cast<size_t>(i)], round_id);
      ASSERT_OK(y);
      masked.push_back(*std::move(y));
    }
    // Reconstructions depend only on (owner, holders); memoise them.
    std::map<std::pair<int, std::vector<int>>, Key32> memo;
    auto reconstruct = [&](const std::vector<std::vector<Share>>& shares, int owner,
                           const std::vector<int>& holders, int kind) {
      auto key = std::make_pair(owner * 2 + kind, holders);
      auto it = memo.find(key);
      if (it != memo.end()) return it->second;
      std::vector<Share> given;
      for (int h : holders)
        given.push_back(shares[static_cast<size_t>(owner)][static_cast<size_t>(h)]);
      absl::StatusOr<Key32> secret = ReconstructSecret(given);
      EXPECT_OK(secret);
      memo[key] = *secret;
      return *secret;
    };

    for (unsigned drop = 0; drop < (1u << n); ++drop) {
      const int num_dropped = static_cast<int>(std::bitset<32>(drop).count());
      if (num_dropped > n - t) continue;
      std::vector<int> alive;
      for (int i = 0; i < n; ++i) {
        if (!(drop & (1u << i))) alive.push_back(i);
      }
      // The holders: t survivors, rotated so that different sets are used.
      std::vector<int> holders;
      for (int k = 0; k < t; ++k) {
        holders.push_back(alive[(static_cast<size_t>(k) + drop % 4) % alive.size()]);
      }
      std::sort(holders.begin(), holders.end());
      std::vector<Survivor> survivors;
      std::vector<Dropped> dropped;
      std::vector<uint64_t> expected(kLength, 0);
      std::vector<double> plain(kLength, 0.0);
      for (int i = 0; i < n; ++i) {
        const size_t si = static_cast<size_t>(i);
        if (drop & (1u << i)) {
          dropped.push_back({si, reconstruct(r.sk_shares, i, holders, 0)});
        } else {
          survivors.push_back({si, masked[si], reconstruct(r.b_shares, i, holders, 1)});
          for (size_t k = 0; k < kLength; ++k) {
            expected[k] += encoded[si][k];
            plain[k] += values[si][k];
          }
        }
      }
      absl::StatusOr<std::vector<uint64_t>> sum =
          UnmaskSum(r.public_keys, round_id, survivors, dropped);
      ASSERT_OK(sum) << "n=" << n << " drop=" << drop;
      ASSERT_EQ(*sum, expected) << "n=" << n << " drop=" << drop;
      std::vector<double> decoded = *DecodeFixedVector(*sum);
      for (size_t k = 0; k < kLength; ++k) {
        EXPECT_LE(std::fabs(decoded[k] - plain[k]), 1e-12 * std::fabs(plain[k]))
            << "n=" << n << " drop=" << drop << " k=" << k;
      }
      ++rounds_checked;
    }
  }
  // sum over n of the dropout sets within the threshold.
  EXPECT_EQ(rounds_checked, 1 + 5 + 16 + 22 + 64 + 93 + 256 + 386 + 232 + 299);
}

TEST(SecureAggregation, MaskedVectorsLookUniform) {
  Round r = MakeRound(4, 3);
  constexpr size_t kLength = 2048;
  // A vector of zeros and one of small constants: the masked words show no
  // trace of either.
  const std::vector<uint64_t> zeros(kLength, 0);
  const std::vector<uint64_t> ones = *EncodeFixedVector(std::vector<double>(kLength, 1.0));
  for (const std::vector<uint64_t>* input : {&zeros, &ones}) {
    for (size_t i = 0; i < 4; ++i) {
      std::vector<uint64_t> y = *MaskContribution(*input, i, r.keys[i].private_key, r.public_keys,
                                                  r.self_seeds[i], "round-u");
      ASSERT_EQ(y.size(), kLength);
      EXPECT_NE(y, *input);
      size_t equal = 0, bits = 0;
      for (size_t k = 0; k < kLength; ++k) {
        equal += y[k] == (*input)[k];
        bits += std::bitset<64>(y[k]).count();
      }
      EXPECT_EQ(equal, 0u);
      // 131072 fair bits: mean 65536, standard deviation 181; allow 6 sigma.
      EXPECT_NEAR(static_cast<double>(bits), 65536.0, 6 * 181.0);
    }
  }
  // The same input masked in another round gives unrelated words.
  std::vector<uint64_t> a =
      *MaskContribution(zeros, 1, r.keys[1].private_key, r.public_keys, r.self_seeds[1], "round-a");
  std::vector<uint64_t> b =
      *MaskContribution(zeros, 1, r.keys[1].private_key, r.public_keys, r.self_seeds[1], "round-b");
  size_t same = 0;
  for (size_t k = 0; k < kLength; ++k) same += a[k] == b[k];
  EXPECT_EQ(same, 0u);
}

TEST(SecureAggregation, RefusesFewerThanThreeParticipants) {
  Round r = MakeRound(3, 3);
  std::vector<Key32> two(r.public_keys.begin(), r.public_keys.begin() + 2);
  absl::StatusOr<std::vector<uint64_t>> y =
      MaskContribution({1, 2}, 0, r.keys[0].private_key, two, r.self_seeds[0], "r");
  EXPECT_EQ(y.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(y.status().message().find("at least 3"), std::string::npos) << y.status();

  // Three participants, one dropped: two survivors may not release a sum.
  std::vector<std::vector<uint64_t>> masked;
  for (size_t i = 0; i < 3; ++i) {
    masked.push_back(
        *MaskContribution({5}, i, r.keys[i].private_key, r.public_keys, r.self_seeds[i], "r"));
  }
  absl::StatusOr<std::vector<uint64_t>> sum = UnmaskSum(
      r.public_keys, "r", {{0, masked[0], r.self_seeds[0]}, {1, masked[1], r.self_seeds[1]}},
      {{2, r.keys[2].private_key}});
  EXPECT_EQ(sum.status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(SecureAggregation, RefusesMalformedInput) {
  Round r = MakeRound(4, 3);
  std::vector<std::vector<uint64_t>> masked;
  for (size_t i = 0; i < 4; ++i) {
    masked.push_back(
        *MaskContribution({5, 6}, i, r.keys[i].private_key, r.public_keys, r.self_seeds[i], "r"));
  }
  auto survivor = [&](size_t i) { return Survivor{i, masked[i], r.self_seeds[i]}; };
  const std::vector<Survivor> three = {survivor(0), survivor(1), survivor(2)};
  // Sanity: the well-formed call works and gives 3 * encoded.
  absl::StatusOr<std::vector<uint64_t>> ok =
      UnmaskSum(r.public_keys, "r", three, {{3, r.keys[3].private_key}});
  ASSERT_OK(ok);
  EXPECT_EQ(*ok, (std::vector<uint64_t>{15, 18}));
  // The wrong round id does not unmask.
  absl::StatusOr<std::vector<uint64_t>> wrong_round =
      UnmaskSum(r.public_keys, "r2", three, {{3, r.keys[3].private_key}});
  ASSERT_OK(wrong_round);
  EXPECT_NE(*wrong_round, *ok);

  auto code = [](const absl::StatusOr<std::vector<uint64_t>>& s) { return s.status().code(); };
  const auto kInvalid = absl::StatusCode::kInvalidArgument;
  // Participant 3 is neither survivor nor dropped.
  EXPECT_EQ(code(UnmaskSum(r.public_keys, "r", three, {})), kInvalid);
  // Listed twice.
  EXPECT_EQ(code(UnmaskSum(r.public_keys, "r", three,
                           {{3, r.keys[3].private_key}, {0, r.keys[0].private_key}})),
            kInvalid);
  // Index out of range.
  EXPECT_EQ(code(UnmaskSum(r.public_keys, "r", three, {{4, r.keys[3].private_key}})), kInvalid);
  // A private key that is not the dropped participant's.
  absl::StatusOr<std::vector<uint64_t>> wrong_key =
      UnmaskSum(r.public_keys, "r", three, {{3, r.keys[2].private_key}});
  EXPECT_EQ(code(wrong_key), kInvalid);
  EXPECT_NE(wrong_key.status().message().find("does not match"), std::string::npos);
  // Vectors of different lengths.
  std::vector<Survivor> ragged = three;
  ragged[1].masked.push_back(0);
  EXPECT_EQ(code(UnmaskSum(r.public_keys, "r", ragged, {{3, r.keys[3].private_key}})), kInvalid);
  // Empty round id, duplicate public keys, own key mismatch.
  EXPECT_EQ(code(UnmaskSum(r.public_keys, "", three, {{3, r.keys[3].private_key}})), kInvalid);
  std::vector<Key32> repeated = r.public_keys;
  repeated[3] = repeated[0];
  EXPECT_EQ(code(MaskContribution({1}, 0, r.keys[0].private_key, repeated, r.self_seeds[0], "r")),
            kInvalid);
  EXPECT_EQ(
      code(MaskContribution({1}, 1, r.keys[0].private_key, r.public_keys, r.self_seeds[0], "r")),
      kInvalid);
  EXPECT_EQ(
      code(MaskContribution({1}, 4, r.keys[0].private_key, r.public_keys, r.self_seeds[0], "r")),
      kInvalid);
  EXPECT_EQ(
      code(MaskContribution({1}, 0, r.keys[0].private_key, r.public_keys, r.self_seeds[0], "")),
      kInvalid);
}

}  // namespace
}  // namespace secagg
}  // namespace fedrad
