#include "core/secagg.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <set>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "core/internal/secagg_internal.h"
#include "core/status.h"

namespace fedrad {
namespace secagg_internal {

// An Internal status with OpenSSL's error queue (which it then clears).
absl::Status OpenSslError(absl::string_view what) {
  std::string detail;
  unsigned long e;
  while ((e = ERR_get_error()) != 0) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof(buf));
    absl::StrAppend(&detail, detail.empty() ? "" : "; ", buf);
  }
  return absl::InternalError(
      absl::StrCat("secagg: ", what, " failed", detail.empty() ? "" : ": ", detail));
}

}  // namespace secagg_internal

namespace secagg {
namespace {

using secagg_internal::OpenSslError;

// ---- OpenSSL helpers --------------------------------------------------------

struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct PkeyCtxFree {
  void operator()(EVP_PKEY_CTX* p) const { EVP_PKEY_CTX_free(p); }
};
struct CipherCtxFree {
  void operator()(EVP_CIPHER_CTX* p) const { EVP_CIPHER_CTX_free(p); }
};
struct KdfCtxFree {
  void operator()(EVP_KDF_CTX* p) const { EVP_KDF_CTX_free(p); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;
using PkeyCtx = std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree>;
using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, CipherCtxFree>;
using KdfCtx = std::unique_ptr<EVP_KDF_CTX, KdfCtxFree>;

absl::StatusOr<Pkey> PrivateKey(const Key32& raw) {
  Pkey key(EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, nullptr, raw.data(), raw.size()));
  if (!key) return OpenSslError("loading an X25519 private key");
  return key;
}

absl::StatusOr<Pkey> PublicKey(const Key32& raw) {
  Pkey key(EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, nullptr, raw.data(), raw.size()));
  if (!key) return OpenSslError("loading an X25519 public key");
  return key;
}

absl::StatusOr<Key32> RawPublic(EVP_PKEY* key) {
  Key32 out{};
  size_t len = out.size();
  if (EVP_PKEY_get_raw_public_key(key, out.data(), &len) != 1 || len != out.size()) {
    return OpenSslError("reading an X25519 public key");
  }
  return out;
}

std::string U64Le(uint64_t v) {
  std::string out(8, '\0');
  for (int k = 0; k < 8; ++k) out[k] = static_cast<char>((v >> (8 * k)) & 0xFF);
  return out;
}

absl::string_view View(const Key32& k) {
  return absl::string_view(reinterpret_cast<const char*>(k.data()), k.size());
}

// Indices 0..n-1 with distinct public keys: a repeated key would make two
// "participants" the same party and its masks cancel against nothing.
absl::Status CheckPublicKeys(absl::Span<const Key32> public_keys) {
  std::set<Key32> seen;
  for (size_t j = 0; j < public_keys.size(); ++j) {
    if (!seen.insert(public_keys[j]).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("secagg: participant ", j, "'s public key repeats an earlier one"));
    }
  }
  return absl::OkStatus();
}

void AddInto(std::vector<uint64_t>& acc, const std::vector<uint64_t>& v) {
  for (size_t k = 0; k < acc.size(); ++k) acc[k] += v[k];  // modulo 2^64
}
void SubtractFrom(std::vector<uint64_t>& acc, const std::vector<uint64_t>& v) {
  for (size_t k = 0; k < acc.size(); ++k) acc[k] -= v[k];  // modulo 2^64
}

constexpr absl::string_view kHkdfSalt = "fedrad/secagg/v1";
constexpr absl::string_view kPairwiseLabel = "fedrad/secagg/v1/pairwise";

}  // namespace

// ---- X25519 -----------------------------------------------------------------

absl::StatusOr<KeyPair> GenerateKeyPair() {
  Pkey key(EVP_PKEY_Q_keygen(nullptr, nullptr, "X25519"));
  if (!key) return OpenSslError("X25519 key generation");
  KeyPair pair{};
  size_t len = pair.private_key.size();
  if (EVP_PKEY_get_raw_private_key(key.get(), pair.private_key.data(), &len) != 1 ||
      len != pair.private_key.size()) {
    return OpenSslError("reading an X25519 private key");
  }
  FEDRAD_ASSIGN_OR_RETURN(pair.public_key, RawPublic(key.get()));
  return pair;
}

absl::StatusOr<Key32> PublicKeyOf(const Key32& private_key) {
  FEDRAD_ASSIGN_OR_RETURN(Pkey key, PrivateKey(private_key));
  return RawPublic(key.get());
}

namespace {

// X25519 with an already loaded private key (loading one costs a scalar
// multiplication, so callers that agree with many peers load it once).
absl::StatusOr<Key32> Agree(EVP_PKEY* own, const Key32& peer_public) {
  FEDRAD_ASSIGN_OR_RETURN(Pkey peer, PublicKey(peer_public));
  PkeyCtx ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, own, nullptr));
  if (!ctx || EVP_PKEY_derive_init(ctx.get()) != 1) return OpenSslError("X25519 derive init");
  if (EVP_PKEY_derive_set_peer(ctx.get(), peer.get()) != 1) {
    return OpenSslError("X25519 derive set peer");
  }
  Key32 secret{};
  size_t len = secret.size();
  if (EVP_PKEY_derive(ctx.get(), secret.data(), &len) != 1 || len != secret.size()) {
    // OpenSSL refuses an all-zero result (a peer key of small order).
    ERR_clear_error();
    return absl::InvalidArgumentError(
        "secagg: X25519 key agreement failed (peer public key of small order?)");
  }
  // Belt and braces: RFC 7748 section 6.1 says to check for the zero value.
  unsigned char acc = 0;
  for (uint8_t b : secret) acc |= b;
  if (acc == 0) {
    return absl::InvalidArgumentError(
        "secagg: X25519 shared secret is zero (small-order peer key)");
  }
  return secret;
}

}  // namespace

absl::StatusOr<Key32> AgreeKey(const Key32& private_key, const Key32& peer_public) {
  FEDRAD_ASSIGN_OR_RETURN(Pkey own, PrivateKey(private_key));
  return Agree(own.get(), peer_public);
}

absl::StatusOr<Key32> RandomSeed() {
  Key32 seed{};
  if (RAND_priv_bytes(seed.data(), static_cast<int>(seed.size())) != 1) {
    return OpenSslError("drawing a random seed");
  }
  return seed;
}

// ---- HKDF and AES-CTR -------------------------------------------------------

absl::StatusOr<std::string> HkdfSha256(absl::string_view ikm, absl::string_view salt,
                                       absl::string_view info, size_t length) {
  if (length < 1 || length > 255 * 32) {
    return absl::InvalidArgumentError(
        absl::StrCat("secagg: HKDF-SHA256 output length ", length, " is not in 1..8160"));
  }
  // Fetched once per process (a fetch takes the provider store's lock); a
  // fetched EVP_KDF is immutable and may be shared between threads.
  static EVP_KDF* const kdf = EVP_KDF_fetch(nullptr, OSSL_KDF_NAME_HKDF, nullptr);
  if (kdf == nullptr) return OpenSslError("fetching HKDF");
  KdfCtx ctx(EVP_KDF_CTX_new(kdf));
  if (!ctx) return OpenSslError("creating an HKDF context");
  // OSSL_PARAM wants non-const pointers; OpenSSL only reads them.
  char digest[] = "SHA256";
  OSSL_PARAM params[5];
  int p = 0;
  params[p++] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0);
  params[p++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, const_cast<char*>(ikm.data()),
                                                  ikm.size());
  // An absent salt and an empty one are the same (HMAC pads the key with
  // zeros), so an empty salt is simply not passed.
  if (!salt.empty()) {
    params[p++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT,
                                                    const_cast<char*>(salt.data()), salt.size());
  }
  if (!info.empty()) {
    params[p++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO,
                                                    const_cast<char*>(info.data()), info.size());
  }
  params[p] = OSSL_PARAM_construct_end();
  std::string out(length, '\0');
  if (EVP_KDF_derive(ctx.get(), reinterpret_cast<unsigned char*>(out.data()), out.size(), params) !=
      1) {
    return OpenSslError("HKDF-SHA256");
  }
  return out;
}

absl::StatusOr<std::string> Aes256Ctr(const Key32& key, const Block16& iv,
                                      absl::string_view input) {
  // Fetched once per process, like HKDF above (EVP_aes_256_ctr() would
  // fetch implicitly on every init).
  static EVP_CIPHER* const cipher = EVP_CIPHER_fetch(nullptr, "AES-256-CTR", nullptr);
  if (cipher == nullptr) return OpenSslError("fetching AES-256-CTR");
  CipherCtx ctx(EVP_CIPHER_CTX_new());
  if (!ctx || EVP_EncryptInit_ex2(ctx.get(), cipher, key.data(), iv.data(), nullptr) != 1) {
    return OpenSslError("AES-256-CTR init");
  }
  std::string out(input.size(), '\0');
  constexpr size_t kChunk = size_t{1} << 20;  // EVP takes int lengths
  size_t done = 0;
  while (done < input.size()) {
    const size_t n = std::min(kChunk, input.size() - done);
    int written = 0;
    if (EVP_EncryptUpdate(ctx.get(), reinterpret_cast<unsigned char*>(out.data() + done), &written,
                          reinterpret_cast<const unsigned char*>(input.data() + done),
                          static_cast<int>(n)) != 1 ||
        written != static_cast<int>(n)) {
      return OpenSslError("AES-256-CTR");
    }
    done += n;
  }
  return out;
}

absl::StatusOr<std::vector<uint64_t>> ExpandMask(const Key32& seed, size_t n) {
  if (n > kMaxVectorLength) {
    return absl::InvalidArgumentError(
        absl::StrCat("secagg: vector length ", n, " exceeds the maximum ", kMaxVectorLength));
  }
  // The keystream is AES-CTR applied to zeros.
  FEDRAD_ASSIGN_OR_RETURN(std::string stream, Aes256Ctr(seed, Block16{}, std::string(n * 8, '\0')));
  std::vector<uint64_t> words(n);
  for (size_t k = 0; k < n; ++k) {
    uint64_t w = 0;
    for (int b = 7; b >= 0; --b) {
      w = (w << 8) | static_cast<uint8_t>(stream[8 * k + static_cast<size_t>(b)]);
    }
    words[k] = w;
  }
  OPENSSL_cleanse(stream.data(), stream.size());
  return words;
}

// ---- Fixed point --------------------------------------------------------------

namespace {

bool ValidScale(int scale_bits) { return scale_bits >= 0 && scale_bits <= 62; }

// floor((2^63 - 1) / N): the largest |q| such that N of them sum within int64.
int64_t MaxQuantum(int max_participants) {
  return std::numeric_limits<int64_t>::max() / max_participants;
}

}  // namespace

double MaxEncodable(int scale_bits, int max_participants) {
  if (!ValidScale(scale_bits) || max_participants < 1) return 0.0;
  // Rounded down to a double so that any x with |x| <= the result passes.
  long double q = static_cast<long double>(MaxQuantum(max_participants));
  double bound = static_cast<double>(q);
  if (static_cast<long double>(bound) > q) {
    bound = std::nextafter(bound, 0.0);
  }
  return std::ldexp(bound, -scale_bits);
}

absl::StatusOr<int> ScaleBitsForBound(double max_abs, int max_participants) {
  if (!std::isfinite(max_abs) || !(max_abs > 0) || max_participants < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "secagg: ScaleBitsForBound needs a finite positive bound and max_participants >= 1, got ",
        max_abs, " and ", max_participants));
  }
  for (int s = 62; s >= 0; --s) {
    if (max_abs <= MaxEncodable(s, max_participants)) return s;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("secagg: no fixed-point scale holds |x| <= ", max_abs, " for ", max_participants,
                   " participants in 64 bits"));
}

absl::StatusOr<uint64_t> EncodeFixed(double value, int scale_bits, int max_participants) {
  if (!ValidScale(scale_bits)) {
    return absl::InvalidArgumentError(
        absl::StrCat("secagg: scale_bits ", scale_bits, " is not in 0..62"));
  }
  if (max_participants < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("secagg: max_participants ", max_participants, " is below 1"));
  }
  if (!std::isfinite(value)) {
    return absl::InvalidArgumentError(
        absl::StrCat("secagg: cannot encode a non-finite value (", value, ")"));
  }
  // Scaling by a power of two is exact; nearbyint rounds to nearest, ties
  // to even (the default floating-point environment).
  const double q = std::nearbyint(std::ldexp(value, scale_bits));
  const int64_t max_q = MaxQuantum(max_participants);
  // Compare as doubles first (2^63 is exact) so the cast below is defined.
  if (!(std::fabs(q) < 9223372036854775808.0) || std::llabs(static_cast<int64_t>(q)) > max_q) {
    return absl::InvalidArgumentError(absl::StrCat(
        "secagg: value ", value,
        " is out of the fixed-point range |x| <= ", MaxEncodable(scale_bits, max_participants),
        " (scale_bits ", scale_bits, ", up to ", max_participants, " participants)"));
  }
  return static_cast<uint64_t>(static_cast<int64_t>(q));  // two's complement
}

absl::StatusOr<double> DecodeFixed(uint64_t sum, int scale_bits) {
  if (!ValidScale(scale_bits)) {
    return absl::InvalidArgumentError(
        absl::StrCat("secagg: scale_bits ", scale_bits, " is not in 0..62"));
  }
  // Two's complement reading of the residue (well defined in GCC/Clang and
  // in C++20); the one rounding is int64 -> double.
  const int64_t v = static_cast<int64_t>(sum);
  return std::ldexp(static_cast<double>(v), -scale_bits);
}

absl::StatusOr<std::vector<uint64_t>> EncodeFixedVector(absl::Span<const double> values,
                                                        int scale_bits, int max_participants) {
  std::vector<uint64_t> out;
  out.reserve(values.size());
  for (size_t k = 0; k < values.size(); ++k) {
    absl::StatusOr<uint64_t> e = EncodeFixed(values[k], scale_bits, max_participants);
    if (!e.ok()) return Annotate(e.status(), absl::StrCat("element ", k));
    out.push_back(*e);
  }
  return out;
}

absl::StatusOr<std::vector<double>> DecodeFixedVector(absl::Span<const uint64_t> sums,
                                                      int scale_bits) {
  std::vector<double> out;
  out.reserve(sums.size());
  for (uint64_t s : sums) {
    FEDRAD_ASSIGN_OR_RETURN(double d, DecodeFixed(s, scale_bits));
    out.push_back(d);
  }
  return out;
}

// ---- Masks --------------------------------------------------------------------

namespace {

absl::StatusOr<Key32> PairwiseSeedWith(EVP_PKEY* own, const Key32& own_public, size_t own_index,
                                       const Key32& peer_public, size_t peer_index,
                                       absl::string_view round_id) {
  if (own_index == peer_index) {
    return absl::InvalidArgumentError(
        absl::StrCat("secagg: no pairwise seed of participant ", own_index, " with itself"));
  }
  FEDRAD_ASSIGN_OR_RETURN(Key32 shared, Agree(own, peer_public));
  const bool own_first = own_index < peer_index;
  // Every field is length-prefixed or fixed-width, so distinct inputs give
  // distinct info strings.
  std::string info = absl::StrCat(
      kPairwiseLabel, U64Le(round_id.size()), round_id, U64Le(own_first ? own_index : peer_index),
      U64Le(own_first ? peer_index : own_index), View(own_first ? own_public : peer_public),
      View(own_first ? peer_public : own_public));
  absl::StatusOr<std::string> okm = HkdfSha256(View(shared), kHkdfSalt, info, 32);
  OPENSSL_cleanse(shared.data(), shared.size());
  if (!okm.ok()) return okm.status();
  Key32 seed{};
  std::copy(okm->begin(), okm->end(), seed.begin());
  OPENSSL_cleanse(okm->data(), okm->size());
  return seed;
}

}  // namespace

absl::StatusOr<Key32> PairwiseSeed(const Key32& private_key, const Key32& own_public,
                                   size_t own_index, const Key32& peer_public, size_t peer_index,
                                   absl::string_view round_id) {
  FEDRAD_ASSIGN_OR_RETURN(Pkey own, PrivateKey(private_key));
  return PairwiseSeedWith(own.get(), own_public, own_index, peer_public, peer_index, round_id);
}

absl::StatusOr<std::vector<uint64_t>> MaskContribution(absl::Span<const uint64_t> encoded,
                                                       size_t self_index, const Key32& private_key,
                                                       absl::Span<const Key32> public_keys,
                                                       const Key32& self_seed,
                                                       absl::string_view round_id) {
  const size_t n = public_keys.size();
  if (n < static_cast<size_t>(kMinParticipants)) {
    return absl::FailedPreconditionError(absl::StrCat("secagg: secure aggregation needs at least ",
                                                      kMinParticipants,
                                                      " participants, the round has ", n));
  }
  if (self_index >= n) {
    return absl::InvalidArgumentError(
        absl::StrCat("secagg: own index ", self_index, " is not below ", n));
  }
  if (round_id.empty()) return absl::InvalidArgumentError("secagg: empty round id");
  if (encoded.size() > kMaxVectorLength) {
    return absl::InvalidArgumentError(absl::StrCat("secagg: vector length ", encoded.size(),
                                                   " exceeds the maximum ", kMaxVectorLength));
  }
  FEDRAD_RETURN_IF_ERROR(CheckPublicKeys(public_keys));
  FEDRAD_ASSIGN_OR_RETURN(Pkey own, PrivateKey(private_key));
  FEDRAD_ASSIGN_OR_RETURN(Key32 own_public, RawPublic(own.get()));
  if (own_public != public_keys[self_index]) {
    return absl::InvalidArgumentError(
        absl::StrCat("secagg: public key ", self_index, " in the list is not this participant's"));
  }
  std::vector<uint64_t> out(encoded.begin(), encoded.end());
  FEDRAD_ASSIGN_OR_RETURN(std::vector<uint64_t> self_mask, ExpandMask(self_seed, out.size()));
  AddInto(out, self_mask);
  for (size_t j = 0; j < n; ++j) {
    if (j == self_index) continue;
    absl::StatusOr<Key32> seed =
        PairwiseSeedWith(own.get(), own_public, self_index, public_keys[j], j, round_id);
    if (!seed.ok()) return Annotate(seed.status(), absl::StrCat("participant ", j));
    FEDRAD_ASSIGN_OR_RETURN(std::vector<uint64_t> mask, ExpandMask(*seed, out.size()));
    if (j > self_index) {
      AddInto(out, mask);
    } else {
      SubtractFrom(out, mask);
    }
  }
  return out;
}

absl::StatusOr<std::vector<uint64_t>> UnmaskSum(absl::Span<const Key32> public_keys,
                                                absl::string_view round_id,
                                                absl::Span<const Survivor> survivors,
                                                absl::Span<const Dropped> dropped) {
  const size_t n = public_keys.size();
  if (round_id.empty()) return absl::InvalidArgumentError("secagg: empty round id");
  FEDRAD_RETURN_IF_ERROR(CheckPublicKeys(public_keys));
  std::vector<int> role(n, 0);  // 0 unseen, 1 survivor, 2 dropped
  auto claim = [&](size_t index, int r) -> absl::Status {
    if (index >= n) {
      return absl::InvalidArgumentError(
          absl::StrCat("secagg: participant index ", index, " is not below ", n));
    }
    if (role[index] != 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("secagg: participant ", index, " is listed twice"));
    }
    role[index] = r;
    return absl::OkStatus();
  };
  for (const Survivor& s : survivors) FEDRAD_RETURN_IF_ERROR(claim(s.index, 1));
  for (const Dropped& d : dropped) FEDRAD_RETURN_IF_ERROR(claim(d.index, 2));
  for (size_t j = 0; j < n; ++j) {
    if (role[j] == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("secagg: participant ", j, " is neither a survivor nor dropped"));
    }
  }
  if (survivors.size() < static_cast<size_t>(kMinParticipants)) {
    return absl::FailedPreconditionError(
        absl::StrCat("secagg: only ", survivors.size(), " participants survived; at least ",
                     kMinParticipants, " are needed to release a sum"));
  }
  const size_t length = survivors.front().masked.size();
  for (const Survivor& s : survivors) {
    if (s.masked.size() != length) {
      return absl::InvalidArgumentError(
          absl::StrCat("secagg: participant ", s.index, "'s vector has ", s.masked.size(),
                       " words, participant ", survivors.front().index, "'s has ", length));
    }
  }
  if (length > kMaxVectorLength) {
    return absl::InvalidArgumentError(
        absl::StrCat("secagg: vector length ", length, " exceeds the maximum ", kMaxVectorLength));
  }
  std::vector<uint64_t> sum(length, 0);
  for (const Survivor& s : survivors) {
    AddInto(sum, s.masked);
    FEDRAD_ASSIGN_OR_RETURN(std::vector<uint64_t> self_mask, ExpandMask(s.self_seed, length));
    SubtractFrom(sum, self_mask);
  }
  for (const Dropped& d : dropped) {
    FEDRAD_ASSIGN_OR_RETURN(Pkey own, PrivateKey(d.private_key));
    FEDRAD_ASSIGN_OR_RETURN(Key32 pub, RawPublic(own.get()));
    if (pub != public_keys[d.index]) {
      return absl::InvalidArgumentError(
          absl::StrCat("secagg: the private key given for dropped participant ", d.index,
                       " does not match its public key"));
    }
    for (const Survivor& s : survivors) {
      // Survivor j added +PRG(s_jd) if d > j and -PRG(s_jd) if d < j.
      absl::StatusOr<Key32> seed =
          PairwiseSeedWith(own.get(), pub, d.index, public_keys[s.index], s.index, round_id);
      if (!seed.ok()) return Annotate(seed.status(), absl::StrCat("participant ", s.index));
      FEDRAD_ASSIGN_OR_RETURN(std::vector<uint64_t> mask, ExpandMask(*seed, length));
      if (d.index > s.index) {
        SubtractFrom(sum, mask);
      } else {
        AddInto(sum, mask);
      }
    }
  }
  return sum;
}

}  // namespace secagg
}  // namespace fedrad
