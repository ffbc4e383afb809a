#include "core/pki.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <memory>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "core/csv.h"
#include "core/hash.h"
#include "core/log.h"
#include "core/status.h"

namespace fedrad::pki {
namespace {

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

void FreeGeneralNames(GENERAL_NAMES* names) { GENERAL_NAMES_free(names); }
using GeneralNamesPtr = std::unique_ptr<GENERAL_NAMES, Freer<GENERAL_NAMES, FreeGeneralNames>>;

constexpr char kCaKey[] = "ca.key";
constexpr char kCaCert[] = "ca.crt";
constexpr char kCrl[] = "crl.pem";
constexpr char kSerials[] = "serials.txt";
constexpr char kOrganization[] = "fedrad";
constexpr int64_t kSecondsPerDay = 86400;

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

// Writes a secret with mode 0600, refusing to overwrite an existing file.
absl::Status WriteSecretFile(const std::string& path, absl::string_view data) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    if (errno == EEXIST) {
      return absl::FailedPreconditionError(
          absl::StrCat("private key ", path, " already exists; refusing to overwrite it"));
    }
    std::string message =
        absl::StrCat("cannot create private key ", path, ": ", std::strerror(errno));
    if (errno == ENOENT) return absl::NotFoundError(message);
    if (errno == EACCES || errno == EPERM) return absl::PermissionDeniedError(message);
    return absl::InternalError(message);
  }
  absl::Status status;
  if (::fchmod(fd, 0600) != 0) {
    status = absl::InternalError(absl::StrCat("chmod 0600 ", path, ": ", std::strerror(errno)));
  }
  size_t done = 0;
  while (status.ok() && done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      status = absl::InternalError(absl::StrCat("write ", path, ": ", std::strerror(errno)));
      break;
    }
    done += static_cast<size_t>(n);
  }
  if (status.ok() && ::fsync(fd) != 0) {
    status = absl::InternalError(absl::StrCat("fsync ", path, ": ", std::strerror(errno)));
  }
  ::close(fd);
  if (!status.ok()) ::unlink(path.c_str());
  return status;
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

absl::StatusOr<std::string> CertToPem(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (PEM_write_bio_X509(bio.get(), cert) != 1) {
    return OpenSslFailure("encoding certificate");
  }
  return BioToString(bio.get());
}

absl::StatusOr<std::string> CrlToPem(X509_CRL* crl) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (PEM_write_bio_X509_CRL(bio.get(), crl) != 1) {
    return OpenSslFailure("encoding CRL");
  }
  return BioToString(bio.get());
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
  return static_cast<int64_t>(timegm(&tm));
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

absl::Status CheckCommonName(absl::string_view cn) {
  bool ok = !cn.empty() && cn.size() <= 64;
  for (char c : cn) {
    if (!(absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-')) {
      ok = false;
    }
  }
  if (cn == "." || cn == "..") ok = false;
  if (!ok) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid common name \"", cn,
                     "\": use 1-64 characters from A-Z a-z 0-9 . _ - (it becomes the node "
                     "id, a DNS name in the certificate and a file name)"));
  }
  return absl::OkStatus();
}

absl::Status CheckCaName(absl::string_view cn) {
  bool ok = !cn.empty() && cn.size() <= 64;
  for (char c : cn) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f || c == ',' || c == '=' || c == '+') ok = false;
  }
  if (!ok) {
    return absl::InvalidArgumentError(absl::StrCat("invalid CA common name \"", cn,
                                                   "\": 1-64 printable characters without , = +"));
  }
  return absl::OkStatus();
}

absl::Status CheckDnsName(absl::string_view name) {
  absl::string_view rest = name;
  if (absl::StartsWith(rest, "*.")) rest.remove_prefix(2);
  bool ok = !rest.empty() && name.size() <= 253 && rest.front() != '.' && rest.back() != '.' &&
            rest.front() != '-';
  for (char c : rest) {
    if (!(absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_')) {
      ok = false;
    }
  }
  if (!ok) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid DNS name \"", name, "\" for subjectAltName"));
  }
  return absl::OkStatus();
}

// Canonical text form of an IP address, or InvalidArgument.
absl::StatusOr<std::string> CanonicalIp(const std::string& ip) {
  unsigned char buf[16];
  char out[INET6_ADDRSTRLEN];
  if (inet_pton(AF_INET, ip.c_str(), buf) == 1) {
    inet_ntop(AF_INET, buf, out, sizeof(out));
    return std::string(out);
  }
  if (inet_pton(AF_INET6, ip.c_str(), buf) == 1) {
    inet_ntop(AF_INET6, buf, out, sizeof(out));
    return std::string(out);
  }
  return absl::InvalidArgumentError(
      absl::StrCat("invalid IP address \"", ip, "\" for subjectAltName"));
}

absl::Status AddExt(X509* cert, X509V3_CTX* ctx, int nid, const std::string& value) {
  ERR_clear_error();
  ExtPtr ext(X509V3_EXT_conf_nid(nullptr, ctx, nid, value.c_str()));
  if (!ext) {
    return OpenSslFailure(absl::StrCat("building extension ", OBJ_nid2sn(nid), "=", value));
  }
  if (X509_add_ext(cert, ext.get(), -1) != 1) {
    return OpenSslFailure("adding extension");
  }
  return absl::OkStatus();
}

absl::StatusOr<AsnIntPtr> RandomSerial() {
  unsigned char bytes[16];
  if (RAND_bytes(bytes, sizeof(bytes)) != 1) return OpenSslFailure("RAND_bytes");
  bytes[0] = static_cast<unsigned char>((bytes[0] & 0x7f) | 0x40);  // positive, 16 bytes
  BnPtr bn(BN_bin2bn(bytes, sizeof(bytes), nullptr));
  AsnIntPtr serial(BN_to_ASN1_INTEGER(bn.get(), nullptr));
  if (!serial) return OpenSslFailure("serial number");
  return serial;
}

absl::Status SetValidity(X509* cert, int64_t not_before, int64_t not_after) {
  if (ASN1_TIME_set(X509_getm_notBefore(cert), static_cast<time_t>(not_before)) == nullptr ||
      ASN1_TIME_set(X509_getm_notAfter(cert), static_cast<time_t>(not_after)) == nullptr) {
    return OpenSslFailure("setting validity");
  }
  return absl::OkStatus();
}

absl::StatusOr<PkeyPtr> NewP256Key() {
  ERR_clear_error();
  PkeyPtr key(EVP_EC_gen("P-256"));
  if (!key) return OpenSslFailure("generating EC P-256 key");
  return key;
}

absl::StatusOr<std::string> PrivateKeyToPem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return OpenSslFailure("encoding private key");
  }
  return BioToString(bio.get());
}

bool IsP256(EVP_PKEY* key) {
  if (!EVP_PKEY_is_a(key, "EC")) return false;
  char group[64] = {0};
  size_t len = 0;
  if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group), &len) !=
      1) {
    return false;
  }
  return std::string(group) == "prime256v1" || std::string(group) == "P-256";
}

X509_NAME* BuildSubject(absl::string_view cn, absl::string_view ou) {
  X509_NAME* name = X509_NAME_new();
  auto add = [&](const char* field, absl::string_view value) {
    X509_NAME_add_entry_by_txt(name, field, MBSTRING_UTF8,
                               reinterpret_cast<const unsigned char*>(value.data()),
                               static_cast<int>(value.size()), -1, 0);
  };
  add("O", kOrganization);
  if (!ou.empty()) add("OU", ou);
  add("CN", cn);
  return name;
}

// --- CA folder ----------------------------------------------------------------

struct Ca {
  X509Ptr cert;
  PkeyPtr key;
};

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

std::string ReasonName(int code) {
  for (const auto& r : kReasons) {
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

// --- roles ----------------------------------------------------------------------

std::string RoleName(Role role) {
  switch (role) {
    case Role::kSite:
      return "site";
    case Role::kCoordinator:
      return "coordinator";
    case Role::kAdmin:
      return "admin";
    case Role::kAuditor:
      return "auditor";
  }
  return "unknown";
}

std::vector<Role> AllRoles() {
  return {Role::kSite, Role::kCoordinator, Role::kAdmin, Role::kAuditor};
}

absl::StatusOr<Role> ParseRole(absl::string_view name) {
  for (Role role : AllRoles()) {
    if (name == RoleName(role)) return role;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown role \"", name, "\"; expected site, coordinator, admin or auditor"));
}

std::string FormatUnixTime(int64_t unix_seconds) {
  time_t t = static_cast<time_t>(unix_seconds);
  struct tm tm;
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// --- CA -------------------------------------------------------------------------

absl::Status InitCa(const std::string& ca_dir, const CaOptions& options) {
  FEDRAD_RETURN_IF_ERROR(CheckCaName(options.common_name));
  if (options.validity_days < 1 || options.validity_days > 36500) {
    return absl::InvalidArgumentError(
        absl::StrCat("CA validity must be 1-36500 days, got ", options.validity_days));
  }
  std::string key_path = JoinPath(ca_dir, kCaKey);
  std::string cert_path = JoinPath(ca_dir, kCaCert);
  for (const std::string& p : {key_path, cert_path}) {
    if (FileExists(p)) {
      return absl::FailedPreconditionError(
          absl::StrCat(p,
                       " already exists: a study CA is never overwritten; use another "
                       "folder"));
    }
  }
  std::error_code ec;
  std::filesystem::create_directories(ca_dir, ec);
  if (ec) {
    return absl::PermissionDeniedError(
        absl::StrCat("cannot create CA folder ", ca_dir, ": ", ec.message()));
  }

  FEDRAD_ASSIGN_OR_RETURN(PkeyPtr key, NewP256Key());
  Ca ca;
  ca.cert.reset(X509_new());
  X509* cert = ca.cert.get();
  FEDRAD_ASSIGN_OR_RETURN(AsnIntPtr serial, RandomSerial());
  int64_t now = static_cast<int64_t>(std::time(nullptr));
  X509_NAME* name = BuildSubject(options.common_name, "");
  bool ok = X509_set_version(cert, 2) == 1 && X509_set_serialNumber(cert, serial.get()) == 1 &&
            X509_set_subject_name(cert, name) == 1 && X509_set_issuer_name(cert, name) == 1 &&
            X509_set_pubkey(cert, key.get()) == 1;
  X509_NAME_free(name);
  if (!ok) return OpenSslFailure("building CA certificate");
  FEDRAD_RETURN_IF_ERROR(
      SetValidity(cert, now - 300, now + options.validity_days * kSecondsPerDay));
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
  FEDRAD_RETURN_IF_ERROR(AddExt(cert, &ctx, NID_basic_constraints, "critical,CA:TRUE"));
  FEDRAD_RETURN_IF_ERROR(AddExt(cert, &ctx, NID_key_usage, "critical,keyCertSign,cRLSign"));
  FEDRAD_RETURN_IF_ERROR(AddExt(cert, &ctx, NID_subject_key_identifier, "hash"));
  FEDRAD_RETURN_IF_ERROR(AddExt(cert, &ctx, NID_authority_key_identifier, "keyid:always"));
  if (X509_sign(cert, key.get(), EVP_sha256()) <= 0) {
    return OpenSslFailure("signing CA certificate");
  }
  FEDRAD_ASSIGN_OR_RETURN(std::string key_pem, PrivateKeyToPem(key.get()));
  FEDRAD_ASSIGN_OR_RETURN(std::string cert_pem, CertToPem(cert));
  FEDRAD_RETURN_IF_ERROR(WriteSecretFile(key_path, key_pem));
  FEDRAD_RETURN_IF_ERROR(WritePublicFile(cert_path, cert_pem, "CA certificate"));
  ca.key = std::move(key);
  FEDRAD_RETURN_IF_ERROR(WriteCrl(ca_dir, ca, {}, 1, options.crl_validity_days));
  return WritePublicFile(JoinPath(ca_dir, kSerials), "# serial\tcommon_name\trole\tnot_after\n",
                         "serial list");
}

absl::Status CreateKeyAndCsr(const std::string& common_name, Role role, const std::string& key_path,
                             const std::string& csr_path) {
  FEDRAD_RETURN_IF_ERROR(CheckCommonName(common_name));
  if (FileExists(key_path)) {
    return absl::FailedPreconditionError(
        absl::StrCat("private key ", key_path, " already exists; refusing to overwrite it"));
  }
  FEDRAD_ASSIGN_OR_RETURN(PkeyPtr key, NewP256Key());
  ReqPtr req(X509_REQ_new());
  X509_NAME* name = BuildSubject(common_name, RoleName(role));
  bool ok = X509_REQ_set_version(req.get(), 0) == 1 &&
            X509_REQ_set_subject_name(req.get(), name) == 1 &&
            X509_REQ_set_pubkey(req.get(), key.get()) == 1;
  X509_NAME_free(name);
  if (!ok) return OpenSslFailure("building CSR");
  if (X509_REQ_sign(req.get(), key.get(), EVP_sha256()) <= 0) {
    return OpenSslFailure("signing CSR");
  }
  FEDRAD_ASSIGN_OR_RETURN(std::string key_pem, PrivateKeyToPem(key.get()));
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (PEM_write_bio_X509_REQ(bio.get(), req.get()) != 1) {
    return OpenSslFailure("encoding CSR");
  }
  FEDRAD_RETURN_IF_ERROR(WriteSecretFile(key_path, key_pem));
  absl::Status s = WritePublicFile(csr_path, BioToString(bio.get()), "CSR");
  if (!s.ok()) ::unlink(key_path.c_str());
  return s;
}

namespace {

// The names in a GENERAL_NAMES stack (DNS and IP entries only).
void CollectNames(const GENERAL_NAMES* names, std::vector<std::string>* dns,
                  std::vector<std::string>* ips) {
  if (names == nullptr) return;
  for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
    const GENERAL_NAME* gn = sk_GENERAL_NAME_value(names, i);
    if (gn->type == GEN_DNS) {
      const ASN1_IA5STRING* s = gn->d.dNSName;
      dns->emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                        static_cast<size_t>(ASN1_STRING_length(s)));
    } else if (gn->type == GEN_IPADD) {
      const ASN1_OCTET_STRING* s = gn->d.iPAddress;
      char out[INET6_ADDRSTRLEN] = {0};
      int len = ASN1_STRING_length(s);
      if (len == 4 || len == 16) {
        inet_ntop(len == 4 ? AF_INET : AF_INET6, ASN1_STRING_get0_data(s), out, sizeof(out));
        ips->push_back(out);
      }
    }
  }
}

std::string KeyTypeText(EVP_PKEY* key) {
  if (key == nullptr) return "no key";
  if (EVP_PKEY_is_a(key, "EC")) {
    char group[64] = {0};
    size_t len = 0;
    if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
                                       &len) == 1) {
      std::string g = group;
      return absl::StrCat("EC ", g == "prime256v1" ? "P-256" : g);
    }
    return "EC";
  }
  const char* name = EVP_PKEY_get0_type_name(key);
  return absl::StrCat(name != nullptr ? name : "unknown", " ", EVP_PKEY_get_bits(key));
}

absl::StatusOr<ReqPtr> LoadReq(const std::string& csr_path) {
  FEDRAD_ASSIGN_OR_RETURN(std::string csr_pem, ReadFile(csr_path, "CSR"));
  ERR_clear_error();
  BioPtr bio = MemBio(csr_pem);
  ReqPtr req(PEM_read_bio_X509_REQ(bio.get(), nullptr, nullptr, nullptr));
  if (!req) {
    ERR_clear_error();
    return absl::InvalidArgumentError(
        absl::StrCat("CSR ", csr_path, ": not a PEM certificate request"));
  }
  return req;
}

CsrInfo DescribeReq(X509_REQ* req) {
  CsrInfo info;
  const X509_NAME* subject = X509_REQ_get_subject_name(req);
  info.subject = NameOneLine(subject);
  info.common_name = NameEntry(subject, NID_commonName);
  info.role_text = NameEntry(subject, NID_organizationalUnitName);
  if (auto role = ParseRole(info.role_text); role.ok()) {
    info.role_valid = true;
    info.role = *role;
  }
  EVP_PKEY* pub = X509_REQ_get0_pubkey(req);
  info.key_type = KeyTypeText(pub);
  info.key_ok = pub != nullptr && IsP256(pub);
  info.signature_ok = pub != nullptr && X509_REQ_verify(req, pub) == 1;
  ERR_clear_error();
  if (pub != nullptr) {
    unsigned char* der = nullptr;
    int n = i2d_PUBKEY(pub, &der);
    if (n > 0) {
      info.public_key_sha256 =
          Sha256Hex(absl::string_view(reinterpret_cast<const char*>(der), static_cast<size_t>(n)));
      OPENSSL_free(der);
    }
  }
  STACK_OF(X509_EXTENSION)* exts = X509_REQ_get_extensions(req);
  if (exts != nullptr) {
    GeneralNamesPtr names(
        static_cast<GENERAL_NAMES*>(X509V3_get_d2i(exts, NID_subject_alt_name, nullptr, nullptr)));
    CollectNames(names.get(), &info.requested_dns_names, &info.requested_ip_addresses);
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
  }
  ERR_clear_error();
  return info;
}

}  // namespace

absl::StatusOr<CsrInfo> ReadCsr(const std::string& csr_path) {
  FEDRAD_ASSIGN_OR_RETURN(ReqPtr req, LoadReq(csr_path));
  return DescribeReq(req.get());
}

absl::Status CheckCsrExpectations(const CsrInfo& csr, const std::string& expect_common_name,
                                  const std::string& expect_role) {
  std::vector<std::string> wrong;
  if (!expect_common_name.empty() && csr.common_name != expect_common_name) {
    wrong.push_back(absl::StrCat("CN \"", csr.common_name, "\" (expected \"", expect_common_name,
                                 "\")"));
  }
  if (!expect_role.empty()) {
    FEDRAD_RETURN_IF_ERROR(ParseRole(expect_role).status());
    if (csr.role_text != expect_role) {
      wrong.push_back(
          absl::StrCat("role \"", csr.role_text, "\" (expected \"", expect_role, "\")"));
    }
  }
  if (!wrong.empty()) {
    return absl::PermissionDeniedError(
        absl::StrCat("the request asks for ", absl::StrJoin(wrong, " and "),
                     "; not signed. Ask the node for a request with the expected name and role "
                     "(fedrad pki request --cn NAME --role ROLE)"));
  }
  return absl::OkStatus();
}

absl::StatusOr<CertificateInfo> SignCsr(const std::string& ca_dir, const std::string& csr_path,
                                        const std::string& cert_path, const SignOptions& options) {
  if (options.validity_days < 1 || options.validity_days > 36500) {
    return absl::InvalidArgumentError(
        absl::StrCat("certificate validity must be 1-36500 days, got ", options.validity_days));
  }
  FEDRAD_ASSIGN_OR_RETURN(Ca ca, LoadCa(ca_dir));
  FEDRAD_ASSIGN_OR_RETURN(ReqPtr req, LoadReq(csr_path));
  EVP_PKEY* pub = X509_REQ_get0_pubkey(req.get());
  if (pub == nullptr || X509_REQ_verify(req.get(), pub) != 1) {
    ERR_clear_error();
    return absl::InvalidArgumentError(
        absl::StrCat("CSR ", csr_path, ": its signature does not verify (corrupted or forged)"));
  }
  if (!IsP256(pub)) {
    return absl::InvalidArgumentError(
        absl::StrCat("CSR ", csr_path, ": key is not EC P-256 (make it with fedrad pki request)"));
  }
  const X509_NAME* subject = X509_REQ_get_subject_name(req.get());
  std::string cn = NameEntry(subject, NID_commonName);
  std::string ou = NameEntry(subject, NID_organizationalUnitName);
  absl::Status cn_ok = CheckCommonName(cn);
  if (!cn_ok.ok()) return Annotate(cn_ok, absl::StrCat("CSR ", csr_path));
  auto role = ParseRole(ou);
  if (!role.ok()) return Annotate(role.status(), absl::StrCat("CSR ", csr_path, " OU"));
  if (absl::Status expected =
          CheckCsrExpectations(DescribeReq(req.get()), options.expect_common_name,
                               options.expect_role);
      !expected.ok()) {
    return Annotate(expected, absl::StrCat("CSR ", csr_path));
  }

  // subjectAltName: the CN, localhost, loopback, then extras (deduplicated).
  std::vector<std::string> dns = {cn, "localhost"};
  for (const std::string& d : options.dns_names) {
    FEDRAD_RETURN_IF_ERROR(CheckDnsName(d));
    dns.push_back(d);
  }
  std::vector<std::string> ips = {"127.0.0.1", "::1"};
  for (const std::string& ip : options.ip_addresses) {
    FEDRAD_ASSIGN_OR_RETURN(std::string canonical, CanonicalIp(ip));
    ips.push_back(canonical);
  }
  std::vector<std::string> san;
  std::set<std::string> seen;
  for (const std::string& d : dns) {
    if (seen.insert(absl::StrCat("DNS:", absl::AsciiStrToLower(d))).second) {
      san.push_back(absl::StrCat("DNS:", d));
    }
  }
  for (const std::string& ip : ips) {
    if (seen.insert(absl::StrCat("IP:", ip)).second) san.push_back(absl::StrCat("IP:", ip));
  }

  int64_t now = static_cast<int64_t>(std::time(nullptr));
  int64_t not_before = now + options.not_before_offset_seconds;
  int64_t not_after = not_before + options.validity_days * kSecondsPerDay;
  int64_t ca_not_after = AsnTimeToUnix(X509_get0_notAfter(ca.cert.get()));
  if (not_after > ca_not_after) {
    FEDRAD_LOG(WARNING) << "certificate for " << cn << " would outlive the CA; notAfter clamped to "
                        << FormatUnixTime(ca_not_after);
    not_after = ca_not_after;
  }

  // A fresh serial, never one already issued by this CA.
  std::string serials_path = JoinPath(ca_dir, kSerials);
  std::string serials;
  if (FileExists(serials_path)) {
    FEDRAD_ASSIGN_OR_RETURN(serials, ReadFile(serials_path, "serial list"));
  }
  AsnIntPtr serial;
  std::string serial_hex;
  for (int attempt = 0; attempt < 8; ++attempt) {
    FEDRAD_ASSIGN_OR_RETURN(serial, RandomSerial());
    serial_hex = SerialHex(serial.get());
    if (serials.find(absl::StrCat(serial_hex, "\t")) == std::string::npos) break;
  }

  X509Ptr cert(X509_new());
  X509_NAME* name = BuildSubject(cn, RoleName(*role));
  bool ok = X509_set_version(cert.get(), 2) == 1 &&
            X509_set_serialNumber(cert.get(), serial.get()) == 1 &&
            X509_set_subject_name(cert.get(), name) == 1 &&
            X509_set_issuer_name(cert.get(), X509_get_subject_name(ca.cert.get())) == 1 &&
            X509_set_pubkey(cert.get(), pub) == 1;
  X509_NAME_free(name);
  if (!ok) return OpenSslFailure("building certificate");
  FEDRAD_RETURN_IF_ERROR(SetValidity(cert.get(), not_before, not_after));
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, ca.cert.get(), cert.get(), nullptr, nullptr, 0);
  FEDRAD_RETURN_IF_ERROR(AddExt(cert.get(), &ctx, NID_basic_constraints, "critical,CA:FALSE"));
  FEDRAD_RETURN_IF_ERROR(AddExt(cert.get(), &ctx, NID_key_usage, "critical,digitalSignature"));
  FEDRAD_RETURN_IF_ERROR(AddExt(cert.get(), &ctx, NID_ext_key_usage, "serverAuth,clientAuth"));
  FEDRAD_RETURN_IF_ERROR(AddExt(cert.get(), &ctx, NID_subject_alt_name, absl::StrJoin(san, ",")));
  FEDRAD_RETURN_IF_ERROR(AddExt(cert.get(), &ctx, NID_subject_key_identifier, "hash"));
  FEDRAD_RETURN_IF_ERROR(AddExt(cert.get(), &ctx, NID_authority_key_identifier, "keyid:always"));
  if (X509_sign(cert.get(), ca.key.get(), EVP_sha256()) <= 0) {
    return OpenSslFailure("signing certificate");
  }
  FEDRAD_ASSIGN_OR_RETURN(std::string pem, CertToPem(cert.get()));
  FEDRAD_RETURN_IF_ERROR(WritePublicFile(cert_path, pem, "certificate"));
  FEDRAD_ASSIGN_OR_RETURN(CertificateInfo info, InfoFromCert(cert.get(), cert_path));
  serials += absl::StrCat(info.serial_hex, "\t", cn, "\t", RoleName(*role), "\t",
                          FormatUnixTime(info.not_after_unix), "\n");
  FEDRAD_RETURN_IF_ERROR(WritePublicFile(serials_path, serials, "serial list"));
  return info;
}

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
  CrlInfo info;
  info.issuer = NameOneLine(X509_CRL_get_issuer(crl.get()));
  info.crl_number = CrlNumber(crl.get());
  info.last_update_unix = AsnTimeToUnix(X509_CRL_get0_lastUpdate(crl.get()));
  info.next_update_unix = AsnTimeToUnix(X509_CRL_get0_nextUpdate(crl.get()));
  STACK_OF(X509_REVOKED)* revoked = X509_CRL_get_REVOKED(crl.get());
  for (int i = 0; i < sk_X509_REVOKED_num(revoked); ++i) {
    X509_REVOKED* r = sk_X509_REVOKED_value(revoked, i);
    RevokedEntry e;
    e.serial_hex = SerialHex(X509_REVOKED_get0_serialNumber(r));
    e.revoked_unix = AsnTimeToUnix(X509_REVOKED_get0_revocationDate(r));
    std::unique_ptr<ASN1_ENUMERATED, Freer<ASN1_ENUMERATED, ASN1_ENUMERATED_free>> code(
        static_cast<ASN1_ENUMERATED*>(
            X509_REVOKED_get_ext_d2i(r, NID_crl_reason, nullptr, nullptr)));
    if (code) e.reason = ReasonName(static_cast<int>(ASN1_ENUMERATED_get(code.get())));
    info.revoked.push_back(e);
  }
  return info;
}

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

absl::Status VerifyCertificatePemAt(absl::string_view cert_pem, const std::string& ca_cert_path,
                                    const std::string& crl_path, int64_t at_unix) {
  FEDRAD_ASSIGN_OR_RETURN(X509Ptr cert, ParseCertPem(cert_pem, "peer certificate"));
  FEDRAD_ASSIGN_OR_RETURN(X509Ptr ca, LoadCert(ca_cert_path, "CA certificate"));
  FEDRAD_ASSIGN_OR_RETURN(CertificateInfo info, InfoFromCert(cert.get(), "peer certificate"));
  std::string who =
      absl::StrCat("certificate \"", info.common_name, "\" (serial ", info.serial_hex, ")");
  if (info.is_ca) {
    return absl::UnauthenticatedError(
        absl::StrCat(who, " is a CA certificate, not a node certificate"));
  }
  StorePtr store(X509_STORE_new());
  if (X509_STORE_add_cert(store.get(), ca.get()) != 1) {
    return OpenSslFailure("trust store");
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
  CrlPtr crl;
  if (err == X509_V_OK && !crl_path.empty()) {
    FEDRAD_ASSIGN_OR_RETURN(crl, LoadCrl(crl_path));
    if (X509_CRL_verify(crl.get(), X509_get0_pubkey(ca.get())) != 1) {
      ERR_clear_error();
      return absl::UnauthenticatedError(
          absl::StrCat("CRL ", crl_path, " is not signed by the CA in ", ca_cert_path));
    }
    int64_t next = AsnTimeToUnix(X509_CRL_get0_nextUpdate(crl.get()));
    if (next != 0 && next < at_unix) {
      return absl::UnauthenticatedError(
          absl::StrCat("CRL ", crl_path, " expired on ", FormatUnixTime(next),
                       "; re-sign it at the CA with `fedrad pki crl`"));
    }
    X509_STORE_add_crl(store.get(), crl.get());
    X509_STORE_set_flags(store.get(), X509_V_FLAG_CRL_CHECK);
    FEDRAD_ASSIGN_OR_RETURN(err, verify());
  }
  if (err == X509_V_OK) return absl::OkStatus();
  switch (err) {
    case X509_V_ERR_CERT_HAS_EXPIRED:
      return absl::UnauthenticatedError(
          absl::StrCat(who, " expired on ", FormatUnixTime(info.not_after_unix)));
    case X509_V_ERR_CERT_NOT_YET_VALID:
      return absl::UnauthenticatedError(
          absl::StrCat(who, " is not valid before ", FormatUnixTime(info.not_before_unix)));
    case X509_V_ERR_CERT_REVOKED:
      return absl::UnauthenticatedError(
          absl::StrCat(who, " is revoked (serial ", info.serial_hex, ", CRL ", crl_path, ")"));
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    case X509_V_ERR_CERT_SIGNATURE_FAILURE:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
      return absl::UnauthenticatedError(absl::StrCat(who,
                                                     " is not issued by this study's CA (issuer ",
                                                     info.issuer, "; CA ", ca_cert_path, ")"));
    case X509_V_ERR_CERT_CHAIN_TOO_LONG:
    case X509_V_ERR_INVALID_CA:
      return absl::UnauthenticatedError(
          absl::StrCat(who, ": CA certificate ", ca_cert_path, " is not a valid CA"));
    default:
      return absl::UnauthenticatedError(
          absl::StrCat(who, " rejected: ", X509_verify_cert_error_string(err)));
  }
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

absl::StatusOr<CertificateInfo> IssueIdentity(const std::string& ca_dir,
                                              const std::string& common_name, Role role,
                                              const std::string& out_dir,
                                              const SignOptions& options) {
  FEDRAD_RETURN_IF_ERROR(CheckCommonName(common_name));
  std::error_code ec;
  std::filesystem::create_directories(out_dir, ec);
  if (ec) {
    return absl::PermissionDeniedError(
        absl::StrCat("cannot create folder ", out_dir, ": ", ec.message()));
  }
  std::string base = JoinPath(out_dir, common_name.c_str());
  FEDRAD_RETURN_IF_ERROR(CreateKeyAndCsr(common_name, role, base + ".key", base + ".csr"));
  SignOptions expected = options;
  expected.expect_common_name = common_name;
  expected.expect_role = RoleName(role);
  return SignCsr(ca_dir, base + ".csr", base + ".crt", expected);
}

}  // namespace fedrad::pki
