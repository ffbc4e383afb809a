// Internal to the coordinator (fedrad::coordinator): the declaration of
// Coordinator::Impl and the records it keeps, shared by the files that
// implement it. Not for use outside coordinator/.
//
// Where things are:
//   coordinator.cc    Create, Start (builds the server and services),
//                     Shutdown, the public Coordinator methods
//   site_hub.cc       the Federation service: one SiteSession reactor per
//                     site stream, hello/instance handling, pending tasks and
//                     Exchange, the CRL watch and revoked-stream drops
//   admin_service.cc  the Admin service and its authorisation
//   study_runner.cc   studies: submit, RunStudy, persistence (StudyStore,
//                     LoadStudies on start), provenance, results.json
#ifndef FEDRAD_COORDINATOR_INTERNAL_COORDINATOR_IMPL_H_
#define FEDRAD_COORDINATOR_INTERNAL_COORDINATOR_IMPL_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"

#include "coordinator/coordinator.h"
#include "coordinator/study_context.h"
#include "coordinator/study_store.h"
#include "proto/fedrad.grpc.pb.h"
#include "proto/node_audit.h"
#include "proto/transport.h"

namespace fedrad::coordinator {

namespace internal {

// SUCCEEDED, FAILED or CANCELLED (study_runner.cc).
bool IsTerminal(const std::string& state);

// A certificate serial in BN_bn2hex spelling without leading zeros, upper
// case: one form for a peer's serial and the CRL's (site_hub.cc).
std::string CanonicalSerial(std::string hex);

// What Impl::Start builds and registers: the Federation service
// (site_hub.cc), the Admin service (admin_service.cc) and the host of
// in-process study contexts (study_runner.cc). Each keeps `impl`, which
// must outlive it.
std::unique_ptr<grpc::Service> NewFederationService(Coordinator::Impl* impl);
std::unique_ptr<grpc::Service> NewAdminService(Coordinator::Impl* impl);
std::unique_ptr<StudyHost> NewDirectHost(Coordinator::Impl* impl);

}  // namespace internal

class SiteSession;

// Someone watching one study's status (Admin.WatchStudy's reactor,
// admin_service.cc; a test's fake). Impl calls it under its studies lock,
// so its methods must not block or call back into Impl.
class StatusWatcher {
 public:
  virtual ~StatusWatcher() = default;
  // The study's status at registration and after every change, with its
  // version (increasing).
  virtual void OnStatus(const v1::StudyStatus& status, int64_t version) = 0;
  // The watch ends without another status: the watcher's certificate was
  // revoked, or the coordinator is shutting down.
  virtual void OnEnd(const absl::Status& why) = 0;
  // The serial of the watcher's certificate (PeerIdentity::serial_hex; ""
  // without one): a CRL that revokes it ends the watch.
  virtual std::string serial() const = 0;
};

// One task waiting for its site's answer.
struct Pending {
  std::string site;
  v1::Task task;
  bool sent = false;
  bool done = false;
  v1::TaskResult result;
};

// One study. status, version, results_json and watchers are guarded by
// Coordinator::Impl::studies_mu_; the rest is set before the study's thread
// starts, or by that thread alone.
struct StudyRecord {
  std::string id;
  v1::Study spec;
  std::string dir;
  v1::StudyStatus status;
  int64_t version = 0;        // bumped on every status change (watchers)
  std::string results_json;   // set when the study ends
  std::set<StatusWatcher*> watchers;  // Admin.WatchStudy calls on this study
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
  // Registers `watcher` for study `id`: it gets the current status at once
  // (OnStatus, before this returns) and every change after, until
  // RemoveWatcher. NotFound for an unknown study; Unavailable while shutting
  // down. `watcher` must stay valid until RemoveWatcher returns.
  absl::Status AddWatcher(const std::string& id, StatusWatcher* watcher);
  // Unregisters; after it returns, `watcher` is called no more. Idempotent.
  void RemoveWatcher(const std::string& id, StatusWatcher* watcher);
  // Applies `fn` to the study's status, bumps its version and hands the new
  // status to its watchers (before returning).
  void UpdateStatus(StudyRecord* rec, const std::function<void(v1::StudyStatus*)>& fn);
  // Adds `notice` to the status of every unfinished study that includes `site`.
  void NoticeForSite(const std::string& site, const std::string& notice);

  StudyHost* direct_host() { return direct_host_.get(); }
  bool stopping() const { return stopping_.load(); }

 private:
  void SendTaskLocked(Pending* p) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::string RevokedSiteLocked(const std::string& site) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Bumps rec's version and hands its status to its watchers.
  void NotifyWatchersLocked(StudyRecord* rec) ABSL_EXCLUSIVE_LOCKS_REQUIRED(studies_mu_);
  // Ends the watches whose certificate serial (canonical form) is a key of
  // `revoked` (serial -> why).
  void EndRevokedWatches(const std::map<std::string, std::string>& revoked)
      ABSL_LOCKS_EXCLUDED(studies_mu_);
  void CrlWatchLoop();
  // A study's thread: RunSteps, then FinishStudy (unless the coordinator is
  // shutting down: the study then stays RUNNING in the store).
  void RunStudy(StudyRecord* rec);
  // Waits for the study's sites, checks the quorum, restores the sites of a
  // resumed study, then runs the analyses with a checkpoint after each step.
  absl::Status RunSteps(StudyRecord* rec, StudyContext& ctx, StudyHost& host);
  // Writes results.json (with the study and provenance blocks), the store's
  // row, the audit record and the final status.
  void FinishStudy(StudyRecord* rec, StudyContext& ctx, const absl::Status& status);
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

  // Lock order: mu_ before a session's mutex; studies_mu_ before a
  // watcher's; crl_mu_ is never held while taking another.
  mutable absl::Mutex mu_;
  absl::CondVar cv_;  // signalled when sessions_, a pending task or stopping_ changes
  std::map<std::string, SiteSession*> sessions_ ABSL_GUARDED_BY(mu_);
  // By task id; a Pending's fields are read and written under mu_ too.
  std::map<std::string, std::shared_ptr<Pending>> pending_ ABSL_GUARDED_BY(mu_);
  // Sites whose stream was dropped because the CRL revoked its certificate:
  // site -> {serial, why}. Cleared when the site connects with another one.
  std::map<std::string, std::pair<std::string, std::string>> revoked_sites_ ABSL_GUARDED_BY(mu_);
  // The process that last held each site's stream in this run (Hello
  // instance_id, audit_log_id): a later one from another log is reported.
  struct SiteProcess {
    std::string instance_id;
    std::string audit_log_id;
  };
  std::map<std::string, SiteProcess> last_process_ ABSL_GUARDED_BY(mu_);

  // The CRL as last read (CheckRevocations).
  absl::Mutex crl_mu_;
  struct CrlStamp {
    int64_t mtime_ns = -1, size = -1, inode = -1;
    bool operator==(const CrlStamp& o) const {
      return mtime_ns == o.mtime_ns && size == o.size && inode == o.inode;
    }
  } crl_stamp_ ABSL_GUARDED_BY(crl_mu_);
  transport::RevocationList revoked_ ABSL_GUARDED_BY(crl_mu_);
  std::thread crl_thread_;
  absl::CondVar crl_cv_;  // wakes CrlWatchLoop at shutdown (with crl_mu_)

  mutable absl::Mutex studies_mu_;
  std::map<std::string, std::unique_ptr<StudyRecord>> studies_ ABSL_GUARDED_BY(studies_mu_);
  int64_t study_counter_ ABSL_GUARDED_BY(studies_mu_) = 0;

  std::unique_ptr<StudyHost> direct_host_;
  friend class DirectHost;
};

}  // namespace fedrad::coordinator

#endif  // FEDRAD_COORDINATOR_INTERNAL_COORDINATOR_IMPL_H_
