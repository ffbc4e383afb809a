#include "core/secagg_rounds.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "absl/strings/str_cat.h"
#include "core/hash.h"
#include "core/status.h"

namespace fedrad::secagg {
namespace {

using u128 = unsigned __int128;
using i128 = __int128;

struct CipherCtxFree {
  void operator()(EVP_CIPHER_CTX* p) const { EVP_CIPHER_CTX_free(p); }
};
using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, CipherCtxFree>;

absl::Status OpenSslError(absl::string_view what) {
  unsigned long e = ERR_get_error();
  char buf[256] = {0};
  if (e != 0) ERR_error_string_n(e, buf, sizeof(buf));
  ERR_clear_error();
  return absl::InternalError(absl::StrCat("secagg: ", what, " failed", e ? ": " : "", buf));
}

// Length-prefixed fields, so that no two different field lists give the
// same HKDF info.
std::string Fields(std::initializer_list<absl::string_view> fields) {
  std::string out;
  for (absl::string_view f : fields) {
    absl::StrAppend(&out, f.size(), ":", f, ";");
  }
  return out;
}

u128 Word128(absl::Span<const uint64_t> w, size_t i) {
  return (static_cast<u128>(w[2 * i + 1]) << 64) | w[2 * i];
}

void Store128(std::vector<uint64_t>* w, size_t i, u128 v) {
  (*w)[2 * i] = static_cast<uint64_t>(v);
  (*w)[2 * i + 1] = static_cast<uint64_t>(v >> 64);
}

absl::StatusOr<Key32> Derive(const Key32& ikm, absl::string_view salt, const std::string& info) {
  FEDRAD_ASSIGN_OR_RETURN(std::string okm,
                          HkdfSha256(KeyBytes(ikm), salt, info, 32));
  Key32 out;
  std::memcpy(out.data(), okm.data(), 32);
  return out;
}

absl::StatusOr<Key32> ShareKey(const Key32& agreed, const std::string& info) {
  return Derive(agreed, "fedrad-secagg-share-v1", info);
}

}  // namespace

double MaxWideEncodable(int max_summands) {
  if (max_summands < 1) return 0;
  return std::ldexp(1.0, 63) / max_summands;
}

absl::StatusOr<std::vector<uint64_t>> EncodeWide(absl::Span<const double> values,
                                                 int max_summands) {
  if (max_summands < 1) {
    return absl::InvalidArgumentError("secagg: max_summands must be at least 1");
  }
  const double bound = MaxWideEncodable(max_summands);
  std::vector<uint64_t> out(values.size() * kWideWords);
  for (size_t i = 0; i < values.size(); ++i) {
    const double x = values[i];
    if (!std::isfinite(x) || std::fabs(x) > bound) {
      return absl::InvalidArgumentError(absl::StrCat(
          "secagg: value ", i, " (", x, ") cannot be encoded for a secure sum of ", max_summands,
          " sites: it must be finite with |x| <= ", bound));
    }
    // x * 2^64 is exact; nearbyint rounds ties to even; |q| < 2^127.
    const double q = std::nearbyint(std::ldexp(x, kWideScaleBits));
    const i128 v = static_cast<i128>(q);
    Store128(&out, i, static_cast<u128>(v));
  }
  return out;
}

absl::StatusOr<std::vector<double>> DecodeWide(absl::Span<const uint64_t> words) {
  if (words.size() % kWideWords != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("secagg: ", words.size(), " words is not a whole number of values"));
  }
  std::vector<double> out(words.size() / kWideWords);
  for (size_t i = 0; i < out.size(); ++i) {
    const i128 v = static_cast<i128>(Word128(words, i));
    out[i] = std::ldexp(static_cast<double>(v), -kWideScaleBits);
  }
  return out;
}

absl::Status AddWide(std::vector<uint64_t>* acc, absl::Span<const uint64_t> other, bool subtract) {
  if (acc->size() != other.size() || acc->size() % kWideWords != 0) {
    return absl::InvalidArgumentError(absl::StrCat("secagg: vectors of ", acc->size(), " and ",
                                                   other.size(), " words cannot be added"));
  }
  for (size_t i = 0; i < acc->size() / kWideWords; ++i) {
    const u128 a = Word128(*acc, i), b = Word128(other, i);
    Store128(acc, i, subtract ? a - b : a + b);
  }
  return absl::OkStatus();
}

absl::Status AddMask(std::vector<uint64_t>* acc, const Key32& seed, bool subtract) {
  if (acc->empty()) return absl::OkStatus();
  FEDRAD_ASSIGN_OR_RETURN(std::vector<uint64_t> mask, ExpandMask(seed, acc->size()));
  return AddWide(acc, mask, subtract);
}

absl::StatusOr<Key32> RoundPairSeed(const Key32& agreed, absl::string_view session,
                                    absl::string_view round, absl::string_view site_a,
                                    absl::string_view site_b) {
  if (session.empty() || round.empty() || site_a == site_b) {
    return absl::InvalidArgumentError(
        "secagg: a pairwise seed needs a session, a round and two different sites");
  }
  const absl::string_view lo = std::min(site_a, site_b), hi = std::max(site_a, site_b);
  return Derive(agreed, "fedrad-secagg-pair-v1", Fields({"pair", session, round, lo, hi}));
}

absl::StatusOr<Key32> RoundSelfSeed(const Key32& master, absl::string_view session,
                                    absl::string_view round) {
  if (session.empty() || round.empty()) {
    return absl::InvalidArgumentError("secagg: a self seed needs a session and a round");
  }
  return Derive(master, "fedrad-secagg-self-v1", Fields({"self", session, round}));
}

std::string SelfSeedCommitment(const Key32& self_seed) {
  const Sha256Digest d = Sha256(absl::StrCat("fedrad secagg self-seed commitment v1\n",
                                             KeyBytes(self_seed)));
  return std::string(reinterpret_cast<const char*>(d.data()), d.size());
}

absl::StatusOr<std::string> EncryptShare(const Key32& agreed, absl::string_view session,
                                         absl::string_view from, absl::string_view to,
                                         absl::string_view plaintext) {
  const std::string info = Fields({"share", session, from, to});
  FEDRAD_ASSIGN_OR_RETURN(Key32 key, ShareKey(agreed, info));
  unsigned char nonce[12];
  if (RAND_bytes(nonce, sizeof(nonce)) != 1) return OpenSslError("RAND_bytes");
  CipherCtx ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  std::string out(12 + plaintext.size() + 16, '\0');
  std::memcpy(out.data(), nonce, 12);
  auto* o = reinterpret_cast<unsigned char*>(out.data());
  if (!ctx || EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key.data(), nonce) != 1 ||
      EVP_EncryptUpdate(ctx.get(), nullptr, &len,
                        reinterpret_cast<const unsigned char*>(info.data()),
                        static_cast<int>(info.size())) != 1 ||
      EVP_EncryptUpdate(ctx.get(), o + 12, &len,
                        reinterpret_cast<const unsigned char*>(plaintext.data()),
                        static_cast<int>(plaintext.size())) != 1 ||
      EVP_EncryptFinal_ex(ctx.get(), o + 12 + len, &len) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, 16, o + 12 + plaintext.size()) != 1) {
    return OpenSslError("AES-256-GCM encryption");
  }
  return out;
}

absl::StatusOr<std::string> DecryptShare(const Key32& agreed, absl::string_view session,
                                         absl::string_view from, absl::string_view to,
                                         absl::string_view ciphertext) {
  if (ciphertext.size() < 12 + 16) {
    return absl::InvalidArgumentError(
        absl::StrCat("secagg: the share from ", from, " to ", to, " is too short"));
  }
  const std::string info = Fields({"share", session, from, to});
  FEDRAD_ASSIGN_OR_RETURN(Key32 key, ShareKey(agreed, info));
  const auto* in = reinterpret_cast<const unsigned char*>(ciphertext.data());
  const size_t n = ciphertext.size() - 28;
  std::string out(n, '\0');
  unsigned char tag[16];
  std::memcpy(tag, in + 12 + n, 16);
  CipherCtx ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  if (!ctx || EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key.data(), in) != 1 ||
      EVP_DecryptUpdate(ctx.get(), nullptr, &len,
                        reinterpret_cast<const unsigned char*>(info.data()),
                        static_cast<int>(info.size())) != 1 ||
      EVP_DecryptUpdate(ctx.get(), reinterpret_cast<unsigned char*>(out.data()), &len, in + 12,
                        static_cast<int>(n)) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, 16, tag) != 1) {
    return OpenSslError("AES-256-GCM decryption");
  }
  if (EVP_DecryptFinal_ex(ctx.get(), reinterpret_cast<unsigned char*>(out.data()) + len, &len) !=
      1) {
    ERR_clear_error();
    return absl::PermissionDeniedError(absl::StrCat(
        "secagg: the encrypted share from ", from, " to ", to, " in session ", session,
        " does not authenticate (altered, or not for this pair of sites)"));
  }
  return out;
}

int DefaultThreshold(int n) { return std::max(2, n / 2 + 1); }

absl::StatusOr<Key32> KeyFromBytes(absl::string_view bytes, absl::string_view what) {
  if (bytes.size() != 32) {
    return absl::InvalidArgumentError(
        absl::StrCat("secagg: ", what, " has ", bytes.size(), " bytes, expected 32"));
  }
  Key32 k;
  std::memcpy(k.data(), bytes.data(), 32);
  return k;
}

}  // namespace fedrad::secagg
