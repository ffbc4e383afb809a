// The audit log's verifier (core/audit_log.h): VerifyLog, VerifyLogText,
// ReadRecords, LastRecordOfStudy, and the scan they share with the writer and
// the cross-check (core/internal/audit_internal.h).
#include <sys/stat.h>

#include <map>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "core/audit_log.h"
#include "core/csv.h"
#include "core/hash.h"
#include "core/internal/audit_internal.h"
#include "core/pki.h"
#include "core/status.h"

namespace fedrad::audit_internal {
namespace {

constexpr size_t kMaxProblems = 200;

// Checks a parsed line against the schema. Returns "" if fine, else why not.
std::string SchemaProblem(const Json& j) {
  if (!j.is_object()) return "not a JSON object";
  auto type_it = j.find("type");
  if (type_it == j.end() || !type_it->is_string()) return "no \"type\"";
  std::string type = type_it->get<std::string>();
  const std::vector<std::string>& keys = KeysFor(type);
  if (keys.empty()) return absl::StrCat("unknown record type \"", type, "\"");
  std::vector<std::string> actual;
  for (auto it = j.begin(); it != j.end(); ++it) actual.push_back(it.key());
  if (actual != keys) {
    return absl::StrCat("fields are not the ones of a \"", type, "\" record (",
                        absl::StrJoin(actual, ","), ")");
  }
  for (const std::string& k : keys) {
    const Json& v = j[k];
    if (k == "seq") {
      if (!v.is_number_integer() || v.get<int64_t>() < 0) return "\"seq\" is not a count";
    } else if (!v.is_string()) {
      return absl::StrCat("\"", k, "\" is not a string");
    }
  }
  if (!IsHexDigest(j["prev"].get<std::string>())) return "\"prev\" is not a SHA-256 hex digest";
  if (!IsHexDigest(j["hash"].get<std::string>())) return "\"hash\" is not a SHA-256 hex digest";
  if (ParseRfc3339(j["time"].get<std::string>()) < 0) return "\"time\" is not RFC 3339";
  if (type == "event") {
    std::string dir = j["direction"].get<std::string>();
    std::string digest = j["payload_sha256"].get<std::string>();
    if (!audit::ParseDirection(dir).ok()) return absl::StrCat("unknown direction \"", dir, "\"");
    if (dir != "decision" && !IsHexDigest(digest)) {
      return "\"payload_sha256\" is not a SHA-256 hex digest";
    }
    if (dir == "decision" && !digest.empty() && !IsHexDigest(digest)) {
      return "\"payload_sha256\" is neither empty nor a SHA-256 hex digest";
    }
  }
  return "";
}

AuditRecord ToRecord(const Json& j, int64_t line) {
  AuditRecord r;
  r.line = line;
  r.seq = j["seq"].get<int64_t>();
  auto str = [&](const char* k) {
    auto it = j.find(k);
    return it == j.end() ? std::string() : it->get<std::string>();
  };
  r.time = str("time");
  r.node = str("node");
  r.type = str("type");
  r.direction = str("direction");
  r.study = str("study");
  r.task = str("task");
  r.peer = str("peer");
  r.kind = str("kind");
  r.payload_sha256 = str("payload_sha256");
  r.summary = str("summary");
  r.cert = str("cert");
  r.prev = str("prev");
  r.signature = str("signature");
  r.hash = str("hash");
  return r;
}

std::string Where(int64_t line, int64_t seq) {
  if (seq < 0) return absl::StrCat("line ", line);
  return absl::StrCat("line ", line, " (seq ", seq, ")");
}

}  // namespace

absl::StatusOr<ParsedCert> ParseCertCached(const std::string& pem) {
  static absl::Mutex mu(absl::kConstInit);
  static auto* cache = new std::map<std::string, ParsedCert>();
  std::string id = Sha256Hex(pem);
  {
    absl::MutexLock lock(&mu);
    auto it = cache->find(id);
    if (it != cache->end()) return it->second;
  }
  FEDRAD_ASSIGN_OR_RETURN(pki::CertificateInfo info, pki::ParseCertificatePem(pem));
  FEDRAD_ASSIGN_OR_RETURN(std::unique_ptr<pki::PublicKey> key,
                          pki::PublicKey::FromCertificatePem(pem));
  ParsedCert parsed{std::move(info), std::shared_ptr<const pki::PublicKey>(std::move(key))};
  absl::MutexLock lock(&mu);
  if (cache->size() >= 256) cache->clear();  // bounded; a miss only costs time
  (*cache)[id] = parsed;
  return parsed;
}

namespace {

// The verifier's walk over a log, one line at a time: the chain (canonical
// form, hashes, sequence numbers, "prev"), the sessions (open records, their
// certificates, nodes) and the signatures. Problems are listed in the order
// they are found, at most kMaxProblems of them.
class LogWalk {
 public:
  explicit LogWalk(const VerifyOptions& options) : options_(options) {}

  // Checks one line (without its newline) and, if well formed, keeps its record.
  void Line(absl::string_view line) {
    ++line_no_;
    Json j = Json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) {
      Problem(absl::StrCat("line ", line_no_, ": malformed record (not valid JSON)"));
      Malformed();
      return;
    }
    std::string schema = SchemaProblem(j);
    if (!schema.empty()) {
      Problem(absl::StrCat("line ", line_no_, ": malformed record: ", schema));
      Malformed();
      return;
    }
    AuditRecord r = ToRecord(j, line_no_);
    std::string where = Where(line_no_, r.seq);
    ++scan_.report.records;
    CheckChain(j, line, r, where);
    if (line_no_ == 1 && r.type != "open") {
      Problem(absl::StrCat(where, ": a log must start with an \"open\" record"));
    }
    if (r.type == "open") {
      OpenSession(r, where);
    } else {
      CheckInSession(r, where);
    }
    CheckSignature(j, r, where);
    expected_prev_ = r.hash;
    expected_seq_ = r.seq + 1;
    chain_known_ = true;
    last_type_ = r.type;
    last_seq_ = r.seq;
    scan_.report.head_hash = r.hash;
    scan_.records.push_back(std::move(r));
  }

  // The last line had no newline: the log was cut in the middle of a record.
  void Truncated() {
    ++line_no_;
    Problem(absl::StrCat("line ", line_no_,
                         ": truncated record (no newline at the end of the "
                         "file: the log was cut in the middle of a record)"));
    last_type_ = "";
  }

  // The verdict once every line is read.
  Scan Finish() && {
    VerifyReport& rep = scan_.report;
    scan_.next_seq = expected_seq_;
    rep.signers.assign(signers_.begin(), signers_.end());
    if (line_no_ == 0) Problem("the log is empty (not even an open record)");
    rep.closed = last_type_ == "close";
    if (!rep.closed && line_no_ > 0) {
      std::string tail =
          rep.last_signed_seq < 0
              ? absl::StrCat(rep.unsigned_tail, " record(s) and no signed record")
              : absl::StrCat(rep.unsigned_tail, " record(s) follow the last signed record (seq ",
                             rep.last_signed_seq, ")");
      if (options_.live) {
        rep.notes.push_back(absl::StrCat(
            "live log: ", tail, "; they are hash-chained but not yet covered by a signature"));
      } else {
        Problem(absl::StrCat(
            "line ", line_no_, ": the log does not end with a close record (last record seq ",
            last_seq_, "; ", tail,
            "): the node is still running (verify with --live) or the log was truncated"));
      }
    }
    rep.ok = rep.problems.empty();
    return std::move(scan_);
  }

 private:
  void Problem(std::string p) {
    std::vector<std::string>& problems = scan_.report.problems;
    if (problems.size() < kMaxProblems) {
      problems.push_back(std::move(p));
    } else if (problems.size() == kMaxProblems) {
      problems.push_back("... further problems not listed");
    }
  }

  // After a malformed line the chain cannot be followed to the next record.
  void Malformed() {
    chain_known_ = false;
    last_type_ = "";
  }

  void CheckChain(const Json& j, absl::string_view line, const AuditRecord& r,
                  const std::string& where) {
    if (Dump(j) != line) {
      Problem(absl::StrCat(where, ": record is not in canonical form (edited by hand?)"));
    }
    if (HashOf(j) != r.hash) {
      Problem(absl::StrCat(where, ": hash mismatch: the record's content was changed"));
    }
    if (r.seq != expected_seq_) {
      Problem(absl::StrCat(where, ": sequence number ", r.seq, ", expected ", expected_seq_,
                           " (a record was removed, inserted or reordered)"));
    }
    if (chain_known_ && r.prev != expected_prev_) {
      Problem(absl::StrCat(where,
                           ": \"prev\" does not match the hash of the record before "
                           "it (a record was removed, inserted, changed or reordered)"));
    }
  }

  // An "open" record starts a session: its certificate signs what follows.
  void OpenSession(const AuditRecord& r, const std::string& where) {
    ++scan_.report.sessions;
    if (!last_type_.empty() && last_type_ != "close") {
      scan_.report.notes.push_back(
          absl::StrCat(where,
                       ": the node restarted after an unclean stop (the session before "
                       "ended at seq ",
                       last_seq_, " without a close record)"));
    }
    session_key_.reset();
    session_node_ = r.node;
    auto parsed = ParseCertCached(r.cert);
    if (!parsed.ok()) {
      Problem(absl::StrCat(where, ": embedded certificate unreadable: ", parsed.status().message()));
      return;
    }
    const pki::CertificateInfo* info = &parsed->info;
    session_key_ = parsed->key;
    signers_.insert(absl::StrCat(info->common_name, " (", pki::RoleName(info->role), ", serial ",
                                 info->serial_hex, ")"));
    if (!options_.ca_cert_path.empty()) {
      absl::Status chain =
          pki::VerifyCertificatePemAt(r.cert, options_.ca_cert_path, "", ParseRfc3339(r.time));
      if (!chain.ok()) {
        Problem(absl::StrCat(where, ": embedded certificate not trusted at ", r.time, ": ",
                             chain.message()));
      }
    }
  }

  void CheckInSession(const AuditRecord& r, const std::string& where) {
    if (last_type_ == "close") {
      Problem(absl::StrCat(where, ": \"", r.type,
                           "\" record after a close record (expected \"open\")"));
    }
    if (!session_node_.empty() && r.node != session_node_) {
      Problem(absl::StrCat(where, ": node \"", r.node, "\" differs from \"", session_node_,
                           "\" in the session's open record"));
    }
  }

  void CheckSignature(const Json& j, const AuditRecord& r, const std::string& where) {
    VerifyReport& rep = scan_.report;
    if (!IsSignedType(r.type)) {
      ++rep.unsigned_tail;
      return;
    }
    if (session_key_ == nullptr) {
      Problem(absl::StrCat(where,
                           ": signed record without a readable certificate "
                           "in the session's open record"));
    } else {
      absl::Status sig = session_key_->Verify(SignedBytes(j), r.signature);
      if (!sig.ok()) {
        Problem(absl::StrCat(where,
                             ": signature does not verify with the certificate "
                             "of the session's open record (",
                             sig.message(), ")"));
      }
    }
    ++rep.signed_records;
    rep.last_signed_seq = r.seq;
    rep.unsigned_tail = 0;
  }

  const VerifyOptions& options_;
  Scan scan_;
  std::string expected_prev_ = kZeroHash;
  bool chain_known_ = true;  // false right after a malformed line
  int64_t expected_seq_ = 0;
  std::shared_ptr<const pki::PublicKey> session_key_;  // from the session's open record
  std::string session_node_;
  std::string last_type_;
  int64_t last_seq_ = -1;
  std::set<std::string> signers_;
  int64_t line_no_ = 0;
};

}  // namespace

Scan VerifyText(absl::string_view text, const VerifyOptions& options) {
  LogWalk walk(options);
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == absl::string_view::npos) {
      walk.Truncated();
      break;
    }
    walk.Line(text.substr(pos, nl - pos));
    pos = nl + 1;
  }
  return std::move(walk).Finish();
}

absl::StatusOr<std::string> ReadLog(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    return absl::NotFoundError(absl::StrCat("audit log ", path, ": no such file"));
  }
  auto text = ReadFileToString(path);
  if (!text.ok()) return Annotate(text.status(), absl::StrCat("audit log ", path));
  return text;
}

}  // namespace fedrad::audit_internal

namespace fedrad::audit {

using audit_internal::Json;
using audit_internal::ReadLog;
using audit_internal::SchemaProblem;
using audit_internal::ToRecord;
using audit_internal::VerifyText;

absl::StatusOr<VerifyReport> VerifyLog(const std::string& path, const std::string& ca_cert_path) {
  VerifyOptions options;
  options.ca_cert_path = ca_cert_path;
  return VerifyLog(path, options);
}

absl::StatusOr<VerifyReport> VerifyLog(const std::string& path, const VerifyOptions& options) {
  FEDRAD_ASSIGN_OR_RETURN(std::string text, ReadLog(path));
  if (!options.ca_cert_path.empty()) {
    // Fail early and clearly on an unreadable CA file.
    FEDRAD_RETURN_IF_ERROR(pki::ReadCertificate(options.ca_cert_path).status());
  }
  return VerifyText(text, options).report;
}

VerifyReport VerifyLogText(absl::string_view text, const VerifyOptions& options) {
  return VerifyText(text, options).report;
}

absl::StatusOr<std::vector<AuditRecord>> ReadRecords(const std::string& path) {
  FEDRAD_ASSIGN_OR_RETURN(std::string text, ReadLog(path));
  std::vector<AuditRecord> out;
  size_t pos = 0;
  int64_t line_no = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    ++line_no;
    std::string line = text.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
    pos = nl == std::string::npos ? text.size() : nl + 1;
    Json j = Json::parse(line, nullptr, false);
    if (j.is_discarded() || !SchemaProblem(j).empty()) continue;
    out.push_back(ToRecord(j, line_no));
  }
  return out;
}

absl::StatusOr<AuditRecord> LastRecordOfStudy(const std::vector<AuditRecord>& records,
                                              absl::string_view study) {
  for (auto it = records.rbegin(); it != records.rend(); ++it) {
    if (!study.empty() && it->study == study) return *it;
  }
  return absl::NotFoundError(absl::StrCat("no record of study ", study));
}

}  // namespace fedrad::audit
