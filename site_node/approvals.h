// A site's study approvals: the operator approves the exact study spec (by
// its canonical hash, with an expiry and a note); the site runs a task only
// when the study spec it carries (Task.study) has an approval in force.
//
//   $ fedrad-site approve --config site.textproto study.textproto --expires 2027-06-30
//   $ fedrad-site approve --config site.textproto other.textproto --note "ethics ref 2026-114"
//   $ fedrad-site approvals --config site.textproto
//   $ fedrad-site withdraw --config site.textproto crlm-demo
//
// The approvals live in STATE_DIR/approvals.textproto (SiteConfig.state_dir),
// written under an exclusive flock on STATE_DIR/approvals.lock, replaced
// atomically (temp file, rename). Each approval and withdrawal becomes a
// record of the site's audit log: the command writes it when it can take the
// log's lock (the site is not running); otherwise the running site writes it
// when it next re-reads the file (before its next task) and marks the entry
// audited, so no record is lost and none is written twice by two processes.
//
//   ApprovalWatcher watcher(state_dir, on_new_entry);
//   FEDRAD_RETURN_IF_ERROR(watcher.Refresh());       // cheap when unchanged
//   FEDRAD_RETURN_IF_ERROR(watcher.Check("C2", task.study(), absl::Now()));
//
// Thread safety: the free functions are; ApprovalWatcher is (a mutex).
#ifndef FEDRAD_SITE_NODE_APPROVALS_H_
#define FEDRAD_SITE_NODE_APPROVALS_H_

#include <sys/types.h>

#include <functional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "google/protobuf/message.h"
#include "proto/config.pb.h"
#include "proto/study.pb.h"

namespace fedrad::site {

// ---- The canonical hash of a study spec --------------------------------------
// The spec exactly as an honest coordinator sends it in Task.study for the
// same file: the coordinator names a nameless study "study" (SubmitStudy);
// nothing else is changed. Both the `approve` command (from the operator's
// textproto) and the site (from Task.study) hash this form.
// (The one definition is proto/spec_hash.h, shared with the coordinator.)
v1::Study CanonicalStudy(v1::Study study);
// SHA-256 (64 lower-case hex digits) of the deterministic serialisation of
// CanonicalStudy(study).
std::string StudySpecHash(const v1::Study& study);
// OK if `message` and every message inside it carry no field this software
// does not know; otherwise a public InvalidArgument naming the message type
// (an unknown field could change the study's meaning without changing what
// this site sees, so such a spec is never approved nor run).
absl::Status CheckNoUnknownFields(const google::protobuf::Message& message);

// ---- The approvals file ------------------------------------------------------
std::string ApprovalsPath(const std::string& state_dir);

// Reads the approvals (shared flock). An absent file is an empty list;
// DataLoss when it does not parse.
absl::StatusOr<v1::StudyApprovals> ReadApprovals(const std::string& state_dir);
// Reads the approvals under the exclusive flock, lets `change` edit them and,
// when it returns OK, writes them back atomically before releasing the lock.
// Creates state_dir (mode 0750) if needed.
absl::Status UpdateApprovals(const std::string& state_dir,
                             const std::function<absl::Status(v1::StudyApprovals*)>& change);

// The approval in force for `spec_sha256` at `now`, or an error:
//   no approval: public PermissionDenied, exactly
//     "<site_id> has not approved study <name> (spec sha256 <first 8 hex>…)"
//   withdrawn / expired: the same text followed by
//     "; its approval was withdrawn on <date>" / "; its approval expired on <date>".
absl::Status CheckApproved(const v1::StudyApprovals& approvals, const std::string& site_id,
                           const std::string& study_name, const std::string& spec_sha256,
                           absl::Time now);

// Indices of the approvals `name_or_hash` designates: those whose study name
// equals it, or whose hash starts with it (>= 8 hex digits).
std::vector<int> FindApprovals(const v1::StudyApprovals& approvals,
                               const std::string& name_or_hash);

// True if `expires` (YYYY-MM-DD) is a valid date; the approval holds until
// the end of that day (UTC).
bool ParseExpiry(const std::string& expires, absl::Time* end_of_day);

// ---- The operator's commands (fedrad-site approve/approvals/withdraw) --------
// Each returns the text to print, or an error to show. `config` is the site's
// normalised config; `audit` appends one decision record (kind, summary,
// digest) and returns FailedPrecondition when the audit log is held by the
// running site (the record is then left to the site).
using AuditWriter = std::function<absl::Status(const std::string& kind, const std::string& summary,
                                               const std::string& digest)>;
struct ApproveOptions {
  std::string expires;  // YYYY-MM-DD; empty: one year from today
  std::string note;
  std::string approved_by;  // empty: $USER
};
absl::StatusOr<std::string> ApproveStudy(const v1::SiteConfig& config, const v1::Study& study,
                                         const ApproveOptions& options, const AuditWriter& audit,
                                         absl::Time now);
absl::StatusOr<std::string> ListApprovals(const v1::SiteConfig& config, absl::Time now);
absl::StatusOr<std::string> WithdrawApproval(const v1::SiteConfig& config,
                                             const std::string& name_or_hash,
                                             const AuditWriter& audit, absl::Time now);
// The summary of an approval's audit record (shared by the command and the
// site).
std::string ApprovalAuditSummary(const v1::StudyApproval& approval, bool withdrawal);

// ---- The running site's view -------------------------------------------------
class ApprovalWatcher {
 public:
  // `on_new(approval, withdrawal)` writes the audit record of an entry the
  // command could not audit; called under the approvals file's lock.
  using OnNew = std::function<void(const v1::StudyApproval&, bool withdrawal)>;
  ApprovalWatcher(std::string state_dir, OnNew on_new);

  // Re-reads the file when its inode, size or mtime changed (one stat()
  // otherwise); audits and marks audited the entries not yet audited.
  absl::Status Refresh();
  // CheckApproved against the approvals last read.
  absl::Status Check(const std::string& site_id, const v1::Study& study, absl::Time now) const;

 private:
  const std::string state_dir_;
  const OnNew on_new_;
  mutable absl::Mutex mu_;
  v1::StudyApprovals approvals_ ABSL_GUARDED_BY(mu_);
  struct Stamp {
    ino_t inode = 0;
    off_t size = -1;
    int64_t mtime_ns = -1;
    bool operator==(const Stamp& o) const {
      return inode == o.inode && size == o.size && mtime_ns == o.mtime_ns;
    }
  } stamp_ ABSL_GUARDED_BY(mu_);
};

}  // namespace fedrad::site

#endif  // FEDRAD_SITE_NODE_APPROVALS_H_
