// Internal to core/pki (fedrad::pki_internal): the OpenSSL RAII types, the CA
// folder's file names and the small helpers shared by the files that implement
// core/pki.h. Not for use outside core/pki*.cc.
//
// Where things are:
//   pki.cc                     roles, InitCa, keys and CSRs (CreateKeyAndCsr,
//                              ReadCsr, CheckCsrExpectations), issuing
//                              (SignCsr, IssueIdentity)
//   pki_verify.cc              reading and verifying certificates (chain,
//                              dates, CRL), key/certificate match, detached
//                              signatures (PrivateKey, PublicKey)
//   pki_crl.cc                 CRLs: WriteCrl, Revoke, RefreshCrl, ReadCrl
//                              (ReadCrlSignedBy is in pki_verify.cc, beside
//                              the CA-signature check it shares)
//   internal/pki_internal.cc   the helpers declared here (errors, files, PEM,
//                              name/serial/time conversions, LoadCa,
//                              InfoFromCert)
#ifndef FEDRAD_CORE_INTERNAL_PKI_INTERNAL_H_
#define FEDRAD_CORE_INTERNAL_PKI_INTERNAL_H_

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/pki.h"

namespace fedrad::pki_internal {

// --- RAII for OpenSSL objects -------------------------------------------------

template <typename T, void (*F)(T*)>
struct Freer {
  void operator()(T* p) const {
    if (p != nullptr) F(p);
  }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, Freer<EVP_PKEY, EVP_PKEY_free>>;
using X509Ptr = std::unique_ptr<X509, Freer<X509, X509_free>>;
using ReqPtr = std::unique_ptr<X509_REQ, Freer<X509_REQ, X509_REQ_free>>;
using CrlPtr = std::unique_ptr<X509_CRL, Freer<X509_CRL, X509_CRL_free>>;
using BioPtr = std::unique_ptr<BIO, Freer<BIO, BIO_free_all>>;
using StorePtr = std::unique_ptr<X509_STORE, Freer<X509_STORE, X509_STORE_free>>;
using StoreCtxPtr = std::unique_ptr<X509_STORE_CTX, Freer<X509_STORE_CTX, X509_STORE_CTX_free>>;
using ExtPtr = std::unique_ptr<X509_EXTENSION, Freer<X509_EXTENSION, X509_EXTENSION_free>>;
using AsnIntPtr = std::unique_ptr<ASN1_INTEGER, Freer<ASN1_INTEGER, ASN1_INTEGER_free>>;
using AsnTimePtr = std::unique_ptr<ASN1_TIME, Freer<ASN1_TIME, ASN1_TIME_free>>;
using BnPtr = std::unique_ptr<BIGNUM, Freer<BIGNUM, BN_free>>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, Freer<EVP_MD_CTX, EVP_MD_CTX_free>>;
using RevokedPtr = std::unique_ptr<X509_REVOKED, Freer<X509_REVOKED, X509_REVOKED_free>>;


inline void FreeGeneralNames(GENERAL_NAMES* names) { GENERAL_NAMES_free(names); }
using GeneralNamesPtr = std::unique_ptr<GENERAL_NAMES, Freer<GENERAL_NAMES, FreeGeneralNames>>;

inline constexpr char kCaKey[] = "ca.key";
inline constexpr char kCaCert[] = "ca.crt";
inline constexpr char kCrl[] = "crl.pem";
inline constexpr char kSerials[] = "serials.txt";
inline constexpr int64_t kSecondsPerDay = 86400;

// --- errors and files (internal/pki_internal.cc) ------------------------------

// Drains OpenSSL's error queue into one readable string.
std::string OpenSslErrors();
// Internal error "<what>: <OpenSSL errors>".
absl::Status OpenSslFailure(absl::string_view what);
std::string JoinPath(const std::string& dir, const char* name);
bool FileExists(const std::string& path);
// The file's contents; NotFound names `what` and the path.
absl::StatusOr<std::string> ReadFile(const std::string& path, absl::string_view what);
absl::Status WritePublicFile(const std::string& path, absl::string_view data,
                             absl::string_view what);

// --- PEM <-> objects ------------------------------------------------------------

BioPtr MemBio(absl::string_view data);
std::string BioToString(BIO* bio);
absl::StatusOr<X509Ptr> ParseCertPem(absl::string_view pem, absl::string_view origin);
absl::StatusOr<X509Ptr> LoadCert(const std::string& path, absl::string_view what);
absl::StatusOr<PkeyPtr> ParseKeyPem(absl::string_view pem, absl::string_view origin);
// Warns when the key file is readable by group or others.
absl::StatusOr<PkeyPtr> LoadKey(const std::string& path, absl::string_view what);
absl::StatusOr<CrlPtr> LoadCrl(const std::string& path);

// --- small conversions ----------------------------------------------------------

int64_t AsnTimeToUnix(const ASN1_TIME* t);
// Lower-case hex without leading zeros.
std::string SerialHex(const ASN1_INTEGER* serial);
std::string NameOneLine(const X509_NAME* name);
std::string NameEntry(const X509_NAME* name, int nid);

// --- CA folder ------------------------------------------------------------------

struct Ca {
  X509Ptr cert;
  PkeyPtr key;
};

// ca_dir/ca.crt and ca_dir/ca.key, checked to match.
absl::StatusOr<Ca> LoadCa(const std::string& ca_dir);

absl::StatusOr<pki::CertificateInfo> InfoFromCert(X509* cert, absl::string_view origin);

// What `crl` holds (issuer, number, dates, entries with their reasons).
// Defined in pki_crl.cc.
pki::CrlInfo CrlInfoFromCrl(X509_CRL* crl);

// Signs and writes ca_dir/crl.pem holding `entries` (ownership taken).
// Defined in pki_crl.cc.
absl::Status WriteCrl(const std::string& ca_dir, const Ca& ca, std::vector<RevokedPtr> entries,
                      int64_t crl_number, int crl_validity_days);

}  // namespace fedrad::pki_internal

#endif  // FEDRAD_CORE_INTERNAL_PKI_INTERNAL_H_
