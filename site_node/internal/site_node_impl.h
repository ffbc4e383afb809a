// Private to fedrad::site (the daemon library): the SiteNode::Impl class and
// the few helpers its files share. Not a public header; nothing outside
// site_node/site_node.cc, site_node/site_worker.cc and site_node/site_config.cc
// includes it.
//
// The daemon is spread over three files:
//   site_node.cc    the connection loop: dial out, Hello/Welcome, read tasks,
//                   heartbeats, deliver results; SiteNode::Create and the small
//                   public helpers (SiteIdOf, AuditLogId, NewInstanceId,
//                   AppendOperatorRecord)
//   site_worker.cc  per-study queues and workers, the crash-loop guard, the gate
//                   before a handler runs, Execute with its ledger and audit
//                   records, the study state (load, resume)
//   site_config.cc  NormalizeSiteConfig, LoadSiteConfig, CheckOwnCertificate,
//                   LoadSiteTable
#ifndef FEDRAD_SITE_NODE_INTERNAL_SITE_NODE_IMPL_H_
#define FEDRAD_SITE_NODE_INTERNAL_SITE_NODE_IMPL_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <string>

#include <grpcpp/security/credentials.h>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "core/csv.h"
#include "proto/fedrad.grpc.pb.h"
#include "proto/node_audit.h"
#include "site_node/approvals.h"
#include "site_node/builtin_tasks.h"
#include "site_node/privacy_guard.h"
#include "site_node/site_node.h"
#include "site_node/site_rules.h"
#include "site_node/study_checkpoint.h"
#include "site_node/task_registry.h"
#include "site_node/verify_rounds.h"
#include "core/pki.h"
#include "proto/round_signing.h"
#include "rounds/transcript.h"

namespace fedrad::site {
namespace node_internal {

using Stream = grpc::ClientReaderWriter<v1::SiteMessage, v1::CoordinatorMessage>;

// The most workers (policy.max_concurrent_studies is capped to it): one
// crash-guard slot each (site_worker.cc).
constexpr int kMaxWorkers = 64;

// Wall-clock milliseconds since the Unix epoch (site_node.cc).
int64_t NowMillis();

// A string from the wire, clipped for the site's log and audit record
// (site_node.cc).
std::string Clip(const std::string& s, size_t n = 2 * kMaxNameBytes);

// The names of a payload's arrays for the audit record, "none" when empty
// (site_node.cc).
std::string ArrayNames(const v1::Payload& payload);

// The crash-loop guard's handler for fatal signals (site_worker.cc); Run()
// installs it before the workers start.
void InstallFatalSignalHandlers();

}  // namespace node_internal

class SiteNode::Impl {
 public:
  Impl(v1::SiteConfig config, std::string site_id, CsvTable table,
       std::unique_ptr<NodeAudit> audit,
       std::shared_ptr<grpc::ChannelCredentials> creds)
      : config_(std::move(config)),
        site_id_(std::move(site_id)),
        table_(std::move(table)),
        audit_(std::move(audit)),
        creds_(std::move(creds)),
        guard_(GuardPolicy{config_.policy().min_cell_count(),
                           {config_.policy().accepted_task_kinds().begin(),
                            config_.policy().accepted_task_kinds().end()},
                           config_.policy().enable_debug_tasks()}),
        approvals_(config_.state_dir(), [this](const v1::StudyApproval& a, bool withdrawal) {
          audit_->Decision("", "", "operator", withdrawal ? "site.withdraw" : "site.approve",
                           ApprovalAuditSummary(a, withdrawal), a.spec_sha256());
        }) {
    RegisterBuiltinTasks(registry_);
    RegisterStudyTasks(registry_);
  }

  absl::Status Run();
  void Shutdown();
  // At start: studies whose worker died on a task (crash-loop guard).
  void ScanStudies();

 private:
  struct StudyState {
    CsvTable table;
    std::map<std::string, std::string> kv;
    std::string output_dir;
    // Results of tasks that changed the state since the last checkpoint
    // (task id -> serialized TaskResult; in the working snapshot).
    std::map<std::string, std::string> answered;
    // What this site released in the study (no differencing).
    ReleaseLedger ledger;
    bool ledger_broken = false;
    // The signed round messages of the study's answered tasks (verifiable
    // rounds; loaded from .state/transcript.bin).
    std::unique_ptr<TranscriptStore> transcripts;
  };

  absl::Status RunOneStream(bool* welcomed);
  void Enqueue(const v1::Task& task);
  void WorkerLoop(int slot);
  // Every check before a handler runs (no file is written). Sets *kind.
  absl::Status Gate(const v1::Task& task, const TaskKind** kind);
  // Runs one task that reached a worker: the gate, a stored answer, or the
  // handler (RunHandler) and the release (Release), then KeepStudyState.
  v1::TaskResult Execute(const v1::Task& task, int slot);
  void Deliver(const v1::TaskResult& result);
  void HeartbeatLoop(std::atomic<bool>* ended);
  bool SleepUnlessStopped(double seconds);
  std::string StudyDir(const std::string& study_id) const {
    return (std::filesystem::path(config_.output_dir()) / study_id).string();
  }
  // The study's state, created on its first task; a study this process has
  // not seen but that has a working snapshot or checkpoints on disk (the
  // site restarted mid-study) is loaded from them. Only the worker holding
  // the study touches its state.
  StudyState& StudyFor(const v1::Task& task);
  v1::TaskResult Refused(const v1::Task& task, const absl::Status& status);
  // What a handler sees of the site and the study; `transcript_verified`
  // is set by the handler when the task's transcript checked out.
  TaskContext MakeTaskContext(const v1::Task& task, StudyState& study, int64_t deadline_ms,
                              bool* transcript_verified);
  // The handler under the crash-loop guard and the task's deadline.
  absl::StatusOr<TaskOutput> RunHandler(const v1::Task& task, const TaskKind& kind,
                                        TaskContext& ctx, StudyState& study, int slot,
                                        int64_t deadline_ms);
  // The privacy guard, the release ledger, masking and signing of a
  // handler's output: fills *result with the released payload (true) or the
  // redacted refusal (false), auditing each decision.
  bool Release(const v1::Task& task, const TaskKind& kind, TaskContext& ctx,
               StudyState& study, bool transcript_verified, absl::StatusOr<TaskOutput>& output,
               v1::TaskResult* result);
  // After a task: a failed one leaves the study's table and state as they
  // were; a changed state is written to the working snapshot with the
  // answer before the answer leaves.
  void KeepStudyState(const v1::Task& task, bool bookkeeping, bool released,
                      CsvTable table_before, std::map<std::string, std::string> kv_before,
                      StudyState& study, const v1::TaskResult& result);
  // Signs the task's round message (output->round_message, or else the
  // Contribution of output->round built from the released output->payload)
  // with site::SignRoundMessage, audits it ("round.signed") and sets
  // result->signed. Nothing to sign: OK.
  absl::Status SignRound(const TaskContext& ctx, TaskOutput* output, v1::TaskResult* result);
  // Checks signed round messages against the study CA and its CRL, each
  // message once (a growing transcript costs one check per new message);
  // null with insecure_for_tests (no certificates: nothing signed or checked).
  rounds::Verifier* RoundVerifier() { return round_verifier_.get(); }

  const v1::SiteConfig config_;
  const std::string site_id_;
  // Hello.instance_id / Hello.audit_log_id (fedrad.proto).
  const std::string instance_id_ = NewInstanceId();
  const std::string audit_log_id_ = AuditLogId(config_.audit_log());
  const CsvTable table_;
  std::unique_ptr<NodeAudit> audit_;
  std::shared_ptr<grpc::ChannelCredentials> creds_;
  TaskRegistry registry_;
  PrivacyGuard guard_;
  ApprovalWatcher approvals_;

  std::atomic<bool> stop_{false};
  absl::Mutex mu_;
  absl::CondVar cv_;  // signalled on a new task, a freed study, stop_ or a stream's end
  // One queue per study (by study id; "" for tasks the gate will refuse
  // before any study folder exists). A study is in ready_ when it has tasks
  // and no worker holds it; busy_ holds the studies a worker is running, so
  // a study's tasks run one at a time and in order, and no study waits for
  // another's (up to max_concurrent_studies at once).
  std::map<std::string, std::deque<v1::Task>> queues_ ABSL_GUARDED_BY(mu_);
  std::deque<std::string> ready_ ABSL_GUARDED_BY(mu_);
  std::set<std::string> busy_ ABSL_GUARDED_BY(mu_);
  // Results by task id (idempotent retries).
  std::map<std::string, v1::TaskResult> done_ ABSL_GUARDED_BY(mu_);
  // Stopped at start-up (crash-loop guard).
  std::set<std::string> stopped_studies_ ABSL_GUARDED_BY(mu_);

  absl::Mutex studies_mu_;  // guards the map studies_ (not the states in it)
  std::map<std::string, StudyState> studies_ ABSL_GUARDED_BY(studies_mu_);

  absl::Mutex stream_mu_;  // serialises writes on the stream
  node_internal::Stream* stream_ ABSL_GUARDED_BY(stream_mu_) = nullptr;
  grpc::ClientContext* context_ ABSL_GUARDED_BY(stream_mu_) = nullptr;
  std::string coordinator_id_ = "coordinator";

  const std::unique_ptr<rounds::Verifier> round_verifier_ =
      config_.tls().insecure_for_tests()
          ? nullptr
          : std::make_unique<rounds::Verifier>(
                rounds::Trust{config_.tls().ca_cert(), config_.tls().crl(), 0});
};

}  // namespace fedrad::site

#endif  // FEDRAD_SITE_NODE_INTERNAL_SITE_NODE_IMPL_H_
