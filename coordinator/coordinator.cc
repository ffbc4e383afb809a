#include "coordinator/coordinator.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <map>
#include <mutex>
#include <thread>

#include <sys/stat.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "coordinator/analyses.h"
#include "coordinator/study_store.h"
#include "core/csv.h"
#include "core/hash.h"
#include "core/log.h"
#include "core/status.h"
#include "proto/fedrad.grpc.pb.h"
#include "proto/node_audit.h"
#include "proto/spec_hash.h"
#include "proto/payload.h"
#include "proto/textproto.h"
#include "proto/transport.h"

#ifndef FEDRAD_VERSION
#define FEDRAD_VERSION "0.0.0"
#endif

namespace fedrad::coordinator {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

bool IsTerminal(const std::string& state) {
  return state == "SUCCEEDED" || state == "FAILED" || state == "CANCELLED";
}

std::string Slug(const std::string& name) {
  std::string out;
  for (char c : name) {
    if (std::isalnum(static_cast<unsigned char>(c))) {
      out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    } else if (!out.empty() && out.back() != '-') {
      out += '-';
    }
    if (out.size() >= 24) break;
  }
  while (!out.empty() && out.back() == '-') out.pop_back();
  return out.empty() ? "study" : out;
}

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

absl::StatusOr<v1::CoordinatorConfig> NormalizeCoordinatorConfig(v1::CoordinatorConfig config) {
  if (config.listen_address().empty()) config.set_listen_address("0.0.0.0:7443");
  if (config.data_dir().empty()) config.set_data_dir("coordinator-data");
  if (config.audit_log().empty()) config.set_audit_log("audit/coordinator.log");
  if (config.site_wait_seconds() <= 0) config.set_site_wait_seconds(60);
  if (config.coordinator_id().empty()) config.set_coordinator_id("coordinator");
  if (!config.tls().insecure_for_tests() &&
      (config.tls().ca_cert().empty() || config.tls().cert().empty() ||
       config.tls().key().empty())) {
    return absl::InvalidArgumentError(
        "coordinator config: tls { ca_cert, cert, key } must all be set");
  }
  return config;
}

class SiteSession;

// One task waiting for its site's answer.
struct Pending {
  std::string site;
  v1::Task task;
  bool sent = false;
  bool done = false;
  v1::TaskResult result;
};

struct StudyRecord {
  std::string id;
  v1::Study spec;
  std::string dir;
  v1::StudyStatus status;
  int64_t version = 0;        // bumped on every status change (watchers)
  std::string results_json;   // set when the study ends
  std::atomic<bool> cancel{false};  // an explicit cancel (not a shutdown)
  std::thread thread;
  // From the store (a study resumed after a coordinator restart).
  bool resumed = false;
  int next_step = 0;          // index in EnabledSteps of the next step to run
  int64_t epoch = 0;
  int64_t rounds = 0;
  std::string results_so_far = "{}";
  std::map<std::string, std::string> excluded;
  std::vector<std::string> sites;
  std::string submitted_at;
};

class Coordinator::Impl {
 public:
  explicit Impl(v1::CoordinatorConfig config, std::unique_ptr<NodeAudit> audit,
                std::shared_ptr<grpc::ServerCredentials> creds, std::unique_ptr<StudyStore> store)
      : config_(std::move(config)),
        audit_(std::move(audit)),
        creds_(std::move(creds)),
        store_(std::move(store)) {}
  ~Impl() { Shutdown(); }

  absl::Status Start();
  void Shutdown();
  int port() const { return port_; }
  bool insecure() const { return config_.tls().insecure_for_tests(); }
  NodeAudit* audit() { return audit_.get(); }

  // Site sessions (called by SiteSession).
  grpc::Status OnHello(SiteSession* session, const std::string& site, const v1::Hello& hello);
  void OnResult(SiteSession* session, const std::string& site, const v1::TaskResult& result);
  void OnClosed(SiteSession* session, const std::string& site);

  // Rounds.
  std::map<std::string, absl::StatusOr<v1::TaskResult>> Exchange(
      const std::map<std::string, v1::Task>& tasks, double timeout_seconds,
      const std::atomic<bool>* cancel);

  std::vector<std::string> ConnectedSites() const;
  bool WaitForSites(const std::vector<std::string>& sites, double timeout_seconds,
                    const std::atomic<bool>* cancel);

  // Revocation at once: tls.crl is re-read when it changes (every
  // kCrlPollSeconds, and before each exchange, study and admin call); a live
  // site stream whose certificate it now revokes is dropped, with a log line
  // and an audit decision. Thread safe.
  void CheckRevocations();
  // Why a certificate serial (PeerIdentity::serial_hex) is revoked; "" if
  // it is not.
  std::string RevokedReason(const std::string& serial_hex);
  // Why `site`'s stream was dropped for revocation, while no stream of it
  // with a valid certificate has opened since; "" otherwise.
  std::string RevokedSite(const std::string& site) const;
  // A stream of `site` passed the handshake with certificate `serial_hex`.
  void NoteSiteCertificate(const std::string& site, const std::string& serial_hex);

  // Studies.
  absl::StatusOr<std::string> SubmitStudy(const v1::Study& study, const std::string& by);
  absl::StatusOr<v1::StudyStatus> GetStatus(const std::string& id) const;
  absl::StatusOr<std::string> GetResults(const std::string& id) const;
  absl::StatusOr<v1::StudyStatus> CancelStudy(const std::string& id, const std::string& by);
  std::vector<v1::StudyStatus> ListStudies() const;
  // Blocks until the study's status version exceeds `seen` or `timeout`;
  // returns the status and its version.
  absl::StatusOr<std::pair<v1::StudyStatus, int64_t>> WaitStatus(const std::string& id,
                                                                  int64_t seen,
                                                                  double timeout_seconds);
  void UpdateStatus(StudyRecord* rec, const std::function<void(v1::StudyStatus*)>& fn);
  // Adds `notice` to the status of every unfinished study that includes `site`.
  void NoticeForSite(const std::string& site, const std::string& notice);

  StudyHost* direct_host() { return direct_host_.get(); }
  bool stopping() const { return stopping_.load(); }

 private:
  void SendTaskLocked(Pending* p);
  std::string RevokedSiteLocked(const std::string& site) const;
  void CrlWatchLoop();
  void RunStudy(StudyRecord* rec);
  // Loads the store: terminal studies are served, RUNNING/PENDING ones are
  // resumed (each in its own thread).
  absl::Status LoadStudies();
  // Writes the study's row (state, next step, results so far, ...).
  void Persist(StudyRecord* rec, const std::string& state, const std::string& message,
               int next_step, const std::string& results_json, const StudyContext* ctx);

  const v1::CoordinatorConfig config_;
  std::unique_ptr<NodeAudit> audit_;
  std::shared_ptr<grpc::ServerCredentials> creds_;
  std::unique_ptr<StudyStore> store_;
  std::unique_ptr<grpc::Service> admin_service_;
  std::unique_ptr<grpc::Service> federation_service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  bool shut_down_ = false;

  mutable std::mutex mu_;  // sessions_, pending_; lock before a session's mutex
  std::condition_variable cv_;
  std::map<std::string, SiteSession*> sessions_;
  std::map<std::string, std::shared_ptr<Pending>> pending_;  // by task id
  // Sites whose stream was dropped because the CRL revoked its certificate:
  // site -> {serial, why}. Cleared when the site connects with another one.
  std::map<std::string, std::pair<std::string, std::string>> revoked_sites_;

  // The CRL as last read (CheckRevocations).
  std::mutex crl_mu_;
  struct CrlStamp {
    int64_t mtime_ns = -1, size = -1, inode = -1;
    bool operator==(const CrlStamp& o) const {
      return mtime_ns == o.mtime_ns && size == o.size && inode == o.inode;
    }
  } crl_stamp_;
  transport::RevocationList revoked_;  // under crl_mu_
  std::thread crl_thread_;
  std::condition_variable crl_cv_;  // wakes CrlWatchLoop at shutdown (crl_mu_)
  // The process that last held each site's stream in this run (Hello
  // instance_id, audit_log_id): a later one from another log is reported.
  struct SiteProcess {
    std::string instance_id;
    std::string audit_log_id;
  };
  std::map<std::string, SiteProcess> last_process_;

  mutable std::mutex studies_mu_;
  std::condition_variable studies_cv_;
  std::map<std::string, std::unique_ptr<StudyRecord>> studies_;
  int64_t study_counter_ = 0;

  std::unique_ptr<StudyHost> direct_host_;
  friend class DirectHost;
};

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
    std::lock_guard<std::mutex> lock(mu_);
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
    std::lock_guard<std::mutex> lock(mu_);
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
    std::lock_guard<std::mutex> lock(mu_);
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
      std::lock_guard<std::mutex> lock(mu_);
      if (closing_) return;  // dropped meanwhile (Drop): no read after Finish
    }
    StartRead(&in_);
  }

  void OnWriteDone(bool ok) override {
    std::lock_guard<std::mutex> lock(mu_);
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
    std::lock_guard<std::mutex> lock(mu_);
    closing_ = true;
    finished_ = true;
    Finish(grpc::Status(code, why));
  }

  void Close(grpc::Status status) {
    if (welcomed_) impl_->OnClosed(this, site_);
    std::lock_guard<std::mutex> lock(mu_);
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
  std::mutex mu_;
  std::deque<v1::CoordinatorMessage> out_;
  bool writing_ = false;
  bool closing_ = false;
  bool finished_ = false;
  grpc::Status final_status_;
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
    std::lock_guard<std::mutex> lock(mu_);
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
    cv_.notify_all();
  }
  if (!notice.empty()) NoticeForSite(site, notice);
  return grpc::Status::OK;
}

void Coordinator::Impl::NoticeForSite(const std::string& site, const std::string& notice) {
  std::lock_guard<std::mutex> lock(studies_mu_);
  for (auto& [id, rec] : studies_) {
    if (IsTerminal(rec->status.state()) || rec->status.sites().count(site) == 0) continue;
    rec->status.add_notices(notice);
    ++rec->version;
    audit_->Decision(id, "", site, "study.notice", notice);
  }
  studies_cv_.notify_all();
}

void Coordinator::Impl::OnClosed(SiteSession* session, const std::string& site) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = sessions_.find(site);
  if (it != sessions_.end() && it->second == session) {
    sessions_.erase(it);
    FEDRAD_LOG(WARNING) << "site " << site << " disconnected";
    cv_.notify_all();
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
  std::lock_guard<std::mutex> lock(mu_);
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
  cv_.notify_all();
}

std::map<std::string, absl::StatusOr<v1::TaskResult>> Coordinator::Impl::Exchange(
    const std::map<std::string, v1::Task>& tasks, double timeout_seconds,
    const std::atomic<bool>* cancel) {
  CheckRevocations();
  std::vector<std::shared_ptr<Pending>> mine;
  std::unique_lock<std::mutex> lock(mu_);
  for (const auto& [site, task] : tasks) {
    auto p = std::make_shared<Pending>();
    p->site = site;
    p->task = task;
    pending_[task.task_id()] = p;
    mine.push_back(p);
    SendTaskLocked(p.get());
  }
  auto deadline = Clock::now() + std::chrono::milliseconds(static_cast<int64_t>(timeout_seconds * 1000));
  cv_.wait_until(lock, deadline, [&] {
    if (stopping_ || (cancel != nullptr && cancel->load())) return true;
    for (const auto& p : mine) {
      // A site cut off for revocation will not answer: no need to wait.
      if (!p->done && RevokedSiteLocked(p->site).empty()) return false;
    }
    return true;
  });
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
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> out;
  for (const auto& [site, s] : sessions_) out.push_back(site);
  return out;
}

bool Coordinator::Impl::WaitForSites(const std::vector<std::string>& sites,
                                     double timeout_seconds, const std::atomic<bool>* cancel) {
  std::unique_lock<std::mutex> lock(mu_);
  auto deadline = Clock::now() + std::chrono::milliseconds(static_cast<int64_t>(timeout_seconds * 1000));
  while (true) {
    bool all = std::all_of(sites.begin(), sites.end(),
                           [&](const std::string& s) { return sessions_.count(s) > 0; });
    if (all) return true;
    if (stopping_ || (cancel != nullptr && cancel->load())) return false;
    // Every missing site was cut off for revocation: it cannot come back.
    if (std::all_of(sites.begin(), sites.end(), [&](const std::string& s) {
          return sessions_.count(s) > 0 || !RevokedSiteLocked(s).empty();
        })) {
      return false;
    }
    // Wake periodically to notice a cancel flag set without a notify.
    if (cv_.wait_until(lock, std::min(deadline, Clock::now() + std::chrono::milliseconds(200))) ==
            std::cv_status::timeout &&
        Clock::now() >= deadline) {
      return std::all_of(sites.begin(), sites.end(),
                         [&](const std::string& s) { return sessions_.count(s) > 0; });
    }
  }
}

// ---------------------------------------------------------------------------
// Revocation at once (tls.crl re-read when it changes).

namespace {
// How often the coordinator looks at tls.crl's mtime/size.
constexpr double kCrlPollSeconds = 0.5;

// BN_bn2hex spelling without leading zero bytes, upper case: one form for
// the peer's serial and the CRL's.
std::string CanonicalSerial(std::string hex) {
  for (char& c : hex) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  size_t first = hex.find_first_not_of('0');
  return first == std::string::npos ? "0" : hex.substr(first);
}
}  // namespace

void Coordinator::Impl::CrlWatchLoop() {
  std::unique_lock<std::mutex> lock(crl_mu_);
  while (!stopping_) {
    crl_cv_.wait_for(lock, std::chrono::milliseconds(static_cast<int64_t>(kCrlPollSeconds * 1000)));
    if (stopping_) break;
    lock.unlock();
    CheckRevocations();
    lock.lock();
  }
}

void Coordinator::Impl::CheckRevocations() {
  const std::string& crl_path = config_.tls().crl();
  if (crl_path.empty() || insecure()) return;
  std::map<std::string, std::string> revoked;  // canonical serial -> why
  {
    std::lock_guard<std::mutex> lock(crl_mu_);
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
  std::lock_guard<std::mutex> lock(mu_);
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
    cv_.notify_all();
  }
}

std::string Coordinator::Impl::RevokedReason(const std::string& serial_hex) {
  if (serial_hex.empty()) return "";
  std::lock_guard<std::mutex> lock(crl_mu_);
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
  std::lock_guard<std::mutex> lock(mu_);
  return RevokedSiteLocked(site);
}

std::string Coordinator::Impl::RevokedSiteLocked(const std::string& site) const {
  if (sessions_.count(site) > 0) return "";
  auto it = revoked_sites_.find(site);
  return it == revoked_sites_.end() ? "" : it->second.second;
}

void Coordinator::Impl::NoteSiteCertificate(const std::string& site,
                                            const std::string& serial_hex) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = revoked_sites_.find(site);
  if (it != revoked_sites_.end() && it->second.first != serial_hex) revoked_sites_.erase(it);
}

// ---------------------------------------------------------------------------
// Studies.

class DirectHost : public StudyHost {
 public:
  explicit DirectHost(Coordinator::Impl* impl) : impl_(impl) {}
  std::map<std::string, absl::StatusOr<v1::TaskResult>> Exchange(
      const std::map<std::string, v1::Task>& tasks, double timeout_seconds) override {
    return impl_->Exchange(tasks, timeout_seconds, nullptr);
  }
  void OnSiteState(const std::string&, const std::string&) override {}
  void OnProgress(const std::string&, double, const std::string&) override {}
  bool Cancelled() const override { return false; }

 private:
  Coordinator::Impl* impl_;
};

class RecordHost : public StudyHost {
 public:
  RecordHost(Coordinator::Impl* impl, StudyRecord* rec) : impl_(impl), rec_(rec) {}
  std::map<std::string, absl::StatusOr<v1::TaskResult>> Exchange(
      const std::map<std::string, v1::Task>& tasks, double timeout_seconds) override {
    impl_->UpdateStatus(rec_, [&](v1::StudyStatus* s) {
      for (const auto& [site, task] : tasks) {
        (*s->mutable_sites())[site] = absl::StrCat("working on ", task.kind());
      }
    });
    auto out = impl_->Exchange(tasks, timeout_seconds, &rec_->cancel);
    impl_->UpdateStatus(rec_, [&](v1::StudyStatus* s) {
      for (const auto& [site, r] : out) {
        if (r.ok() && r->status_code() == 0) (*s->mutable_sites())[site] = "answered";
      }
    });
    return out;
  }
  void OnSiteState(const std::string& site, const std::string& state) override {
    impl_->UpdateStatus(rec_, [&](v1::StudyStatus* s) { (*s->mutable_sites())[site] = state; });
  }
  void OnProgress(const std::string& step, double fraction, const std::string& message) override {
    impl_->UpdateStatus(rec_, [&](v1::StudyStatus* s) {
      s->set_step(step);
      s->set_fraction_done(fraction);
      s->set_message(message);
    });
  }
  // A cancel, or the coordinator stopping (the study then stays RUNNING in
  // the store and resumes at the next start).
  bool Cancelled() const override { return rec_->cancel.load() || impl_->stopping(); }

 private:
  Coordinator::Impl* impl_;
  StudyRecord* rec_;
};

void Coordinator::Impl::UpdateStatus(StudyRecord* rec,
                                     const std::function<void(v1::StudyStatus*)>& fn) {
  std::lock_guard<std::mutex> lock(studies_mu_);
  fn(&rec->status);
  ++rec->version;
  studies_cv_.notify_all();
}

absl::StatusOr<std::string> Coordinator::Impl::SubmitStudy(const v1::Study& spec,
                                                           const std::string& by) {
  if (stopping_) return absl::UnavailableError("the coordinator is shutting down");
  if (absl::Status check = CheckStudy(spec); !check.ok()) {
    FEDRAD_LOG(WARNING) << "study '" << spec.name() << "' from " << by
                        << " refused: " << check.message();
    return Annotate(check, "the study spec");
  }
  if (spec.sites().empty()) {
    // A study names its sites: a site down at submit is then waited for (and
    // missed), and a connected test site is never pulled in.
    std::vector<std::string> connected = ConnectedSites();
    std::string lines;
    for (const auto& site : connected) absl::StrAppend(&lines, "\n  sites: \"", site, "\"");
    std::string why = absl::StrCat(
        "sites: is required: list the sites that take part, by the names in their "
        "certificates (each must answer unless quorum.min_sites allows fewer). ",
        connected.empty() ? std::string("No site is connected now.")
                          : absl::StrCat("Connected now: ", absl::StrJoin(connected, ", "),
                                         "; to run with exactly these, add:", lines));
    FEDRAD_LOG(WARNING) << "study '" << spec.name() << "' from " << by << " refused: " << why;
    return Annotate(absl::InvalidArgumentError(why), "the study spec");
  }
  auto rec = std::make_unique<StudyRecord>();
  {
    std::lock_guard<std::mutex> lock(studies_mu_);
    rec->id = absl::StrCat(Slug(spec.name()), "-",
                           absl::FormatTime("%Y%m%dT%H%M%S", absl::Now(), absl::UTCTimeZone()),
                           "-", ++study_counter_);
  }
  rec->spec = spec;
  if (rec->spec.name().empty()) rec->spec.set_name("study");
  rec->dir = (fs::path(config_.data_dir()) / "studies" / rec->id).string();
  std::error_code ec;
  fs::create_directories(rec->dir, ec);
  if (ec) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot create the study folder ", rec->dir, ": ", ec.message()));
  }
  FEDRAD_RETURN_IF_ERROR(
      WriteStringToFile((fs::path(rec->dir) / "study.textproto").string(), ToTextProto(rec->spec)));
  rec->status.set_study_id(rec->id);
  rec->status.set_name(rec->spec.name());
  rec->status.set_state("PENDING");
  for (const auto& site : rec->spec.sites()) (*rec->status.mutable_sites())[site] = "waiting";
  rec->sites.assign(rec->spec.sites().begin(), rec->spec.sites().end());
  Persist(rec.get(), "PENDING", "submitted", 0, "{}", nullptr);
  audit_->Decision(rec->id, "", by, "study.submit",
                   absl::StrCat("study '", rec->spec.name(), "' submitted by ", by));
  FEDRAD_LOG(INFO) << "study " << rec->id << " ('" << rec->spec.name() << "') submitted by " << by;
  StudyRecord* raw = rec.get();
  std::string id = rec->id;
  {
    std::lock_guard<std::mutex> lock(studies_mu_);
    studies_[id] = std::move(rec);
    raw->thread = std::thread([this, raw] { RunStudy(raw); });
  }
  return id;
}

void Coordinator::Impl::Persist(StudyRecord* rec, const std::string& state,
                                const std::string& message, int next_step,
                                const std::string& results_json, const StudyContext* ctx) {
  StoredStudy row;
  row.id = rec->id;
  row.name = rec->spec.name();
  row.spec_text = ToTextProto(rec->spec);
  row.state = state;
  row.message = message;
  row.next_step = next_step;
  row.results_json = results_json;
  row.sites = rec->sites;
  row.epoch = rec->epoch;
  row.rounds = rec->rounds;
  row.excluded_sites = rec->excluded;
  if (ctx != nullptr) {
    row.rounds = ctx->rounds();
    row.excluded_sites = ctx->excluded_sites();
  }
  row.submitted_at = rec->submitted_at;
  absl::Status s = store_->Put(row);
  if (!s.ok()) {
    FEDRAD_LOG(ERROR) << "study " << rec->id << ": cannot write the study store: " << s
                      << " (a restart could not resume this study from here)";
  }
}

void Coordinator::Impl::RunStudy(StudyRecord* rec) {
  const v1::Study& spec = rec->spec;
  const std::vector<std::string> steps = EnabledSteps(spec);
  UpdateStatus(rec, [&](v1::StudyStatus* s) {
    s->set_state("RUNNING");
    s->set_step("waiting for sites");
    if (rec->resumed) {
      s->set_message(absl::StrCat("resumed after a coordinator restart (epoch ", rec->epoch, ")"));
    }
  });
  std::vector<std::string> sites = rec->sites;
  if (sites.empty()) sites = ConnectedSites();
  rec->sites = sites;
  absl::Status status;
  RecordHost host(this, rec);
  StudyContext ctx(rec->id, spec, sites, &host);
  if (rec->resumed) {
    auto so_far = nlohmann::json::parse(rec->results_so_far, nullptr, false);
    ctx.Restore(so_far.is_discarded() ? nlohmann::json::object() : so_far, rec->excluded,
                rec->rounds, rec->epoch);
  }
  Persist(rec, "RUNNING", rec->resumed ? "resumed" : "running", rec->next_step,
          ctx.results().dump(), &ctx);
  if (sites.empty()) {
    status = absl::FailedPreconditionError("the study names no sites and no site is connected");
  } else {
    std::vector<std::string> wanted = ctx.active_sites();
    CheckRevocations();
    WaitForSites(wanted, config_.site_wait_seconds(), &rec->cancel);
    std::vector<std::string> connected = ConnectedSites();
    if (!stopping_ && !rec->cancel) {
      for (const auto& site : wanted) {
        if (std::string revoked = RevokedSite(site); !revoked.empty()) {
          ctx.ExcludeSite(site, revoked);
        } else if (std::find(connected.begin(), connected.end(), site) == connected.end()) {
          ctx.ExcludeSite(site, absl::StrCat("not connected within ", config_.site_wait_seconds(),
                                             rec->resumed ? " s of the study's resumption"
                                                          : " s of the study's start"));
        } else {
          host.OnSiteState(site, "connected");
        }
      }
    }
    if (rec->cancel || stopping_) {
      status = absl::CancelledError("study cancelled");
    } else if (static_cast<int>(ctx.active_sites().size()) < ctx.required_sites() ||
               ctx.active_sites().empty()) {
      std::vector<std::string> reasons;
      for (const auto& [site, reason] : ctx.excluded_sites()) {
        reasons.push_back(absl::StrCat(site, ": ", reason));
      }
      status = absl::FailedPreconditionError(absl::StrCat(
          "quorum not reached at the start: ", ctx.active_sites().size(), " of ", sites.size(),
          " sites connected, the quorum needs ", ctx.required_sites(), ". ",
          absl::StrJoin(reasons, "; ")));
    } else {
      if (rec->resumed) {
        // Every site back to its state at the end of the last completed step
        // (its checkpoint; before the first step: its data table as loaded).
        const int last = rec->next_step - 1;
        FEDRAD_LOG(INFO) << "study " << rec->id << ": resuming (epoch " << rec->epoch << ") "
                         << (last >= 0 ? absl::StrCat("after step '", steps[last], "'")
                                       : std::string("from the start"))
                         << "; sites restore their state";
        v1::Payload params;
        AddScalar(&params, "step", last);
        (*params.mutable_strings())["step_name"] = last >= 0 ? steps[last] : "";
        ctx.SetProgress("restoring", static_cast<double>(rec->next_step) / steps.size(),
                        last >= 0 ? absl::StrCat("sites restore their state after '", steps[last], "'")
                                  : "sites restart the study from their data");
        auto restored = ctx.Broadcast("study.restore", params);
        status = restored.ok() ? absl::OkStatus() : Annotate(restored.status(), "restoring the sites");
      }
      if (status.ok()) {
        status = RunAnalyses(ctx, rec->next_step, [&](int index, const std::string& name) {
          // The sites keep their state at this step's end on their own disk,
          // then the store records the step as done: a restart resumes after it.
          v1::Payload params;
          AddScalar(&params, "step", index);
          (*params.mutable_strings())["step_name"] = name;
          FEDRAD_RETURN_IF_ERROR(ctx.Broadcast("study.checkpoint", params).status());
          rec->next_step = index + 1;
          Persist(rec, "RUNNING", absl::StrCat("step '", name, "' done"), rec->next_step,
                  ctx.results().dump(), &ctx);
          FEDRAD_LOG(INFO) << "study " << rec->id << ": step '" << name << "' done ("
                           << index + 1 << " of " << steps.size() << "), checkpointed";
          return absl::OkStatus();
        });
      }
    }
  }
  if (stopping_ && !rec->cancel && !status.ok()) {
    // A shutdown is not a cancel: the study stays RUNNING in the store and
    // resumes after its last completed step when the coordinator starts again.
    FEDRAD_LOG(WARNING) << "study " << rec->id
                        << " interrupted by the coordinator's shutdown; it stays RUNNING and "
                           "resumes when the coordinator starts again";
    audit_->Decision(rec->id, "", "", "study.suspend",
                     "coordinator shutting down: study left RUNNING, resumes at the next start");
    return;
  }
  std::string state = status.ok() ? "SUCCEEDED"
                      : (rec->cancel || status.code() == absl::StatusCode::kCancelled)
                          ? "CANCELLED"
                          : "FAILED";
  std::string message = status.ok() ? "done" : std::string(status.message());
  if (status.ok() && !ctx.excluded_sites().empty()) {
    std::vector<std::string> reasons;
    for (const auto& [site, reason] : ctx.excluded_sites()) {
      reasons.push_back(absl::StrCat(site, ": ", reason));
    }
    message = absl::StrCat("done without ", ctx.excluded_sites().size(),
                           " excluded site(s): ", absl::StrJoin(reasons, "; "));
  }
  nlohmann::json& results = ctx.results();
  nlohmann::json study_json = nlohmann::json::object();
  study_json["id"] = rec->id;
  study_json["name"] = spec.name();
  study_json["state"] = state;
  study_json["message"] = message;
  study_json["sites"] = sites;
  study_json["completed_sites"] = ctx.active_sites();
  study_json["excluded_sites"] = nlohmann::json::object();
  for (const auto& [site, reason] : ctx.excluded_sites()) study_json["excluded_sites"][site] = reason;
  study_json["rounds"] = ctx.rounds();
  {
    std::lock_guard<std::mutex> lock(studies_mu_);
    if (rec->status.notices_size() > 0) {
      study_json["notices"] =
          std::vector<std::string>(rec->status.notices().begin(), rec->status.notices().end());
    }
  }
  if (spec.min_cell_count() > 0) study_json["min_cell_count"] = spec.min_cell_count();
  study_json["epoch"] = ctx.epoch();
  study_json["finished_at"] = absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::Now(), absl::UTCTimeZone());
  results["study"] = study_json;
  std::string spec_text = ToTextProto(spec);
  results["provenance"]["software"] = "fedrad";
  results["provenance"]["software_version"] = FEDRAD_VERSION;
  results["provenance"]["protocol_version"] = transport::kProtocolVersion;
  results["provenance"]["spec_sha256"] = Sha256Hex(spec_text);
  // The hash each site's operator approved (fedrad-site approve prints it).
  results["provenance"]["spec_approval_sha256"] = StudySpecHash(spec);
  results["provenance"]["audit_log_heads"]["coordinator"] = audit_->HeadHash();
  std::string json = results.dump(2) + "\n";
  absl::Status written = WriteStringToFile((fs::path(rec->dir) / "results.json").string(), json);
  if (!written.ok()) FEDRAD_LOG(ERROR) << "cannot write results.json: " << written;
  Persist(rec, state, message, rec->next_step, json, &ctx);
  audit_->Decision(rec->id, "", "", "study.end", absl::StrCat("study ", state, ": ", message));
  if (status.ok()) {
    FEDRAD_LOG(INFO) << "study " << rec->id << " " << state << ": " << message;
  } else {
    FEDRAD_LOG(WARNING) << "study " << rec->id << " " << state << ": " << message;
  }
  UpdateStatus(rec, [&](v1::StudyStatus* s) {
    s->set_state(state);
    s->set_message(message);
    if (status.ok()) s->set_fraction_done(1.0);
  });
  std::lock_guard<std::mutex> lock(studies_mu_);
  rec->results_json = json;
  studies_cv_.notify_all();
}

absl::StatusOr<v1::StudyStatus> Coordinator::Impl::GetStatus(const std::string& id) const {
  std::lock_guard<std::mutex> lock(studies_mu_);
  auto it = studies_.find(id);
  if (it != studies_.end()) return it->second->status;
  // A study from an earlier run of the coordinator: its results.json.
  auto text = ReadFileToString((fs::path(config_.data_dir()) / "studies" / id / "results.json").string());
  if (text.ok()) {
    auto j = nlohmann::json::parse(*text, nullptr, false);
    if (!j.is_discarded() && j.contains("study")) {
      v1::StudyStatus s;
      s.set_study_id(id);
      s.set_name(j["study"].value("name", ""));
      s.set_state(j["study"].value("state", ""));
      s.set_message(j["study"].value("message", ""));
      s.set_step("finished");
      if (s.state() == "SUCCEEDED") s.set_fraction_done(1.0);
      return s;
    }
  }
  return absl::NotFoundError(absl::StrCat("no study '", id, "'"));
}

absl::StatusOr<std::string> Coordinator::Impl::GetResults(const std::string& id) const {
  {
    std::lock_guard<std::mutex> lock(studies_mu_);
    auto it = studies_.find(id);
    if (it != studies_.end() && it->second->results_json.empty()) {
      return absl::FailedPreconditionError(
          absl::StrCat("study ", id, " is ", it->second->status.state(),
                       "; its results.json is written when it ends"));
    }
    if (it != studies_.end()) return it->second->results_json;
  }
  auto text = ReadFileToString((fs::path(config_.data_dir()) / "studies" / id / "results.json").string());
  if (!text.ok()) return absl::NotFoundError(absl::StrCat("no results for study '", id, "'"));
  return *text;
}

absl::StatusOr<v1::StudyStatus> Coordinator::Impl::CancelStudy(const std::string& id,
                                                               const std::string& by) {
  StudyRecord* rec = nullptr;
  {
    std::lock_guard<std::mutex> lock(studies_mu_);
    auto it = studies_.find(id);
    if (it == studies_.end()) return absl::NotFoundError(absl::StrCat("no study '", id, "'"));
    rec = it->second.get();
  }
  rec->cancel = true;
  audit_->Decision(id, "", by, "study.cancel", absl::StrCat("cancel requested by ", by));
  {
    std::lock_guard<std::mutex> lock(mu_);
    cv_.notify_all();
  }
  return GetStatus(id);
}

std::vector<v1::StudyStatus> Coordinator::Impl::ListStudies() const {
  std::lock_guard<std::mutex> lock(studies_mu_);
  std::vector<v1::StudyStatus> out;
  for (const auto& [id, rec] : studies_) out.push_back(rec->status);
  return out;
}

absl::StatusOr<std::pair<v1::StudyStatus, int64_t>> Coordinator::Impl::WaitStatus(
    const std::string& id, int64_t seen, double timeout_seconds) {
  std::unique_lock<std::mutex> lock(studies_mu_);
  auto it = studies_.find(id);
  if (it == studies_.end()) return absl::NotFoundError(absl::StrCat("no study '", id, "'"));
  StudyRecord* rec = it->second.get();
  studies_cv_.wait_for(lock, std::chrono::milliseconds(static_cast<int64_t>(timeout_seconds * 1000)),
                       [&] { return rec->version > seen || stopping_; });
  return std::make_pair(rec->status, rec->version);
}

// ---------------------------------------------------------------------------
// Admin service (synchronous; calls are short except WatchStudy).

class AdminService : public v1::Admin::Service {
 public:
  explicit AdminService(Coordinator::Impl* impl) : impl_(impl) {}

  grpc::Status SubmitStudy(grpc::ServerContext* context, const v1::SubmitStudyRequest* request,
                           v1::SubmitStudyResponse* response) override {
    std::string who;
    if (grpc::Status s = Authorize(*context, /*write=*/true, &who); !s.ok()) return s;
    auto id = impl_->SubmitStudy(request->study(), who);
    if (!id.ok()) return transport::ToGrpcStatus(id.status());
    response->set_study_id(*id);
    return grpc::Status::OK;
  }
  grpc::Status GetStatus(grpc::ServerContext* context, const v1::StudyRef* request,
                         v1::StudyStatus* response) override {
    std::string who;
    if (grpc::Status s = Authorize(*context, false, &who); !s.ok()) return s;
    auto status = impl_->GetStatus(request->study_id());
    if (!status.ok()) return transport::ToGrpcStatus(status.status());
    *response = *status;
    return grpc::Status::OK;
  }
  grpc::Status WatchStudy(grpc::ServerContext* context, const v1::StudyRef* request,
                          grpc::ServerWriter<v1::StudyStatus>* writer) override {
    std::string who;
    if (grpc::Status s = Authorize(*context, false, &who); !s.ok()) return s;
    int64_t seen = -1;
    while (!context->IsCancelled()) {
      // A watcher whose certificate is revoked meanwhile is cut off too.
      if (grpc::Status s = Authorize(*context, false, &who); !s.ok()) return s;
      auto next = impl_->WaitStatus(request->study_id(), seen, 1.0);
      if (!next.ok()) return transport::ToGrpcStatus(next.status());
      if (next->second != seen) {
        seen = next->second;
        if (!writer->Write(next->first)) return grpc::Status::OK;
        if (IsTerminal(next->first.state())) return grpc::Status::OK;
      }
    }
    return grpc::Status(grpc::StatusCode::CANCELLED, "watch cancelled");
  }
  grpc::Status GetResults(grpc::ServerContext* context, const v1::StudyRef* request,
                          v1::ResultsResponse* response) override {
    std::string who;
    if (grpc::Status s = Authorize(*context, false, &who); !s.ok()) return s;
    auto json = impl_->GetResults(request->study_id());
    if (!json.ok()) return transport::ToGrpcStatus(json.status());
    response->set_study_id(request->study_id());
    response->set_results_json(*json);
    return grpc::Status::OK;
  }
  grpc::Status CancelStudy(grpc::ServerContext* context, const v1::StudyRef* request,
                           v1::StudyStatus* response) override {
    std::string who;
    if (grpc::Status s = Authorize(*context, true, &who); !s.ok()) return s;
    auto status = impl_->CancelStudy(request->study_id(), who);
    if (!status.ok()) return transport::ToGrpcStatus(status.status());
    *response = *status;
    return grpc::Status::OK;
  }
  grpc::Status ListStudies(grpc::ServerContext* context, const v1::Empty*,
                           v1::ListStudiesResponse* response) override {
    std::string who;
    if (grpc::Status s = Authorize(*context, false, &who); !s.ok()) return s;
    for (auto& s : impl_->ListStudies()) *response->add_studies() = s;
    return grpc::Status::OK;
  }

 private:
  grpc::Status Authorize(const grpc::ServerContext& context, bool write, std::string* who) {
    auto id = transport::GetPeerIdentity(context, impl_->insecure());
    if (!id.ok()) {
      FEDRAD_LOG(WARNING) << "admin call from " << context.peer() << " refused: " << id.status().message();
      return transport::ToGrpcStatus(id.status());
    }
    *who = absl::StrCat(id->common_name, " (", id->role, ")");
    impl_->CheckRevocations();
    if (std::string revoked = impl_->RevokedReason(id->serial_hex); !revoked.empty()) {
      std::string why = absl::StrCat("certificate CN=", id->common_name, " (", id->role, ") ",
                                     revoked);
      FEDRAD_LOG(WARNING) << "admin call refused: " << why;
      impl_->audit()->Decision("", "", id->common_name, "admin.revoked",
                               absl::StrCat("admin call refused: ", why));
      return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, why);
    }
    bool allowed = id->role == "admin" || (!write && id->role == "auditor");
    if (!allowed) {
      std::string why = absl::StrCat("certificate CN=", id->common_name, " has role '", id->role,
                                     "'; this call needs ", write ? "admin" : "admin or auditor");
      FEDRAD_LOG(WARNING) << "admin call refused: " << why;
      return grpc::Status(grpc::StatusCode::PERMISSION_DENIED, why);
    }
    return grpc::Status::OK;
  }

  Coordinator::Impl* impl_;
};

// ---------------------------------------------------------------------------

absl::Status Coordinator::Impl::Start() {
  direct_host_ = std::make_unique<DirectHost>(this);
  federation_service_ = std::make_unique<FederationService>(this);
  admin_service_ = std::make_unique<AdminService>(this);
  grpc::ServerBuilder builder;
  transport::ConfigureServerBuilder(&builder);
  builder.AddListeningPort(config_.listen_address(), creds_, &port_);
  builder.RegisterService(federation_service_.get());
  builder.RegisterService(admin_service_.get());
  server_ = builder.BuildAndStart();
  if (server_ == nullptr || port_ == 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", config_.listen_address()));
  }
  if (!config_.tls().crl().empty() && !insecure()) {
    CheckRevocations();
    crl_thread_ = std::thread([this] { CrlWatchLoop(); });
  }
  FEDRAD_LOG(INFO) << "coordinator listening on " << config_.listen_address() << " (port "
                   << port_ << ")" << (insecure() ? " INSECURE" : ", mutual TLS");
  if (!config_.port_file().empty()) {
    FEDRAD_RETURN_IF_ERROR(WriteStringToFile(config_.port_file(), absl::StrCat(port_, "\n")));
  }
  return LoadStudies();
}

absl::Status Coordinator::Impl::LoadStudies() {
  FEDRAD_ASSIGN_OR_RETURN(std::vector<StoredStudy> stored, store_->List());
  std::lock_guard<std::mutex> lock(studies_mu_);
  study_counter_ = std::max<int64_t>(study_counter_, static_cast<int64_t>(stored.size()));
  for (StoredStudy& row : stored) {
    if (studies_.count(row.id) > 0) continue;
    auto rec = std::make_unique<StudyRecord>();
    rec->id = row.id;
    absl::Status s = ParseTextProto(row.spec_text,
                                    absl::StrCat(store_->path(), " (study ", row.id, ")"), &rec->spec);
    if (!s.ok()) {
      FEDRAD_LOG(ERROR) << store_->path() << ": study " << row.id
                        << ": the stored spec does not parse (" << s.message() << "); skipped";
      continue;
    }
    rec->dir = (fs::path(config_.data_dir()) / "studies" / rec->id).string();
    rec->sites = row.sites;
    rec->excluded = row.excluded_sites;
    rec->rounds = row.rounds;
    rec->next_step = row.next_step;
    rec->results_so_far = row.results_json;
    rec->submitted_at = row.submitted_at;
    rec->status.set_study_id(row.id);
    rec->status.set_name(row.name);
    rec->status.set_state(row.state);
    rec->status.set_message(row.message);
    for (const auto& site : row.sites) (*rec->status.mutable_sites())[site] = "";
    for (const auto& [site, reason] : row.excluded_sites) {
      (*rec->status.mutable_sites())[site] = "excluded: " + reason;
    }
    StudyRecord* raw = rec.get();
    if (IsTerminal(row.state)) {
      rec->results_json = row.results_json;
      rec->status.set_step("finished");
      if (row.state == "SUCCEEDED") rec->status.set_fraction_done(1.0);
      studies_[row.id] = std::move(rec);
      continue;
    }
    rec->resumed = true;
    rec->epoch = row.epoch + 1;
    std::vector<std::string> steps = EnabledSteps(rec->spec);
    FEDRAD_LOG(INFO) << "study " << row.id << " was " << row.state << " when the coordinator "
                     << "stopped: resuming at step " << row.next_step << " of " << steps.size()
                     << (row.next_step < static_cast<int>(steps.size())
                             ? absl::StrCat(" ('", steps[row.next_step], "')")
                             : std::string())
                     << ", epoch " << rec->epoch;
    audit_->Decision(row.id, "", "", "study.resume",
                     absl::StrCat("resuming after a coordinator restart at step ", row.next_step,
                                  " of ", steps.size(), " (epoch ", rec->epoch, ")"));
    studies_[row.id] = std::move(rec);
    raw->thread = std::thread([this, raw] { RunStudy(raw); });
  }
  return absl::OkStatus();
}

void Coordinator::Impl::Shutdown() {
  if (shut_down_) return;
  shut_down_ = true;
  stopping_ = true;
  {
    std::lock_guard<std::mutex> lock(crl_mu_);
    crl_cv_.notify_all();
  }
  if (crl_thread_.joinable()) crl_thread_.join();
  std::vector<StudyRecord*> recs;
  {
    std::lock_guard<std::mutex> lock(studies_mu_);
    // Not a cancel: running studies stay RUNNING in the store (RunStudy
    // sees stopping_) and resume at the next start.
    for (auto& [id, rec] : studies_) recs.push_back(rec.get());
    studies_cv_.notify_all();
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    cv_.notify_all();
  }
  for (StudyRecord* rec : recs) {
    if (rec->thread.joinable()) rec->thread.join();
  }
  if (server_) {
    server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
    server_->Wait();
  }
  audit_->Close();
  FEDRAD_LOG(INFO) << "coordinator stopped";
}

Coordinator::Coordinator(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Coordinator::~Coordinator() { impl_->Shutdown(); }

absl::StatusOr<std::unique_ptr<Coordinator>> Coordinator::Create(
    const v1::CoordinatorConfig& raw) {
  FEDRAD_ASSIGN_OR_RETURN(v1::CoordinatorConfig config, NormalizeCoordinatorConfig(raw));
  transport::TlsFiles tls{config.tls().ca_cert(), config.tls().cert(), config.tls().key(),
                          config.tls().crl(), config.tls().insecure_for_tests(), "coordinator"};
  FEDRAD_ASSIGN_OR_RETURN(auto creds, transport::MakeServerCredentials(tls));
  std::error_code ec;
  fs::create_directories(config.data_dir(), ec);
  if (ec) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot create data_dir ", config.data_dir(), ": ", ec.message()));
  }
  fs::create_directories(fs::path(config.audit_log()).parent_path(), ec);
  FEDRAD_ASSIGN_OR_RETURN(auto store,
                          StudyStore::Open((fs::path(config.data_dir()) / "coordinator.db").string()));
  FEDRAD_ASSIGN_OR_RETURN(auto audit,
                          NodeAudit::Open({config.audit_log(), "coordinator", config.tls().key(),
                                           config.tls().cert()}));
  return std::unique_ptr<Coordinator>(new Coordinator(std::make_unique<Impl>(
      std::move(config), std::move(audit), std::move(creds), std::move(store))));
}

absl::Status Coordinator::Start() { return impl_->Start(); }
int Coordinator::port() const { return impl_->port(); }
void Coordinator::Shutdown() { impl_->Shutdown(); }
std::vector<std::string> Coordinator::ConnectedSites() const { return impl_->ConnectedSites(); }
bool Coordinator::WaitForSites(const std::vector<std::string>& sites, double timeout_seconds) {
  return impl_->WaitForSites(sites, timeout_seconds, nullptr);
}
absl::StatusOr<std::string> Coordinator::SubmitStudy(const v1::Study& study) {
  return impl_->SubmitStudy(study, "in-process");
}
absl::StatusOr<v1::StudyStatus> Coordinator::GetStatus(const std::string& id) const {
  return impl_->GetStatus(id);
}
std::unique_ptr<StudyContext> Coordinator::NewStudyContext(const std::string& study_id,
                                                           const v1::Study& study,
                                                           const std::vector<std::string>& sites) {
  return std::make_unique<StudyContext>(study_id, study, sites, impl_->direct_host());
}

}  // namespace fedrad::coordinator
