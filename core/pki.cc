// Roles, the study CA (InitCa), keys and CSRs, and issuing certificates
// (SignCsr, IssueIdentity) of core/pki.h. Reading and verifying certificates
// and detached signatures live in pki_verify.cc, CRLs in pki_crl.cc, shared
// OpenSSL helpers in internal/pki_internal.{h,cc}.
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
#include "absl/time/time.h"
#include "core/hash.h"
#include "core/internal/pki_internal.h"
#include "core/log.h"
#include "core/status.h"

namespace fedrad::pki {

using pki_internal::PkeyPtr;
using pki_internal::X509Ptr;
using pki_internal::ReqPtr;
using pki_internal::BioPtr;
using pki_internal::ExtPtr;
using pki_internal::AsnIntPtr;
using pki_internal::BnPtr;
using pki_internal::GeneralNamesPtr;
using pki_internal::kCaKey;
using pki_internal::kCaCert;
using pki_internal::kSerials;
using pki_internal::kSecondsPerDay;
using pki_internal::OpenSslFailure;
using pki_internal::JoinPath;
using pki_internal::FileExists;
using pki_internal::ReadFile;
using pki_internal::WritePublicFile;
using pki_internal::MemBio;
using pki_internal::BioToString;
using pki_internal::AsnTimeToUnix;
using pki_internal::SerialHex;
using pki_internal::NameOneLine;
using pki_internal::NameEntry;
using pki_internal::Ca;
using pki_internal::LoadCa;
using pki_internal::InfoFromCert;
using pki_internal::WriteCrl;

namespace {

constexpr char kOrganization[] = "fedrad";

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

absl::StatusOr<std::string> CertToPem(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (PEM_write_bio_X509(bio.get(), cert) != 1) {
    return OpenSslFailure("encoding certificate");
  }
  return BioToString(bio.get());
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
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::FromUnixSeconds(unix_seconds),
                          absl::UTCTimeZone());
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
