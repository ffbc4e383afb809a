// The coordinator's study runner: submission, RunStudy (waiting for the
// sites, resuming, the analyses step by step with a checkpoint after each),
// persistence in the StudyStore (and LoadStudies at start), the provenance
// block and results.json; status, results, cancel and watch. Part of
// Coordinator::Impl (internal/coordinator_impl.h).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "coordinator/analyses.h"
#include "coordinator/internal/coordinator_impl.h"
#include "coordinator/study_store.h"
#include "core/csv.h"
#include "core/hash.h"
#include "core/log.h"
#include "core/status.h"
#include "proto/payload.h"
#include "proto/results_json.h"
#include "proto/spec_hash.h"
#include "proto/task_kinds.h"
#include "proto/textproto.h"
#include "proto/transport.h"

#ifndef FEDRAD_VERSION
#define FEDRAD_VERSION "0.0.0"
#endif

namespace fedrad::coordinator {

namespace fs = std::filesystem;

namespace internal {

bool IsTerminal(const std::string& state) {
  return state == "SUCCEEDED" || state == "FAILED" || state == "CANCELLED";
}

}  // namespace internal

using internal::IsTerminal;

namespace {

// results.json text (proto/results_json.h); "{}" (logged) if it cannot be
// printed, which a valid message never causes.
std::string ResultsText(const v1::Results& results) {
  absl::StatusOr<std::string> text = PrintResults(results);
  if (text.ok()) return *std::move(text);
  FEDRAD_LOG(ERROR) << "cannot print results.json: " << text.status();
  return "{}\n";
}

// results.json's `study` (docs/results.md, "study").
void FillStudy(const std::string& id, const v1::Study& spec, const std::vector<std::string>& sites,
               const StudyContext& ctx, const std::string& state, const std::string& message,
               const google::protobuf::RepeatedPtrField<std::string>& notices,
               v1::Results::Study& study) {
  study.Clear();
  study.set_id(id);
  study.set_name(spec.name());
  study.set_state(state);
  study.set_message(message);
  *study.mutable_sites() = {sites.begin(), sites.end()};
  for (const std::string& site : ctx.active_sites()) study.add_completed_sites(site);
  for (const auto& [site, reason] : ctx.excluded_sites()) {
    (*study.mutable_excluded_sites())[site] = reason;
  }
  study.set_rounds(static_cast<int32_t>(ctx.rounds()));
  *study.mutable_notices() = notices;
  if (spec.min_cell_count() > 0) study.set_min_cell_count(spec.min_cell_count());
  study.set_epoch(static_cast<int32_t>(ctx.epoch()));
  study.set_finished_at(absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::Now(), absl::UTCTimeZone()));
}

// results.json's `provenance`: what ran, on which spec, up to which audit record.
void FillProvenance(const v1::Study& spec, const std::string& audit_head,
                    v1::Results::Provenance& provenance) {
  provenance.set_software("fedrad");
  provenance.set_software_version(FEDRAD_VERSION);
  provenance.set_protocol_version(transport::kProtocolVersion);
  provenance.set_spec_sha256(Sha256Hex(ToTextProto(spec)));
  // The hash each site's operator approved (fedrad-site approve prints it).
  provenance.set_spec_approval_sha256(StudySpecHash(spec));
  (*provenance.mutable_audit_log_heads())["coordinator"] = audit_head;
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

}  // namespace

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

std::unique_ptr<StudyHost> internal::NewDirectHost(Coordinator::Impl* impl) {
  return std::make_unique<DirectHost>(impl);
}

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
  absl::MutexLock lock(&studies_mu_);
  fn(&rec->status);
  NotifyWatchersLocked(rec);
}

void Coordinator::Impl::NotifyWatchersLocked(StudyRecord* rec) {
  ++rec->version;
  for (StatusWatcher* w : rec->watchers) w->OnStatus(rec->status, rec->version);
}

absl::Status Coordinator::Impl::AddWatcher(const std::string& id, StatusWatcher* watcher) {
  absl::MutexLock lock(&studies_mu_);
  if (stopping_) {
    return absl::UnavailableError("the coordinator is shutting down; watch again when it is back");
  }
  auto it = studies_.find(id);
  if (it == studies_.end()) return absl::NotFoundError(absl::StrCat("no study '", id, "'"));
  StudyRecord* rec = it->second.get();
  rec->watchers.insert(watcher);
  watcher->OnStatus(rec->status, rec->version);
  return absl::OkStatus();
}

void Coordinator::Impl::RemoveWatcher(const std::string& id, StatusWatcher* watcher) {
  absl::MutexLock lock(&studies_mu_);
  auto it = studies_.find(id);
  if (it != studies_.end()) it->second->watchers.erase(watcher);
}

void Coordinator::Impl::EndRevokedWatches(const std::map<std::string, std::string>& revoked) {
  absl::MutexLock lock(&studies_mu_);
  for (auto& [id, rec] : studies_) {
    for (StatusWatcher* w : rec->watchers) {
      const std::string serial = w->serial();
      if (serial.empty()) continue;
      if (auto hit = revoked.find(internal::CanonicalSerial(serial)); hit != revoked.end()) {
        w->OnEnd(absl::UnauthenticatedError(hit->second));
      }
    }
  }
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
    absl::MutexLock lock(&studies_mu_);
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
    absl::MutexLock lock(&studies_mu_);
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
  RecordHost host(this, rec);
  StudyContext ctx(rec->id, rec->spec, sites, &host);
  // Signed round messages are checked against the study CA (issue 12).
  if (!insecure()) ctx.set_round_trust({config_.tls().ca_cert(), config_.tls().crl(), 0});
  if (rec->resumed) {
    absl::StatusOr<v1::Results> so_far = ParseResults(rec->results_so_far, "the stored results");
    if (!so_far.ok()) {
      FEDRAD_LOG(WARNING) << "study " << rec->id
                          << ": results so far not restored: " << so_far.status();
    }
    ctx.Restore(so_far.ok() ? *std::move(so_far) : v1::Results(), rec->excluded, rec->rounds,
                rec->epoch);
  }
  Persist(rec, "RUNNING", rec->resumed ? "resumed" : "running", rec->next_step,
          ResultsText(ctx.results()), &ctx);
  absl::Status status =
      sites.empty()
          ? absl::FailedPreconditionError("the study names no sites and no site is connected")
          : RunSteps(rec, ctx, host);
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
  FinishStudy(rec, ctx, status);
}

absl::Status Coordinator::Impl::RunSteps(StudyRecord* rec, StudyContext& ctx, StudyHost& host) {
  const std::vector<std::string> steps = EnabledSteps(rec->spec);
  const std::vector<std::string> wanted = ctx.active_sites();
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
  if (rec->cancel || stopping_) return absl::CancelledError("study cancelled");
  if (static_cast<int>(ctx.active_sites().size()) < ctx.required_sites() ||
      ctx.active_sites().empty()) {
    std::vector<std::string> reasons;
    for (const auto& [site, reason] : ctx.excluded_sites()) {
      reasons.push_back(absl::StrCat(site, ": ", reason));
    }
    return absl::FailedPreconditionError(absl::StrCat(
        "quorum not reached at the start: ", ctx.active_sites().size(), " of ",
        rec->sites.size(), " sites connected, the quorum needs ", ctx.required_sites(), ". ",
        absl::StrJoin(reasons, "; ")));
  }
  if (rec->resumed) {
    // Every site back to its state at the end of the last completed step
    // (its checkpoint; before the first step: its data table as loaded).
    const int last = rec->next_step - 1;
    FEDRAD_LOG(INFO) << "study " << rec->id << ": resuming (epoch " << rec->epoch << ") "
                     << (last >= 0 ? absl::StrCat("after step '", steps[last], "'")
                                   : std::string("from the start"))
                     << "; sites restore their state";
    v1::Payload params;
    kinds::Put(&params, kinds::study_task::kStep, last);
    kinds::Put(&params, kinds::study_task::kStepName, last >= 0 ? steps[last] : "");
    ctx.SetProgress("restoring", static_cast<double>(rec->next_step) / steps.size(),
                    last >= 0 ? absl::StrCat("sites restore their state after '", steps[last], "'")
                              : "sites restart the study from their data");
    auto restored = ctx.Broadcast(kinds::study_restore::kName, params);
    if (!restored.ok()) return Annotate(restored.status(), "restoring the sites");
  }
  return RunAnalyses(ctx, rec->next_step, [&](int index, const std::string& name) {
    // The sites keep their state at this step's end on their own disk,
    // then the store records the step as done: a restart resumes after it.
    v1::Payload params;
    kinds::Put(&params, kinds::study_task::kStep, index);
    kinds::Put(&params, kinds::study_task::kStepName, name);
    FEDRAD_RETURN_IF_ERROR(ctx.Broadcast(kinds::study_checkpoint::kName, params).status());
    rec->next_step = index + 1;
    Persist(rec, "RUNNING", absl::StrCat("step '", name, "' done"), rec->next_step,
            ResultsText(ctx.results()), &ctx);
    FEDRAD_LOG(INFO) << "study " << rec->id << ": step '" << name << "' done (" << index + 1
                     << " of " << steps.size() << "), checkpointed";
    return absl::OkStatus();
  });
}

void Coordinator::Impl::FinishStudy(StudyRecord* rec, StudyContext& ctx,
                                    const absl::Status& status) {
  const v1::Study& spec = rec->spec;
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
  v1::Results& results = ctx.results();
  google::protobuf::RepeatedPtrField<std::string> notices;
  {
    absl::MutexLock lock(&studies_mu_);
    notices = rec->status.notices();
  }
  FillStudy(rec->id, spec, rec->sites, ctx, state, message, notices, *results.mutable_study());
  FillProvenance(spec, audit_->HeadHash(), *results.mutable_provenance());
  std::string json = ResultsText(results);
  absl::Status written = WriteStringToFile((fs::path(rec->dir) / "results.json").string(), json);
  if (!written.ok()) {
    FEDRAD_LOG(ERROR) << "cannot write results.json: " << written;
  }
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
  absl::MutexLock lock(&studies_mu_);
  rec->results_json = json;
}

absl::StatusOr<v1::StudyStatus> Coordinator::Impl::GetStatus(const std::string& id) const {
  absl::MutexLock lock(&studies_mu_);
  auto it = studies_.find(id);
  if (it != studies_.end()) return it->second->status;
  // A study from an earlier run of the coordinator: its results.json.
  auto text = ReadFileToString((fs::path(config_.data_dir()) / "studies" / id / "results.json").string());
  if (text.ok()) {
    absl::StatusOr<v1::Results> r = ParseResults(*text, id + "/results.json");
    if (r.ok() && r->has_study()) {
      v1::StudyStatus s;
      s.set_study_id(id);
      s.set_name(r->study().name());
      s.set_state(r->study().state());
      s.set_message(r->study().message());
      s.set_step("finished");
      if (s.state() == "SUCCEEDED") s.set_fraction_done(1.0);
      return s;
    }
  }
  return absl::NotFoundError(absl::StrCat("no study '", id, "'"));
}

absl::StatusOr<std::string> Coordinator::Impl::GetResults(const std::string& id) const {
  {
    absl::MutexLock lock(&studies_mu_);
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
    absl::MutexLock lock(&studies_mu_);
    auto it = studies_.find(id);
    if (it == studies_.end()) return absl::NotFoundError(absl::StrCat("no study '", id, "'"));
    rec = it->second.get();
  }
  rec->cancel = true;
  audit_->Decision(id, "", by, "study.cancel", absl::StrCat("cancel requested by ", by));
  {
    absl::MutexLock lock(&mu_);
    cv_.SignalAll();
  }
  return GetStatus(id);
}

std::vector<v1::StudyStatus> Coordinator::Impl::ListStudies() const {
  absl::MutexLock lock(&studies_mu_);
  std::vector<v1::StudyStatus> out;
  for (const auto& [id, rec] : studies_) out.push_back(rec->status);
  return out;
}

absl::Status Coordinator::Impl::LoadStudies() {
  FEDRAD_ASSIGN_OR_RETURN(std::vector<StoredStudy> stored, store_->List());
  absl::MutexLock lock(&studies_mu_);
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

}  // namespace fedrad::coordinator
