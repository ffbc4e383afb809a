// Secure aggregation primitives: each site masks its vector of sums so that
// the aggregator learns only the sum over the participating sites, and the
// round survives sites that drop out after masking.
//
// The protocol is the one of Bonawitz et al., "Practical Secure Aggregation
// for Privacy-Preserving Machine Learning", ACM CCS 2017 (also the basis of
// Flower's SecAgg+). In our own words, for one round with participants
// 0..n-1 (n >= 3) and a Shamir threshold t:
//
//   1. Keys. Every participant i makes a fresh X25519 key pair (sk_i, pk_i)
//      and publishes pk_i. Each pair {i, j} can then compute the same secret
//      X25519(sk_i, pk_j) = X25519(sk_j, pk_i); HKDF-SHA256 turns it into a
//      pairwise seed s_ij bound to the round id, the two indices and the two
//      public keys. Every participant also draws a random self-mask seed b_i.
//   2. Shares. Participant i splits sk_i and b_i into n Shamir shares with
//      threshold t and sends share k to participant k (encrypted to k; the
//      transport of shares is not in this file).
//   3. Masking. Participant i encodes its values as integers modulo 2^64
//      (EncodeFixedVector) and sends
//          y_i = x_i + PRG(b_i) + sum_{j>i} PRG(s_ij) - sum_{j<i} PRG(s_ij),
//      where PRG is AES-256-CTR keyed by the seed. Seen alone, y_i is uniform
//      modulo 2^64: PRG(b_i) hides x_i even from someone who knows every s_ij.
//   4. Unmasking. The aggregator adds the y_i of the survivors S. For two
//      survivors the pairwise masks cancel (+ in one, - in the other). What
//      is left: the self masks of the survivors and the pairwise masks each
//      survivor shares with a dropped participant d. The survivors hand the
//      aggregator their shares of b_i for each i in S and of sk_d for each
//      dropped d — never both for the same participant (an honest site
//      refuses); with t shares the aggregator reconstructs b_i and sk_d,
//      recomputes those masks and subtracts them (UnmaskSum).
//
// What this file provides (all of it stateless):
//   - X25519 key pairs and key agreement with raw 32-byte keys (RFC 7748),
//   - HKDF-SHA256 (RFC 5869) and AES-256-CTR (NIST SP 800-38A),
//   - the fixed-point encoding modulo 2^64 and its error bound (below),
//   - the pairwise and self masks for one participant (MaskContribution),
//   - Shamir secret sharing of 32-byte secrets (SplitSecret/ReconstructSecret),
//   - unmasking at the aggregator (UnmaskSum).
// Not here: transport and encryption of shares, signatures of
// contributions, replay protection, the choice of t; see
// docs/secure-aggregation.md.
//
// Example (three sites, site 2 drops out after masking):
//
//   std::vector<secagg::KeyPair> keys;  // GenerateKeyPair() at each site
//   std::vector<secagg::Key32> pub;     // every site's public_key, in order
//   // At site i:
//   FEDRAD_ASSIGN_OR_RETURN(std::vector<uint64_t> x,
//                           secagg::EncodeFixedVector(values_i));
//   FEDRAD_ASSIGN_OR_RETURN(secagg::Key32 b, secagg::RandomSeed());
//   FEDRAD_ASSIGN_OR_RETURN(std::vector<uint64_t> y,
//       secagg::MaskContribution(x, i, keys[i].private_key, pub, b, round));
//   // At the aggregator, once b_0, b_1 and sk_2 are reconstructed:
//   FEDRAD_ASSIGN_OR_RETURN(std::vector<uint64_t> sum,
//       secagg::UnmaskSum(pub, round, {{0, y0, b0}, {1, y1, b1}},
//                         {{2, sk2}}));
//   FEDRAD_ASSIGN_OR_RETURN(std::vector<double> total,
//                           secagg::DecodeFixedVector(sum));
//
// Fixed-point encoding. A value x becomes q = round(x * 2^s) (ties to even),
// stored modulo 2^64 (two's complement); sums are taken modulo 2^64 and
// decoded as a signed 64-bit integer times 2^-s. Multiplying by 2^s is exact
// in binary floating point, and the integer sum is exact as long as it stays
// within int64, which EncodeFixed guarantees by refusing (InvalidArgument)
// any x with |q| > floor((2^63 - 1) / N), N = max_participants. So the only
// errors are the rounding of each value (at most 2^-(s+1)) and one rounding
// of the integer sum to a double (relative 2^-53):
//     |decoded - exact sum| <= N * 2^-(s+1) + 2^-53 * |exact sum|.
// Defaults: s = 40 and N = 1024, so values must satisfy |x| <= 8192 - 2^-40
// (MaxEncodable(40, 1024)) and each value is known to 4.5e-13. Hence, for up
// to 1024 sites whose values have the same sign and magnitudes in [1, 8192)
// (the documented range), the decoded sum is within 2^-41 + 2^-53 < 4.6e-13
// relative of the exact sum; the plain double sum is itself within
// (N - 1) * 2^-53 < 1.2e-13 of it, so the two agree to 1e-12 relative. More
// generally the error is below 1e-12 * sum|x_i| whenever the mean |x_i| is at
// least 2^-(s+1) / 1e-12 (0.45 for s = 40). Why these defaults: 64 bits
// hold 63 bits of magnitude; 10 go to the headroom for 1024 summands, 40 to
// the fraction (a quantum of 9.1e-13) and 13 to the integer part, which
// covers standardised-feature gradients and log-likelihood terms of a
// site. A vector whose entries are bounded by some other public B (from the
// spec, never from a site's data) should use ScaleBitsForBound(B, N), which
// keeps the full 63 bits of range and moves the 1e-12 relative window to
// [~1e-7 * N * B, B]. Cancellation (sums near zero of large values of both
// signs) has the absolute bound above, not a relative one.
//
// Status codes: InvalidArgument for malformed input (wrong sizes, an index
// out of range, a duplicate, a value out of range, inconsistent shares),
// FailedPrecondition for fewer than kMinParticipants participants or
// survivors, or fewer than `threshold` shares, Internal for an OpenSSL
// failure. On error, nothing is returned and no argument is modified.
//
// Thread safety: every function is thread safe (no shared state; OpenSSL 3
// is thread safe).
#ifndef FEDRAD_CORE_SECAGG_H_
#define FEDRAD_CORE_SECAGG_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace fedrad {
namespace secagg {

// A raw X25519 key (private or public, RFC 7748 byte order), a PRG seed or a
// secret to be shared: always 32 bytes.
using Key32 = std::array<uint8_t, 32>;
// An AES-CTR initial counter block.
using Block16 = std::array<uint8_t, 16>;

// Fewer participants than this would let a site learn another's values from
// the sum and its own; masking and unmasking refuse it.
inline constexpr int kMinParticipants = 3;
// Largest vector length (words) masked in one call: 2^26 words = 512 MiB.
inline constexpr size_t kMaxVectorLength = size_t{1} << 26;
// Fixed-point defaults (see the file comment for the error bound).
inline constexpr int kDefaultScaleBits = 40;
inline constexpr int kDefaultMaxParticipants = 1024;

// ---- X25519 (RFC 7748) -----------------------------------------------------

struct KeyPair {
  Key32 private_key;
  Key32 public_key;
};

// A fresh key pair from OpenSSL's CSPRNG. Internal on OpenSSL failure.
absl::StatusOr<KeyPair> GenerateKeyPair();

// The public key of a raw private key (clamping as in RFC 7748 section 5).
absl::StatusOr<Key32> PublicKeyOf(const Key32& private_key);

// The raw 32-byte shared secret X25519(private_key, peer_public). Refuses
// (InvalidArgument) a peer key of small order, whose shared secret is zero.
absl::StatusOr<Key32> AgreeKey(const Key32& private_key, const Key32& peer_public);

// 32 random bytes from OpenSSL's CSPRNG (a self-mask seed b_i).
absl::StatusOr<Key32> RandomSeed();

// ---- HKDF-SHA256 (RFC 5869) and AES-256-CTR (NIST SP 800-38A) ---------------

// HKDF-SHA256 extract-and-expand: `length` bytes (1..8160) of output keying
// material from `ikm`, `salt` (empty: 32 zero bytes, as the RFC says) and
// `info`. InvalidArgument for a length out of range.
absl::StatusOr<std::string> HkdfSha256(absl::string_view ikm, absl::string_view salt,
                                       absl::string_view info, size_t length);

// AES-256 in counter mode: `input` XOR the keystream from `key` and the
// initial counter block `iv` (the whole 128-bit block is the counter).
// Encryption and decryption are the same operation.
absl::StatusOr<std::string> Aes256Ctr(const Key32& key, const Block16& iv, absl::string_view input);

// The PRG: the first n * 8 bytes of the AES-256-CTR keystream of `seed`
// (counter block starting at zero), read as n little-endian uint64 words.
// A prefix of a longer expansion equals the shorter one. InvalidArgument if
// n > kMaxVectorLength. Each seed must serve one purpose in one round only.
absl::StatusOr<std::vector<uint64_t>> ExpandMask(const Key32& seed, size_t n);

// ---- Fixed-point encoding modulo 2^64 ---------------------------------------

// The largest |x| EncodeFixed accepts: floor((2^63 - 1) / max_participants)
// * 2^-scale_bits. 0 for invalid arguments.
double MaxEncodable(int scale_bits = kDefaultScaleBits,
                    int max_participants = kDefaultMaxParticipants);

// The largest scale_bits (at most 62) for which every |x| <= max_abs is
// encodable for max_participants summands. InvalidArgument if max_abs is
// not finite and positive, if max_participants < 1, or if even scale_bits
// 0 cannot hold max_abs.
absl::StatusOr<int> ScaleBitsForBound(double max_abs,
                                      int max_participants = kDefaultMaxParticipants);

// round(value * 2^scale_bits) modulo 2^64 (two's complement). InvalidArgument
// for NaN or infinity, scale_bits outside 0..62, max_participants < 1, or
// |value| beyond MaxEncodable(scale_bits, max_participants) after rounding;
// the message names the value and the bound.
absl::StatusOr<uint64_t> EncodeFixed(double value, int scale_bits = kDefaultScaleBits,
                                     int max_participants = kDefaultMaxParticipants);

// A sum (mod 2^64) of at most max_participants encodings, read as a signed
// 64-bit integer, times 2^-scale_bits. InvalidArgument for scale_bits
// outside 0..62. A sum of more encodings than EncodeFixed allowed for is
// not detected.
absl::StatusOr<double> DecodeFixed(uint64_t sum, int scale_bits = kDefaultScaleBits);

// Element-wise forms; the first bad element's index is in the message.
absl::StatusOr<std::vector<uint64_t>> EncodeFixedVector(
    absl::Span<const double> values, int scale_bits = kDefaultScaleBits,
    int max_participants = kDefaultMaxParticipants);
absl::StatusOr<std::vector<double>> DecodeFixedVector(absl::Span<const uint64_t> sums,
                                                      int scale_bits = kDefaultScaleBits);

// ---- Masks ------------------------------------------------------------------

// The pairwise seed s_ij of participants i and j (i != j) for one round:
// HKDF-SHA256 with IKM X25519(private_key, peer_public), a fixed salt, and
// info binding the round id, min(i, j), max(i, j) and both public keys in
// index order. Both sides get the same seed. InvalidArgument if i == j or
// the peer key has small order.
absl::StatusOr<Key32> PairwiseSeed(const Key32& private_key, const Key32& own_public,
                                   size_t own_index, const Key32& peer_public, size_t peer_index,
                                   absl::string_view round_id);

// Participant `self_index`'s masked vector:
//   encoded + PRG(self_seed) + sum_{j > i} PRG(s_ij) - sum_{j < i} PRG(s_ij)
// modulo 2^64, where public_keys[j] is participant j's key (all n of them,
// its own included, which must match private_key). InvalidArgument for an
// index out of range, a key mismatch, duplicate public keys, an empty
// round id or a vector longer than kMaxVectorLength; FailedPrecondition if
// n < kMinParticipants.
absl::StatusOr<std::vector<uint64_t>> MaskContribution(absl::Span<const uint64_t> encoded,
                                                       size_t self_index, const Key32& private_key,
                                                       absl::Span<const Key32> public_keys,
                                                       const Key32& self_seed,
                                                       absl::string_view round_id);

// A participant whose masked vector reached the aggregator, with its
// reconstructed self-mask seed.
struct Survivor {
  size_t index = 0;
  std::vector<uint64_t> masked;
  Key32 self_seed{};
};

// A participant that was in the round's key list but whose masked vector
// is not counted, with its reconstructed X25519 private key.
struct Dropped {
  size_t index = 0;
  Key32 private_key{};
};

// The encoded sum (mod 2^64) of the survivors' vectors: the sum of their
// masked vectors minus their self masks and minus the pairwise masks each
// shares with a dropped participant. Every index 0..n-1 of public_keys must
// appear exactly once, as a survivor or as dropped. InvalidArgument for a
// missing or repeated index, vectors of different lengths, a dropped
// private key that does not match its public key, duplicate public keys or
// an empty round id; FailedPrecondition if fewer than kMinParticipants
// survive. Decode the result with DecodeFixedVector.
absl::StatusOr<std::vector<uint64_t>> UnmaskSum(absl::Span<const Key32> public_keys,
                                                absl::string_view round_id,
                                                absl::Span<const Survivor> survivors,
                                                absl::Span<const Dropped> dropped);

// ---- Shamir secret sharing ---------------------------------------------------
//
// Over GF(p), p = 2^521 - 1 (a Mersenne prime; OpenSSL's
// BN_get0_nist_prime_521), which holds any 32-byte secret as one element:
// share k is (k, f(k)) for a random polynomial f of degree t - 1 with
// f(0) = secret. Any t shares determine f(0) by Lagrange interpolation;
// fewer reveal nothing about it.

// Bytes of a share's y value: big-endian, fixed width.
inline constexpr size_t kShareValueSize = 66;
// Upper bound on the number of shares, so a share's x fits any wire field.
inline constexpr int kMaxShares = 65535;

struct Share {
  uint32_t x = 0;     // 1..n, the holder's index + 1
  int threshold = 0;  // t, carried for the error message of Reconstruct
  std::string y;      // kShareValueSize bytes
};

// n shares (x = 1..n) of `secret` with threshold t. InvalidArgument unless
// 1 <= t <= n <= kMaxShares. Fresh random coefficients on every call.
absl::StatusOr<std::vector<Share>> SplitSecret(const Key32& secret, int threshold, int num_shares);

// The secret from at least t shares (t read from the shares, which must
// agree). FailedPrecondition, naming t and the count, if fewer than t shares
// are given; InvalidArgument for a duplicate or zero x, a malformed y, or
// shares that are not consistent (any shares beyond the first t are checked
// against the polynomial the first t define, and the secret must fit in 32
// bytes).
absl::StatusOr<Key32> ReconstructSecret(absl::Span<const Share> shares);

}  // namespace secagg
}  // namespace fedrad

#endif  // FEDRAD_CORE_SECAGG_H_
