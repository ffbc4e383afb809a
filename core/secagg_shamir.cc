// Shamir secret sharing of 32-byte secrets over GF(2^521 - 1)
// (core/secagg.h: SplitSecret, ReconstructSecret).
#include <openssl/bn.h>

#include <memory>
#include <set>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "core/internal/secagg_internal.h"
#include "core/secagg.h"
#include "core/status.h"

namespace fedrad {
namespace secagg {
namespace {

using secagg_internal::OpenSslError;

struct BnFree {
  void operator()(BIGNUM* p) const { BN_clear_free(p); }
};
struct BnCtxFree {
  void operator()(BN_CTX* p) const { BN_CTX_free(p); }
};
using Bn = std::unique_ptr<BIGNUM, BnFree>;
using BnCtx = std::unique_ptr<BN_CTX, BnCtxFree>;

const BIGNUM* FieldPrime() { return BN_get0_nist_prime_521(); }

Bn NewBn() { return Bn(BN_new()); }

absl::StatusOr<std::string> ToFixed(const BIGNUM* v) {
  std::string out(kShareValueSize, '\0');
  if (BN_bn2binpad(v, reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(out.size())) !=
      static_cast<int>(out.size())) {
    return OpenSslError("serialising a field element");
  }
  return out;
}

}  // namespace

absl::StatusOr<std::vector<Share>> SplitSecret(const Key32& secret, int threshold, int num_shares) {
  if (threshold < 1 || num_shares < threshold || num_shares > kMaxShares) {
    return absl::InvalidArgumentError(
        absl::StrCat("secagg: Shamir needs 1 <= threshold <= shares <= ", kMaxShares,
                     ", got threshold ", threshold, " of ", num_shares));
  }
  const BIGNUM* p = FieldPrime();
  BnCtx ctx(BN_CTX_new());
  if (!ctx) return OpenSslError("BN_CTX_new");
  // coeffs[0] = secret, coeffs[1..t-1] uniform in [0, p).
  std::vector<Bn> coeffs;
  coeffs.reserve(static_cast<size_t>(threshold));
  Bn c0(BN_bin2bn(secret.data(), static_cast<int>(secret.size()), nullptr));
  if (!c0) return OpenSslError("BN_bin2bn");
  coeffs.push_back(std::move(c0));
  for (int k = 1; k < threshold; ++k) {
    Bn c = NewBn();
    if (!c || BN_priv_rand_range(c.get(), p) != 1) return OpenSslError("BN_priv_rand_range");
    coeffs.push_back(std::move(c));
  }
  std::vector<Share> shares;
  shares.reserve(static_cast<size_t>(num_shares));
  Bn x = NewBn(), y = NewBn();
  if (!x || !y) return OpenSslError("BN_new");
  for (int i = 1; i <= num_shares; ++i) {
    // Horner: y = (...(c_{t-1} x + c_{t-2}) x + ...) x + c_0 (mod p).
    if (BN_set_word(x.get(), static_cast<BN_ULONG>(i)) != 1 ||
        BN_copy(y.get(), coeffs.back().get()) == nullptr) {
      return OpenSslError("Shamir evaluation");
    }
    for (int k = threshold - 2; k >= 0; --k) {
      if (BN_mod_mul(y.get(), y.get(), x.get(), p, ctx.get()) != 1 ||
          BN_mod_add(y.get(), y.get(), coeffs[static_cast<size_t>(k)].get(), p, ctx.get()) != 1) {
        return OpenSslError("Shamir evaluation");
      }
    }
    FEDRAD_ASSIGN_OR_RETURN(std::string bytes, ToFixed(y.get()));
    shares.push_back(Share{static_cast<uint32_t>(i), threshold, std::move(bytes)});
  }
  return shares;
}

namespace {

// f(at) for the polynomial through the points (xs[k], ys[k]), by Lagrange:
// f(at) = sum_k y_k * prod_{m != k} (at - x_m) / (x_k - x_m). The terms are
// added as one fraction num/den so that a single modular inverse is needed.
absl::Status Interpolate(const std::vector<Bn>& xs, const std::vector<Bn>& ys, const BIGNUM* at,
                         BIGNUM* out, BN_CTX* ctx) {
  const BIGNUM* p = FieldPrime();
  Bn num = NewBn(), den = NewBn(), term_num = NewBn(), term_den = NewBn(), diff = NewBn(),
     tmp = NewBn();
  if (!num || !den || !term_num || !term_den || !diff || !tmp) return OpenSslError("BN_new");
  BN_zero(num.get());
  BN_one(den.get());
  for (size_t k = 0; k < xs.size(); ++k) {
    if (BN_copy(term_num.get(), ys[k].get()) == nullptr) return OpenSslError("BN_copy");
    BN_one(term_den.get());
    for (size_t m = 0; m < xs.size(); ++m) {
      if (m == k) continue;
      if (BN_mod_sub(diff.get(), at, xs[m].get(), p, ctx) != 1 ||
          BN_mod_mul(term_num.get(), term_num.get(), diff.get(), p, ctx) != 1 ||
          BN_mod_sub(diff.get(), xs[k].get(), xs[m].get(), p, ctx) != 1 ||
          BN_mod_mul(term_den.get(), term_den.get(), diff.get(), p, ctx) != 1) {
        return OpenSslError("Lagrange interpolation");
      }
    }
    // num/den + term_num/term_den = (num * term_den + term_num * den) / (den * term_den)
    if (BN_mod_mul(num.get(), num.get(), term_den.get(), p, ctx) != 1 ||
        BN_mod_mul(tmp.get(), term_num.get(), den.get(), p, ctx) != 1 ||
        BN_mod_add(num.get(), num.get(), tmp.get(), p, ctx) != 1 ||
        BN_mod_mul(den.get(), den.get(), term_den.get(), p, ctx) != 1) {
      return OpenSslError("Lagrange interpolation");
    }
  }
  // den is a product of differences of distinct x values below p: non-zero.
  if (BN_mod_inverse(den.get(), den.get(), p, ctx) == nullptr ||
      BN_mod_mul(out, num.get(), den.get(), p, ctx) != 1) {
    return OpenSslError("Lagrange interpolation");
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Key32> ReconstructSecret(absl::Span<const Share> shares) {
  if (shares.empty()) {
    return absl::FailedPreconditionError("secagg: no Shamir shares to reconstruct from");
  }
  const int t = shares.front().threshold;
  if (t < 1 || t > kMaxShares) {
    return absl::InvalidArgumentError(
        absl::StrCat("secagg: Shamir share carries an invalid threshold ", t));
  }
  for (const Share& s : shares) {
    if (s.threshold != t) {
      return absl::InvalidArgumentError(absl::StrCat(
          "secagg: Shamir shares disagree on the threshold (", t, " and ", s.threshold, ")"));
    }
  }
  if (shares.size() < static_cast<size_t>(t)) {
    return absl::FailedPreconditionError(
        absl::StrCat("secagg: ", shares.size(), " Shamir shares given, threshold is ", t,
                     ": the secret cannot be reconstructed from fewer than ", t));
  }
  const BIGNUM* p = FieldPrime();
  BnCtx ctx(BN_CTX_new());
  if (!ctx) return OpenSslError("BN_CTX_new");
  std::set<uint32_t> seen;
  std::vector<Bn> xs, ys;
  for (const Share& s : shares) {
    if (s.x == 0 || s.x > static_cast<uint32_t>(kMaxShares)) {
      return absl::InvalidArgumentError(
          absl::StrCat("secagg: Shamir share x = ", s.x, " is not in 1..", kMaxShares));
    }
    if (!seen.insert(s.x).second) {
      return absl::InvalidArgumentError(absl::StrCat("secagg: Shamir share x = ", s.x, " repeats"));
    }
    if (s.y.size() != kShareValueSize) {
      return absl::InvalidArgumentError(absl::StrCat("secagg: Shamir share x = ", s.x, " has ",
                                                     s.y.size(), " bytes, expected ",
                                                     kShareValueSize));
    }
    Bn x = NewBn();
    Bn y(BN_bin2bn(reinterpret_cast<const unsigned char*>(s.y.data()), static_cast<int>(s.y.size()),
                   nullptr));
    if (!x || !y || BN_set_word(x.get(), s.x) != 1) return OpenSslError("BN_bin2bn");
    if (BN_cmp(y.get(), p) >= 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("secagg: Shamir share x = ", s.x, " is not a field element"));
    }
    xs.push_back(std::move(x));
    ys.push_back(std::move(y));
  }
  std::vector<Bn> base_x, base_y;
  for (int k = 0; k < t; ++k) {
    base_x.push_back(std::move(xs[static_cast<size_t>(k)]));
    base_y.push_back(std::move(ys[static_cast<size_t>(k)]));
  }
  Bn value = NewBn();
  if (!value) return OpenSslError("BN_new");
  // Shares beyond the first t must lie on the same polynomial.
  for (size_t k = static_cast<size_t>(t); k < xs.size(); ++k) {
    FEDRAD_RETURN_IF_ERROR(Interpolate(base_x, base_y, xs[k].get(), value.get(), ctx.get()));
    if (BN_cmp(value.get(), ys[k].get()) != 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("secagg: Shamir share x = ", shares[k].x,
                       " is inconsistent with the others (corrupt or from another secret)"));
    }
  }
  Bn zero = NewBn();
  if (!zero) return OpenSslError("BN_new");
  BN_zero(zero.get());
  FEDRAD_RETURN_IF_ERROR(Interpolate(base_x, base_y, zero.get(), value.get(), ctx.get()));
  if (BN_num_bytes(value.get()) > 32) {
    return absl::InvalidArgumentError(
        "secagg: the Shamir shares do not reconstruct a 32-byte secret (corrupt shares?)");
  }
  Key32 secret{};
  if (BN_bn2binpad(value.get(), secret.data(), static_cast<int>(secret.size())) !=
      static_cast<int>(secret.size())) {
    return OpenSslError("BN_bn2binpad");
  }
  return secret;
}


}  // namespace secagg
}  // namespace fedrad
