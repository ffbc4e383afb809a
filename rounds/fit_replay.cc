#include "rounds/fit_replay.h"

#include <algorithm>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "core/status.h"
#include "proto/payload.h"
#include "proto/task_kinds.h"
#include "site_node/model_spec.h"

namespace fedrad::rounds {
namespace {

namespace m = ::fedrad::models;
namespace md = ::fedrad::kinds::models_derivatives;
namespace mp = ::fedrad::kinds::models_prepare;
namespace mf = ::fedrad::kinds::models_fit;
namespace mt = ::fedrad::kinds::model_task;

std::vector<double> ToStd(const Eigen::VectorXd& v) { return {v.data(), v.data() + v.size()}; }

absl::StatusOr<std::vector<double>> Sized(const Sums& sums, const std::string& name, size_t n) {
  auto it = sums.find(name);
  if (it == sums.end() || it->second.size() != n) {
    return absl::InvalidArgumentError(absl::StrCat("the round's sum has no '", name, "' of ", n,
                                                   " values"));
  }
  return it->second;
}

// The first (and only) stop of a replay: the sentinel an evaluator returns
// at the end of the transcript (FitSpec passes it on; `stopped` is what counts).
absl::Status EndOfTranscript() { return absl::CancelledError("end of the transcript"); }

}  // namespace

absl::StatusOr<m::Derivatives> DerivativesFromSums(const Sums& sums, int p) {
  m::Derivatives d = m::Derivatives::Zero(p);
  FEDRAD_ASSIGN_OR_RETURN(std::vector<double> loglik, Sized(sums, md::kLoglik.name, 1));
  FEDRAD_ASSIGN_OR_RETURN(std::vector<double> n, Sized(sums, md::kN.name, 1));
  FEDRAD_ASSIGN_OR_RETURN(std::vector<double> events, Sized(sums, md::kEvents.name, 1));
  FEDRAD_ASSIGN_OR_RETURN(std::vector<double> g, Sized(sums, md::kGradient.name, static_cast<size_t>(p)));
  FEDRAD_ASSIGN_OR_RETURN(std::vector<double> info,
                          Sized(sums, md::kInformation.name, static_cast<size_t>(p) * p));
  d.loglik = loglik[0];
  // Counts past 2^53 (or NaN) are no counts: a double past int64_t was
  // converted here (undefined behaviour; found by tests/fuzz).
  d.n = CountFromDouble(n[0]);
  d.events = CountFromDouble(events[0]);
  if (d.n < 0 || d.events < 0) {
    return absl::DataLossError("a derivatives round's n or events is not a count");
  }
  for (int i = 0; i < p; ++i) {
    d.gradient[i] = g[static_cast<size_t>(i)];
    for (int j = 0; j < p; ++j) d.information(i, j) = info[static_cast<size_t>(i) * p + j];
  }
  return d;
}

absl::StatusOr<PreparedFit> PreparedFromTranscript(const std::string& model,
                                                   const std::vector<std::string>& sites,
                                                   const VerifiedTranscript& transcript) {
  const std::string round = PrepareRound(model);
  FEDRAD_ASSIGN_OR_RETURN(std::vector<MessagePtr> msgs, transcript.RoundFrom(round, sites));
  PreparedFit out;
  for (const MessagePtr& mp : msgs) {
    const v1::RoundMessage& msg = *mp;
    std::vector<std::string> covs = InputList(msg, mt::kCovariates);
    if (out.candidates.empty()) out.candidates = covs;
    if (covs != out.candidates) {
      return absl::FailedPreconditionError(absl::StrCat(
          "round '", round, "': site '", msg.site(), "' prepared other covariates than site '",
          msgs.front()->site(), "'"));
    }
  }
  if (out.candidates.empty()) {
    return absl::FailedPreconditionError(absl::StrCat("round '", round, "' names no covariate"));
  }
  FEDRAD_ASSIGN_OR_RETURN(Sums sums, SumRound(msgs));
  const size_t p = out.candidates.size();
  FEDRAD_ASSIGN_OR_RETURN(std::vector<double> n, Sized(sums, mp::kN.name, 1));
  FEDRAD_ASSIGN_OR_RETURN(std::vector<double> events, Sized(sums, mp::kEvents.name, 1));
  FEDRAD_ASSIGN_OR_RETURN(std::vector<double> sx, Sized(sums, mp::kSumX.name, p));
  FEDRAD_ASSIGN_OR_RETURN(std::vector<double> sxx, Sized(sums, mp::kSumXX.name, p * p));
  if (!std::isfinite(events[0])) {
    return absl::FailedPreconditionError(absl::StrCat(
        "round '", round, "': a site withheld its event count (fewer than k events or non-events), "
        "so it cannot be a development site"));
  }
  out.pooled = m::CrossProducts::Zero(static_cast<int>(p));
  out.pooled.n = CountFromDouble(n[0]);
  out.events = CountFromDouble(events[0]);
  if (out.pooled.n < 0 || out.events < 0) {
    return absl::DataLossError(absl::StrCat("round '", round, "': n or events is not a count"));
  }
  for (size_t i = 0; i < p; ++i) {
    out.pooled.sum[static_cast<Eigen::Index>(i)] = sx[i];
    for (size_t j = 0; j < p; ++j) {
      out.pooled.sum_outer(static_cast<Eigen::Index>(i), static_cast<Eigen::Index>(j)) = sxx[i * p + j];
    }
  }
  return out;
}

namespace {

// The inputs a site signed must be those the replay asks for.
absl::Status CheckInputs(const v1::RoundMessage& msg, const std::vector<std::string>& covs,
                         const m::Scaling* scaling, const Eigen::VectorXd& beta) {
  const std::string who = absl::StrCat("round '", msg.round_id(), "': site '", msg.site(), "'");
  if (InputList(msg, mt::kCovariates) != covs) {
    return absl::FailedPreconditionError(absl::StrCat(who, " computed at other covariates than the "
                                                           "fit's step"));
  }
  absl::StatusOr<std::vector<double>> b = kinds::Get(msg.contribution().inputs(), mt::kBeta);
  if (!b.ok() || !Agree(*b, ToStd(beta))) {
    return absl::FailedPreconditionError(absl::StrCat(who, " computed at another beta than the "
                                                           "fit's step"));
  }
  absl::StatusOr<std::vector<double>> center = kinds::Get(msg.contribution().inputs(), mt::kCenter);
  absl::StatusOr<std::vector<double>> scale = kinds::Get(msg.contribution().inputs(), mt::kScale);
  const bool ok = scaling == nullptr
                      ? !center.ok() && !scale.ok()
                      : center.ok() && scale.ok() && Agree(*center, ToStd(scaling->center)) &&
                            Agree(*scale, ToStd(scaling->scale));
  if (!ok) {
    return absl::FailedPreconditionError(absl::StrCat(who, " computed at another scaling than the "
                                                           "fit's step"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<FitReplay> ReplayFit(const v1::Model& model, const std::string& fit_id,
                                    const std::vector<std::string>& sites,
                                    const VerifiedTranscript& transcript) {
  FEDRAD_ASSIGN_OR_RETURN(PreparedFit prep, PreparedFromTranscript(model.name(), sites, transcript));
  FitReplay out;
  out.candidates = prep.candidates;
  bool stopped = false;
  absl::Status inconsistent;
  int64_t k = 0;
  m::FitSpecInput in;
  in.candidates = prep.candidates;
  in.sites = sites;
  in.pooled = prep.pooled;
  in.events = prep.events;
  in.evaluate = [&](const std::vector<std::string>& covs, const m::Scaling* scaling,
                    const std::vector<std::string>& eval_sites,
                    const Eigen::VectorXd& beta) -> absl::StatusOr<m::Derivatives> {
    if (stopped || !inconsistent.ok()) return EndOfTranscript();
    const std::string round = EvalRound(model.name(), fit_id, k);
    if (!transcript.HasRound(round)) {
      stopped = true;
      out.next.index = k;
      out.next.covariates = covs;
      out.next.scaled = scaling != nullptr;
      if (scaling != nullptr) out.next.scaling = *scaling;
      out.next.sites = eval_sites;
      out.next.beta = beta;
      return EndOfTranscript();
    }
    absl::StatusOr<std::vector<MessagePtr>> msgs = transcript.RoundOf(round, eval_sites);
    absl::StatusOr<Sums> sums = absl::UnknownError("");
    if (msgs.ok()) {
      for (const MessagePtr& msg : *msgs) {
        if (absl::Status s = CheckInputs(*msg, covs, scaling, beta); !s.ok()) {
          inconsistent = s;
          return EndOfTranscript();
        }
      }
      sums = SumRound(*msgs, transcript);
    }
    if (!msgs.ok() || !sums.ok()) {
      inconsistent = msgs.ok() ? sums.status() : msgs.status();
      return EndOfTranscript();
    }
    ++k;
    absl::StatusOr<m::Derivatives> d = DerivativesFromSums(*sums, static_cast<int>(beta.size()));
    if (!d.ok()) inconsistent = Annotate(d.status(), absl::StrCat("round '", round, "'"));
    return d.ok() ? d : absl::StatusOr<m::Derivatives>(EndOfTranscript());
  };
  absl::StatusOr<m::SpecFit> fit = m::FitSpec(FitSpecOptionsOf(model), in);
  out.evaluations = k;
  if (!inconsistent.ok()) return inconsistent;
  if (stopped) return out;
  if (!fit.ok()) return fit.status();
  out.complete = true;
  out.fit = *std::move(fit);
  return out;
}

absl::StatusOr<FrozenModel> FrozenFromTranscript(const v1::Model& model, const std::string& fit_id,
                                                 const std::vector<std::string>& sites,
                                                 bool at_site,
                                                 const VerifiedTranscript& transcript) {
  FrozenModel out;
  if (at_site) {
    if (sites.size() != 1) return absl::InvalidArgumentError("a site's own fit has one site");
    FEDRAD_ASSIGN_OR_RETURN(std::vector<MessagePtr> msgs,
                            transcript.RoundOf(SiteFitRound(model.name()), sites));
    FEDRAD_ASSIGN_OR_RETURN(std::vector<double> beta, InputArray(*msgs[0], mf::kBeta.name));
    out.covariates = InputList(*msgs[0], mf::kCovariates);
    out.beta = Eigen::Map<Eigen::VectorXd>(beta.data(), static_cast<Eigen::Index>(beta.size()));
    out.source = absl::StrCat("the signed models.fit of ", sites[0]);
    return out;
  }
  FEDRAD_ASSIGN_OR_RETURN(FitReplay r, ReplayFit(model, fit_id, sites, transcript));
  if (!r.complete) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the transcript of fit '", fit_id, "' of model '", model.name(), "' stops after ",
        r.evaluations, " evaluations: the fit is not finished"));
  }
  out.covariates = r.fit.covariates;
  out.beta = r.fit.beta;
  out.source = absl::StrCat("the transcript of fit '", fit_id, "' (", r.evaluations, " evaluations)");
  return out;
}

}  // namespace fedrad::rounds
