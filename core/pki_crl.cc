// CRLs of core/pki.h: writing the CA's CRL (also used by InitCa), Revoke,
// RefreshCrl and ReadCrl. See internal/pki_internal.h for the file map.
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <ctime>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/internal/pki_internal.h"
#include "core/pki.h"
#include "core/status.h"

namespace fedrad::pki_internal {
namespace {

absl::StatusOr<std::string> CrlToPem(X509_CRL* crl) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (PEM_write_bio_X509_CRL(bio.get(), crl) != 1) {
    return OpenSslFailure("encoding CRL");
  }
  return BioToString(bio.get());
}

// RFC 5280, 5.3.1 CRLReason codes: those Revoke writes (`fedrad pki revoke
// --reason`), then those a CRL from elsewhere may also hold (read only).
struct CrlReason {
  const char* name;
  int code;
};
constexpr CrlReason kReasons[] = {
    {"unspecified", CRL_REASON_UNSPECIFIED},
    {"keyCompromise", CRL_REASON_KEY_COMPROMISE},
    {"affiliationChanged", CRL_REASON_AFFILIATION_CHANGED},
    {"superseded", CRL_REASON_SUPERSEDED},
    {"cessationOfOperation", CRL_REASON_CESSATION_OF_OPERATION},
    {"certificateHold", CRL_REASON_CERTIFICATE_HOLD},
};
constexpr CrlReason kOtherReasons[] = {
    {"cACompromise", CRL_REASON_CA_COMPROMISE},
    {"removeFromCRL", CRL_REASON_REMOVE_FROM_CRL},
    {"privilegeWithdrawn", CRL_REASON_PRIVILEGE_WITHDRAWN},
    {"aACompromise", CRL_REASON_AA_COMPROMISE},
};

std::string ReasonName(int code) {
  for (const auto& r : kReasons) {
    if (r.code == code) return r.name;
  }
  for (const auto& r : kOtherReasons) {
    if (r.code == code) return r.name;
  }
  return absl::StrCat("reason ", code);
}

int64_t CrlNumber(X509_CRL* crl) {
  AsnIntPtr n(
      static_cast<ASN1_INTEGER*>(X509_CRL_get_ext_d2i(crl, NID_crl_number, nullptr, nullptr)));
  if (!n) return 0;
  int64_t v = 0;
  ASN1_INTEGER_get_int64(&v, n.get());
  return v;
}

}  // namespace

// Signs and writes ca_dir/crl.pem holding `entries` (ownership taken).
absl::Status WriteCrl(const std::string& ca_dir, const Ca& ca, std::vector<RevokedPtr> entries,
                      int64_t crl_number, int crl_validity_days) {
  if (crl_validity_days < 1) {
    return absl::InvalidArgumentError("CRL validity must be at least 1 day");
  }
  CrlPtr crl(X509_CRL_new());
  int64_t now = static_cast<int64_t>(std::time(nullptr));
  AsnTimePtr last(ASN1_TIME_set(nullptr, static_cast<time_t>(now)));
  AsnTimePtr next(
      ASN1_TIME_set(nullptr, static_cast<time_t>(now + crl_validity_days * kSecondsPerDay)));
  if (X509_CRL_set_version(crl.get(), 1) != 1 ||  // 1 means v2
      X509_CRL_set_issuer_name(crl.get(), X509_get_subject_name(ca.cert.get())) != 1 ||
      X509_CRL_set1_lastUpdate(crl.get(), last.get()) != 1 ||
      X509_CRL_set1_nextUpdate(crl.get(), next.get()) != 1) {
    return OpenSslFailure("building CRL");
  }
  for (auto& entry : entries) {
    if (X509_CRL_add0_revoked(crl.get(), entry.get()) != 1) {
      return OpenSslFailure("adding CRL entry");
    }
    entry.release();
  }
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, ca.cert.get(), nullptr, nullptr, crl.get(), 0);
  ERR_clear_error();
  ExtPtr aki(X509V3_EXT_conf_nid(nullptr, &ctx, NID_authority_key_identifier, "keyid:always"));
  if (!aki || X509_CRL_add_ext(crl.get(), aki.get(), -1) != 1) {
    return OpenSslFailure("CRL authorityKeyIdentifier");
  }
  AsnIntPtr number(ASN1_INTEGER_new());
  ASN1_INTEGER_set_int64(number.get(), crl_number);
  if (X509_CRL_add1_ext_i2d(crl.get(), NID_crl_number, number.get(), 0, 0) != 1) {
    return OpenSslFailure("CRL number");
  }
  X509_CRL_sort(crl.get());
  if (X509_CRL_sign(crl.get(), ca.key.get(), EVP_sha256()) <= 0) {
    return OpenSslFailure("signing CRL");
  }
  FEDRAD_ASSIGN_OR_RETURN(std::string pem, CrlToPem(crl.get()));
  return WritePublicFile(JoinPath(ca_dir, kCrl), pem, "CRL");
}

pki::CrlInfo CrlInfoFromCrl(X509_CRL* crl) {
  pki::CrlInfo info;
  info.issuer = NameOneLine(X509_CRL_get_issuer(crl));
  info.crl_number = CrlNumber(crl);
  info.last_update_unix = AsnTimeToUnix(X509_CRL_get0_lastUpdate(crl));
  info.next_update_unix = AsnTimeToUnix(X509_CRL_get0_nextUpdate(crl));
  STACK_OF(X509_REVOKED)* revoked = X509_CRL_get_REVOKED(crl);
  for (int i = 0; i < sk_X509_REVOKED_num(revoked); ++i) {
    X509_REVOKED* r = sk_X509_REVOKED_value(revoked, i);
    pki::RevokedEntry e;
    e.serial_hex = SerialHex(X509_REVOKED_get0_serialNumber(r));
    e.revoked_unix = AsnTimeToUnix(X509_REVOKED_get0_revocationDate(r));
    std::unique_ptr<ASN1_ENUMERATED, Freer<ASN1_ENUMERATED, ASN1_ENUMERATED_free>> code(
        static_cast<ASN1_ENUMERATED*>(
            X509_REVOKED_get_ext_d2i(r, NID_crl_reason, nullptr, nullptr)));
    if (code) e.reason = ReasonName(static_cast<int>(ASN1_ENUMERATED_get(code.get())));
    info.revoked.push_back(e);
  }
  ERR_clear_error();
  return info;
}

}  // namespace fedrad::pki_internal

namespace fedrad::pki {

using pki_internal::X509Ptr;
using pki_internal::CrlPtr;
using pki_internal::Freer;
using pki_internal::AsnIntPtr;
using pki_internal::AsnTimePtr;
using pki_internal::RevokedPtr;
using pki_internal::kCrl;
using pki_internal::kSecondsPerDay;
using pki_internal::OpenSslFailure;
using pki_internal::JoinPath;
using pki_internal::LoadCert;
using pki_internal::LoadCrl;
using pki_internal::AsnTimeToUnix;
using pki_internal::SerialHex;
using pki_internal::Ca;
using pki_internal::LoadCa;
using pki_internal::WriteCrl;

using pki_internal::kReasons;
using pki_internal::CrlNumber;

namespace {

// The CA's current CRL, checked to be signed by it.
absl::StatusOr<CrlPtr> LoadCaCrl(const std::string& ca_dir, const Ca& ca) {
  std::string path = JoinPath(ca_dir, kCrl);
  FEDRAD_ASSIGN_OR_RETURN(CrlPtr crl, LoadCrl(path));
  if (X509_CRL_verify(crl.get(), X509_get0_pubkey(ca.cert.get())) != 1) {
    ERR_clear_error();
    return absl::DataLossError(absl::StrCat("CRL ", path, " is not signed by this CA's key"));
  }
  return crl;
}

std::vector<RevokedPtr> CopyEntries(X509_CRL* crl) {
  std::vector<RevokedPtr> out;
  STACK_OF(X509_REVOKED)* revoked = X509_CRL_get_REVOKED(crl);
  for (int i = 0; i < sk_X509_REVOKED_num(revoked); ++i) {
    out.emplace_back(X509_REVOKED_dup(sk_X509_REVOKED_value(revoked, i)));
  }
  return out;
}

}  // namespace

absl::Status Revoke(const std::string& ca_dir, const std::string& cert_path,
                    const std::string& reason) {
  int reason_code = -1;
  if (!reason.empty()) {
    for (const auto& r : kReasons) {
      if (reason == r.name) reason_code = r.code;
    }
    if (reason_code < 0) {
      std::vector<std::string> names;
      for (const auto& r : kReasons) names.push_back(r.name);
      return absl::InvalidArgumentError(absl::StrCat("unknown revocation reason \"", reason,
                                                     "\"; expected one of ",
                                                     absl::StrJoin(names, ", ")));
    }
  }
  FEDRAD_ASSIGN_OR_RETURN(Ca ca, LoadCa(ca_dir));
  FEDRAD_ASSIGN_OR_RETURN(X509Ptr cert, LoadCert(cert_path, "certificate"));
  if (X509_verify(cert.get(), X509_get0_pubkey(ca.cert.get())) != 1) {
    ERR_clear_error();
    return absl::UnauthenticatedError(
        absl::StrCat("certificate ", cert_path, " was not issued by the CA in ", ca_dir));
  }
  FEDRAD_ASSIGN_OR_RETURN(CrlPtr old_crl, LoadCaCrl(ca_dir, ca));
  const ASN1_INTEGER* serial = X509_get0_serialNumber(cert.get());
  std::string serial_hex = SerialHex(serial);
  std::vector<RevokedPtr> entries = CopyEntries(old_crl.get());
  for (const auto& e : entries) {
    if (ASN1_INTEGER_cmp(X509_REVOKED_get0_serialNumber(e.get()), serial) == 0) {
      return absl::AlreadyExistsError(
          absl::StrCat("certificate ", cert_path, " (serial ", serial_hex, ") is already revoked"));
    }
  }
  RevokedPtr entry(X509_REVOKED_new());
  AsnTimePtr when(ASN1_TIME_set(nullptr, std::time(nullptr)));
  if (X509_REVOKED_set_serialNumber(entry.get(), const_cast<ASN1_INTEGER*>(serial)) != 1 ||
      X509_REVOKED_set_revocationDate(entry.get(), when.get()) != 1) {
    return OpenSslFailure("building CRL entry");
  }
  if (reason_code >= 0) {
    std::unique_ptr<ASN1_ENUMERATED, Freer<ASN1_ENUMERATED, ASN1_ENUMERATED_free>> code(
        ASN1_ENUMERATED_new());
    ASN1_ENUMERATED_set(code.get(), reason_code);
    if (X509_REVOKED_add1_ext_i2d(entry.get(), NID_crl_reason, code.get(), 0, 0) != 1) {
      return OpenSslFailure("CRL reason");
    }
  }
  entries.push_back(std::move(entry));
  int64_t days = std::max<int64_t>(1, (AsnTimeToUnix(X509_CRL_get0_nextUpdate(old_crl.get())) -
                                       AsnTimeToUnix(X509_CRL_get0_lastUpdate(old_crl.get()))) /
                                          kSecondsPerDay);
  return WriteCrl(ca_dir, ca, std::move(entries), CrlNumber(old_crl.get()) + 1,
                  static_cast<int>(days));
}

absl::Status RefreshCrl(const std::string& ca_dir, int crl_validity_days) {
  FEDRAD_ASSIGN_OR_RETURN(Ca ca, LoadCa(ca_dir));
  FEDRAD_ASSIGN_OR_RETURN(CrlPtr old_crl, LoadCaCrl(ca_dir, ca));
  return WriteCrl(ca_dir, ca, CopyEntries(old_crl.get()), CrlNumber(old_crl.get()) + 1,
                  crl_validity_days);
}

absl::StatusOr<CrlInfo> ReadCrl(const std::string& crl_path) {
  FEDRAD_ASSIGN_OR_RETURN(CrlPtr crl, LoadCrl(crl_path));
  return pki_internal::CrlInfoFromCrl(crl.get());
}

}  // namespace fedrad::pki
