// Private to the coordinator's models step: what the fitting half
// (coordinator/analysis_models.cc) and the validation half
// (coordinator/analysis_validation.cc) share -- the prepared model, the
// fitted model, one site's validation, the helpers that read a site's
// payload and address a round, and the validation entry points RunModels
// calls. Not an API: no other module includes it.
//
//   FEDRAD_ASSIGN_OR_RETURN(auto by_site,
//                           ValidateModel(ctx, prep, fit, dev, val, &baseline, &risk_groups));
//   v1::Results::PooledValidation pooled = rounds::PoolValidation(by_site, IsCox(*prep.spec));
//
// Not thread safe beyond StudyContext's own guarantees: one study's step
// runs on one thread.
#ifndef FEDRAD_COORDINATOR_INTERNAL_MODELS_INTERNAL_H_
#define FEDRAD_COORDINATOR_INTERNAL_MODELS_INTERNAL_H_

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <Eigen/Dense>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "coordinator/study_context.h"
#include "models/data.h"
#include "models/fit_spec.h"
#include "proto/fedrad.pb.h"
#include "proto/results.pb.h"
#include "proto/rounds.pb.h"
#include "proto/study.pb.h"
#include "rounds/validation_pool.h"

namespace fedrad::coordinator::internal {

namespace m = ::fedrad::models;

// ---- Payloads and rounds (analysis_models.cc) --------------------------------
std::vector<double> ToStd(const Eigen::VectorXd& v);
bool IsCox(const v1::Model& model);
// FailedPrecondition naming the `wanted` sites that did not answer `what`.
absl::Status RequireSites(const std::vector<std::string>& wanted,
                          const std::map<std::string, v1::TaskResult>& got,
                          const std::string& what);
// Parameters of a round: `active` sites get `params`, every other site
// role=idle (it answers only its n).
std::map<std::string, v1::Payload> RoundParams(StudyContext& ctx, const v1::Payload& params,
                                               const std::vector<std::string>& active);

// Site `site`'s contribution to round `round_id` from its answer `r`: its
// signed message, verified against the study CA (ctx.round_verifier()): the
// study, the approved spec, the signer and the round. Without round trust
// (an in-process test host, no certificates) the message is read unverified,
// or built from the payload (`summed`: the arrays summed over sites).
absl::StatusOr<v1::RoundMessage> RoundMessageOf(StudyContext& ctx, const std::string& site,
                                                const v1::TaskResult& r,
                                                const std::string& round_id,
                                                const std::vector<std::string>& summed);
// The transcript `fit` forwards to each of `sites` (Task.transcript).
std::map<std::string, v1::Transcript> FitTranscripts(const struct Fitted& fit,
                                                     const std::vector<std::string>& sites);
// Checks the signed contributions of `sites` to `round_id` in `results`
// (RoundMessageOf, nothing summed) and appends them to *transcript (may be
// null).
absl::Status CollectSigned(StudyContext& ctx, const std::map<std::string, v1::TaskResult>& results,
                           const std::vector<std::string>& sites, const std::string& round_id,
                           v1::Transcript* transcript);

// The transcript of one federated fit as it grows: the development sites'
// signed models.prepare, then every evaluation's signed contributions.
struct FitRounds {
  std::string fit_id;
  std::vector<std::string> sites;  // the fit's development sites, sorted
  v1::Transcript transcript;
  int64_t evaluations = 0;
  // How many of the transcript's messages each site already received in a
  // task it answered: it keeps them (site_node/verify_rounds.h,
  // TranscriptStore), so later tasks carry only what is new to it and the
  // transcript crosses the wire once, not once per round.
  std::map<std::string, int> delivered;
  // Secure aggregation sessions whose adverts are in `transcript` already.
  std::set<std::string> secagg_sessions;
};

// One federated evaluation of the log-likelihood pieces for models::FitSpec
// (coordinator/round_messages.cc): a models.derivatives round on the
// evaluation's sites (every other site idle), each given what is new to it
// of the fit's transcript (it recomputes the step and refuses any other),
// summed from their verified contributions with rounds::SumRound, the sum
// every site and the auditor compute too. `round_seconds` (optional)
// accumulates the time spent waiting for rounds; `after_round` (optional)
// is called after each round (progress).
m::SpecEvaluator MakeEvaluator(StudyContext& ctx, const v1::Model& model, FitRounds* fit,
                               double* round_seconds = nullptr,
                               std::function<void()> after_round = nullptr);

// ---- The models step's records ------------------------------------------------

// What models.prepare told us about one model.
struct PreparedModel {
  const v1::Model* spec = nullptr;
  std::vector<std::string> covariates;
  std::map<std::string, m::CrossProducts> cross;
  std::map<std::string, int64_t> n, events, n_excluded;
  std::map<std::string, std::map<std::string, int64_t>> reasons;
  // Each site's signed models.prepare (what every fit replay starts from).
  std::map<std::string, v1::SignedMessage> signed_prepare;
};

struct Fitted {
  std::vector<std::string> covariates;  // used in the fit (after selection)
  std::vector<std::string> names;       // coefficient names
  Eigen::VectorXd beta;                 // original covariate scale
  Eigen::VectorXd se;
  double loglik = 0, loglik_null = 0;
  int iterations = 0;
  int halvings = 0;
  int64_t n = 0, events = 0;
  std::vector<std::string> sites;
  int64_t rounds = 0;
  double seconds = 0;
  double coordinator_seconds = 0;  // Newton fit time not spent waiting for rounds
  // results.json's selection, penalty and standardization (the rest of
  // models.<name> is filled from the fields above).
  v1::Results::ModelFit details;
  // Verifiable rounds: the fit's id ("dev", "loso-<site>"), whether its one
  // development site fitted it (models.fit), and the signed messages it
  // rests on (the sites' models.prepare and every evaluation, or the site's
  // signed models.fit), forwarded with every task that uses the model.
  std::string fit_id = "dev";
  bool at_site = false;
  v1::Transcript transcript;
};

// One validation site's answer (rounds/validation_pool.h, which the auditor's
// replay shares).
using SiteValidation = rounds::SiteValidation;

// ---- Validation (analysis_validation.cc) --------------------------------------

// The frozen model `fit` validated on `val_sites`: Cox: pooled baseline
// hazard from models.baseline on `dev_sites` (into *baseline_out) and the
// risk-group cut-points from models.lp_summary (into *risk_groups_out); then
// models.validate on `val_sites`. Returns each validation site's metrics.
absl::StatusOr<std::map<std::string, SiteValidation>> ValidateModel(
    StudyContext& ctx, const PreparedModel& prep, const Fitted& fit,
    const std::vector<std::string>& dev_sites, const std::vector<std::string>& val_sites,
    v1::Results::Baseline* baseline_out, v1::Results::RiskGroups* risk_groups_out = nullptr);

}  // namespace fedrad::coordinator::internal

#endif  // FEDRAD_COORDINATOR_INTERNAL_MODELS_INTERNAL_H_
