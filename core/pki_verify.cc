// Reading and verifying certificates (chain, dates, CRL), checking that a key
// matches a certificate, and detached signatures (PrivateKey, PublicKey) of
// core/pki.h. See internal/pki_internal.h for the file map.
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include <ctime>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "core/internal/pki_internal.h"
#include "core/pki.h"
#include "core/status.h"

namespace fedrad::pki {

using pki_internal::PkeyPtr;
using pki_internal::X509Ptr;
using pki_internal::CrlPtr;
using pki_internal::StorePtr;
using pki_internal::StoreCtxPtr;
using pki_internal::MdCtxPtr;
using pki_internal::OpenSslFailure;
using pki_internal::ParseCertPem;
using pki_internal::LoadCert;
using pki_internal::LoadKey;
using pki_internal::LoadCrl;
using pki_internal::AsnTimeToUnix;
using pki_internal::InfoFromCert;

namespace {

absl::StatusOr<std::string> Base64Encode(const unsigned char* data, size_t n) {
  std::string out(4 * ((n + 2) / 3) + 1, '\0');
  int len =
      EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data, static_cast<int>(n));
  if (len < 0) return OpenSslFailure("base64");
  out.resize(static_cast<size_t>(len));
  return out;
}

// Strict base64: only the canonical encoding of some byte string is accepted.
absl::StatusOr<std::string> Base64DecodeStrict(absl::string_view b64) {
  auto bad = [&]() { return absl::InvalidArgumentError("signature is not valid base64"); };
  if (b64.empty() || b64.size() % 4 != 0) return bad();
  for (char c : b64) {
    if (!(absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '/' || c == '=')) {
      return bad();
    }
  }
  std::string out(b64.size() / 4 * 3, '\0');
  int len = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                            reinterpret_cast<const unsigned char*>(b64.data()),
                            static_cast<int>(b64.size()));
  if (len < 0) return bad();
  size_t pad = 0;
  if (b64.back() == '=') ++pad;
  if (b64.size() >= 2 && b64[b64.size() - 2] == '=') ++pad;
  out.resize(static_cast<size_t>(len) - pad);
  FEDRAD_ASSIGN_OR_RETURN(
      std::string again,
      Base64Encode(reinterpret_cast<const unsigned char*>(out.data()), out.size()));
  if (again != b64) return bad();
  return out;
}

absl::StatusOr<std::string> SignData(EVP_PKEY* key, absl::string_view data) {
  MdCtxPtr md(EVP_MD_CTX_new());
  size_t len = 0;
  ERR_clear_error();
  if (EVP_DigestSignInit(md.get(), nullptr, EVP_sha256(), nullptr, key) != 1 ||
      EVP_DigestSign(md.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(data.data()),
                     data.size()) != 1) {
    return OpenSslFailure("signing");
  }
  std::string sig(len, '\0');
  if (EVP_DigestSign(md.get(), reinterpret_cast<unsigned char*>(sig.data()), &len,
                     reinterpret_cast<const unsigned char*>(data.data()), data.size()) != 1) {
    return OpenSslFailure("signing");
  }
  sig.resize(len);
  return Base64Encode(reinterpret_cast<const unsigned char*>(sig.data()), sig.size());
}

}  // namespace

// --- reading and checking certificates -----------------------------------------

absl::StatusOr<CertificateInfo> ReadCertificate(const std::string& cert_path) {
  FEDRAD_ASSIGN_OR_RETURN(X509Ptr cert, LoadCert(cert_path, "certificate"));
  return InfoFromCert(cert.get(), absl::StrCat("certificate ", cert_path));
}

absl::StatusOr<CertificateInfo> ParseCertificatePem(absl::string_view pem) {
  FEDRAD_ASSIGN_OR_RETURN(X509Ptr cert, ParseCertPem(pem, "certificate"));
  return InfoFromCert(cert.get(), "certificate");
}

absl::Status CheckKeyMatchesCertificate(const std::string& key_path, const std::string& cert_path) {
  FEDRAD_ASSIGN_OR_RETURN(PkeyPtr key, LoadKey(key_path, "private key"));
  FEDRAD_ASSIGN_OR_RETURN(X509Ptr cert, LoadCert(cert_path, "certificate"));
  if (X509_check_private_key(cert.get(), key.get()) != 1) {
    ERR_clear_error();
    return absl::FailedPreconditionError(
        absl::StrCat("private key ", key_path, " does not match certificate ", cert_path));
  }
  return absl::OkStatus();
}

absl::Status VerifyCertificatePem(absl::string_view cert_pem, const std::string& ca_cert_path,
                                  const std::string& crl_path) {
  return VerifyCertificatePemAt(cert_pem, ca_cert_path, crl_path,
                                static_cast<int64_t>(std::time(nullptr)));
}

namespace {

// Every certificate in the CA file (a bundle may hold the study CA and the
// one it replaces). FailedPrecondition naming the file when it holds none.
absl::StatusOr<std::vector<X509Ptr>> LoadCaBundle(const std::string& ca_cert_path) {
  auto text = pki_internal::ReadFile(ca_cert_path, "CA certificate");
  if (!text.ok()) return absl::FailedPreconditionError(text.status().message());
  std::vector<X509Ptr> cas;
  pki_internal::BioPtr bio = pki_internal::MemBio(*text);
  while (X509* ca = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) cas.emplace_back(ca);
  ERR_clear_error();
  if (cas.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("CA certificate ", ca_cert_path, ": no PEM certificate in it"));
  }
  return cas;
}

// The CRL at crl_path, checked to be signed by one of `cas` (read from
// ca_cert_path). FailedPrecondition naming the file otherwise.
absl::StatusOr<CrlPtr> LoadSignedCrl(const std::string& crl_path, const std::string& ca_cert_path,
                                     const std::vector<X509Ptr>& cas) {
  auto loaded = LoadCrl(crl_path);
  if (!loaded.ok()) {
    return absl::FailedPreconditionError(absl::StrCat("the CRL '", crl_path, "' cannot be used: ",
                                                      loaded.status().message()));
  }
  CrlPtr crl = *std::move(loaded);
  bool signed_by_ca = false;
  for (const X509Ptr& ca : cas) {
    if (X509_CRL_verify(crl.get(), X509_get0_pubkey(ca.get())) == 1) signed_by_ca = true;
  }
  ERR_clear_error();
  if (!signed_by_ca) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the CRL '", crl_path, "' is not signed by the CA in '", ca_cert_path, "' (CRL issuer ",
        pki_internal::NameEntry(X509_CRL_get_issuer(crl.get()), NID_commonName), ")"));
  }
  return crl;
}

// The CRL at crl_path, checked to be usable at `at_unix`: signed by one of
// `cas`, current. FailedPrecondition naming the file otherwise (a CRL that
// is configured but unusable refuses everyone: fail closed).
absl::StatusOr<CrlPtr> LoadUsableCrl(const std::string& crl_path, const std::string& ca_cert_path,
                                     const std::vector<X509Ptr>& cas, int64_t at_unix) {
  FEDRAD_ASSIGN_OR_RETURN(CrlPtr crl, LoadSignedCrl(crl_path, ca_cert_path, cas));
  const int64_t next = AsnTimeToUnix(X509_CRL_get0_nextUpdate(crl.get()));
  if (next != 0 && next < at_unix) {
    return absl::FailedPreconditionError(
        absl::StrCat("the CRL '", crl_path, "' expired on ", FormatUnixTime(next),
                     "; re-sign it at the CA with `fedrad pki crl` and copy it here"));
  }
  const int64_t last = AsnTimeToUnix(X509_CRL_get0_lastUpdate(crl.get()));
  if (last != 0 && last > at_unix) {
    return absl::FailedPreconditionError(absl::StrCat("the CRL '", crl_path,
                                                      "' is not valid before ", FormatUnixTime(last),
                                                      " (check this machine's clock)"));
  }
  return crl;
}

// OpenSSL's verdict `err` on `info`'s certificate, in words.
absl::Status Refusal(int err, const CertificateInfo& info, const std::string& crl_path) {
  const std::string who = absl::StrCat("certificate CN=", info.common_name);
  switch (err) {
    case X509_V_OK:
      return absl::OkStatus();
    case X509_V_ERR_CERT_HAS_EXPIRED:
      return absl::UnauthenticatedError(
          absl::StrCat(who, " expired on ", FormatUnixTime(info.not_after_unix)));
    case X509_V_ERR_CERT_NOT_YET_VALID:
      return absl::UnauthenticatedError(
          absl::StrCat(who, " is not valid before ", FormatUnixTime(info.not_before_unix)));
    case X509_V_ERR_CERT_REVOKED:
      return absl::UnauthenticatedError(
          absl::StrCat(who, " revoked (serial ", info.serial_hex, ", CRL '", crl_path, "')"));
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    case X509_V_ERR_CERT_SIGNATURE_FAILURE:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
      return absl::UnauthenticatedError(absl::StrCat(
          who, " not issued by this study's CA (issuer ", info.issuer_common_name, ")"));
    case X509_V_ERR_CERT_CHAIN_TOO_LONG:
    case X509_V_ERR_INVALID_CA:
      return absl::UnauthenticatedError(
          absl::StrCat(who, ": the CA certificate is not a valid CA"));
    default:
      return absl::UnauthenticatedError(
          absl::StrCat(who, " refused: ", X509_verify_cert_error_string(err)));
  }
}

}  // namespace

absl::StatusOr<CrlInfo> ReadCrlSignedBy(const std::string& crl_path,
                                        const std::string& ca_cert_path) {
  FEDRAD_ASSIGN_OR_RETURN(std::vector<X509Ptr> cas, LoadCaBundle(ca_cert_path));
  FEDRAD_ASSIGN_OR_RETURN(CrlPtr crl, LoadSignedCrl(crl_path, ca_cert_path, cas));
  return pki_internal::CrlInfoFromCrl(crl.get());
}

absl::Status VerifyCertificatePemAt(absl::string_view cert_pem, const std::string& ca_cert_path,
                                    const std::string& crl_path, int64_t at_unix) {
  FEDRAD_ASSIGN_OR_RETURN(X509Ptr cert, ParseCertPem(cert_pem, "peer certificate"));
  FEDRAD_ASSIGN_OR_RETURN(std::vector<X509Ptr> cas, LoadCaBundle(ca_cert_path));
  FEDRAD_ASSIGN_OR_RETURN(CertificateInfo info, InfoFromCert(cert.get(), "peer certificate"));
  if (info.is_ca) {
    return absl::UnauthenticatedError(absl::StrCat(
        "certificate CN=", info.common_name, " is a CA certificate, not a node certificate"));
  }
  StorePtr store(X509_STORE_new());
  for (const X509Ptr& ca : cas) {
    if (X509_STORE_add_cert(store.get(), ca.get()) != 1) return OpenSslFailure("trust store");
  }
  auto verify = [&]() -> absl::StatusOr<int> {
    StoreCtxPtr ctx(X509_STORE_CTX_new());
    if (X509_STORE_CTX_init(ctx.get(), store.get(), cert.get(), nullptr) != 1) {
      return OpenSslFailure("verify context");
    }
    X509_STORE_CTX_set_time(ctx.get(), 0, static_cast<time_t>(at_unix));
    int result = X509_verify_cert(ctx.get()) == 1 ? X509_V_OK : X509_STORE_CTX_get_error(ctx.get());
    ERR_clear_error();
    return result;
  };
  // The chain and the dates first, without the CRL: a certificate from
  // another CA (or a CA file from another study) is reported as such, not as
  // a CRL that does not match the CA.
  FEDRAD_ASSIGN_OR_RETURN(int err, verify());
  if (err == X509_V_OK && !crl_path.empty()) {
    FEDRAD_ASSIGN_OR_RETURN(CrlPtr crl, LoadUsableCrl(crl_path, ca_cert_path, cas, at_unix));
    X509_STORE_add_crl(store.get(), crl.get());
    X509_STORE_set_flags(store.get(), X509_V_FLAG_CRL_CHECK);
    FEDRAD_ASSIGN_OR_RETURN(err, verify());
  }
  return Refusal(err, info, crl_path);
}

// --- signatures -------------------------------------------------------------------

PrivateKey::~PrivateKey() { EVP_PKEY_free(static_cast<EVP_PKEY*>(pkey_)); }

absl::StatusOr<std::unique_ptr<PrivateKey>> PrivateKey::Load(const std::string& key_path) {
  FEDRAD_ASSIGN_OR_RETURN(PkeyPtr key, LoadKey(key_path, "private key"));
  return std::unique_ptr<PrivateKey>(new PrivateKey(key.release()));
}

absl::StatusOr<std::string> PrivateKey::Sign(absl::string_view data) const {
  return SignData(static_cast<EVP_PKEY*>(pkey_), data);
}

absl::Status PrivateKey::CheckMatches(absl::string_view cert_pem) const {
  FEDRAD_ASSIGN_OR_RETURN(X509Ptr cert, ParseCertPem(cert_pem, "certificate"));
  if (X509_check_private_key(cert.get(), static_cast<EVP_PKEY*>(pkey_)) != 1) {
    ERR_clear_error();
    return absl::FailedPreconditionError("private key does not match the certificate");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> SignWithKey(const std::string& key_path, absl::string_view data) {
  FEDRAD_ASSIGN_OR_RETURN(PkeyPtr key, LoadKey(key_path, "private key"));
  return SignData(key.get(), data);
}

PublicKey::~PublicKey() { EVP_PKEY_free(static_cast<EVP_PKEY*>(pkey_)); }

absl::StatusOr<std::unique_ptr<PublicKey>> PublicKey::FromCertificatePem(
    absl::string_view cert_pem) {
  FEDRAD_ASSIGN_OR_RETURN(X509Ptr cert, ParseCertPem(cert_pem, "certificate"));
  EVP_PKEY* key = X509_get_pubkey(cert.get());  // a new reference
  if (key == nullptr) return OpenSslFailure("certificate public key");
  return std::unique_ptr<PublicKey>(new PublicKey(key));
}

absl::Status PublicKey::Verify(absl::string_view data, absl::string_view signature_b64) const {
  FEDRAD_ASSIGN_OR_RETURN(std::string sig, Base64DecodeStrict(signature_b64));
  MdCtxPtr md(EVP_MD_CTX_new());
  ERR_clear_error();
  int rc =
      EVP_DigestVerifyInit(md.get(), nullptr, EVP_sha256(), nullptr, static_cast<EVP_PKEY*>(pkey_));
  if (rc == 1) {
    rc = EVP_DigestVerify(md.get(), reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
                          reinterpret_cast<const unsigned char*>(data.data()), data.size());
  }
  ERR_clear_error();
  if (rc != 1) {
    return absl::UnauthenticatedError("signature does not verify with the certificate's key");
  }
  return absl::OkStatus();
}

absl::Status VerifyWithCertificatePem(absl::string_view cert_pem, absl::string_view data,
                                      absl::string_view signature_b64) {
  FEDRAD_ASSIGN_OR_RETURN(std::unique_ptr<PublicKey> key, PublicKey::FromCertificatePem(cert_pem));
  return key->Verify(data, signature_b64);
}

}  // namespace fedrad::pki
