// What a study step sees of the federation: the study spec, the sites still
// in the study, rounds of tasks, progress, and results.json under
// construction. Each analysis (coordinator/analysis_<module>.cc) is a
// function `absl::Status Run<Module>(StudyContext&)`.
//
//   absl::Status RunCohortSummary(StudyContext& ctx) {
//     fedrad::v1::Payload params;
//     params.mutable_strings()->insert({"columns", "age,bmi"});
//     FEDRAD_ASSIGN_OR_RETURN(auto by_site, ctx.Broadcast("cohort.summary", params));
//     for (const auto& [site, result] : by_site) { ... result.payload() ... }
//     ctx.results().mutable_cohort()->mutable_pooled()->set_n(total);
//     return absl::OkStatus();
//   }
//
// Failure semantics (docs/architecture.md): in a round, a site that refuses
// (its privacy guard: PERMISSION_DENIED), fails (e.g. a missing column) or
// does not answer within Quorum.task_timeout_seconds is excluded from the
// rest of the study with its reason, recorded in results.json
// (study.excluded_sites) and the study status. The round then succeeds with
// the remaining sites if the quorum allows, else returns FailedPrecondition
// naming every excluded site and why -- except when every site asked
// answered with the same error (code and message, e.g. a column the spec
// names exists at no site): the round then returns that error, "every site
// failed 'cohort.summary' (INVALID_ARGUMENT): ...", with the sites' code.
//
// Thread safety: a StudyContext belongs to the one thread that runs the
// study; it is not thread safe.
#ifndef FEDRAD_COORDINATOR_STUDY_CONTEXT_H_
#define FEDRAD_COORDINATOR_STUDY_CONTEXT_H_

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "proto/fedrad.pb.h"
#include "proto/results.pb.h"
#include "proto/round_signing.h"
#include "rounds/transcript.h"
#include "proto/rounds.pb.h"
#include "proto/study.pb.h"

namespace fedrad::coordinator {

// What a StudyContext needs from the coordinator (implemented by the daemon;
// tests can fake it).
class StudyHost {
 public:
  virtual ~StudyHost() = default;
  // Sends each task to its site and waits until every site answered or
  // `timeout_seconds` passed (or the study was cancelled). Returns one entry
  // per site: its TaskResult, or DeadlineExceeded/Cancelled saying why there
  // is none.
  virtual std::map<std::string, absl::StatusOr<v1::TaskResult>> Exchange(
      const std::map<std::string, v1::Task>& tasks_by_site,
      double timeout_seconds) = 0;
  // Progress for status/watch: a site's state changed.
  virtual void OnSiteState(const std::string& site, const std::string& state) = 0;
  // Progress for status/watch: the step under way.
  virtual void OnProgress(const std::string& step, double fraction_done,
                          const std::string& message) = 0;
  virtual bool Cancelled() const = 0;
};

class StudyContext {
 public:
  // `sites`: the sites taking part (connected when the study started).
  // `host` must outlive the context.
  StudyContext(std::string study_id, v1::Study study,
               std::vector<std::string> sites, StudyHost* host);
  StudyContext(const StudyContext&) = delete;
  StudyContext& operator=(const StudyContext&) = delete;

  const v1::Study& study() const { return study_; }
  const std::string& study_id() const { return study_id_; }
  // Sites still in the study, sorted.
  std::vector<std::string> active_sites() const;
  // Sites dropped so far, with the reason.
  const std::map<std::string, std::string>& excluded_sites() const { return excluded_; }

  // Sends one task of `kind` to every active site (params per site; a site
  // missing from the map gets empty params), waits for every answer or the
  // timeout, applies the failure semantics above and returns the OK results
  // by site. Cancelled if the study was cancelled.
  absl::StatusOr<std::map<std::string, v1::TaskResult>> RunRound(
      const std::string& kind,
      const std::map<std::string, v1::Payload>& params_by_site);
  // RunRound where the sites in `transcripts` also get, in Task.transcript,
  // the signed messages the step builds on (verifiable rounds, issue 12).
  absl::StatusOr<std::map<std::string, v1::TaskResult>> RunRound(
      const std::string& kind,
      const std::map<std::string, v1::Payload>& params_by_site,
      const std::map<std::string, v1::Transcript>& transcripts);
  // RunRound with the same params for every active site.
  absl::StatusOr<std::map<std::string, v1::TaskResult>> Broadcast(
      const std::string& kind, const v1::Payload& params);

  // Shown by `fedrad study status/watch`. `fraction_done` is the fraction
  // of the current step (0..1); the study's fraction shown to users is
  // (step index + fraction) / steps and never goes backwards within a step.
  void SetProgress(const std::string& step, double fraction_done,
                   const std::string& message = "");
  // Called by RunAnalyses before step `index` (0-based) of `count`.
  void BeginStep(int index, int count);
  // results.json under construction: proto/results.proto, printed by
  // proto/results_json.h (docs/results.md lists every key).
  v1::Results& results() { return results_; }

  // Removes a site from the study (e.g. an analysis found its data
  // unusable); recorded like a failed round.
  void ExcludeSite(const std::string& site, const std::string& reason);
  // The number of sites the quorum requires (Quorum.min_sites, 0 = all
  // sites the study started with).
  int required_sites() const;
  // The study's secure-aggregation session (coordinator/secure_round.h),
  // opaque here; empty until the first secure round.
  std::shared_ptr<void>& secure_session() { return secure_session_; }
  // Tasks sent so far.
  int64_t rounds() const { return round_; }
  // How many times a coordinator resumed this study (0: never). Part of every
  // task id ("STUDY/e<epoch>/<round>/SITE"), so that a site, which answers a
  // repeated task id from its stored results, never mistakes a task of a
  // resumed run for one it answered before the coordinator restarted.
  int64_t epoch() const { return epoch_; }

  // Where the sites' signed round messages are checked (the study CA and
  // its CRL). The daemon always sets it; an in-process test host may leave
  // it unset, and then the contributions are read unverified.
  void set_round_trust(const rounds::Trust& trust) {
    round_verifier_ = std::make_shared<rounds::Verifier>(trust);
  }
  // Null when no trust is set. Caches what it verified.
  rounds::Verifier* round_verifier() const { return round_verifier_.get(); }

  // Restores a resumed study from the coordinator's store: results so far,
  // the sites excluded so far (they stay excluded), the round counter, and
  // the new epoch. Call before the first round.
  void Restore(v1::Results results, const std::map<std::string, std::string>& excluded,
               int64_t rounds, int64_t epoch);

 private:
  absl::Status CheckQuorum(const std::string& kind) const;

  const std::string study_id_;
  const v1::Study study_;
  std::vector<std::string> initial_sites_;
  std::vector<std::string> active_;
  std::map<std::string, std::string> excluded_;
  StudyHost* host_;
  v1::Results results_;
  int64_t round_ = 0;
  int step_index_ = 0;
  int step_count_ = 1;
  double shown_fraction_ = 0;
  int64_t epoch_ = 0;
  std::shared_ptr<void> secure_session_;
  std::shared_ptr<rounds::Verifier> round_verifier_;
};

// The timeout of one task, from Quorum.task_timeout_seconds (default 120).
double TaskTimeoutSeconds(const v1::Study& study);

}  // namespace fedrad::coordinator

#endif  // FEDRAD_COORDINATOR_STUDY_CONTEXT_H_
