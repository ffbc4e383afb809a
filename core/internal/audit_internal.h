// Internal to core/audit_log (fedrad::audit_internal): the record format and
// the verifier's scan, shared by the three files that implement
// core/audit_log.h. Not for use outside core/audit*.cc.
//
// Where things are:
//   audit_log.cc                 the writer (AuditLog, CheckLogBeforeOpen) and
//                                the direction names
//   audit_verify.cc              the verifier (VerifyLog, VerifyLogText,
//                                ReadRecords, LastRecordOfStudy) and the scan
//                                declared here (VerifyText)
//   audit_cross_check.cc         CrossCheck of a site log against a
//                                coordinator log
//   internal/audit_record.cc     the record format declared here: key order,
//                                canonical JSON, hashes, signed bytes, times
#ifndef FEDRAD_CORE_INTERNAL_AUDIT_INTERNAL_H_
#define FEDRAD_CORE_INTERNAL_AUDIT_INTERNAL_H_

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/audit_log.h"
#include "core/pki.h"

namespace fedrad::audit_internal {

using Json = nlohmann::ordered_json;
using audit::AuditRecord;
using audit::VerifyOptions;
using audit::VerifyReport;

// The "prev" of a log's first record.
inline constexpr char kZeroHash[] =
    "0000000000000000000000000000000000000000000000000000000000000000";

// --- record format (internal/audit_record.cc) -----------------------------------

// Key order per record type ("open", "event", "checkpoint", "close"); empty
// for an unknown type. The verifier requires exactly these keys in exactly
// this order.
const std::vector<std::string>& KeysFor(const std::string& type);

// True for the types whose records carry a signature (open, checkpoint, close).
bool IsSignedType(const std::string& type);

// The canonical (compact) JSON text of a record; invalid UTF-8 becomes U+FFFD.
std::string Dump(const Json& j);

// The record's hash: SHA-256 (hex) of its canonical text without "hash".
std::string HashOf(const Json& record);

// The bytes a signature covers: "fedrad-audit-v1\n" and the canonical text
// without "signature" and "hash".
std::string SignedBytes(const Json& record);

// True if `s` is 64 lower-case hex digits.
bool IsHexDigest(absl::string_view s);

// The current UTC time as "YYYY-MM-DDTHH:MM:SS.ffffffZ".
std::string NowRfc3339();

// Parses "YYYY-MM-DDTHH:MM:SS[.ffffff]Z" to Unix seconds; -1 if malformed.
int64_t ParseRfc3339(const std::string& s);

// --- the verifier's scan (audit_verify.cc) --------------------------------------

// A parsed embedded certificate, from a small process-wide cache keyed by the
// PEM's SHA-256 (OpenSSL spends far more time decoding a PEM certificate than
// checking a signature, and a log holds the same few certificates). Thread safe.
struct ParsedCert {
  pki::CertificateInfo info;
  std::shared_ptr<const pki::PublicKey> key;
};
absl::StatusOr<ParsedCert> ParseCertCached(const std::string& pem);

// The verifier over a log's text; also collects the well-formed records.
struct Scan {
  VerifyReport report;
  std::vector<AuditRecord> records;
  int64_t next_seq = 0;
};
Scan VerifyText(absl::string_view text, const VerifyOptions& options);

// The text of the log at `path`: NotFound if there is no such file.
absl::StatusOr<std::string> ReadLog(const std::string& path);

}  // namespace fedrad::audit_internal

#endif  // FEDRAD_CORE_INTERNAL_AUDIT_INTERNAL_H_
