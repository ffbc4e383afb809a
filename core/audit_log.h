// The tamper-evident audit log every fedrad node keeps, its verifier and the
// site-versus-coordinator cross-check.
//
// A log is a JSON Lines file, append-only, one record per line, flushed
// (written to the kernel) per record. Each record carries the SHA-256 of the
// previous record ("prev") and its own hash, so the records form a hash
// chain; "open", "checkpoint" and "close" records are also signed with the
// node's private key (ECDSA P-256), which commits the node to the whole chain
// up to that point. A node that stops cleanly ends its log with a "close".
//
//   audit::AuditLogOptions options;
//   options.path = "audit/site-S1.jsonl";
//   options.node_id = "site:S1";
//   options.key_path = "S1.key";
//   options.cert_path = "S1.crt";
//   FEDRAD_ASSIGN_OR_RETURN(auto log, audit::AuditLog::Open(options));
//   FEDRAD_RETURN_IF_ERROR(log->Append({audit::Direction::kSent, "study-1",
//       "task-7", "coordinator", "cohort.summary", Sha256Hex(bytes),
//       "cohort summary over 212 patients"}));
//   FEDRAD_RETURN_IF_ERROR(log->Close());
//
//   FEDRAD_ASSIGN_OR_RETURN(audit::VerifyReport report,
//                           audit::VerifyLog("audit/site-S1.jsonl", "ca.crt"));
//   if (!report.ok) for (auto& p : report.problems) std::cerr << p << "\n";
//
// Record line (keys in exactly this order; absent keys are omitted):
//   {"seq":N,"time":"2026-11-27T00:28:20.123456Z","node":"site:S1",
//    "type":"open|event|checkpoint|close",
//    "direction":"sent|received|decision",          (events only)
//    "study":...,"task":...,"peer":...,"kind":...,    (events only)
//    "payload_sha256":"<hex or empty>",               (events only)
//    "summary":"...",
//    "cert":"<PEM>",                                  (open only)
//    "prev":"<hex>",
//    "signature":"<base64>",                          (open, checkpoint, close)
//    "hash":"<hex>"}
// hash = SHA-256 (hex) of the record's compact JSON without "hash" (so it
// covers the signature); signature = ECDSA-SHA256 of "fedrad-audit-v1\n"
// followed by the record's compact JSON without "signature" and "hash";
// prev = the previous record's hash, 64 zeros for the first record. JSON is
// compact (no spaces), UTF-8, escaped as nlohmann::json dumps it; the verifier
// requires every line to be in exactly that canonical form.
// docs/auditor.md explains what verification does and does not prove.
#ifndef FEDRAD_CORE_AUDIT_LOG_H_
#define FEDRAD_CORE_AUDIT_LOG_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

namespace fedrad::pki {
class PrivateKey;
}

namespace fedrad::audit {

enum class Direction { kSent, kReceived, kDecision };
// "sent", "received", "decision".
std::string DirectionName(Direction direction);
absl::StatusOr<Direction> ParseDirection(absl::string_view name);

struct AuditEvent {
  Direction direction = Direction::kDecision;
  std::string study_id, task_id, peer, kind;
  // Hex digest of the exact serialized payload bytes that crossed the wire
  // (64 lower-case hex digits; required for sent/received, empty or a digest
  // for decisions).
  std::string payload_sha256;
  std::string summary;  // human-readable, never patient-level data
};

struct AuditLogOptions {
  std::string path;       // JSON Lines file, appended (created mode 0640)
  std::string node_id;    // e.g. "site:S1" / "coordinator"
  std::string key_path;   // node's private key: signs open/checkpoint/close
  std::string cert_path;  // node's certificate: embedded in the "open" record
  // A signed checkpoint after this many event records, and on Close().
  // 0 or less: checkpoints only on Checkpoint() and Close().
  int checkpoint_every = 50;
  // fsync after every record (durable against power loss, slower). Signed
  // records are always fsynced.
  bool sync_every_record = false;
};

// Thread safe (absl::Mutex). Each Append writes and flushes one line.
class AuditLog {
 public:
  // Opens (creating if needed) the log and appends a signed "open" record.
  // Reopening an existing log continues its chain: the existing records are
  // verified first (DataLoss naming the first problems if they are damaged;
  // move the file aside to start a new one). FailedPrecondition if the key
  // does not match the certificate or another process holds the log;
  // NotFound / InvalidArgument for unreadable key or certificate files.
  static absl::StatusOr<std::unique_ptr<AuditLog>> Open(const AuditLogOptions& options);
  // Closes the log (writing the signed "close") if Close() was not called.
  ~AuditLog();
  AuditLog(const AuditLog&) = delete;
  AuditLog& operator=(const AuditLog&) = delete;

  // Appends one event record; may then append a signed checkpoint.
  // InvalidArgument for a malformed digest; FailedPrecondition after Close()
  // or after an earlier write failure (the log is then left as is).
  absl::Status Append(const AuditEvent& event);
  // Appends a signed checkpoint now.
  absl::Status Checkpoint();
  // Writes a signed "close" record, fsyncs and closes the file. Idempotent.
  absl::Status Close();
  // Hash of the last record written.
  std::string head_hash() const;
  // Sequence number the next record will get.
  int64_t next_seq() const;
  const std::string& path() const { return options_.path; }

 private:
  AuditLog(AuditLogOptions options, std::unique_ptr<pki::PrivateKey> key, std::string cert_pem,
           int fd);
  absl::Status WriteRecordLocked(const std::string& type, const AuditEvent* event,
                                 const std::string& summary) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status CloseLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const AuditLogOptions options_;
  const std::unique_ptr<pki::PrivateKey> key_;
  const std::string cert_pem_;
  mutable absl::Mutex mu_;
  int fd_ ABSL_GUARDED_BY(mu_);
  int64_t next_seq_ ABSL_GUARDED_BY(mu_) = 0;
  std::string head_hash_ ABSL_GUARDED_BY(mu_);
  int64_t events_since_signed_ ABSL_GUARDED_BY(mu_) = 0;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status write_error_ ABSL_GUARDED_BY(mu_);
};

// What AuditLog::Open() checks in an existing log before appending, for
// `fedrad-site --check`, without writing: OK if the file does not exist or
// is empty, or if its records pass Open()'s verification; DataLoss with
// Open()'s message if it is damaged; FailedPrecondition ("in use by another
// process") while a node holds the log (it verified the log when it opened
// it); PermissionDenied if it cannot be read. Takes a shared lock only while
// reading, never waiting for it.
absl::Status CheckLogBeforeOpen(const std::string& path);

struct VerifyOptions {
  // When not empty, every embedded certificate must be issued by this CA
  // (checked at the time of its "open" record; the CRL is not consulted).
  std::string ca_cert_path;
  // A running node's log: a log that does not end with "close" is accepted,
  // and the report says how many records follow the last signed record.
  bool live = false;
};

struct VerifyReport {
  bool ok = false;
  int64_t records = 0;                // well-formed records read
  std::vector<std::string> problems;  // each names the line and seq
  std::string head_hash;              // hash of the last well-formed record
  // Additions beyond the contract:
  std::vector<std::string> notes;  // facts that are not failures
  bool closed = false;             // ends with a close record
  int64_t sessions = 0;            // open records
  int64_t signed_records = 0;      // open + checkpoint + close records
  int64_t last_signed_seq = -1;
  int64_t unsigned_tail = 0;         // records after the last signed one
  std::vector<std::string> signers;  // "CN (serial ...)" per distinct cert
};
// Verifies the hash chain, the canonical form of every line, the sequence
// numbers, every signature (with the certificate of the session's "open"
// record), and that the log ends with "close". ok is true only if there is no
// problem. NotFound if the file cannot be read (a damaged log is a report with
// problems, not an error status).
absl::StatusOr<VerifyReport> VerifyLog(const std::string& path,
                                       const std::string& ca_cert_path = "");
absl::StatusOr<VerifyReport> VerifyLog(const std::string& path, const VerifyOptions& options);

// As VerifyLog, on a log's text already in memory.
VerifyReport VerifyLogText(absl::string_view text, const VerifyOptions& options);

struct CrossCheckReport {
  bool ok = false;
  int64_t matched = 0;
  std::vector<std::string> problems;
  std::vector<std::string> notes;  // addition: identities used, counts
};
// Every record the site logged as sent to the coordinator appears in the
// coordinator's log as received from that site (same study, task, kind,
// payload digest), and vice versa; order within each direction preserved.
// Both logs are verified first (as live logs; their problems are included).
// A node is known by its "node" field, the part after "role:" in it, and the
// CN of the certificate in its open records; a record's peer must be one of
// the other node's names to count. Decisions are not cross-checked.
absl::StatusOr<CrossCheckReport> CrossCheck(const std::string& site_log,
                                            const std::string& coordinator_log);

// One parsed record, for `fedrad audit show` and tools.
struct AuditRecord {
  int64_t line = 0;
  int64_t seq = 0;
  std::string time, node, type, direction, study, task, peer, kind, payload_sha256, summary, cert,
      prev, signature, hash;
};
// Parses every well-formed record (malformed lines are skipped; use VerifyLog
// to judge integrity). NotFound if the file cannot be read.
absl::StatusOr<std::vector<AuditRecord>> ReadRecords(const std::string& path);

// The last record about `study` (its "study" field): the study's end in
// this log, whose hash a report records as the log's head for that study
// (later records belong to other studies or to the node's life). NotFound
// if no record names the study.
absl::StatusOr<AuditRecord> LastRecordOfStudy(const std::vector<AuditRecord>& records,
                                              absl::string_view study);

}  // namespace fedrad::audit

#endif  // FEDRAD_CORE_AUDIT_LOG_H_
