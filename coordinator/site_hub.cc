// The coordinator's site hub: the Federation service (one SiteSession
// reactor per site stream), hello and instance handling, the pending tasks
// and Exchange, and revocation at once (the tls.crl watch that drops a
// revoked site's live stream). Part of Coordinator::Impl
// (internal/coordinator_impl.h).
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "coordinator/internal/coordinator_impl.h"
#include "core/log.h"
#include "proto/fedrad.grpc.pb.h"
#include "proto/node_audit.h"
#include "rounds/transcript.h"
#include "core/hash.h"
#include "proto/transport.h"

namespace fedrad::coordinator {

using internal::IsTerminal;

namespace {

// Hello.instance_id / Hello.audit_log_id as read from the wire: lower-case
// hex of at most 64 digits, else "" (not shown, not compared).
std::string WireId(const std::string& id) {
  if (id.size() > 64 || id.find_first_not_of("0123456789abcdef") != std::string::npos) return "";
  return id;
}

// The first 12 digits of an id, for messages ("unknown" when empty).
std::string ShortId(const std::string& id) { return id.empty() ? "unknown" : id.substr(0, 12); }

std::string UtcMillis(int64_t unix_millis) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::FromUnixMillis(unix_millis),
                          absl::UTCTimeZone());
}

}  // namespace

// ---------------------------------------------------------------------------
// Federation: one reactor per site stream.

class SiteSession : public grpc::ServerBidiReactor<v1::SiteMessage, v1::CoordinatorMessage> {
 public:
  SiteSession(Coordinator::Impl* impl, grpc::CallbackServerContext* context)
      : impl_(impl), peer_(context->peer()) {
    auto who = transport::GetPeerIdentity(*context, impl->insecure());
    if (!who.ok()) {
      Refuse(grpc::StatusCode::UNAUTHENTICATED, std::string(who.status().message()));
      return;
    }
    if (who->role != "site") {
      Refuse(grpc::StatusCode::PERMISSION_DENIED,
             absl::StrCat("certificate CN=", who->common_name, " has role '", who->role,
                          "'; only site certificates may open a federation stream"));
      return;
    }
    site_ = who->common_name;
    serial_ = who->serial_hex;
    impl_->NoteSiteCertificate(site_, serial_);
    StartRead(&in_);
  }

  const std::string& serial() const { return serial_; }

  // Ends the stream from outside the reactor (a revoked certificate). The
  // caller holds the coordinator's mu_ and has removed the session from
  // sessions_; queued tasks are not sent.
  void Drop(const grpc::Status& status) {
    absl::MutexLock lock(&mu_);
    if (closing_) return;
    closing_ = true;
    final_status_ = status;
    if (writing_) {
      out_.erase(out_.begin() + 1, out_.end());  // OnWriteDone finishes
      return;
    }
    if (!finished_) {
      finished_ = true;
      Finish(status);
    }
  }

  // Queues a message; false if the stream is closing. Thread safe.
  bool Send(const v1::CoordinatorMessage& msg) {
    absl::MutexLock lock(&mu_);
    if (closing_) return false;
    out_.push_back(msg);
    if (!writing_) {
      writing_ = true;
      StartWrite(&out_.front());
    }
    return true;
  }

  const std::string& site() const { return site_; }

  // The process behind this stream (its Hello), set when it is welcomed.
  // Read and written under Coordinator::Impl::mu_.
  std::string instance_id;
  std::string audit_log_id;
  int64_t since_unix_millis = 0;

  // Ends this stream from another thread: a newer stream of the same site
  // process took its place (the site opens one stream at a time, so the old
  // one is dead even if its TCP connection has not noticed yet). Thread safe.
  void Supersede(const std::string& why) {
    absl::MutexLock lock(&mu_);
    if (closing_) return;
    closing_ = true;
    final_status_ = grpc::Status(grpc::StatusCode::ABORTED, why);
    if (!writing_ && !finished_) {
      finished_ = true;
      Finish(final_status_);
    }
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      Close(grpc::Status::OK);
      return;
    }
    if (!welcomed_) {
      if (!in_.has_hello()) {
        Close(grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                           "the first message on a stream must be a hello"));
        return;
      }
      grpc::Status s = impl_->OnHello(this, site_, in_.hello());
      if (!s.ok()) {
        Close(s);
        return;
      }
      welcomed_ = true;
      check_only_ = in_.hello().check_only();
    } else if (in_.has_result() && !check_only_) {  // a check's stream carries no results
      impl_->OnResult(this, site_, in_.result());
    }
    // Heartbeats only keep the stream alive.
    {
      absl::MutexLock lock(&mu_);
      if (closing_) return;  // dropped meanwhile (Drop): no read after Finish
    }
    StartRead(&in_);
  }

  void OnWriteDone(bool ok) override {
    absl::MutexLock lock(&mu_);
    if (!out_.empty()) out_.pop_front();
    if (!ok) {
      out_.clear();
      closing_ = true;
    }
    if (!out_.empty() && ok) {
      StartWrite(&out_.front());
      return;
    }
    writing_ = false;
    if (closing_ && !finished_) {
      finished_ = true;
      Finish(final_status_);
    }
  }

  void OnDone() override {
    impl_->OnClosed(this, site_);
    delete this;
  }

 private:
  void Refuse(grpc::StatusCode code, const std::string& why) {
    FEDRAD_LOG(WARNING) << "refused federation stream from " << peer_ << ": " << why;
    impl_->audit()->Decision("", "", peer_, "connect", absl::StrCat("refused stream: ", why));
    absl::MutexLock lock(&mu_);
    closing_ = true;
    finished_ = true;
    Finish(grpc::Status(code, why));
  }

  void Close(grpc::Status status) {
    if (welcomed_) impl_->OnClosed(this, site_);
    absl::MutexLock lock(&mu_);
    if (closing_ && finished_) return;
    if (!closing_) final_status_ = status;  // a Drop's reason stays
    closing_ = true;
    if (!writing_ && !finished_) {
      finished_ = true;
      Finish(final_status_);
    }
  }

  Coordinator::Impl* impl_;
  std::string peer_;
  std::string site_;
  std::string serial_;
  bool welcomed_ = false;  // reactor thread only
  bool check_only_ = false;  // reactor thread only: a `fedrad-site --check` stream
  v1::SiteMessage in_;
  absl::Mutex mu_;
  std::deque<v1::CoordinatorMessage> out_ ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool closing_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  grpc::Status final_status_ ABSL_GUARDED_BY(mu_);
};

class FederationService : public v1::Federation::CallbackService {
 public:
  explicit FederationService(Coordinator::Impl* impl) : impl_(impl) {}
  grpc::ServerBidiReactor<v1::SiteMessage, v1::CoordinatorMessage>* Connect(
      grpc::CallbackServerContext* context) override {
    return new SiteSession(impl_, context);
  }

 private:
  Coordinator::Impl* impl_;
};

std::unique_ptr<grpc::Service> internal::NewFederationService(Coordinator::Impl* impl) {
  return std::make_unique<FederationService>(impl);
}

grpc::Status Coordinator::Impl::OnHello(SiteSession* session, const std::string& site,
                                        const v1::Hello& hello) {
  if (hello.protocol_version() != transport::kProtocolVersion) {
    std::string why = absl::StrCat("protocol version mismatch: site ", site, " speaks ",
                                   hello.protocol_version(), ", this coordinator speaks ",
                                   transport::kProtocolVersion);
    FEDRAD_LOG(WARNING) << "refused site " << site << ": " << why;
    audit_->Decision("", "", site, "connect", absl::StrCat("refused: ", why));
    return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, why);
  }
  const std::string instance = WireId(hello.instance_id());
  const std::string log_id = WireId(hello.audit_log_id());
  const std::string process = absl::StrCat("instance ", ShortId(instance), ", audit log ",
                                            ShortId(log_id));
  std::string notice;
  {
    absl::MutexLock lock(&mu_);
    v1::CoordinatorMessage welcome;
    welcome.mutable_welcome()->set_protocol_version(transport::kProtocolVersion);
    welcome.mutable_welcome()->set_coordinator_id(config_.coordinator_id());
    welcome.mutable_welcome()->set_site_id(site);
    auto it = sessions_.find(site);
    if (hello.check_only()) {
      // `fedrad-site --check`: describe the live stream, do not take it.
      std::string live = "no live stream";
      if (it != sessions_.end()) {
        welcome.mutable_welcome()->set_live_instance_id(it->second->instance_id);
        welcome.mutable_welcome()->set_live_audit_log_id(it->second->audit_log_id);
        welcome.mutable_welcome()->set_live_since_unix_millis(it->second->since_unix_millis);
        live = absl::StrCat("live stream: instance ", ShortId(it->second->instance_id),
                            ", audit log ", ShortId(it->second->audit_log_id));
      }
      session->Send(welcome);
      FEDRAD_LOG(INFO) << "site " << site << ": fedrad-site --check (" << process << "); " << live;
      audit_->Decision("", "", site, "connect",
                       absl::StrCat("site check from ", site, " (", process, "); ", live));
      return grpc::Status::OK;
    }
    if (it != sessions_.end()) {
      SiteSession* old = it->second;
      if (!instance.empty() && old->instance_id == instance) {
        // The same process dialled again: its old stream is dead.
        FEDRAD_LOG(INFO) << "site " << site << " reconnected (same process, instance "
                         << ShortId(instance) << "): its new stream replaces the old one";
        old->Supersede("replaced by a newer stream of the same site process");
        sessions_.erase(it);
      } else {
        std::string why = absl::StrCat(
            "site '", site, "' is already connected from another process (instance ",
            ShortId(old->instance_id), ", audit log ", ShortId(old->audit_log_id),
            ", connected since ", UtcMillis(old->since_unix_millis), "); this process (",
            process, ") is refused: run one fedrad-site per site certificate");
        if (!log_id.empty() && log_id == old->audit_log_id) {
          absl::StrAppend(&why, " (both write the same audit log: a copy of the site's folder?)");
        }
        FEDRAD_LOG(WARNING) << "refused site " << site << ": " << why;
        audit_->Decision("", "", site, "connect", absl::StrCat("refused: ", why));
        return grpc::Status(grpc::StatusCode::ALREADY_EXISTS, why);
      }
    }
    sessions_[site] = session;
    session->instance_id = instance;
    session->audit_log_id = log_id;
    session->since_unix_millis = absl::ToUnixMillis(absl::Now());
    session->Send(welcome);
    FEDRAD_LOG(INFO) << "site " << site << " connected (k=" << hello.min_cell_count()
                     << ", accepts " << hello.accepted_task_kinds_size() << " task kinds, "
                     << process << ")";
    audit_->Decision("", "", site, "connect",
                     absl::StrCat("accepted stream from site ", site, " (k=",
                                  hello.min_cell_count(), ", ", process, ")"));
    auto last = last_process_.find(site);
    if (last != last_process_.end() && last->second.instance_id != instance) {
      const SiteProcess& before = last->second;
      if (!log_id.empty() && log_id == before.audit_log_id) {
        FEDRAD_LOG(INFO) << "site " << site << " restarted: a new process (instance "
                         << ShortId(instance) << ") writing the same audit log";
      } else {
        notice = absl::StrCat("site ", site, " is now served by another process writing another "
                              "audit log (", process, "; before: instance ",
                              ShortId(before.instance_id), ", audit log ",
                              ShortId(before.audit_log_id),
                              "): its audit trail is split over two logs");
        FEDRAD_LOG(WARNING) << notice;
        audit_->Decision("", "", site, "connect", notice);
      }
    }
    last_process_[site] = SiteProcess{instance, log_id};
    // Tasks the site has not answered yet (it reconnected): send them again;
    // the site answers a repeated task id from its stored results.
    for (auto& [id, p] : pending_) {
      if (p->site == site && !p->done) SendTaskLocked(p.get());
    }
    cv_.SignalAll();
  }
  if (!notice.empty()) NoticeForSite(site, notice);
  return grpc::Status::OK;
}

void Coordinator::Impl::NoticeForSite(const std::string& site, const std::string& notice) {
  absl::MutexLock lock(&studies_mu_);
  for (auto& [id, rec] : studies_) {
    if (IsTerminal(rec->status.state()) || rec->status.sites().count(site) == 0) continue;
    rec->status.add_notices(notice);
    NotifyWatchersLocked(rec.get());
    audit_->Decision(id, "", site, "study.notice", notice);
  }
}

void Coordinator::Impl::OnClosed(SiteSession* session, const std::string& site) {
  absl::MutexLock lock(&mu_);
  auto it = sessions_.find(site);
  if (it != sessions_.end() && it->second == session) {
    sessions_.erase(it);
    FEDRAD_LOG(WARNING) << "site " << site << " disconnected";
    cv_.SignalAll();
  }
}

void Coordinator::Impl::SendTaskLocked(Pending* p) {
  auto it = sessions_.find(p->site);
  if (it == sessions_.end()) return;
  v1::CoordinatorMessage msg;
  *msg.mutable_task() = p->task;
  if (it->second->Send(msg)) {
    p->sent = true;
    audit_->Sent(p->task.study_id(), p->task.task_id(), p->site, p->task.kind(),
                 WireDigest(p->task), absl::StrCat("task ", p->task.kind()));
  }
}

void Coordinator::Impl::OnResult(SiteSession* session, const std::string& site,
                                 const v1::TaskResult& result) {
  audit_->Received(result.study_id(), result.task_id(), site, result.kind(),
                   WireDigest(result),
                   result.status_code() == 0
                       ? absl::StrCat("result: n=", result.n_contributing())
                       : absl::StrCat("status ",
                                      absl::StatusCodeToString(
                                          static_cast<absl::StatusCode>(result.status_code())),
                                      ": ", result.status_message()));
  if (result.has_signed_()) {
    // The site's signed contribution, kept in the log for `fedrad audit
    // replay` (verified by the study step that uses it).
    v1::RoundMessage m;
    m.ParseFromString(result.signed_().body());
    audit_->Decision(result.study_id(), result.task_id(), site, rounds::kSignedAuditKind,
                     rounds::AuditSummaryOf(m, result.signed_()),
                     Sha256Hex(DeterministicBytes(result.signed_())));
  }
  absl::MutexLock lock(&mu_);
  auto current = sessions_.find(site);
  if (current == sessions_.end() || current->second != session) {
    // A stream that was dropped (its certificate revoked) while this result
    // was on its way: nothing it sends counts any more.
    FEDRAD_LOG(WARNING) << "result for task " << result.task_id() << " from " << site
                        << " ignored: its stream was dropped";
    return;
  }
  auto it = pending_.find(result.task_id());
  if (it == pending_.end()) {
    FEDRAD_LOG(INFO) << "late or repeated result for task " << result.task_id() << " from "
                     << site << " ignored";
    return;
  }
  if (it->second->site != site) {
    FEDRAD_LOG(WARNING) << "site " << site << " answered task " << result.task_id()
                        << ", which was sent to " << it->second->site << "; ignored";
    return;
  }
  it->second->done = true;
  it->second->result = result;
  cv_.SignalAll();
}

std::map<std::string, absl::StatusOr<v1::TaskResult>> Coordinator::Impl::Exchange(
    const std::map<std::string, v1::Task>& tasks, double timeout_seconds,
    const std::atomic<bool>* cancel) {
  CheckRevocations();
  std::vector<std::shared_ptr<Pending>> mine;
  absl::MutexLock lock(&mu_);
  for (const auto& [site, task] : tasks) {
    auto p = std::make_shared<Pending>();
    p->site = site;
    p->task = task;
    pending_[task.task_id()] = p;
    mine.push_back(p);
    SendTaskLocked(p.get());
  }
  const absl::Time deadline = absl::Now() + absl::Seconds(timeout_seconds);
  auto settled = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (stopping_ || (cancel != nullptr && cancel->load())) return true;
    for (const auto& p : mine) {
      // A site cut off for revocation will not answer: no need to wait.
      if (!p->done && RevokedSiteLocked(p->site).empty()) return false;
    }
    return true;
  };
  // CancelStudy and Shutdown signal cv_ after setting their flags.
  while (!settled()) {
    if (cv_.WaitWithDeadline(&mu_, deadline)) break;  // timed out
  }
  std::map<std::string, absl::StatusOr<v1::TaskResult>> out;
  for (const auto& p : mine) {
    pending_.erase(p->task.task_id());
    if (p->done) {
      out.emplace(p->site, std::move(p->result));
    } else if (stopping_ || (cancel != nullptr && cancel->load())) {
      out.emplace(p->site, absl::CancelledError("study cancelled"));
    } else if (std::string revoked = RevokedSiteLocked(p->site); !revoked.empty()) {
      out.emplace(p->site, absl::UnauthenticatedError(revoked));
    } else {
      bool connected = sessions_.count(p->site) > 0;
      out.emplace(p->site,
                  absl::DeadlineExceededError(absl::StrCat(
                      "no answer to '", p->task.kind(), "' within ", timeout_seconds, " s (",
                      connected ? "site still connected"
                                : (p->sent ? "site disconnected" : "site not connected"),
                      ")")));
      FEDRAD_LOG(WARNING) << "task " << p->task.task_id() << " to site " << p->site
                          << " timed out after " << timeout_seconds << " s"
                          << (connected ? "" : "; the site is not connected");
    }
  }
  return out;
}

std::vector<std::string> Coordinator::Impl::ConnectedSites() const {
  absl::MutexLock lock(&mu_);
  std::vector<std::string> out;
  for (const auto& [site, s] : sessions_) out.push_back(site);
  return out;
}

bool Coordinator::Impl::WaitForSites(const std::vector<std::string>& sites,
                                     double timeout_seconds, const std::atomic<bool>* cancel) {
  absl::MutexLock lock(&mu_);
  const absl::Time deadline = absl::Now() + absl::Seconds(timeout_seconds);
  auto all_connected = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    for (const std::string& s : sites) {
      if (sessions_.count(s) == 0) return false;
    }
    return true;
  };
  while (true) {
    if (all_connected()) return true;
    if (stopping_ || (cancel != nullptr && cancel->load())) return false;
    // Every missing site was cut off for revocation: it cannot come back.
    bool all_cut_off = true;
    for (const std::string& s : sites) {
      if (sessions_.count(s) == 0 && RevokedSiteLocked(s).empty()) all_cut_off = false;
    }
    if (all_cut_off) return false;
    // Wake periodically to notice a cancel flag set without a signal.
    cv_.WaitWithDeadline(&mu_, std::min(deadline, absl::Now() + absl::Milliseconds(200)));
    if (absl::Now() >= deadline) return all_connected();
  }
}

// ---------------------------------------------------------------------------
// Revocation at once (tls.crl re-read when it changes).

namespace {
// How often the coordinator looks at tls.crl's mtime/size.
constexpr double kCrlPollSeconds = 0.5;
}  // namespace

std::string internal::CanonicalSerial(std::string hex) {
  for (char& c : hex) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  size_t first = hex.find_first_not_of('0');
  return first == std::string::npos ? "0" : hex.substr(first);
}

using internal::CanonicalSerial;

void Coordinator::Impl::CrlWatchLoop() {
  while (true) {
    {
      absl::MutexLock lock(&crl_mu_);
      if (!stopping_) crl_cv_.WaitWithTimeout(&crl_mu_, absl::Seconds(kCrlPollSeconds));
      if (stopping_) return;
    }
    CheckRevocations();
  }
}

void Coordinator::Impl::CheckRevocations() {
  const std::string& crl_path = config_.tls().crl();
  if (crl_path.empty() || insecure()) return;
  std::map<std::string, std::string> revoked;  // canonical serial -> why
  {
    absl::MutexLock lock(&crl_mu_);
    CrlStamp stamp;
    struct stat st {};
    if (stat(crl_path.c_str(), &st) == 0) {
      stamp.mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
      stamp.size = st.st_size;
      stamp.inode = static_cast<int64_t>(st.st_ino);
    }
    if (!(stamp == crl_stamp_)) {
      crl_stamp_ = stamp;
      auto list = transport::ReadRevocationList(crl_path, config_.tls().ca_cert());
      if (!list.ok()) {
        // New handshakes are refused meanwhile (fail closed, transport.h);
        // live streams keep the last CRL that could be read.
        FEDRAD_LOG(ERROR) << "tls.crl: " << list.status().message()
                          << "; new connections are refused until it is fixed, live streams are "
                             "checked against the last CRL read";
      } else {
        if (list->crl_number != revoked_.crl_number || list->reasons != revoked_.reasons) {
          FEDRAD_LOG(INFO) << "CRL " << crl_path << " read: #" << list->crl_number << ", "
                           << list->reasons.size() << " revoked certificate(s)";
        }
        revoked_ = *std::move(list);
      }
    }
    for (const auto& [serial, reason] : revoked_.reasons) {
      revoked[CanonicalSerial(serial)] =
          absl::StrCat("certificate revoked (serial ", serial, reason.empty() ? "" : ", ", reason,
                       ", CRL #", revoked_.crl_number, ")");
    }
  }
  if (revoked.empty()) return;
  EndRevokedWatches(revoked);
  absl::MutexLock lock(&mu_);
  for (auto it = sessions_.begin(); it != sessions_.end();) {
    SiteSession* session = it->second;
    auto hit = revoked.find(CanonicalSerial(session->serial()));
    if (session->serial().empty() || hit == revoked.end()) {
      ++it;
      continue;
    }
    const std::string site = it->first;
    const std::string why = hit->second;
    it = sessions_.erase(it);
    revoked_sites_[site] = {session->serial(), why};
    FEDRAD_LOG(WARNING) << "site " << site << ": " << why << "; its stream is dropped";
    audit_->Decision("", "", site, "connect.revoked",
                     absl::StrCat("dropped the stream of site ", site, ": ", why));
    session->Drop(grpc::Status(
        grpc::StatusCode::UNAUTHENTICATED,
        absl::StrCat("the coordinator dropped this stream: this site's ", why)));
    cv_.SignalAll();
  }
}

std::string Coordinator::Impl::RevokedReason(const std::string& serial_hex) {
  if (serial_hex.empty()) return "";
  absl::MutexLock lock(&crl_mu_);
  const std::string wanted = CanonicalSerial(serial_hex);
  for (const auto& [serial, reason] : revoked_.reasons) {
    if (CanonicalSerial(serial) == wanted) {
      return absl::StrCat("certificate revoked (serial ", serial, reason.empty() ? "" : ", ",
                          reason, ", CRL #", revoked_.crl_number, ")");
    }
  }
  return "";
}

std::string Coordinator::Impl::RevokedSite(const std::string& site) const {
  absl::MutexLock lock(&mu_);
  return RevokedSiteLocked(site);
}

std::string Coordinator::Impl::RevokedSiteLocked(const std::string& site) const {
  if (sessions_.count(site) > 0) return "";
  auto it = revoked_sites_.find(site);
  return it == revoked_sites_.end() ? "" : it->second.second;
}

void Coordinator::Impl::NoteSiteCertificate(const std::string& site,
                                            const std::string& serial_hex) {
  absl::MutexLock lock(&mu_);
  auto it = revoked_sites_.find(site);
  if (it != revoked_sites_.end() && it->second.first != serial_hex) revoked_sites_.erase(it);
}

}  // namespace fedrad::coordinator
