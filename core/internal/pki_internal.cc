// The helpers shared by core/pki*.cc; see pki_internal.h for the file map.
#include "core/internal/pki_internal.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <sys/stat.h>

#include <cstring>
#include <ctime>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "core/csv.h"
#include "core/hash.h"
#include "core/log.h"
#include "core/status.h"

namespace fedrad::pki_internal {

using pki::CertificateInfo;
using pki::ParseRole;

// Drains OpenSSL's error queue into one readable string.
std::string OpenSslErrors() {
  std::vector<std::string> parts;
  unsigned long code;
  while ((code = ERR_get_error()) != 0) {
    char buf[256];
    ERR_error_string_n(code, buf, sizeof(buf));
    parts.push_back(buf);
  }
  if (parts.empty()) return "unknown OpenSSL error";
  return absl::StrJoin(parts, "; ");
}

absl::Status OpenSslFailure(absl::string_view what) {
  return absl::InternalError(absl::StrCat(what, ": ", OpenSslErrors()));
}

std::string JoinPath(const std::string& dir, const char* name) {
  if (dir.empty()) return name;
  if (dir.back() == '/') return absl::StrCat(dir, name);
  return absl::StrCat(dir, "/", name);
}

bool FileExists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

absl::StatusOr<std::string> ReadFile(const std::string& path, absl::string_view what) {
  if (!FileExists(path)) {
    return absl::NotFoundError(absl::StrCat(what, " ", path, ": no such file"));
  }
  auto text = ReadFileToString(path);
  if (!text.ok()) {
    return absl::Status(text.status().code(),
                        absl::StrCat(what, " ", path, ": ", text.status().message()));
  }
  return text;
}

absl::Status WritePublicFile(const std::string& path, absl::string_view data,
                             absl::string_view what) {
  absl::Status s = WriteStringToFile(path, data);
  if (!s.ok()) {
    return absl::Status(s.code(),
                        absl::StrCat("cannot write ", what, " ", path, ": ", s.message()));
  }
  return absl::OkStatus();
}

// --- PEM <-> objects ----------------------------------------------------------

BioPtr MemBio(absl::string_view data) {
  return BioPtr(BIO_new_mem_buf(data.data(), static_cast<int>(data.size())));
}

std::string BioToString(BIO* bio) {
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<size_t>(n));
}

absl::StatusOr<X509Ptr> ParseCertPem(absl::string_view pem, absl::string_view origin) {
  ERR_clear_error();
  BioPtr bio = MemBio(pem);
  X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!cert) {
    ERR_clear_error();
    return absl::InvalidArgumentError(absl::StrCat(origin, ": not a PEM certificate"));
  }
  return cert;
}

absl::StatusOr<X509Ptr> LoadCert(const std::string& path, absl::string_view what) {
  FEDRAD_ASSIGN_OR_RETURN(std::string pem, ReadFile(path, what));
  return ParseCertPem(pem, absl::StrCat(what, " ", path));
}

absl::StatusOr<PkeyPtr> ParseKeyPem(absl::string_view pem, absl::string_view origin) {
  ERR_clear_error();
  BioPtr bio = MemBio(pem);
  PkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!key) {
    ERR_clear_error();
    return absl::InvalidArgumentError(absl::StrCat(origin, ": not an unencrypted PEM private key"));
  }
  return key;
}

absl::StatusOr<PkeyPtr> LoadKey(const std::string& path, absl::string_view what) {
  FEDRAD_ASSIGN_OR_RETURN(std::string pem, ReadFile(path, what));
  struct stat st;
  if (::stat(path.c_str(), &st) == 0 && (st.st_mode & 0077) != 0) {
    FEDRAD_LOG(WARNING) << what << " " << path << " is readable by group or others (mode "
                        << std::oct << (st.st_mode & 0777) << std::dec << "); run chmod 600 on it";
  }
  return ParseKeyPem(pem, absl::StrCat(what, " ", path));
}

absl::StatusOr<CrlPtr> LoadCrl(const std::string& path) {
  FEDRAD_ASSIGN_OR_RETURN(std::string pem, ReadFile(path, "CRL"));
  ERR_clear_error();
  BioPtr bio = MemBio(pem);
  CrlPtr crl(PEM_read_bio_X509_CRL(bio.get(), nullptr, nullptr, nullptr));
  if (!crl) {
    ERR_clear_error();
    return absl::InvalidArgumentError(absl::StrCat("CRL ", path, ": not a PEM CRL"));
  }
  return crl;
}

// --- small conversions --------------------------------------------------------

int64_t AsnTimeToUnix(const ASN1_TIME* t) {
  if (t == nullptr) return 0;
  struct tm tm;
  std::memset(&tm, 0, sizeof(tm));
  if (ASN1_TIME_to_tm(t, &tm) != 1) return 0;
  return absl::ToUnixSeconds(absl::FromTM(tm, absl::UTCTimeZone()));
}

std::string SerialHex(const ASN1_INTEGER* serial) {
  BnPtr bn(ASN1_INTEGER_to_BN(serial, nullptr));
  if (!bn) return "";
  char* hex = BN_bn2hex(bn.get());
  std::string out = absl::AsciiStrToLower(hex);
  OPENSSL_free(hex);
  // BN_bn2hex pads to whole bytes; drop leading zeros for one canonical form.
  size_t first = out.find_first_not_of('0');
  if (first == std::string::npos) return "0";
  if (out[0] == '-') return out;
  return out.substr(first);
}

std::string NameOneLine(const X509_NAME* name) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253);
  return BioToString(bio.get());
}

std::string NameEntry(const X509_NAME* name, int nid) {
  int idx = X509_NAME_get_index_by_NID(name, nid, -1);
  if (idx < 0) return "";
  X509_NAME_ENTRY* entry = X509_NAME_get_entry(name, idx);
  unsigned char* utf8 = nullptr;
  int n = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(entry));
  if (n < 0) return "";
  std::string out(reinterpret_cast<char*>(utf8), static_cast<size_t>(n));
  OPENSSL_free(utf8);
  return out;
}

absl::StatusOr<Ca> LoadCa(const std::string& ca_dir) {
  Ca ca;
  std::string cert_path = JoinPath(ca_dir, kCaCert);
  std::string key_path = JoinPath(ca_dir, kCaKey);
  FEDRAD_ASSIGN_OR_RETURN(ca.cert, LoadCert(cert_path, "CA certificate"));
  FEDRAD_ASSIGN_OR_RETURN(ca.key, LoadKey(key_path, "CA private key"));
  if (X509_check_private_key(ca.cert.get(), ca.key.get()) != 1) {
    ERR_clear_error();
    return absl::FailedPreconditionError(
        absl::StrCat("CA private key ", key_path, " does not match ", cert_path));
  }
  return ca;
}

absl::StatusOr<CertificateInfo> InfoFromCert(X509* cert, absl::string_view origin) {
  CertificateInfo info;
  const X509_NAME* subject = X509_get_subject_name(cert);
  const X509_NAME* issuer = X509_get_issuer_name(cert);
  info.common_name = NameEntry(subject, NID_commonName);
  info.subject = NameOneLine(subject);
  info.issuer = NameOneLine(issuer);
  info.issuer_common_name = NameEntry(issuer, NID_commonName);
  info.serial_hex = SerialHex(X509_get0_serialNumber(cert));
  info.not_before_unix = AsnTimeToUnix(X509_get0_notBefore(cert));
  info.not_after_unix = AsnTimeToUnix(X509_get0_notAfter(cert));
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  if (X509_digest(cert, EVP_sha256(), md, &md_len) != 1) {
    return OpenSslFailure("certificate fingerprint");
  }
  info.sha256_fingerprint = ToHex(md, md_len);
  info.is_ca = X509_check_ca(cert) != 0;
  GeneralNamesPtr names(
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr)));
  if (names) {
    for (int i = 0; i < sk_GENERAL_NAME_num(names.get()); ++i) {
      const GENERAL_NAME* gn = sk_GENERAL_NAME_value(names.get(), i);
      if (gn->type == GEN_DNS) {
        const ASN1_IA5STRING* s = gn->d.dNSName;
        info.dns_names.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                                    static_cast<size_t>(ASN1_STRING_length(s)));
      } else if (gn->type == GEN_IPADD) {
        const ASN1_OCTET_STRING* s = gn->d.iPAddress;
        char out[INET6_ADDRSTRLEN] = {0};
        int len = ASN1_STRING_length(s);
        if (len == 4 || len == 16) {
          inet_ntop(len == 4 ? AF_INET : AF_INET6, ASN1_STRING_get0_data(s), out, sizeof(out));
          info.ip_addresses.push_back(out);
        }
      }
    }
  }
  if (!info.is_ca) {
    std::string ou = NameEntry(subject, NID_organizationalUnitName);
    auto role = ParseRole(ou);
    if (!role.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(origin, ": certificate for \"", info.common_name,
                       "\" has no fedrad role in its subject OU (found \"", ou, "\")"));
    }
    info.role = *role;
  }
  return info;
}

}  // namespace fedrad::pki_internal
