// The study's public-key infrastructure: one study CA, per-node EC P-256 keys
// and certificates for mutual TLS, a CRL, and detached signatures for the
// audit log's checkpoints. Built on the OpenSSL 3 C API (never the `openssl`
// command).
//
//   // At the coordinator (once per study):
//   FEDRAD_RETURN_IF_ERROR(pki::InitCa("ca", {}));
//   // At a site (the private key never leaves it):
//   FEDRAD_RETURN_IF_ERROR(pki::CreateKeyAndCsr("S1", pki::Role::kSite,
//                                               "S1.key", "S1.csr"));
//   // Back at the CA, with the CSR the site sent:
//   FEDRAD_ASSIGN_OR_RETURN(pki::CertificateInfo info,
//                           pki::SignCsr("ca", "S1.csr", "S1.crt", {}));
//   // When a peer connects (its PEM from the TLS layer):
//   FEDRAD_RETURN_IF_ERROR(pki::VerifyCertificatePem(pem, "ca/ca.crt",
//                                                    "ca/crl.pem"));
//
// Files in a CA folder: ca.key (mode 0600), ca.crt, crl.pem (CRL v2 signed by
// the CA, with nextUpdate), serials.txt (one line per issued certificate:
// serial, CN, role, notAfter).
//
// Certificates: X.509 v3, ECDSA-SHA256; subject CN=<name>, OU=<role>,
// O=fedrad. Leaves carry basicConstraints CA:FALSE (critical), keyUsage
// digitalSignature (critical), extendedKeyUsage serverAuth+clientAuth,
// subjectAltName (the CN, localhost, 127.0.0.1, ::1 and any extras), subject
// and authority key identifiers. The CA carries CA:TRUE (critical) and
// keyUsage keyCertSign+cRLSign. They work as gRPC SslCredentials for mutual
// TLS over loopback.
//
// Status codes: NotFound (a file cannot be read), InvalidArgument (malformed
// PEM, bad name, bad option), FailedPrecondition (refusing to overwrite a key
// or CA, key/certificate mismatch), AlreadyExists (already revoked),
// Unauthenticated (a certificate or signature that does not verify:
// wrong CA, expired, not yet valid, revoked, bad signature). Every error
// message names the file involved.
//
// Thread safety: all functions are thread safe (no shared state) except that
// two concurrent SignCsr/Revoke calls on the same CA folder may race on
// serials.txt / crl.pem; run one CA operation at a time.
#ifndef FEDRAD_CORE_PKI_H_
#define FEDRAD_CORE_PKI_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace fedrad::pki {

// A node's role, stored in the certificate subject as OU=site|coordinator|
// admin|auditor.
enum class Role { kSite, kCoordinator, kAdmin, kAuditor };

// "site", "coordinator", "admin", "auditor".
std::string RoleName(Role role);
// Inverse of RoleName (exact, lower case). InvalidArgument naming the valid
// roles otherwise.
absl::StatusOr<Role> ParseRole(absl::string_view name);
// Every role, in enum order.
std::vector<Role> AllRoles();

struct CaOptions {
  std::string common_name = "fedrad study CA";
  int validity_days = 3650;
  // How long each CRL the CA signs stays valid (its nextUpdate). A relying
  // party that checks the CRL after that refuses every certificate until the
  // CRL is re-signed (RefreshCrl / `fedrad pki crl`).
  int crl_validity_days = 90;
};

// Creates ca_dir (if needed) and ca_dir/{ca.key (mode 0600), ca.crt,
// crl.pem (signed, empty), serials.txt}. FailedPrecondition if ca.key or
// ca.crt already exists (a CA is never overwritten). InvalidArgument for a
// bad name or validity.
absl::Status InitCa(const std::string& ca_dir, const CaOptions& options);

// At the site: makes an EC P-256 private key (written to key_path with mode
// 0600; FailedPrecondition if key_path exists) and a CSR with CN=common_name,
// OU=role written to csr_path. common_name must be 1-64 characters from
// [A-Za-z0-9._-] (it becomes a site id, a DNS subjectAltName and a file
// name); InvalidArgument otherwise.
absl::Status CreateKeyAndCsr(const std::string& common_name, Role role, const std::string& key_path,
                             const std::string& csr_path);

struct CertificateInfo {
  std::string common_name;
  // Meaningless when is_ca (a CA certificate carries no fedrad role).
  Role role = Role::kSite;
  std::string serial_hex;  // lower case, no leading zeros
  int64_t not_before_unix = 0, not_after_unix = 0;
  std::string sha256_fingerprint;  // of the DER, 64 lower-case hex digits
  // Additions beyond the contract, for `fedrad pki show`.
  bool is_ca = false;
  std::string subject;  // one line, e.g. "CN=S1, OU=site, O=fedrad"
  std::string issuer;   // one line
  std::string issuer_common_name;
  std::vector<std::string> dns_names;     // subjectAltName DNS entries
  std::vector<std::string> ip_addresses;  // subjectAltName IP entries
};

struct SignOptions {
  int validity_days = 825;
  // subjectAltName DNS; the CN and "localhost" are always added. Each must be
  // a host name ([A-Za-z0-9.-], optionally a leading "*.").
  std::vector<std::string> dns_names;
  // subjectAltName IP; "127.0.0.1" and "::1" are always added. IPv4 or IPv6.
  std::vector<std::string> ip_addresses;
  // Shifts notBefore from now; tests use negative/positive offsets to make
  // expired / not-yet-valid certificates.
  int64_t not_before_offset_seconds = 0;
  // What the CA holder expects the request to ask for (`pki sign
  // --expect-cn/--expect-role`). When set, SignCsr refuses
  // (PermissionDenied, naming the expected and the requested value) a CSR
  // whose CN, resp. role, differs. Empty: not checked (the caller confirmed
  // the request another way).
  std::string expect_common_name;
  std::string expect_role;
};

// What a certificate signing request asks for, for `fedrad pki show` and for
// the CA holder's review before `pki sign`.
struct CsrInfo {
  std::string subject;      // one line, e.g. "CN=S1, OU=site, O=fedrad"
  std::string common_name;  // "" if none
  std::string role_text;    // the subject OU as written ("" if none)
  bool role_valid = false;  // role_text is a fedrad role
  Role role = Role::kSite;  // meaningful only when role_valid
  std::string key_type;     // e.g. "EC P-256", "RSA 2048"
  bool key_ok = false;      // EC P-256, the only key SignCsr accepts
  bool signature_ok = false;  // the CSR's self-signature verifies
  // subjectAltNames the request itself carries (SignCsr ignores them: the
  // certificate's names are the CN, loopback and the CA holder's --dns/--ip).
  std::vector<std::string> requested_dns_names;
  std::vector<std::string> requested_ip_addresses;
  std::string public_key_sha256;  // SHA-256 of the DER SubjectPublicKeyInfo, hex
};
// Parses a CSR (PEM). NotFound if the file cannot be read; InvalidArgument
// if it is not a PEM certificate request. A CSR that SignCsr would refuse
// (bad signature, wrong key type, no role) is still described.
absl::StatusOr<CsrInfo> ReadCsr(const std::string& csr_path);

// OK if the request asks for exactly `expect_common_name` (when not empty)
// and `expect_role` (when not empty); PermissionDenied otherwise, naming the
// expected and the requested values; InvalidArgument if expect_role is not a
// role.
absl::Status CheckCsrExpectations(const CsrInfo& csr, const std::string& expect_common_name,
                                  const std::string& expect_role);

// At the coordinator/CA: checks the CSR's own signature, that its key is EC
// P-256, its CN is a valid name and its OU a role, that it asks for what
// options.expect_* say (when set), then signs a leaf
// certificate (key usage for TLS client + server auth, SANs as above) and
// writes it to cert_path (PEM). notAfter is clamped to the CA's notAfter.
// Appends the serial to ca_dir/serials.txt. Returns the new certificate's
// info.
absl::StatusOr<CertificateInfo> SignCsr(const std::string& ca_dir, const std::string& csr_path,
                                        const std::string& cert_path, const SignOptions& options);

// Adds the certificate's serial to the CA's CRL and re-signs ca_dir/crl.pem
// (CRL number incremented, nextUpdate renewed). `reason` is empty or one of
// unspecified, keyCompromise, affiliationChanged, superseded,
// cessationOfOperation, certificateHold (InvalidArgument otherwise).
// Unauthenticated if the certificate was not issued by this CA;
// AlreadyExists if it is already revoked.
absl::Status Revoke(const std::string& ca_dir, const std::string& cert_path,
                    const std::string& reason = "");

// Re-signs ca_dir/crl.pem with the same entries and a fresh nextUpdate
// (now + crl_validity_days).
absl::Status RefreshCrl(const std::string& ca_dir, int crl_validity_days = 90);

struct RevokedEntry {
  std::string serial_hex;
  int64_t revoked_unix = 0;
  std::string reason;  // "" if the entry has no reason code
};
struct CrlInfo {
  std::string issuer;
  int64_t crl_number = 0;
  int64_t last_update_unix = 0, next_update_unix = 0;
  std::vector<RevokedEntry> revoked;
};
// Parses a CRL (PEM). NotFound / InvalidArgument. Reasons are RFC 5280
// CRLReason names ("keyCompromise", ...; "reason <n>" for a code it lacks).
absl::StatusOr<CrlInfo> ReadCrl(const std::string& crl_path);
// As ReadCrl, after checking that a CA in ca_cert_path (one or more PEM
// certificates) signed the CRL; its dates are not checked (the coordinator's
// revocation watch reads the list through the transport's
// ReadRevocationList; VerifyCertificatePem, the per-handshake check, also
// refuses an expired CRL). FailedPrecondition naming the file when the CA
// file or the CRL cannot be read or holds no PEM, or when no CA in the file
// signed the CRL ("the CRL '...' is not signed by the CA in '...'").
absl::StatusOr<CrlInfo> ReadCrlSignedBy(const std::string& crl_path,
                                        const std::string& ca_cert_path);

// Parses a certificate (PEM). NotFound if the file cannot be read;
// InvalidArgument if it is not a PEM certificate or a leaf without a valid
// role in OU.
absl::StatusOr<CertificateInfo> ReadCertificate(const std::string& cert_path);
absl::StatusOr<CertificateInfo> ParseCertificatePem(absl::string_view pem);

// OK if the private key at key_path belongs to the certificate at cert_path;
// FailedPrecondition ("... does not match ...") otherwise.
absl::Status CheckKeyMatchesCertificate(const std::string& key_path, const std::string& cert_path);

// Chain + validity + CRL check of a PEM leaf certificate against the CA
// certificate file (one or more CAs) and the CRL, if crl_path is not empty:
// the chain and dates first, then the CRL (signed by the CA, current), then
// revocation. The one implementation: the transport's per-handshake check
// (proto/transport.h VerifyPeerCertificate) calls it. Returns
// Unauthenticated for the certificate: "certificate CN=S1 expired on ...",
// "... is not valid before ...", "... revoked (serial ...)", "... not issued
// by this study's CA (issuer ...)", "... is a CA certificate";
// FailedPrecondition for the CA or CRL file: unreadable or not PEM, "the
// CRL '...' is not signed by the CA in '...'", "... expired on ...";
// InvalidArgument for a malformed `cert_pem`.
absl::Status VerifyCertificatePem(absl::string_view cert_pem, const std::string& ca_cert_path,
                                  const std::string& crl_path);
// As above, but judges validity at `at_unix` instead of now (the audit
// verifier checks a certificate at the time a log was opened).
absl::Status VerifyCertificatePemAt(absl::string_view cert_pem, const std::string& ca_cert_path,
                                    const std::string& crl_path, int64_t at_unix);

// Detached signatures for audit checkpoints: ECDSA-SHA256 over `data`, DER
// encoded, then base64 (one line, no newlines).
absl::StatusOr<std::string> SignWithKey(const std::string& key_path, absl::string_view data);
// OK if signature_b64 is a valid signature of data by the certificate's key;
// Unauthenticated if not; InvalidArgument for a malformed certificate or
// base64.
absl::Status VerifyWithCertificatePem(absl::string_view cert_pem, absl::string_view data,
                                      absl::string_view signature_b64);

// A private key loaded once and kept in memory (the audit log signs with it
// repeatedly). Thread safe: Sign may be called concurrently.
class PrivateKey {
 public:
  // NotFound / InvalidArgument naming the file. Logs a warning if the file is
  // readable by group or others.
  static absl::StatusOr<std::unique_ptr<PrivateKey>> Load(const std::string& key_path);
  ~PrivateKey();
  PrivateKey(const PrivateKey&) = delete;
  PrivateKey& operator=(const PrivateKey&) = delete;

  // ECDSA-SHA256 signature of data, DER then base64.
  absl::StatusOr<std::string> Sign(absl::string_view data) const;
  // OK if this key is the one certified by cert_pem; FailedPrecondition
  // otherwise.
  absl::Status CheckMatches(absl::string_view cert_pem) const;

 private:
  explicit PrivateKey(void* pkey) : pkey_(pkey) {}
  void* pkey_;  // EVP_PKEY*, kept out of the header
};

// A certificate's public key, parsed once (the audit verifier checks many
// signatures by the same node). Thread safe.
class PublicKey {
 public:
  // InvalidArgument for a malformed certificate.
  static absl::StatusOr<std::unique_ptr<PublicKey>> FromCertificatePem(absl::string_view cert_pem);
  ~PublicKey();
  PublicKey(const PublicKey&) = delete;
  PublicKey& operator=(const PublicKey&) = delete;
  // As VerifyWithCertificatePem.
  absl::Status Verify(absl::string_view data, absl::string_view signature_b64) const;

 private:
  explicit PublicKey(void* pkey) : pkey_(pkey) {}
  void* pkey_;  // EVP_PKEY*
};

// Convenience (sandbox, tests): key + CSR + sign in one go ->
// out_dir/<common_name>.key (0600) and out_dir/<common_name>.crt (the CSR is
// written to out_dir/<common_name>.csr). Creates out_dir if needed.
absl::StatusOr<CertificateInfo> IssueIdentity(const std::string& ca_dir,
                                              const std::string& common_name, Role role,
                                              const std::string& out_dir,
                                              const SignOptions& options = {});

// Formats a Unix time as "2026-11-27T00:28:20Z".
std::string FormatUnixTime(int64_t unix_seconds);

}  // namespace fedrad::pki

#endif  // FEDRAD_CORE_PKI_H_
