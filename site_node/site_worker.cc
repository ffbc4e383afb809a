// The site daemon's workers (SiteNode::Impl, internal/site_node_impl.h): one
// queue per study, up to max_concurrent_studies workers, the crash-loop guard
// (a marker while a handler runs, a fatal-signal handler, the studies stopped
// at start-up), the gate every task passes before its handler, and Execute:
// the handler under its deadline, the privacy guard, the release ledger, the
// audit records and the working snapshot. The connection loop that feeds the
// queues is in site_node.cc.
#include "site_node/internal/site_node_impl.h"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <deque>
#include <fcntl.h>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/csv.h"
#include "core/log.h"
#include "core/status.h"
#include "core/hash.h"
#include "proto/node_audit.h"
#include "site_node/privacy_guard.h"
#include "site_node/secure_agg.h"
#include "site_node/site_rules.h"
#include "site_node/study_checkpoint.h"
#include "site_node/study_policy.h"

namespace fedrad::site {

using node_internal::ArrayNames;
using node_internal::Clip;
using node_internal::kMaxWorkers;
using node_internal::NowMillis;

namespace {

namespace fs = std::filesystem;

// ---- The crash-loop guard's signal handler ---------------------------------
// One slot per worker: the thread running a task and the file to write if a
// fatal signal hits that thread (OUTPUT_DIR/STUDY/.state/crashed).
struct CrashSlot {
  std::atomic<pid_t> tid{0};
  char path[4096];
  char line[2 * 256 + 4];
  size_t line_len = 0;
};
CrashSlot g_crash_slots[kMaxWorkers];

pid_t ThreadId() { return static_cast<pid_t>(::syscall(SYS_gettid)); }

void OnFatalSignal(int sig) {
  const pid_t me = ThreadId();
  for (auto& slot : g_crash_slots) {
    if (slot.tid.load() != me) continue;
    int fd = ::open(slot.path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (fd >= 0) {
      ssize_t ignored = ::write(fd, slot.line, slot.line_len);
      (void)ignored;
      ::close(fd);
    }
  }
  ::signal(sig, SIG_DFL);
  ::raise(sig);
}

// An alternate signal stack for the calling thread, so that a stack overflow
// still runs the handler. Freed when the thread ends.
class AltStack {
 public:
  AltStack() : memory_(kSize) {
    stack_t ss = {};
    ss.ss_sp = memory_.data();
    ss.ss_size = kSize;
    ss.ss_flags = 0;
    sigaltstack(&ss, nullptr);
  }
  ~AltStack() {
    stack_t ss = {};
    ss.ss_flags = SS_DISABLE;
    sigaltstack(&ss, nullptr);
  }

 private:
  static constexpr size_t kSize = 64 * 1024;
  std::vector<char> memory_;
};

}  // namespace

namespace node_internal {

void InstallFatalSignalHandlers() {
  struct sigaction sa = {};
  sa.sa_handler = OnFatalSignal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_ONSTACK | SA_RESETHAND;
  for (int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT}) sigaction(sig, &sa, nullptr);
}

}  // namespace node_internal

void SiteNode::Impl::Enqueue(const v1::Task& task) {
  // Tasks the gate refuses (study_id not a plain name) share the "" lane and
  // never touch a study folder.
  const std::string key = IsPlainName(task.study_id()) ? task.study_id() : "";
  absl::Status refused;
  {
    absl::MutexLock lock(&mu_);
    auto it = queues_.find(key);
    const size_t limit = static_cast<size_t>(config_.policy().max_queued_tasks_per_study());
    if (it == queues_.end() && queues_.size() >= 4 * limit) {
      refused = PublicError(absl::StatusCode::kResourceExhausted,
                            "this site has too many studies with waiting tasks (rule bounded-queue)");
    } else if (it != queues_.end() && it->second.size() >= limit) {
      refused = PublicError(absl::StatusCode::kResourceExhausted,
                            absl::StrCat("study has ", limit,
                                         " tasks waiting at this site already (rule bounded-queue)"));
    } else {
      queues_[key].push_back(task);
      if (busy_.count(key) == 0 &&
          std::find(ready_.begin(), ready_.end(), key) == ready_.end()) {
        ready_.push_back(key);
      }
      cv_.SignalAll();
    }
  }
  if (!refused.ok()) {
    Deliver(Refused(task, refused));
    return;
  }
}

void SiteNode::Impl::WorkerLoop(int slot) {
  AltStack alt_stack;  // the crash handler runs even on a stack overflow
  while (true) {
    v1::Task task;
    std::string key;
    {
      absl::MutexLock lock(&mu_);
      while (!stop_.load() && ready_.empty()) cv_.Wait(&mu_);
      if (stop_) return;
      key = ready_.front();
      ready_.pop_front();
      auto& q = queues_[key];
      task = std::move(q.front());
      q.pop_front();
      busy_.insert(key);
    }
    v1::TaskResult result = Execute(task, slot);
    {
      absl::MutexLock lock(&mu_);
      busy_.erase(key);
      auto it = queues_.find(key);
      if (it != queues_.end() && !it->second.empty()) {
        ready_.push_back(key);
      } else if (it != queues_.end()) {
        queues_.erase(it);
      }
      cv_.SignalAll();
    }
    if (stop_) return;
    Deliver(result);
  }
}

v1::TaskResult SiteNode::Impl::Refused(const v1::Task& task, const absl::Status& status) {
  FEDRAD_LOG(WARNING) << "refused task " << Clip(task.task_id()) << " (" << Clip(task.kind())
                      << "): " << status.message();
  audit_->Decision(Clip(task.study_id()), Clip(task.task_id()), coordinator_id_, Clip(task.kind()),
                   absl::StrCat("refused task: ", status.message()));
  v1::TaskResult result;
  result.set_task_id(task.task_id());
  result.set_study_id(task.study_id());
  result.set_kind(task.kind());
  const absl::Status wire = ForTheWire(status, Clip(task.kind(), kMaxNameBytes));
  result.set_status_code(static_cast<int>(wire.code()));
  result.set_status_message(std::string(wire.message()));
  return result;
}

void SiteNode::Impl::ScanStudies() {
  {
    // Studies stopped by an earlier run: a later reset is audited when seen.
    std::error_code ec;
    absl::MutexLock lock(&mu_);
    for (const auto& entry : fs::directory_iterator(config_.output_dir(), ec)) {
      if (StudyStopped(entry.path().string()).has_value()) {
        stopped_studies_.insert(entry.path().filename().string());
      }
    }
  }
  for (const InterruptedStudy& s : ScanInterruptedStudies(config_.output_dir())) {
    std::string summary;
    if (s.failed) {
      summary = absl::StrCat("study stopped at this site: its worker ",
                             s.crashed ? "crashed" : "died a second time", " on task ", s.task_id,
                             " (", s.kind, "); later tasks are refused until the operator runs "
                             "`fedrad-site reset-study`");
      absl::MutexLock lock(&mu_);
      stopped_studies_.insert(s.study_id);
    } else {
      summary = absl::StrCat("site restarted while task ", s.task_id, " (", s.kind,
                             ") ran; the study goes on (a second interruption stops it)");
    }
    FEDRAD_LOG(WARNING) << "study " << s.study_id << ": " << summary;
    audit_->Decision(s.study_id, s.task_id, "site", "study.crash-guard", summary);
  }
}

absl::Status SiteNode::Impl::Gate(const v1::Task& task, const TaskKind** kind) {
  *kind = nullptr;
  // Sizes, unknown fields: before anything reads the task.
  FEDRAD_RETURN_IF_ERROR(CheckTaskSize(task));
  // The study id becomes a folder name: a plain name, or nothing is written.
  FEDRAD_RETURN_IF_ERROR(CheckPlainName(task.study_id(), "study_id"));
  // The operator's approval of this exact spec (re-read when the file changed).
  if (absl::Status s = approvals_.Refresh(); !s.ok()) {
    FEDRAD_LOG(ERROR) << "cannot read the approvals in " << config_.state_dir() << ": " << s;
    return absl::FailedPreconditionError(
        absl::StrCat("the site's approvals cannot be read: ", s.message()));
  }
  FEDRAD_RETURN_IF_ERROR(approvals_.Check(site_id_, task.study(), absl::Now()));
  // The crash-loop guard.
  if (auto stop = StudyStopped(StudyDir(task.study_id())); stop.has_value()) {
    return PublicError(
        absl::StatusCode::kFailedPrecondition,
        absl::StrCat("this site stopped study ", task.study_id(),
                     " after its worker crashed on a task of kind ", Clip(stop->kind, kMaxNameBytes),
                     "; the operator can reset it with `fedrad-site reset-study --config "
                     "SITE.textproto ",
                     task.study_id(), "` (rule crash-guard)"));
  }
  {
    absl::MutexLock lock(&mu_);
    if (stopped_studies_.erase(task.study_id()) > 0) {
      audit_->Decision(task.study_id(), "", "operator", "site.reset-study",
                       "the operator reset the study after its worker crashed; it runs again");
    }
  }
  *kind = registry_.Find(task.kind());
  if (*kind == nullptr) {
    return PublicError(absl::StatusCode::kUnimplemented,
                       absl::StrCat("this site's software has no task kind '", task.kind(), "'"));
  }
  FEDRAD_RETURN_IF_ERROR(guard_.CheckAccepted(**kind));
  FEDRAD_RETURN_IF_ERROR(
      CheckKindNeeded(task.study(), task.kind(), config_.policy().enable_debug_tasks()));
  FEDRAD_RETURN_IF_ERROR(CheckSpecPatterns(task.study()));
  FEDRAD_RETURN_IF_ERROR(CheckSpecRoles(task.study(), config_.id_column()));
  return absl::OkStatus();
}

SiteNode::Impl::StudyState& SiteNode::Impl::StudyFor(const v1::Task& task) {
  StudyState* found;
  bool inserted;
  {
    absl::MutexLock lock(&studies_mu_);
    auto [it, ins] = studies_.try_emplace(task.study_id());
    found = &it->second;
    inserted = ins;
  }
  StudyState& study = *found;
  if (!inserted) return study;
  study.table = table_;
  // The gate checked study_id is a plain name: the folder is
  // OUTPUT_DIR/<study_id>, its internal state in .state/ below it.
  study.output_dir = StudyDir(task.study_id());
  std::error_code ec;
  fs::create_directories(StudyStateDir(study.output_dir), ec);
  study.transcripts =
      TranscriptStore::Load((fs::path(StudyStateDir(study.output_dir)) / "transcript.bin").string());
  if (ec) {
    FEDRAD_LOG(ERROR) << "cannot create " << study.output_dir << ": " << ec.message();
  }
  auto ledger = ReleaseLedger::Load(LedgerPath(study.output_dir));
  if (ledger.ok()) {
    study.ledger = std::move(*ledger);
  } else {
    // A damaged ledger: nothing is released for this study until the
    // operator looks (a fresh ledger would forget what was released).
    FEDRAD_LOG(ERROR) << "study " << task.study_id() << ": " << ledger.status();
    study.ledger_broken = true;
  }
  if (task.kind() == kinds::study_restore::kName) return study;  // it sets the state itself
  absl::Status loaded;
  std::string from;
  if (HasWorkingState(study.output_dir)) {
    from = "its working snapshot (after a task that changed the study's state)";
    loaded = LoadWorkingState(study.output_dir, table_.source(), &study.table, &study.kv,
                              &study.answered);
    if (loaded.ok()) {
      absl::MutexLock lock(&mu_);
      for (const auto& [id, bytes] : study.answered) {
        v1::TaskResult stored;
        if (stored.ParseFromString(bytes)) done_[id] = stored;
      }
    }
  } else if (int latest = LatestCheckpoint(study.output_dir); latest >= 0) {
    from = absl::StrCat("the checkpoint of step ", latest);
    loaded = LoadCheckpoint(study.output_dir, latest, table_.source(), &study.table, &study.kv);
  } else {
    return study;
  }
  if (loaded.ok()) {
    FEDRAD_LOG(INFO) << "study " << task.study_id() << ": resumed from " << from
                     << " on this site's disk";
    audit_->Decision(task.study_id(), task.task_id(), coordinator_id_, "study.resume",
                     absl::StrCat("site restarted: state loaded from ", from,
                                  " on its own disk (nothing released)"));
  } else {
    FEDRAD_LOG(ERROR) << "study " << task.study_id() << ": cannot load " << from << ": " << loaded
                      << "; starting from the data table";
    study.table = table_;
    study.kv.clear();
    study.answered.clear();
  }
  return study;
}

// The one place a site signs a round message (issue 12): the task's ready
// message (secure aggregation's adverts, shares, reveals, masked
// contributions) or else, for a verifiable round, the plain Contribution
// built from the released payload; signed with the site's certificate key
// (site::SignRoundMessage), recorded in the site's audit log for `fedrad
// audit replay`, and put in result->signed. Nothing to sign: OK.
absl::Status SiteNode::Impl::SignRound(const TaskContext& ctx, TaskOutput* output,
                                       v1::TaskResult* result) {
  std::optional<v1::RoundMessage> message = std::move(output->round_message);
  output->round_message.reset();
  if (!message.has_value() && output->round.has_value() && RoundVerifier() != nullptr) {
    const RoundContribution& round = *output->round;
    FEDRAD_ASSIGN_OR_RETURN(v1::Contribution c,
                            rounds::MakeContribution(output->payload, round.summed, round.inputs));
    message.emplace();
    message->set_round_id(round.round_id);
    *message->mutable_contribution() = std::move(c);
  }
  if (!message.has_value()) return absl::OkStatus();
  const std::string round_id = message->round_id();
  FEDRAD_ASSIGN_OR_RETURN(v1::SignedMessage signed_message,
                          SignRoundMessage(ctx, *std::move(message)));
  // The site's own record of what it signed (fedrad audit replay reads it);
  // SignRoundMessage set the body's site and kind from ctx.
  const v1::Task& task = *ctx.task;
  const std::string bytes = DeterministicBytes(signed_message);
  audit_->Decision(task.study_id(), task.task_id(), coordinator_id_, rounds::kSignedAuditKind,
                   rounds::AuditSummaryOf(round_id, ctx.site_id, task.kind(), bytes),
                   Sha256Hex(bytes));
  *result->mutable_signed_() = std::move(signed_message);
  return absl::OkStatus();
}

v1::TaskResult SiteNode::Impl::Execute(const v1::Task& task, int slot) {
  const TaskKind* kind = nullptr;
  if (absl::Status gate = Gate(task, &kind); !gate.ok()) {
    // Not kept in done_: once the operator approves, the same task runs.
    return Refused(task, gate);
  }
  // Past the gate: the study's folder and state exist (a restarted site
  // loads them, and the answers it kept, from disk) before looking up answers.
  StudyState& study = StudyFor(task);
  {
    absl::MutexLock lock(&mu_);
    auto it = done_.find(task.task_id());
    if (it != done_.end()) {
      FEDRAD_LOG(INFO) << "task " << task.task_id() << " already answered; sending the stored result";
      return it->second;
    }
  }
  v1::TaskResult result;
  result.set_task_id(task.task_id());
  result.set_study_id(task.study_id());
  result.set_kind(task.kind());

  const bool bookkeeping = absl::StartsWith(task.kind(), "study.");
  CsvTable table_before;
  std::map<std::string, std::string> kv_before;
  if (!bookkeeping) {
    table_before = study.table;
    kv_before = study.kv;
  }
  // The task's deadline: the coordinator's, capped by the site's policy.
  const int64_t now_ms = NowMillis();
  int64_t deadline_ms =
      now_ms + static_cast<int64_t>(config_.policy().max_task_seconds() * 1000);
  if (task.deadline_unix_millis() > 0) deadline_ms = std::min(deadline_ms, task.deadline_unix_millis());
  bool transcript_verified = false;
  TaskContext ctx = MakeTaskContext(task, study, deadline_ms, &transcript_verified);
  absl::StatusOr<TaskOutput> output = RunHandler(task, *kind, ctx, study, slot, deadline_ms);
  const bool released = Release(task, *kind, ctx, study, transcript_verified, output, &result);
  KeepStudyState(task, bookkeeping, released, std::move(table_before), std::move(kv_before), study,
                 result);
  absl::MutexLock lock(&mu_);
  done_[task.task_id()] = result;
  return result;
}

TaskContext SiteNode::Impl::MakeTaskContext(const v1::Task& task, StudyState& study,
                                            int64_t deadline_ms, bool* transcript_verified) {
  TaskContext ctx;
  ctx.site_id = site_id_;
  ctx.task = &task;
  ctx.table = &study.table;
  ctx.output_dir = study.output_dir;
  ctx.min_cell_count = guard_.EffectiveMinCellCount(task.study().min_cell_count());
  ctx.state = &study.kv;
  // The site's own id column, whatever the study or the task says.
  ctx.id_column = config_.id_column();
  ctx.cancelled = [this, deadline_ms] { return stop_.load() || NowMillis() >= deadline_ms; };
  ctx.data_table = &table_;
  ctx.data_dir = fs::absolute(config_.data_csv()).parent_path().string();
  ctx.extraction_threads = config_.extraction_threads();
  if (!config_.tls().insecure_for_tests()) {
    ctx.ca_cert_path = config_.tls().ca_cert();
    ctx.crl_path = config_.tls().crl();
    ctx.cert_path = config_.tls().cert();
    ctx.key_path = config_.tls().key();
  }
  ctx.round_verifier = RoundVerifier();
  // What the task builds on: the study's signed messages so far plus the
  // task's (the coordinator sends each site only what is new to it).
  if (RoundVerifier() != nullptr && study.transcripts != nullptr) {
    ctx.transcript = &study.transcripts->held();
    ctx.transcript_verified = transcript_verified;
  }
  return ctx;
}

absl::StatusOr<TaskOutput> SiteNode::Impl::RunHandler(const v1::Task& task, const TaskKind& kind,
                                                      TaskContext& ctx, StudyState& study,
                                                      int slot, int64_t deadline_ms) {
  // The crash-loop guard: a marker while the handler runs; a fatal signal
  // on this thread also writes .state/crashed.
  if (absl::Status m = WriteRunningMarker(study.output_dir, task.task_id(), task.kind()); !m.ok()) {
    FEDRAD_LOG(WARNING) << "study " << task.study_id() << ": cannot write the running marker: " << m;
  }
  CrashSlot& crash = g_crash_slots[slot];
  {
    const std::string path = CrashedMarkerPath(study.output_dir);
    const std::string line = absl::StrCat(Clip(task.task_id(), 256), "\t", Clip(task.kind(), 256), "\n");
    std::snprintf(crash.path, sizeof(crash.path), "%s", path.c_str());
    crash.line_len = std::min(line.size(), sizeof(crash.line));
    std::memcpy(crash.line, line.data(), crash.line_len);
    crash.tid = ThreadId();
  }
  absl::StatusOr<TaskOutput> output;
  if (NowMillis() >= deadline_ms) {
    output = absl::DeadlineExceededError("the task's deadline passed before it started");
  } else {
    try {
      output = kind.handler(ctx);
    } catch (const std::exception& e) {
      output = absl::InternalError(absl::StrCat("task handler threw: ", e.what()));
    } catch (...) {
      output = absl::InternalError("task handler threw an unknown exception");
    }
  }
  crash.tid = 0;
  RemoveRunningMarker(study.output_dir);
  if (NowMillis() >= deadline_ms && !stop_) {
    output = absl::DeadlineExceededError(absl::StrCat(
        "the task ran past its deadline (the earlier of the coordinator's and the site's "
        "max_task_seconds=", config_.policy().max_task_seconds(), ")"));
  }
  return output;
}

namespace {

// Turns `result` into the wire form of a failed task: `status` redacted by
// ForTheWire, no payload, no signature.
void FailResult(const v1::Task& task, const absl::Status& status, v1::TaskResult* result) {
  const absl::Status wire = ForTheWire(status, task.kind());
  result->set_status_code(static_cast<int>(wire.code()));
  result->set_status_message(std::string(wire.message()));
  result->clear_payload();
  result->clear_signed_();
  result->set_n_contributing(0);
}

}  // namespace

bool SiteNode::Impl::Release(const v1::Task& task, const TaskKind& kind, TaskContext& ctx,
                             StudyState& study, bool transcript_verified,
                             absl::StatusOr<TaskOutput>& output, v1::TaskResult* out) {
  v1::TaskResult& result = *out;
  auto fail = [&](const absl::Status& status) { FailResult(task, status, &result); };
  bool released = false;
  if (!output.ok()) {
    FEDRAD_LOG(ERROR) << "task " << task.task_id() << " (" << task.kind()
                      << ") failed: " << output.status();
    audit_->Decision(task.study_id(), task.task_id(), coordinator_id_, task.kind(),
                     absl::StrCat("computation failed, nothing released: ",
                                  output.status().message()));
    fail(output.status());
  } else if (study.ledger_broken) {
    absl::Status s = absl::DataLossError("the study's release ledger is damaged");
    audit_->Decision(task.study_id(), task.task_id(), coordinator_id_, task.kind(),
                     absl::StrCat("privacy guard refused release: ", s.message()));
    fail(s);
  } else if (absl::Status guard = guard_.CheckRelease(kind, *output, task.study().min_cell_count(),
                                                      &study.ledger);
             !guard.ok()) {
    FEDRAD_LOG(WARNING) << "privacy guard refused the result of task " << task.task_id()
                        << ": " << guard.message();
    audit_->Decision(task.study_id(), task.task_id(), coordinator_id_, task.kind(),
                     absl::StrCat("privacy guard refused release: ", guard.message()));
    fail(guard);
  } else if (absl::Status masked =
                 IsSecureRound(task) ? MaskOutput(ctx, &*output) : CheckPlainRelease(task, *output);
             !masked.ok()) {
    // Secure aggregation: the guard passed the clear values, but masking
    // failed, or a secure study's summed arrays were asked for unmasked;
    // nothing leaves.
    FEDRAD_LOG(WARNING) << "task " << task.task_id() << " (" << task.kind()
                        << "): " << masked.message();
    audit_->Decision(task.study_id(), task.task_id(), coordinator_id_, task.kind(),
                     absl::StrCat("secure aggregation refused, nothing released: ",
                                  masked.message()));
    fail(masked);
  } else {
    // Recorded and saved before the answer leaves.
    ReleaseLedger next = study.ledger;
    next.Record(output->populations);
    absl::Status saved = output->populations.empty()
                             ? absl::OkStatus()
                             : next.Save(LedgerPath(study.output_dir));
    if (!saved.ok()) {
      FEDRAD_LOG(ERROR) << "study " << task.study_id() << ": cannot save the release ledger: " << saved;
      audit_->Decision(task.study_id(), task.task_id(), coordinator_id_, task.kind(),
                       absl::StrCat("privacy guard refused release: the ledger cannot be saved: ",
                                    saved.message()));
      fail(absl::InternalError("the release ledger cannot be saved"));
    } else {
      study.ledger = std::move(next);
      released = true;
      // The released payload (or the masked contribution), signed: what
      // others build on (issue 12).
      if (absl::Status s = SignRound(ctx, &*output, &result); !s.ok()) {
        FEDRAD_LOG(ERROR) << "task " << task.task_id() << ": cannot sign its round message: " << s;
        audit_->Decision(task.study_id(), task.task_id(), coordinator_id_, task.kind(),
                         absl::StrCat("nothing released: the round message cannot be signed: ",
                                      s.message()));
        fail(s.code() == absl::StatusCode::kFailedPrecondition
                 ? s
                 : absl::InternalError("the site cannot sign its round message"));
        released = false;
      }
    }
    if (released && (transcript_verified || IsSecureRound(task)) &&
        task.transcript().messages_size() > 0) {
      // The task's messages verified (or were not needed), or a secure
      // round's session setup: kept for later tasks (checked again on use).
      if (absl::Status kept = study.transcripts->Commit(task.transcript()); !kept.ok()) {
        FEDRAD_LOG(WARNING) << "study " << task.study_id() << ": " << kept;
      }
    }
    if (released) {
      audit_->Decision(task.study_id(), task.task_id(), coordinator_id_, task.kind(),
                       absl::StrCat("privacy guard released: n=", output->n_contributing,
                                    " >= k=", ctx.min_cell_count,
                                    ", arrays: ", ArrayNames(output->payload),
                                    output->audit_note.empty() ? "" : "; ", output->audit_note));
      result.set_status_code(0);
      result.set_n_contributing(output->n_contributing);
      *result.mutable_payload() = std::move(output->payload);
      FEDRAD_LOG(INFO) << "task " << task.task_id() << " (" << task.kind() << ") done, n="
                       << result.n_contributing();
    }
  }
  return released;
}

void SiteNode::Impl::KeepStudyState(const v1::Task& task, bool bookkeeping, bool released,
                                    CsvTable table_before,
                                    std::map<std::string, std::string> kv_before,
                                    StudyState& study, const v1::TaskResult& result) {
  bool study_changed = false;
  if (!bookkeeping) {
    if (!released) {
      // A failed task leaves the study as it was.
      study.table = std::move(table_before);
      study.kv = std::move(kv_before);
    } else {
      study_changed = study.kv != kv_before || study.table.header() != table_before.header() ||
                      study.table.rows() != table_before.rows();
    }
  }
  if (bookkeeping) {
    if (result.status_code() == 0) study.answered.clear();  // a checkpoint or restore
  } else if (study_changed) {
    // Keep the changed state and this answer on disk before the answer
    // leaves: a site killed now resumes from here and re-sends it.
    study.answered[task.task_id()] = result.SerializeAsString();
    absl::Status saved = WriteWorkingState(study.output_dir, study.table, study.kv, study.answered);
    if (!saved.ok()) {
      FEDRAD_LOG(ERROR) << "study " << task.study_id()
                        << ": cannot write the working snapshot: " << saved
                        << " (a restart of this site would lose this task's change)";
    } else {
      FEDRAD_LOG(INFO) << "study " << task.study_id() << ": working snapshot written after task "
                       << task.task_id() << " (" << task.kind() << ") changed the study's state";
    }
  }
}

}  // namespace fedrad::site
