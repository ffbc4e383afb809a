#include "site_node/approvals.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/csv.h"
#include "core/hash.h"
#include "core/status.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/unknown_field_set.h"
#include "proto/node_audit.h"
#include "proto/spec_hash.h"
#include "proto/textproto.h"
#include "site_node/site_rules.h"
#include "site_node/study_policy.h"

namespace fedrad::site {
namespace {

namespace fs = std::filesystem;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

// An flock on STATE_DIR/approvals.lock, released on destruction.
class FileLock {
 public:
  static absl::StatusOr<FileLock> Take(const std::string& state_dir, bool exclusive) {
    std::error_code ec;
    fs::create_directories(state_dir, ec);
    if (ec) {
      return absl::FailedPreconditionError(
          absl::StrCat("cannot create the site's state folder ", state_dir, ": ", ec.message()));
    }
    fs::permissions(state_dir, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec,
                    ec);
    const std::string path = (fs::path(state_dir) / "approvals.lock").string();
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0) return absl::FailedPreconditionError(absl::StrCat("cannot open ", path));
    if (::flock(fd, exclusive ? LOCK_EX : LOCK_SH) != 0) {
      ::close(fd);
      return absl::FailedPreconditionError(absl::StrCat("cannot lock ", path));
    }
    return FileLock(fd);
  }
  FileLock(FileLock&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  FileLock& operator=(FileLock&&) = delete;
  ~FileLock() {
    if (fd_ >= 0) ::close(fd_);  // releases the lock
  }

 private:
  explicit FileLock(int fd) : fd_(fd) {}
  int fd_;
};

absl::StatusOr<v1::StudyApprovals> ReadUnlocked(const std::string& state_dir) {
  v1::StudyApprovals approvals;
  const std::string path = ApprovalsPath(state_dir);
  std::error_code ec;
  if (!fs::exists(path, ec)) return approvals;
  auto text = ReadFileToString(path);
  if (!text.ok()) return text.status();
  if (absl::Status s = ParseTextProto(*text, path, &approvals); !s.ok()) {
    return absl::DataLossError(absl::StrCat("the approvals file does not parse: ", s.message()));
  }
  return approvals;
}

absl::Status WriteUnlocked(const std::string& state_dir, const v1::StudyApprovals& approvals) {
  const std::string path = ApprovalsPath(state_dir);
  const std::string tmp = path + ".tmp";
  std::string text =
      "# Study approvals of this site, written by `fedrad-site approve` / `withdraw`.\n"
      "# Do not edit by hand; see docs/site-operator.md.\n" +
      ToTextProto(approvals);
  FEDRAD_RETURN_IF_ERROR(WriteStringToFile(tmp, text));
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) return absl::InternalError(absl::StrCat("cannot write ", path, ": ", ec.message()));
  return absl::OkStatus();
}

std::string FormatDay(absl::Time t) { return absl::FormatTime("%Y-%m-%d", t, absl::UTCTimeZone()); }
std::string FormatInstant(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", t, absl::UTCTimeZone());
}

bool IsHexPrefix(const std::string& s) {
  if (s.size() < 8 || s.size() > 64) return false;
  for (char c : s) {
    if (!absl::ascii_isxdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

absl::Status CheckUnknown(const Message& message, int depth) {
  const Reflection* r = message.GetReflection();
  if (!r->GetUnknownFields(message).empty()) {
    return PublicError(absl::StatusCode::kInvalidArgument,
                       absl::StrCat(message.GetDescriptor()->full_name(),
                                    ": holds fields this site's software does not know "
                                    "(rule known-fields-only)"));
  }
  if (depth > 32) {
    return PublicError(absl::StatusCode::kInvalidArgument,
                       "message nested too deeply (rule bounded-size)");
  }
  std::vector<const FieldDescriptor*> fields;
  r->ListFields(message, &fields);
  for (const FieldDescriptor* f : fields) {
    if (f->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE) continue;
    if (f->is_repeated()) {
      for (int i = 0; i < r->FieldSize(message, f); ++i) {
        FEDRAD_RETURN_IF_ERROR(CheckUnknown(r->GetRepeatedMessage(message, f, i), depth + 1));
      }
    } else {
      FEDRAD_RETURN_IF_ERROR(CheckUnknown(r->GetMessage(message, f), depth + 1));
    }
  }
  return absl::OkStatus();
}

// The audit writer's result for an entry: true if written.
bool TryAudit(const AuditWriter& audit, const v1::StudyApproval& a, bool withdrawal,
              std::string* note) {
  if (!audit) return false;
  absl::Status s =
      audit(withdrawal ? "site.withdraw" : "site.approve", ApprovalAuditSummary(a, withdrawal),
            a.spec_sha256());
  if (s.ok()) return true;
  *note = s.code() == absl::StatusCode::kFailedPrecondition
              ? "the site is running: it writes the audit record before its next task"
              : absl::StrCat("audit record deferred to the site (", s.message(), ")");
  return false;
}

}  // namespace

v1::Study CanonicalStudy(v1::Study study) { return fedrad::CanonicalStudy(std::move(study)); }

std::string StudySpecHash(const v1::Study& study) { return fedrad::StudySpecHash(study); }

absl::Status CheckNoUnknownFields(const Message& message) { return CheckUnknown(message, 0); }

std::string ApprovalsPath(const std::string& state_dir) {
  return (fs::path(state_dir) / "approvals.textproto").string();
}

absl::StatusOr<v1::StudyApprovals> ReadApprovals(const std::string& state_dir) {
  std::error_code ec;
  if (!fs::exists(ApprovalsPath(state_dir), ec)) return v1::StudyApprovals();
  FEDRAD_ASSIGN_OR_RETURN(FileLock lock, FileLock::Take(state_dir, false));
  return ReadUnlocked(state_dir);
}

absl::Status UpdateApprovals(const std::string& state_dir,
                             const std::function<absl::Status(v1::StudyApprovals*)>& change) {
  FEDRAD_ASSIGN_OR_RETURN(FileLock lock, FileLock::Take(state_dir, true));
  FEDRAD_ASSIGN_OR_RETURN(v1::StudyApprovals approvals, ReadUnlocked(state_dir));
  FEDRAD_RETURN_IF_ERROR(change(&approvals));
  return WriteUnlocked(state_dir, approvals);
}

bool ParseExpiry(const std::string& expires, absl::Time* end_of_day) {
  absl::Time t;
  std::string err;
  if (expires.size() != 10 || !absl::ParseTime("%Y-%m-%d", expires, absl::UTCTimeZone(), &t, &err)) {
    return false;
  }
  *end_of_day = t + absl::Hours(24);
  return true;
}

absl::Status CheckApproved(const v1::StudyApprovals& approvals, const std::string& site_id,
                           const std::string& study_name, const std::string& spec_sha256,
                           absl::Time now) {
  const std::string head = absl::StrCat(site_id, " has not approved study ", study_name,
                                        " (spec sha256 ", spec_sha256.substr(0, 8), "\xE2\x80\xA6)");
  std::string why;
  for (const auto& a : approvals.approvals()) {
    if (a.spec_sha256() != spec_sha256) continue;
    if (!a.withdrawn_at().empty()) {
      why = absl::StrCat("; its approval was withdrawn on ", a.withdrawn_at().substr(0, 10));
      continue;
    }
    absl::Time end;
    if (!ParseExpiry(a.expires(), &end)) {
      why = "; its approval has no valid expiry date";
      continue;
    }
    if (now >= end) {
      why = absl::StrCat("; its approval expired on ", a.expires());
      continue;
    }
    return absl::OkStatus();
  }
  return PublicError(absl::StatusCode::kPermissionDenied, head + why);
}

std::vector<int> FindApprovals(const v1::StudyApprovals& approvals,
                               const std::string& name_or_hash) {
  std::vector<int> out;
  const std::string lower = absl::AsciiStrToLower(name_or_hash);
  for (int i = 0; i < approvals.approvals_size(); ++i) {
    const auto& a = approvals.approvals(i);
    if (a.study_name() == name_or_hash ||
        (IsHexPrefix(lower) && absl::StartsWith(a.spec_sha256(), lower))) {
      out.push_back(i);
    }
  }
  return out;
}

std::string ApprovalAuditSummary(const v1::StudyApproval& a, bool withdrawal) {
  if (withdrawal) {
    return absl::StrCat("operator withdrew the approval of study '", a.study_name(),
                        "' (spec sha256 ", a.spec_sha256(), ") on ", a.withdrawn_at());
  }
  return absl::StrCat("operator ", a.approved_by().empty() ? "" : a.approved_by() + " ",
                      "approved study '", a.study_name(), "' (spec sha256 ", a.spec_sha256(),
                      ") on ", a.approved_at(), ", expires ", a.expires(),
                      a.note().empty() ? "" : absl::StrCat(", note: ", a.note()));
}

absl::StatusOr<std::string> ApproveStudy(const v1::SiteConfig& config, const v1::Study& study,
                                         const ApproveOptions& options, const AuditWriter& audit,
                                         absl::Time now) {
  // The site would refuse to run this spec: refuse to approve it, saying why.
  FEDRAD_RETURN_IF_ERROR(CheckNoUnknownFields(study));
  FEDRAD_RETURN_IF_ERROR(CheckStudySpec(CanonicalStudy(study), config.id_column()));
  if (options.note.size() > kMaxNameBytes * 4) {
    return absl::InvalidArgumentError(
        absl::StrCat("--note: at most ", kMaxNameBytes * 4, " bytes"));
  }
  v1::StudyApproval a;
  a.set_study_name(CanonicalStudy(study).name());
  a.set_spec_sha256(StudySpecHash(study));
  a.set_approved_at(FormatInstant(now));
  std::string by = options.approved_by;
  if (by.empty() && std::getenv("USER") != nullptr) by = std::getenv("USER");
  a.set_approved_by(by);
  if (options.expires.empty()) {
    a.set_expires(FormatDay(now + absl::Hours(24 * 365)));
  } else {
    absl::Time end;
    if (!ParseExpiry(options.expires, &end)) {
      return absl::InvalidArgumentError(
          absl::StrCat("--expires: '", options.expires, "' is not a date YYYY-MM-DD"));
    }
    if (end <= now) {
      return absl::InvalidArgumentError(
          absl::StrCat("--expires: ", options.expires, " is already past"));
    }
    a.set_expires(options.expires);
  }
  a.set_note(options.note);
  const std::string state_dir = config.state_dir();
  // A copy of the approved spec, for the operator and the auditor.
  std::error_code ec;
  fs::create_directories(fs::path(state_dir) / "approved", ec);
  WriteStringToFile((fs::path(state_dir) / "approved" / (a.spec_sha256() + ".textproto")).string(),
                    ToTextProto(CanonicalStudy(study)))
      .IgnoreError();
  std::string note;
  FEDRAD_RETURN_IF_ERROR(UpdateApprovals(state_dir, [&](v1::StudyApprovals* all) {
    // A new approval of the same spec replaces the earlier one.
    for (int i = all->approvals_size() - 1; i >= 0; --i) {
      if (all->approvals(i).spec_sha256() == a.spec_sha256() &&
          all->approvals(i).withdrawn_at().empty()) {
        all->mutable_approvals()->DeleteSubrange(i, 1);
      }
    }
    *all->add_approvals() = a;
    return absl::OkStatus();
  }));
  // The record: written now when the site is not running (the entry is
  // marked audited afterwards; a crash in between at worst writes it twice).
  if (TryAudit(audit, a, false, &note)) {
    UpdateApprovals(state_dir, [&](v1::StudyApprovals* all) {
      for (auto& e : *all->mutable_approvals()) {
        if (e.spec_sha256() == a.spec_sha256() && e.approved_at() == a.approved_at()) {
          e.set_audited(true);
        }
      }
      return absl::OkStatus();
    }).IgnoreError();
    note = "audit record written";
  }
  return absl::StrCat("approved study ", a.study_name(), "\n  spec sha256 ", a.spec_sha256(),
                      "\n  expires     ", a.expires(), " (end of day, UTC)\n",
                      a.note().empty() ? "" : absl::StrCat("  note        ", a.note(), "\n"),
                      "  (", note, ")\n");
}

absl::StatusOr<std::string> ListApprovals(const v1::SiteConfig& config, absl::Time now) {
  FEDRAD_ASSIGN_OR_RETURN(v1::StudyApprovals all, ReadApprovals(config.state_dir()));
  if (all.approvals().empty()) return std::string("no approvals\n");
  std::ostringstream out;
  out << "study\tspec_sha256\tapproved_at\texpires\tstate\tnote\n";
  for (const auto& a : all.approvals()) {
    absl::Time end;
    std::string state = "in force";
    if (!a.withdrawn_at().empty()) {
      state = "withdrawn " + a.withdrawn_at();
    } else if (!ParseExpiry(a.expires(), &end) || now >= end) {
      state = "expired";
    }
    out << a.study_name() << '\t' << a.spec_sha256() << '\t' << a.approved_at() << '\t'
        << a.expires() << '\t' << state << '\t' << a.note() << '\n';
  }
  return out.str();
}

absl::StatusOr<std::string> WithdrawApproval(const v1::SiteConfig& config,
                                             const std::string& name_or_hash,
                                             const AuditWriter& audit, absl::Time now) {
  const std::string state_dir = config.state_dir();
  std::vector<v1::StudyApproval> withdrawn;
  FEDRAD_RETURN_IF_ERROR(UpdateApprovals(state_dir, [&](v1::StudyApprovals* all) {
    std::vector<int> found;
    for (int i : FindApprovals(*all, name_or_hash)) {
      if (all->approvals(i).withdrawn_at().empty()) found.push_back(i);
    }
    if (found.empty()) {
      return absl::NotFoundError(absl::StrCat("no approval in force matches '", name_or_hash,
                                              "' (a study name, or >= 8 hex digits of its hash)"));
    }
    const bool by_hash = all->approvals(found[0]).study_name() != name_or_hash;
    if (by_hash && found.size() > 1) {
      return absl::InvalidArgumentError(absl::StrCat(
          "'", name_or_hash, "' matches ", found.size(), " approvals; give more of the hash"));
    }
    for (int i : found) {
      auto* a = all->mutable_approvals(i);
      a->set_withdrawn_at(FormatInstant(now));
      withdrawn.push_back(*a);
    }
    return absl::OkStatus();
  }));
  std::string out;
  std::string note;
  bool audited = true;
  for (const auto& a : withdrawn) {
    if (!TryAudit(audit, a, true, &note)) audited = false;
    absl::StrAppend(&out, "withdrew the approval of study ", a.study_name(), " (spec sha256 ",
                    a.spec_sha256(), ")\n");
  }
  if (audited) {
    UpdateApprovals(state_dir, [&](v1::StudyApprovals* all) {
      for (auto& e : *all->mutable_approvals()) {
        for (const auto& w : withdrawn) {
          if (e.spec_sha256() == w.spec_sha256() && e.withdrawn_at() == w.withdrawn_at()) {
            e.set_withdrawal_audited(true);
          }
        }
      }
      return absl::OkStatus();
    }).IgnoreError();
    note = "audit record written";
  }
  absl::StrAppend(&out, "  (", note, ")\n");
  return out;
}

ApprovalWatcher::ApprovalWatcher(std::string state_dir, OnNew on_new)
    : state_dir_(std::move(state_dir)), on_new_(std::move(on_new)) {}

absl::Status ApprovalWatcher::Refresh() {
  absl::MutexLock lock(&mu_);
  Stamp now;
  struct stat st;
  if (::stat(ApprovalsPath(state_dir_).c_str(), &st) == 0) {
    now.inode = st.st_ino;
    now.size = st.st_size;
    now.mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  }
  if (now == stamp_) return absl::OkStatus();
  if (now.size < 0) {  // no file
    approvals_.Clear();
    stamp_ = now;
    return absl::OkStatus();
  }
  // Under the exclusive lock: read, audit what the command could not, mark
  // it audited, write back, and note the file's stamp as we leave it.
  FEDRAD_ASSIGN_OR_RETURN(FileLock file_lock, FileLock::Take(state_dir_, true));
  FEDRAD_ASSIGN_OR_RETURN(v1::StudyApprovals read, ReadUnlocked(state_dir_));
  bool pending = false;
  for (auto& a : *read.mutable_approvals()) {
    if (!a.audited()) {
      if (on_new_) on_new_(a, false);
      a.set_audited(true);
      pending = true;
    }
    if (!a.withdrawn_at().empty() && !a.withdrawal_audited()) {
      if (on_new_) on_new_(a, true);
      a.set_withdrawal_audited(true);
      pending = true;
    }
  }
  if (pending) FEDRAD_RETURN_IF_ERROR(WriteUnlocked(state_dir_, read));
  approvals_ = std::move(read);
  stamp_ = Stamp();
  if (::stat(ApprovalsPath(state_dir_).c_str(), &st) == 0) {
    stamp_.inode = st.st_ino;
    stamp_.size = st.st_size;
    stamp_.mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  }
  return absl::OkStatus();
}

absl::Status ApprovalWatcher::Check(const std::string& site_id, const v1::Study& study,
                                    absl::Time now) const {
  const v1::Study canonical = CanonicalStudy(study);
  const std::string hash = StudySpecHash(canonical);
  absl::MutexLock lock(&mu_);
  return CheckApproved(approvals_, site_id, canonical.name(), hash, now);
}

}  // namespace fedrad::site
