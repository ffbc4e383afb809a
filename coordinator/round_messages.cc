// The coordinator's half of verifiable rounds (issue 12): reading a site's
// signed contribution, the transcripts it forwards, and the evaluator of a
// federated fit whose every step the sites recompute. Shared by the models
// and validation steps (coordinator/internal/models_internal.h) and ComBat.
#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "coordinator/internal/models_internal.h"
#include "coordinator/secure_round.h"
#include "coordinator/study_context.h"
#include "core/status.h"
#include "proto/payload.h"
#include "proto/spec_hash.h"
#include "rounds/fit_replay.h"
#include "rounds/kind_eigen.h"
#include "rounds/transcript.h"

namespace fedrad::coordinator::internal {

absl::StatusOr<v1::RoundMessage> RoundMessageOf(StudyContext& ctx, const std::string& site,
                                                const v1::TaskResult& r,
                                                const std::string& round_id,
                                                const std::vector<std::string>& summed) {
  if (ctx.round_verifier() != nullptr) {
    if (!r.has_signed_()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "site ", site, " sent no signed contribution to round '", round_id,
          "' (verifiable rounds need fedrad-site of the same version)"));
    }
    rounds::Expectation expect;
    expect.study_id = ctx.study_id();
    expect.spec_sha256 = StudySpecHash(ctx.study());
    expect.signers = {site};
    expect.round_id = round_id;
    absl::StatusOr<v1::RoundMessage> m = ctx.round_verifier()->Verify(r.signed_(), expect);
    if (!m.ok()) return Annotate(m.status(), absl::StrCat("site ", site));
    return m;
  }
  v1::RoundMessage m;
  if (r.has_signed_() && m.ParseFromString(r.signed_().body())) return m;
  m.set_study_id(ctx.study_id());
  m.set_site(site);
  m.set_round_id(round_id);
  m.set_kind(r.kind());
  FEDRAD_ASSIGN_OR_RETURN(*m.mutable_contribution(),
                          rounds::MakeContribution(r.payload(), summed, {}));
  return m;
}

std::map<std::string, v1::Transcript> FitTranscripts(const Fitted& fit,
                                                     const std::vector<std::string>& sites) {
  std::map<std::string, v1::Transcript> out;
  for (const auto& s : sites) out[s] = fit.transcript;
  return out;
}

absl::Status CollectSigned(StudyContext& ctx, const std::map<std::string, v1::TaskResult>& results,
                           const std::vector<std::string>& sites, const std::string& round_id,
                           v1::Transcript* transcript) {
  for (const std::string& site : sites) {
    const v1::TaskResult& r = results.at(site);
    FEDRAD_RETURN_IF_ERROR(RoundMessageOf(ctx, site, r, round_id, {}).status());
    if (transcript != nullptr && r.has_signed_()) *transcript->add_messages() = r.signed_();
  }
  return absl::OkStatus();
}

namespace {

// A secure round's derivatives: loglik, gradient and information from the
// secure sum, n and events added from each site's clear values; the same
// rounds::DerivativesFromSums the plain path uses.
absl::StatusOr<m::Derivatives> SecureDerivatives(const std::vector<std::string>& sites,
                                                 const SecureRoundResult& secure, int p) {
  rounds::Sums sums;
  for (const v1::Array& a : secure.sum.arrays()) {
    sums[a.name()].assign(a.values().begin(), a.values().end());
  }
  double n = 0, events = 0;
  for (const std::string& site : sites) {
    const v1::Payload& pl = secure.by_site.at(site).payload();
    namespace md = ::fedrad::kinds::models_derivatives;
    FEDRAD_ASSIGN_OR_RETURN(double site_n, kinds::Get(pl, md::kN));
    FEDRAD_ASSIGN_OR_RETURN(double site_events, kinds::Get(pl, md::kEvents));
    n += site_n;
    events += site_events;
  }
  sums[kinds::models_derivatives::kN.name] = {n};
  sums[kinds::models_derivatives::kEvents.name] = {events};
  absl::StatusOr<m::Derivatives> d = rounds::DerivativesFromSums(sums, p);
  if (!d.ok()) {
    return absl::DataLossError(absl::StrCat("secure round '", secure.round_id, "': ",
                                            d.status().message()));
  }
  return d;
}

}  // namespace

// One federated evaluation of the log-likelihood pieces: a models.derivatives
// round on `sites` (every other site idle), each taking part site given the
// fit's transcript so far (it recomputes this step itself and refuses any
// other: issue 12), and the sum of their verified contributions
// (rounds::SumRound, the sum every site and the auditor compute too). The
// covariates and the scaling are those models::FitSpec asks for.
// `round_seconds` (optional) accumulates the wall time spent waiting for
// rounds, so that the coordinator's own share of a fit can be reported.
// `after_round` (optional) is called after each round (progress).
m::SpecEvaluator MakeEvaluator(StudyContext& ctx, const v1::Model& model, FitRounds* fit,
                               double* round_seconds, std::function<void()> after_round) {
  return [&ctx, &model, fit, round_seconds, after_round](
             const std::vector<std::string>& covariates, const m::Scaling* scaling,
             const std::vector<std::string>& sites,
             const Eigen::VectorXd& beta) -> absl::StatusOr<m::Derivatives> {
    v1::Payload params;
    namespace mt = ::fedrad::kinds::model_task;
    kinds::Put(&params, mt::kModel, model.name());
    kinds::Put(&params, mt::kCovariates, covariates);
    kinds::Put(&params, mt::kFit, fit->fit_id);
    kinds::Put(&params, mt::kFitSites, fit->sites);
    kinds::Put(&params, mt::kBeta, beta);
    if (scaling != nullptr) {
      kinds::Put(&params, mt::kCenter, scaling->center);
      kinds::Put(&params, mt::kScale, scaling->scale);
    }
    std::map<std::string, v1::Transcript> transcripts;
    const int sent = fit->transcript.messages_size();
    for (const std::string& s : sites) {
      v1::Transcript& t = transcripts[s];
      for (int i = fit->delivered[s]; i < sent; ++i) *t.add_messages() = fit->transcript.messages(i);
    }
    const auto round_start = std::chrono::steady_clock::now();
    if (SecureAggregation(ctx.study())) {
      // Secure aggregation: loglik, gradient and information arrive summed
      // over `sites` only (coordinator/secure_round.h); n, events per site.
      // The sites do not recompute a secure fit's steps yet (its sums are
      // masked under the secure round's id; docs/privacy.md rule 9).
      // Each site recomputes the step from the transcript, which then also
      // holds the session's adverts and each earlier round's reveals.
      const std::string round_id = rounds::EvalRound(model.name(), fit->fit_id, fit->evaluations);
      FEDRAD_ASSIGN_OR_RETURN(SecureRoundResult secure,
                              RunSecureRound(ctx, kinds::models_derivatives::kName,
                                             RoundParams(ctx, params, sites), sites, round_id,
                                             transcripts));
      if (round_seconds != nullptr) {
        *round_seconds +=
            std::chrono::duration<double>(std::chrono::steady_clock::now() - round_start).count();
      }
      if (after_round) after_round();
      FEDRAD_RETURN_IF_ERROR(RequireSites(sites, secure.by_site, kinds::models_derivatives::kName));
      for (const std::string& site : sites) fit->delivered[site] = sent;
      if (fit->secagg_sessions.insert(secure.session_id).second) {
        for (const auto& m : secure.session_adverts.messages()) *fit->transcript.add_messages() = m;
      }
      for (const auto& m : secure.signed_messages.messages()) *fit->transcript.add_messages() = m;
      ++fit->evaluations;
      return SecureDerivatives(sites, secure, static_cast<int>(beta.size()));
    }
    FEDRAD_ASSIGN_OR_RETURN(
        auto results,
        ctx.RunRound(kinds::models_derivatives::kName, RoundParams(ctx, params, sites),
                     transcripts));
    if (round_seconds != nullptr) {
      *round_seconds +=
          std::chrono::duration<double>(std::chrono::steady_clock::now() - round_start).count();
    }
    if (after_round) after_round();
    FEDRAD_RETURN_IF_ERROR(RequireSites(sites, results, kinds::models_derivatives::kName));
    const std::string round_id = rounds::EvalRound(model.name(), fit->fit_id, fit->evaluations);
    std::vector<v1::RoundMessage> messages;
    for (const std::string& site : sites) {
      FEDRAD_ASSIGN_OR_RETURN(
          v1::RoundMessage msg,
          RoundMessageOf(ctx, site, results.at(site), round_id,
                         kinds::RoundSummedNames(
                             *kinds::FindKind(kinds::models_derivatives::kName))));
      messages.push_back(std::move(msg));
    }
    for (const std::string& site : sites) fit->delivered[site] = sent;
    for (const std::string& site : sites) {
      if (results.at(site).has_signed_()) *fit->transcript.add_messages() = results.at(site).signed_();
    }
    ++fit->evaluations;
    FEDRAD_ASSIGN_OR_RETURN(rounds::Sums sums, rounds::SumRound(messages));
    absl::StatusOr<m::Derivatives> d =
        rounds::DerivativesFromSums(sums, static_cast<int>(beta.size()));
    if (!d.ok()) return absl::DataLossError(absl::StrCat("round '", round_id, "': ", d.status().message()));
    return d;
  };
}

}  // namespace fedrad::coordinator::internal
