#include "core/audit_log.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <deque>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <tuple>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/csv.h"
#include "core/hash.h"
#include "core/log.h"
#include "core/pki.h"
#include "core/status.h"

namespace fedrad::audit {
namespace {

using Json = nlohmann::ordered_json;

constexpr char kZeroHash[] = "0000000000000000000000000000000000000000000000000000000000000000";
constexpr char kSignaturePrefix[] = "fedrad-audit-v1\n";
constexpr size_t kMaxProblems = 200;

// Key order per record type; the verifier requires exactly these keys in
// exactly this order.
const std::vector<std::string>& KeysFor(const std::string& type) {
  static const std::vector<std::string> kOpen = {"seq",  "time", "node",      "type", "summary",
                                                 "cert", "prev", "signature", "hash"};
  static const std::vector<std::string> kEvent = {
      "seq",  "time", "node",           "type",    "direction", "study", "task",
      "peer", "kind", "payload_sha256", "summary", "prev",      "hash"};
  static const std::vector<std::string> kSigned = {"seq",     "time", "node",      "type",
                                                   "summary", "prev", "signature", "hash"};
  static const std::vector<std::string> kNone;
  if (type == "open") return kOpen;
  if (type == "event") return kEvent;
  if (type == "checkpoint" || type == "close") return kSigned;
  return kNone;
}

bool IsSignedType(const std::string& type) {
  return type == "open" || type == "checkpoint" || type == "close";
}

std::string Dump(const Json& j) { return j.dump(-1, ' ', false, Json::error_handler_t::replace); }

// The JSON text Dump gives for the string `s`. Printable ASCII without '"'
// and '\\' is written as it is, the way nlohmann writes it, without its
// per-character UTF-8 pass (a summary that carries a signed round message
// is tens of kilobytes of base64); anything else goes through Dump.
std::string DumpString(const std::string& s) {
  for (unsigned char c : s) {
    if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\') return Dump(Json(s));
  }
  std::string out;
  out.reserve(s.size() + 2);
  out += '"';
  out += s;
  out += '"';
  return out;
}

// The record without "hash" (and without "signature" when signing).
Json Without(const Json& j, std::initializer_list<const char*> keys) {
  Json out = j;
  for (const char* k : keys) out.erase(k);
  return out;
}

std::string HashOf(const Json& record) { return Sha256Hex(Dump(Without(record, {"hash"}))); }

std::string SignedBytes(const Json& record) {
  return absl::StrCat(kSignaturePrefix, Dump(Without(record, {"signature", "hash"})));
}

bool IsHexDigest(absl::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

std::string NowRfc3339() {
  auto now = std::chrono::system_clock::now();
  auto micros =
      std::chrono::duration_cast<std::chrono::microseconds>(now.time_since_epoch()).count();
  time_t secs = static_cast<time_t>(micros / 1000000);
  struct tm tm;
  gmtime_r(&secs, &tm);
  char buf[80];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%06lldZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<long long>(micros % 1000000));
  return buf;
}

// Parses "YYYY-MM-DDTHH:MM:SS[.ffffff]Z" to Unix seconds; -1 if malformed.
int64_t ParseRfc3339(const std::string& s) {
  int y, mo, d, h, mi, se;
  if (s.size() < 20 ||
      std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d", &y, &mo, &d, &h, &mi, &se) != 6) {
    return -1;
  }
  struct tm tm;
  std::memset(&tm, 0, sizeof(tm));
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = se;
  return static_cast<int64_t>(timegm(&tm));
}

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
    if (!ParseDirection(dir).ok()) return absl::StrCat("unknown direction \"", dir, "\"");
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

// A parsed embedded certificate. OpenSSL 3 spends far more time decoding a
// PEM certificate than checking a signature, and the verifier meets the same
// few certificates over and over (one per node), so parsed certificates are
// kept in a small process-wide cache keyed by the PEM's SHA-256.
struct ParsedCert {
  pki::CertificateInfo info;
  std::shared_ptr<const pki::PublicKey> key;
};

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

// The verifier over a log's text; also collects the well-formed records.
struct Scan {
  VerifyReport report;
  std::vector<AuditRecord> records;
  int64_t next_seq = 0;
};

Scan VerifyText(absl::string_view text, const VerifyOptions& options) {
  Scan scan;
  VerifyReport& rep = scan.report;
  auto problem = [&](std::string p) {
    if (rep.problems.size() < kMaxProblems) {
      rep.problems.push_back(std::move(p));
    } else if (rep.problems.size() == kMaxProblems) {
      rep.problems.push_back("... further problems not listed");
    }
  };

  std::string expected_prev = kZeroHash;
  bool chain_known = true;  // false right after a malformed line
  int64_t expected_seq = 0;
  std::shared_ptr<const pki::PublicKey> session_key;  // from the session's open record
  std::string session_node;
  std::string last_type;
  int64_t last_seq = -1;
  std::set<std::string> signers;
  size_t pos = 0;
  int64_t line_no = 0;

  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    ++line_no;
    if (nl == absl::string_view::npos) {
      problem(absl::StrCat("line ", line_no,
                           ": truncated record (no newline at the end of the "
                           "file: the log was cut in the middle of a record)"));
      last_type = "";
      break;
    }
    absl::string_view line = text.substr(pos, nl - pos);
    pos = nl + 1;

    Json j = Json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) {
      problem(absl::StrCat("line ", line_no, ": malformed record (not valid JSON)"));
      chain_known = false;
      last_type = "";
      continue;
    }
    std::string schema = SchemaProblem(j);
    if (!schema.empty()) {
      problem(absl::StrCat("line ", line_no, ": malformed record: ", schema));
      chain_known = false;
      last_type = "";
      continue;
    }
    AuditRecord r = ToRecord(j, line_no);
    std::string where = Where(line_no, r.seq);
    ++rep.records;

    if (Dump(j) != line) {
      problem(absl::StrCat(where, ": record is not in canonical form (edited by hand?)"));
    }
    if (HashOf(j) != r.hash) {
      problem(absl::StrCat(where, ": hash mismatch: the record's content was changed"));
    }
    if (r.seq != expected_seq) {
      problem(absl::StrCat(where, ": sequence number ", r.seq, ", expected ", expected_seq,
                           " (a record was removed, inserted or reordered)"));
    }
    if (chain_known && r.prev != expected_prev) {
      problem(absl::StrCat(where,
                           ": \"prev\" does not match the hash of the record before "
                           "it (a record was removed, inserted, changed or reordered)"));
    }

    if (line_no == 1 && r.type != "open") {
      problem(absl::StrCat(where, ": a log must start with an \"open\" record"));
    }
    if (r.type == "open") {
      ++rep.sessions;
      if (!last_type.empty() && last_type != "close") {
        rep.notes.push_back(
            absl::StrCat(where,
                         ": the node restarted after an unclean stop (the session before "
                         "ended at seq ",
                         last_seq, " without a close record)"));
      }
      session_key.reset();
      session_node = r.node;
      auto parsed = ParseCertCached(r.cert);
      if (!parsed.ok()) {
        problem(
            absl::StrCat(where, ": embedded certificate unreadable: ", parsed.status().message()));
      } else {
        const pki::CertificateInfo* info = &parsed->info;
        session_key = parsed->key;
        signers.insert(absl::StrCat(info->common_name, " (", pki::RoleName(info->role), ", serial ",
                                    info->serial_hex, ")"));
        if (!options.ca_cert_path.empty()) {
          absl::Status chain =
              pki::VerifyCertificatePemAt(r.cert, options.ca_cert_path, "", ParseRfc3339(r.time));
          if (!chain.ok()) {
            problem(absl::StrCat(where, ": embedded certificate not trusted at ", r.time, ": ",
                                 chain.message()));
          }
        }
      }
    } else {
      if (last_type == "close") {
        problem(absl::StrCat(where, ": \"", r.type,
                             "\" record after a close record (expected \"open\")"));
      }
      if (!session_node.empty() && r.node != session_node) {
        problem(absl::StrCat(where, ": node \"", r.node, "\" differs from \"", session_node,
                             "\" in the session's open record"));
      }
    }
    if (IsSignedType(r.type)) {
      if (session_key == nullptr) {
        problem(absl::StrCat(where,
                             ": signed record without a readable certificate "
                             "in the session's open record"));
      } else {
        absl::Status sig = session_key->Verify(SignedBytes(j), r.signature);
        if (!sig.ok()) {
          problem(absl::StrCat(where,
                               ": signature does not verify with the certificate "
                               "of the session's open record (",
                               sig.message(), ")"));
        }
      }
      ++rep.signed_records;
      rep.last_signed_seq = r.seq;
      rep.unsigned_tail = 0;
    } else {
      ++rep.unsigned_tail;
    }

    expected_prev = r.hash;
    expected_seq = r.seq + 1;
    chain_known = true;
    last_type = r.type;
    last_seq = r.seq;
    rep.head_hash = r.hash;
    scan.records.push_back(std::move(r));
  }

  scan.next_seq = expected_seq;
  rep.signers.assign(signers.begin(), signers.end());
  if (line_no == 0) problem("the log is empty (not even an open record)");
  rep.closed = last_type == "close";
  if (!rep.closed && line_no > 0) {
    std::string tail =
        rep.last_signed_seq < 0
            ? absl::StrCat(rep.unsigned_tail, " record(s) and no signed record")
            : absl::StrCat(rep.unsigned_tail, " record(s) follow the last signed record (seq ",
                           rep.last_signed_seq, ")");
    if (options.live) {
      rep.notes.push_back(absl::StrCat(
          "live log: ", tail, "; they are hash-chained but not yet covered by a signature"));
    } else {
      problem(absl::StrCat(
          "line ", line_no, ": the log does not end with a close record (last record seq ",
          last_seq, "; ", tail,
          "): the node is still running (verify with --live) or the log was truncated"));
    }
  }
  rep.ok = rep.problems.empty();
  return scan;
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

absl::Status WriteAll(int fd, absl::string_view data, const std::string& path) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return absl::DataLossError(
          absl::StrCat("audit log ", path, ": write failed: ", std::strerror(errno)));
    }
    done += static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

}  // namespace

std::string DirectionName(Direction direction) {
  switch (direction) {
    case Direction::kSent:
      return "sent";
    case Direction::kReceived:
      return "received";
    case Direction::kDecision:
      return "decision";
  }
  return "unknown";
}

absl::StatusOr<Direction> ParseDirection(absl::string_view name) {
  for (Direction d : {Direction::kSent, Direction::kReceived, Direction::kDecision}) {
    if (name == DirectionName(d)) return d;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown direction \"", name, "\"; expected sent, received or decision"));
}

// --- writer ----------------------------------------------------------------------

AuditLog::AuditLog(AuditLogOptions options, std::unique_ptr<pki::PrivateKey> key,
                   std::string cert_pem, int fd)
    : options_(std::move(options)), key_(std::move(key)), cert_pem_(std::move(cert_pem)), fd_(fd) {}

namespace {

// Open()'s verdict on an existing log's text: DataLoss naming the first
// problems if it is damaged (Open never appends to such a log).
absl::Status DamagedLogError(const std::string& path, const Scan& scan) {
  if (scan.report.ok) return absl::OkStatus();
  std::vector<std::string> first(
      scan.report.problems.begin(),
      scan.report.problems.begin() + std::min<size_t>(3, scan.report.problems.size()));
  return absl::DataLossError(absl::StrCat("audit log ", path, " is damaged (",
                                          absl::StrJoin(first, "; "),
                                          "); move it aside and start a new log"));
}

Scan ScanForOpen(absl::string_view text) {
  VerifyOptions vo;
  vo.live = true;
  return VerifyText(text, vo);
}

}  // namespace

absl::Status CheckLogBeforeOpen(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return absl::OkStatus();  // Open() creates it
    return absl::PermissionDeniedError(
        absl::StrCat("cannot open audit log ", path, ": ", std::strerror(errno)));
  }
  // A shared lock, held only while reading: it fails while a node holds the
  // log (Open takes an exclusive lock) and never blocks.
  if (::flock(fd, LOCK_SH | LOCK_NB) != 0) {
    ::close(fd);
    return absl::FailedPreconditionError(
        absl::StrCat("audit log ", path, " is in use by another process"));
  }
  std::string text;
  char buf[1 << 16];
  while (true) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      std::string message =
          absl::StrCat("cannot read audit log ", path, ": ", std::strerror(errno));
      ::close(fd);
      return absl::PermissionDeniedError(message);
    }
    if (n == 0) break;
    text.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  if (text.empty()) return absl::OkStatus();
  return DamagedLogError(path, ScanForOpen(text));
}

absl::StatusOr<std::unique_ptr<AuditLog>> AuditLog::Open(const AuditLogOptions& options) {
  if (options.path.empty()) return absl::InvalidArgumentError("audit log path is empty");
  if (options.node_id.empty()) return absl::InvalidArgumentError("audit log node id is empty");
  FEDRAD_ASSIGN_OR_RETURN(std::unique_ptr<pki::PrivateKey> key,
                          pki::PrivateKey::Load(options.key_path));
  auto cert_pem = ReadFileToString(options.cert_path);
  if (!cert_pem.ok()) {
    return absl::NotFoundError(
        absl::StrCat("certificate ", options.cert_path, ": ", cert_pem.status().message()));
  }
  auto info = pki::ParseCertificatePem(*cert_pem);
  if (!info.ok()) {
    return Annotate(info.status(), absl::StrCat("certificate ", options.cert_path));
  }
  absl::Status match = key->CheckMatches(*cert_pem);
  if (!match.ok()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "private key ", options.key_path, " does not match certificate ", options.cert_path));
  }

  int fd = ::open(options.path.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  if (fd < 0) {
    return absl::PermissionDeniedError(
        absl::StrCat("cannot open audit log ", options.path, ": ", std::strerror(errno)));
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd);
    return absl::FailedPreconditionError(
        absl::StrCat("audit log ", options.path, " is in use by another process"));
  }
  std::unique_ptr<AuditLog> log(new AuditLog(options, std::move(key), *cert_pem, fd));

  // Continue an existing chain, after checking it is intact.
  std::string summary =
      absl::StrCat("log opened by ", options.node_id, " (certificate CN=", info->common_name,
                   ", role ", pki::RoleName(info->role), ", serial ", info->serial_hex, ")");
  auto text = ReadFileToString(options.path);
  if (!text.ok()) return Annotate(text.status(), absl::StrCat("audit log ", options.path));
  if (!text->empty()) {
    Scan scan = ScanForOpen(*text);
    if (absl::Status damaged = DamagedLogError(options.path, scan); !damaged.ok()) {
      absl::MutexLock lock(&log->mu_);
      log->closed_ = true;  // never write to a damaged log
      return damaged;
    }
    absl::StrAppend(&summary,
                    scan.report.closed
                        ? absl::StrCat("; continues after a clean close at seq ", scan.next_seq - 1)
                        : absl::StrCat("; the previous session stopped without a "
                                       "close record after seq ",
                                       scan.next_seq - 1));
    absl::MutexLock lock(&log->mu_);
    log->next_seq_ = scan.next_seq;
    log->head_hash_ = scan.report.head_hash;
  } else {
    absl::MutexLock lock(&log->mu_);
    log->head_hash_ = kZeroHash;
  }
  {
    absl::MutexLock lock(&log->mu_);
    FEDRAD_RETURN_IF_ERROR(log->WriteRecordLocked("open", nullptr, summary));
  }
  return log;
}

AuditLog::~AuditLog() {
  absl::MutexLock lock(&mu_);
  if (!closed_) {
    absl::Status s = CloseLocked();
    if (!s.ok()) {
      FEDRAD_LOG(ERROR) << "closing audit log: " << s;
    }
  }
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

absl::Status AuditLog::WriteRecordLocked(const std::string& type, const AuditEvent* event,
                                         const std::string& summary) {
  if (!write_error_.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat("audit log ", options_.path,
                     " stopped after an earlier write failure: ", write_error_.message()));
  }
  Json j;
  j["seq"] = next_seq_;
  j["time"] = NowRfc3339();
  j["node"] = options_.node_id;
  j["type"] = type;
  if (event != nullptr) {
    j["direction"] = DirectionName(event->direction);
    j["study"] = event->study_id;
    j["task"] = event->task_id;
    j["peer"] = event->peer;
    j["kind"] = event->kind;
    j["payload_sha256"] = event->payload_sha256;
  }
  const bool is_signed = IsSignedType(type);
  // The summary goes in last (below) as DumpString's text, except in the
  // rare signed records.
  j["summary"] = is_signed ? Json(summary) : Json("");
  if (type == "open") j["cert"] = cert_pem_;
  j["prev"] = head_hash_;
  // What is signed and hashed is the canonical text, exactly what a reader
  // parses and dumps again (invalid UTF-8 becomes U+FFFD, valid UTF-8 is
  // kept, keys keep their order).
  std::string hash;
  std::string line = Dump(j);
  if (is_signed) {
    j = Json::parse(line);
    FEDRAD_ASSIGN_OR_RETURN(std::string sig, key_->Sign(SignedBytes(j)));
    j["signature"] = sig;
    hash = HashOf(j);
    j["hash"] = hash;
    line = Dump(j);
  } else {
    // The summary in place of its empty placeholder: every '"' inside a
    // dumped value is escaped, so the key with its empty value and the next
    // key occur once, where Dump put them.
    constexpr absl::string_view kEmptySummary = "\"summary\":\"\"";
    const size_t at = line.find(absl::StrCat(kEmptySummary, ",\"prev\":"));
    if (at == std::string::npos) return absl::InternalError("audit record without its summary");
    const absl::string_view text = line;
    line = absl::StrCat(text.substr(0, at), "\"summary\":", DumpString(summary),
                        text.substr(at + kEmptySummary.size()));
    // HashOf(record) is the digest of this text (no "hash" yet), and the
    // record with "hash" appended last dumps as this text with one more
    // member before the closing brace: one dump and no parse, which matters
    // for records that carry a signed round message (tens of kilobytes).
    hash = Sha256Hex(line);
    line.pop_back();
    absl::StrAppend(&line, ",\"hash\":\"", hash, "\"}");
  }
  line += "\n";
  absl::Status s = WriteAll(fd_, line, options_.path);
  if (s.ok() && (options_.sync_every_record || IsSignedType(type)) && ::fdatasync(fd_) != 0) {
    s = absl::DataLossError(
        absl::StrCat("audit log ", options_.path, ": fsync failed: ", std::strerror(errno)));
  }
  if (!s.ok()) {
    write_error_ = s;
    return s;
  }
  head_hash_ = hash;
  ++next_seq_;
  if (IsSignedType(type)) {
    events_since_signed_ = 0;
  } else {
    ++events_since_signed_;
  }
  return absl::OkStatus();
}

absl::Status AuditLog::Append(const AuditEvent& event) {
  bool needs_digest = event.direction != Direction::kDecision;
  if ((needs_digest || !event.payload_sha256.empty()) && !IsHexDigest(event.payload_sha256)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "audit event ", event.kind, " (task ", event.task_id,
        "): payload_sha256 must be 64 lower-case hex digits, got \"", event.payload_sha256, "\""));
  }
  absl::MutexLock lock(&mu_);
  if (closed_) {
    return absl::FailedPreconditionError(absl::StrCat("audit log ", options_.path, " is closed"));
  }
  FEDRAD_RETURN_IF_ERROR(WriteRecordLocked("event", &event, event.summary));
  if (options_.checkpoint_every > 0 && events_since_signed_ >= options_.checkpoint_every) {
    FEDRAD_RETURN_IF_ERROR(
        WriteRecordLocked("checkpoint", nullptr,
                          absl::StrCat("checkpoint: ", events_since_signed_,
                                       " event(s) since the last signed record")));
  }
  return absl::OkStatus();
}

absl::Status AuditLog::Checkpoint() {
  absl::MutexLock lock(&mu_);
  if (closed_) {
    return absl::FailedPreconditionError(absl::StrCat("audit log ", options_.path, " is closed"));
  }
  return WriteRecordLocked(
      "checkpoint", nullptr,
      absl::StrCat("checkpoint: ", events_since_signed_, " event(s) since the last signed record"));
}

absl::Status AuditLog::CloseLocked() {
  if (closed_) return absl::OkStatus();
  closed_ = true;
  absl::Status s = WriteRecordLocked("close", nullptr,
                                     absl::StrCat("log closed cleanly by ", options_.node_id, " (",
                                                  next_seq_, " records in the file)"));
  if (fd_ >= 0) ::close(fd_);  // also releases the flock
  fd_ = -1;
  return s;
}

absl::Status AuditLog::Close() {
  absl::MutexLock lock(&mu_);
  return CloseLocked();
}

std::string AuditLog::head_hash() const {
  absl::MutexLock lock(&mu_);
  return head_hash_;
}

int64_t AuditLog::next_seq() const {
  absl::MutexLock lock(&mu_);
  return next_seq_;
}

// --- verifier ----------------------------------------------------------------------

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

// --- cross-check -------------------------------------------------------------------

namespace {

struct NodeLog {
  std::string label;  // "site log" / "coordinator log"
  std::string path;
  std::set<std::string> names;
  std::vector<AuditRecord> records;
};

absl::StatusOr<NodeLog> LoadForCrossCheck(const std::string& path, const std::string& label,
                                          CrossCheckReport* report) {
  NodeLog log;
  log.label = label;
  log.path = path;
  FEDRAD_ASSIGN_OR_RETURN(std::string text, ReadLog(path));
  VerifyOptions vo;
  vo.live = true;
  Scan scan = VerifyText(text, vo);
  for (const std::string& p : scan.report.problems) {
    report->problems.push_back(absl::StrCat(label, " ", path, ": ", p));
  }
  for (const AuditRecord& r : scan.records) {
    if (r.type == "open") {
      log.names.insert(r.node);
      size_t colon = r.node.find(':');
      if (colon != std::string::npos) log.names.insert(r.node.substr(colon + 1));
      auto parsed = ParseCertCached(r.cert);
      if (parsed.ok()) log.names.insert(parsed->info.common_name);
    }
  }
  log.records = std::move(scan.records);
  return log;
}

std::string Describe(const NodeLog& log, const AuditRecord& r) {
  return absl::StrCat(log.label, " line ", r.line, " (seq ", r.seq, ", ", r.direction, " ", r.kind,
                      ", study ", r.study, ", task ", r.task, ", digest ",
                      r.payload_sha256.substr(0, 12), ")");
}

// Matches `from`'s records sent to `to` with `to`'s records received from
// `from`.
void MatchDirection(const NodeLog& from, const NodeLog& to, CrossCheckReport* report,
                    int64_t* considered) {
  std::vector<const AuditRecord*> sent, received;
  for (const AuditRecord& r : from.records) {
    if (r.type == "event" && r.direction == "sent" && to.names.count(r.peer)) sent.push_back(&r);
  }
  for (const AuditRecord& r : to.records) {
    if (r.type == "event" && r.direction == "received" && from.names.count(r.peer)) {
      received.push_back(&r);
    }
  }
  *considered += static_cast<int64_t>(sent.size() + received.size());
  using Key = std::tuple<std::string, std::string, std::string, std::string>;
  std::map<Key, std::deque<size_t>> by_key;
  for (size_t i = 0; i < received.size(); ++i) {
    const AuditRecord* r = received[i];
    by_key[Key{r->study, r->task, r->kind, r->payload_sha256}].push_back(i);
  }
  std::vector<bool> received_used(received.size(), false);
  std::vector<const AuditRecord*> unmatched_sent;
  int64_t last_index = -1;
  bool order_reported = false;
  for (const AuditRecord* s : sent) {
    auto it = by_key.find(Key{s->study, s->task, s->kind, s->payload_sha256});
    if (it == by_key.end() || it->second.empty()) {
      unmatched_sent.push_back(s);
      continue;
    }
    size_t idx = it->second.front();
    it->second.pop_front();
    received_used[idx] = true;
    ++report->matched;
    if (static_cast<int64_t>(idx) < last_index && !order_reported) {
      report->problems.push_back(absl::StrCat(
          "order differs: ", Describe(from, *s), " matches ", Describe(to, *received[idx]),
          ", which comes before the match of an earlier message"));
      order_reported = true;
    }
    last_index = std::max<int64_t>(last_index, static_cast<int64_t>(idx));
  }
  // A sent and a received record for the same study/task/kind with
  // different digests: the payload changed between the two logs.
  for (const AuditRecord* s : unmatched_sent) {
    bool paired = false;
    for (size_t i = 0; i < received.size(); ++i) {
      const AuditRecord* r = received[i];
      if (received_used[i] || r->study != s->study || r->task != s->task || r->kind != s->kind) {
        continue;
      }
      received_used[i] = true;
      paired = true;
      report->problems.push_back(absl::StrCat("payload digest mismatch: ", Describe(from, *s),
                                              " has ", s->payload_sha256, " but ", Describe(to, *r),
                                              " has ", r->payload_sha256));
      break;
    }
    if (!paired) {
      report->problems.push_back(absl::StrCat("missing: ", Describe(from, *s), " was sent to ",
                                              s->peer, " but the ", to.label,
                                              " has no matching received record"));
    }
  }
  for (size_t i = 0; i < received.size(); ++i) {
    if (received_used[i]) continue;
    report->problems.push_back(absl::StrCat("missing: ", Describe(to, *received[i]),
                                            " was received from ", received[i]->peer, " but the ",
                                            from.label, " has no matching sent record"));
  }
}

}  // namespace

absl::StatusOr<CrossCheckReport> CrossCheck(const std::string& site_log,
                                            const std::string& coordinator_log) {
  CrossCheckReport report;
  FEDRAD_ASSIGN_OR_RETURN(NodeLog site, LoadForCrossCheck(site_log, "site log", &report));
  FEDRAD_ASSIGN_OR_RETURN(NodeLog coord,
                          LoadForCrossCheck(coordinator_log, "coordinator log", &report));
  report.notes.push_back(absl::StrCat("site known as: ", absl::StrJoin(site.names, ", ")));
  report.notes.push_back(absl::StrCat("coordinator known as: ", absl::StrJoin(coord.names, ", ")));
  int64_t considered = 0;
  MatchDirection(site, coord, &report, &considered);  // site -> coordinator
  MatchDirection(coord, site, &report, &considered);  // coordinator -> site
  if (considered == 0) {
    report.problems.push_back(absl::StrCat(
        "no messages between the two nodes were found: the site log records no message "
        "to or from any of the coordinator's names and vice versa (are these the right "
        "logs?)"));
  }
  report.notes.push_back(absl::StrCat(report.matched, " message(s) matched"));
  report.ok = report.problems.empty();
  return report;
}

}  // namespace fedrad::audit
