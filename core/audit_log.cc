// The audit log's writer (core/audit_log.h): AuditLog, CheckLogBeforeOpen
// and the direction names. The verifier is audit_verify.cc, the cross-check
// audit_cross_check.cc, the record format internal/audit_record.cc.
#include "core/audit_log.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/csv.h"
#include "core/hash.h"
#include "core/internal/audit_internal.h"
#include "core/log.h"
#include "core/pki.h"
#include "core/status.h"

namespace fedrad::audit {

using audit_internal::Dump;
using audit_internal::HashOf;
using audit_internal::IsHexDigest;
using audit_internal::IsSignedType;
using audit_internal::Json;
using audit_internal::kZeroHash;
using audit_internal::NowRfc3339;
using audit_internal::Scan;
using audit_internal::SignedBytes;
using audit_internal::VerifyText;

namespace {

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

}  // namespace fedrad::audit
