// What a site checks before it takes a step of a verifiable round (issue 12,
// docs/privacy.md "Verifiable rounds"): the coordinator forwards, in
// Task.transcript, the signed contributions of every site to the rounds the
// step builds on; the site verifies each signature (rounds::Verify: the study
// CA and CRL, a site certificate, this study and approved spec), sums each
// round itself (rounds::SumRound) and recomputes the step the approved
// spec's algorithm takes (rounds::ReplayFit). It then computes only that
// step; anything else is refused with rule "verified-step".
//
//   FEDRAD_ASSIGN_OR_RETURN(TaskFit fit, FitOfTask(ctx, *model));
//   FEDRAD_ASSIGN_OR_RETURN(rounds::EvaluationRequest step,
//                           VerifiedEvaluation(ctx, *model, fit, covs, beta));
//   ... evaluate at step.beta ...
//
// The transcript a task builds on: ctx.transcript (what the site holds for
// the study, set by the daemon) and the task's own.
// A TaskContext without round_verifier (handler-level tests only; the daemon
// always sets it) skips the checks: VerifiesRounds() is false.
// Thread safety: as the TaskContext (one study's worker).
#ifndef FEDRAD_SITE_NODE_VERIFY_ROUNDS_H_
#define FEDRAD_SITE_NODE_VERIFY_ROUNDS_H_

#include <memory>
#include <set>
#include <string>
#include <vector>

#include <Eigen/Dense>

#include "absl/status/statusor.h"
#include "proto/study.pb.h"
#include "harmonization/combat.h"
#include "rounds/fit_replay.h"
#include "rounds/transcript.h"
#include "site_node/task_registry.h"

namespace fedrad::site {

// The signed messages a site holds for one study: those of every earlier
// task of the study that it answered (the coordinator forwards to each site
// only the messages it has not forwarded to it before, so a fit's transcript
// crosses the wire once, not once per round). Kept on disk, appended, in
// OUTPUT_DIR/STUDY/.state/transcript.bin, so a restarted site still holds
// them. Not thread safe (one study's worker).
class TranscriptStore {
 public:
  // The store at `path` (empty when the file does not exist; a damaged tail,
  // e.g. a write cut short, is dropped).
  static std::unique_ptr<TranscriptStore> Load(const std::string& path);
  // The messages held.
  const v1::Transcript& held() const { return held_; }
  // Keeps the messages of `incoming` not held yet (after the task was answered).
  absl::Status Commit(const v1::Transcript& incoming);
  int size() const { return held_.messages_size(); }

 private:
  explicit TranscriptStore(std::string path) : path_(std::move(path)) {}
  std::string path_;
  v1::Transcript held_;
  std::set<std::string> keys_;  // SHA-256 of each held message
};

// True when the daemon checks this task's transcript.
bool VerifiesRounds(const TaskContext& ctx);

// The refusal of a step the site cannot verify: PermissionDenied, public,
// "<kind>: <why> (rule verified-step)".
absl::Status Unverified(const TaskContext& ctx, const absl::Status& why);

// The development sites the approved spec names for `model`: the
// validation's develop_on for a model it validates with DEVELOP_VALIDATE,
// else the model's develop_on (sorted, unique); empty means every site.
std::vector<std::string> SpecDevelopSites(const v1::Study& study, const v1::Model& model);

// The task's transcript, every message verified (cached per study by
// digest, so each is checked once). Refused (verified-step) when a message
// does not verify.
absl::StatusOr<rounds::VerifiedTranscript> TaskTranscript(const TaskContext& ctx);

// The fit a task belongs to: params "fit" ("dev", default, or "loso-<site>"
// for a leave-one-site-out fold) and "fit_sites" (newline-separated), checked
// against the approved spec: the spec's development sites when it names
// them; otherwise a subset of the spec's sites when it lists them; a fold
// leaves its site out. Refused (verified-step) otherwise.
struct TaskFit {
  std::string id;
  std::vector<std::string> sites;  // sorted
  bool at_site = false;            // the spec develops the model on its one site
};
absl::StatusOr<TaskFit> FitOfTask(const TaskContext& ctx, const v1::Model& model);

// models.derivatives: the evaluation the replay of the fit asks for next,
// which must be the task's (covariates equal; beta, center and scale within
// 1e-12 relative; this site among the evaluation's sites). Returns the
// site's own step (evaluate at its beta and scaling).
absl::StatusOr<rounds::EvaluationRequest> VerifiedEvaluation(const TaskContext& ctx,
                                                             const v1::Model& model,
                                                             const TaskFit& fit,
                                                             const std::vector<std::string>& covs,
                                                             const Eigen::VectorXd& beta);

// Validation tasks: the frozen model the transcript produces (the finished
// fit's replay, or the signed models.fit of the one development site); the
// task's covariates and beta must be it. Returns the site's own coefficients.
absl::StatusOr<rounds::FrozenModel> VerifiedFrozenModel(const TaskContext& ctx,
                                                        const v1::Model& model, const TaskFit& fit,
                                                        const std::vector<std::string>& covs,
                                                        const Eigen::VectorXd& beta);

// models.validate of a Cox model: the baseline hazard (grid, cumhaz) and,
// when given, the risk-group cut-points must be those the development
// sites' signed models.baseline and models.lp_summary produce
// (rounds/validation_inputs.h, the coordinator's own functions), within
// 1e-12 relative. Refused (verified-step) otherwise.
absl::Status VerifiedValidationInputs(const TaskContext& ctx, const v1::Model& model,
                                      const TaskFit& fit, double t, double tau,
                                      const std::vector<double>& grid,
                                      const std::vector<double>& cumhaz,
                                      const std::vector<double>* cuts);

// ComBat (combat.residuals, combat.fit): the pooled regression and, for
// combat.fit, the pooled estimates, recomputed from the signed
// combat.moments (and combat.residuals) of every site in the transcript
// (rounds/combat_inputs.h). This site must be one of them and every
// contribution must be over `features`.
struct VerifiedCombat {
  std::vector<std::string> sites;
  harmonization::PooledRegression regression;
  int index = -1;                        // this site's index in `sites`
  harmonization::PooledEstimates pooled;  // with_residuals only
};
absl::StatusOr<VerifiedCombat> VerifiedCombatInputs(const TaskContext& ctx,
                                                    const std::vector<std::string>& features,
                                                    const std::vector<std::string>& covariates,
                                                    bool with_residuals);

}  // namespace fedrad::site

#endif  // FEDRAD_SITE_NODE_VERIFY_ROUNDS_H_
