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
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

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

// What Impl::Start builds and registers: the Federation service
// (site_hub.cc), the Admin service (admin_service.cc) and the host of
// in-process study contexts (study_runner.cc). Each keeps `impl`, which
// must outlive it.
std::unique_ptr<grpc::Service> NewFederationService(Coordinator::Impl* impl);
std::unique_ptr<grpc::Service> NewAdminService(Coordinator::Impl* impl);
std::unique_ptr<StudyHost> NewDirectHost(Coordinator::Impl* impl);

}  // namespace internal

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

}  // namespace fedrad::coordinator

#endif  // FEDRAD_COORDINATOR_INTERNAL_COORDINATOR_IMPL_H_
