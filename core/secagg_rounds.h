// Secure aggregation over the rounds of one study: the per-round seeds, the
// wide (128-bit) fixed-point encoding and the authenticated encryption of
// Shamir shares that the site node (site_node/secure_agg.h), the coordinator
// (coordinator/secure_round.h) and the auditor's sum (proto/secure_sum.h)
// share. Builds on core/secagg.h (X25519, HKDF, AES-CTR PRG, Shamir).
//
// One key agreement serves a whole study (a "session", Bonawitz et al., CCS
// 2017, run once instead of once per round): each site i has a mask key pair
// (sk_i, pk_i), a share key pair and a random master self-mask seed b_i.
// Every round r derives fresh seeds from them:
//   pairwise  s_ij^r = HKDF(X25519(sk_i, pk_j), salt "fedrad-secagg-pair-v1",
//                           info session | r | min(i, j) | max(i, j))
//   self      b_i^r  = HKDF(b_i, salt "fedrad-secagg-self-v1", info session | r)
// so revealing s_ij^r or b_i^r for round r says nothing of any other round
// (HKDF outputs for different info are independent). Site i sends
//   y_i = x_i + PRG(b_i^r) + sum_{j > i} PRG(s_ij^r) - sum_{j < i} PRG(s_ij^r)
// modulo 2^128, sites ordered by name, PRG = AES-256-CTR (ExpandMask), two
// 64-bit words per value.
//
// Wide encoding: x -> round(x * 2^64) as a two's-complement 128-bit integer
// (low word first). Sums of at most `max_summands` values are exact while
// |x| <= 2^63 / max_summands (refused otherwise, InvalidArgument, naming the
// value); each value is rounded by at most 2^-65 absolutely, and the decoded
// sum by 2^-53 relatively, so the unmasked sum equals the plain double sum to
// about 1e-15 relative (values of one sign) or 1e-19 absolute. Why 128 bits:
// the derivatives of a model span many orders of magnitude and have no
// public bound; 128 bits hold them all without a per-array scale.
//
// Shares travel through the coordinator encrypted with AES-256-GCM under
// HKDF(X25519(share_sk_from, share_pk_to), info "share" | session | from |
// to), the same info as additional data: only `to` can read or alter them
// unnoticed.
//
// Every function is stateless and thread safe; errors are InvalidArgument
// (bad input), PermissionDenied (a ciphertext that does not authenticate) or
// Internal (OpenSSL).
//
//   FEDRAD_ASSIGN_OR_RETURN(auto x, secagg::EncodeWide(values, 64));
//   FEDRAD_ASSIGN_OR_RETURN(auto s, secagg::RoundPairSeed(agreed, sess, r, "A", "B"));
//   FEDRAD_RETURN_IF_ERROR(secagg::AddMask(&x, s, /*subtract=*/false));
#ifndef FEDRAD_CORE_SECAGG_ROUNDS_H_
#define FEDRAD_CORE_SECAGG_ROUNDS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "core/secagg.h"

namespace fedrad::secagg {

// Words per value and fraction bits of the wide encoding.
inline constexpr int kWideWords = 2;
inline constexpr int kWideScaleBits = 64;

// The largest |x| EncodeWide accepts for `max_summands` summands.
double MaxWideEncodable(int max_summands);

// Two words per value (low, high) of round(x * 2^64), mod 2^128.
// InvalidArgument for NaN/inf, max_summands < 1, or |x| beyond
// MaxWideEncodable (the message names the index and the bound).
absl::StatusOr<std::vector<uint64_t>> EncodeWide(absl::Span<const double> values,
                                                 int max_summands);
// The sum (mod 2^128) of encodings, read as a signed 128-bit integer times
// 2^-64. InvalidArgument for an odd number of words.
absl::StatusOr<std::vector<double>> DecodeWide(absl::Span<const uint64_t> words);

// *acc += other (or -= other) modulo 2^128 per value. InvalidArgument for
// different or odd sizes.
absl::Status AddWide(std::vector<uint64_t>* acc, absl::Span<const uint64_t> other, bool subtract);
// *acc += PRG(seed) (or -=) over acc->size() words, modulo 2^128 per value.
absl::Status AddMask(std::vector<uint64_t>* acc, const Key32& seed, bool subtract);

// Per-round seeds (see the file comment). The pairwise seed is the same for
// (a, b) and (b, a). InvalidArgument for an empty session or round, or a == b.
absl::StatusOr<Key32> RoundPairSeed(const Key32& agreed, absl::string_view session,
                                    absl::string_view round, absl::string_view site_a,
                                    absl::string_view site_b);
absl::StatusOr<Key32> RoundSelfSeed(const Key32& master, absl::string_view session,
                                    absl::string_view round);

// The commitment a site signs with its masked contribution to a round's
// self seed (Contribution.self_seed_sha256): the 32 bytes of SHA-256 over a
// fixed label and the seed.
std::string SelfSeedCommitment(const Key32& self_seed);

// Whether `self` adds (true) or subtracts (false) its pairwise mask with
// `peer`: adds when self < peer (byte order), as the file comment says.
inline bool AddsPairMask(absl::string_view self, absl::string_view peer) { return self < peer; }

// AES-256-GCM of a share from `from` to `to`: nonce(12) || ciphertext || tag(16).
// `agreed` is X25519(share_sk_from, share_pk_to) (or the reverse at `to`).
absl::StatusOr<std::string> EncryptShare(const Key32& agreed, absl::string_view session,
                                         absl::string_view from, absl::string_view to,
                                         absl::string_view plaintext);
// The plaintext, or PermissionDenied if the ciphertext, its session or its
// ends were altered (the tag does not verify).
absl::StatusOr<std::string> DecryptShare(const Key32& agreed, absl::string_view session,
                                         absl::string_view from, absl::string_view to,
                                         absl::string_view ciphertext);

// The default Shamir threshold for n participants: a majority, n / 2 + 1,
// at least 2.
int DefaultThreshold(int n);

// Key32 <-> raw bytes (InvalidArgument unless 32 bytes).
absl::StatusOr<Key32> KeyFromBytes(absl::string_view bytes, absl::string_view what);
inline std::string KeyBytes(const Key32& k) {
  return std::string(reinterpret_cast<const char*>(k.data()), k.size());
}

}  // namespace fedrad::secagg

#endif  // FEDRAD_CORE_SECAGG_ROUNDS_H_
