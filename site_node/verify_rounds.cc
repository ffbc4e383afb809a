#include "site_node/verify_rounds.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iterator>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "core/hash.h"
#include "proto/node_audit.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "core/status.h"
#include "proto/payload.h"
#include "proto/spec_hash.h"
#include "proto/task_kinds.h"
#include "site_node/site_rules.h"
#include "rounds/validation_inputs.h"
#include "rounds/combat_inputs.h"

namespace fedrad::site {
namespace {

namespace mt = ::fedrad::kinds::model_task;

std::vector<double> ToStd(const Eigen::VectorXd& v) { return {v.data(), v.data() + v.size()}; }

// Reasons from the wire are clipped: they name sites and rounds only.
std::string Clipped(absl::string_view s) {
  return s.size() <= 400 ? std::string(s) : absl::StrCat(s.substr(0, 400), "…");
}

absl::Status Refuse(const TaskContext& ctx, const std::string& why) {
  return PublicError(absl::StatusCode::kPermissionDenied,
                     absl::StrCat(ctx.task->kind(), ": ", Clipped(why), " (rule verified-step)"));
}

bool Validates(const v1::Study& study, const v1::Model& model) {
  const v1::Validation& v = study.validation();
  return v.enabled() && (v.models_size() == 0 ||
                         std::find(v.models().begin(), v.models().end(), model.name()) !=
                             v.models().end());
}

}  // namespace

std::unique_ptr<TranscriptStore> TranscriptStore::Load(const std::string& path) {
  std::unique_ptr<TranscriptStore> store(new TranscriptStore(path));
  std::ifstream in(path, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  size_t at = 0;
  // Records: 8 hex digits of length, then that many bytes of a SignedMessage.
  while (at + 8 <= bytes.size()) {
    uint32_t n = 0;
    if (!absl::SimpleHexAtoi(absl::string_view(bytes).substr(at, 8), &n) || at + 8 + n > bytes.size()) {
      break;
    }
    v1::SignedMessage m;
    if (!m.ParseFromArray(bytes.data() + at + 8, static_cast<int>(n))) break;
    at += 8 + n;
    if (store->keys_.insert(Sha256Hex(DeterministicBytes(m))).second) {
      *store->held_.add_messages() = std::move(m);
    }
  }
  return store;
}

absl::Status TranscriptStore::Commit(const v1::Transcript& incoming) {
  std::string records;
  for (const v1::SignedMessage& m : incoming.messages()) {
    const std::string bytes = DeterministicBytes(m);
    if (!keys_.insert(Sha256Hex(bytes)).second) continue;
    *held_.add_messages() = m;
    char len[9];
    std::snprintf(len, sizeof(len), "%08x", static_cast<unsigned>(bytes.size()));
    absl::StrAppend(&records, len, bytes);
  }
  if (records.empty()) return absl::OkStatus();
  std::ofstream out(path_, std::ios::binary | std::ios::app);
  out << records;
  out.flush();
  if (!out) return absl::InternalError(absl::StrCat("cannot append to ", path_));
  return absl::OkStatus();
}

bool VerifiesRounds(const TaskContext& ctx) { return ctx.round_verifier != nullptr; }

absl::Status Unverified(const TaskContext& ctx, const absl::Status& why) {
  return Refuse(ctx, std::string(why.message()));
}

std::vector<std::string> SpecDevelopSites(const v1::Study& study, const v1::Model& model) {
  const v1::Validation& v = study.validation();
  std::vector<std::string> dev(model.develop_on().begin(), model.develop_on().end());
  if (Validates(study, model) && v.scheme() == v1::Validation::DEVELOP_VALIDATE) {
    dev.assign(v.develop_on().begin(), v.develop_on().end());
  }
  std::sort(dev.begin(), dev.end());
  dev.erase(std::unique(dev.begin(), dev.end()), dev.end());
  return dev;
}

absl::StatusOr<rounds::VerifiedTranscript> TaskTranscript(const TaskContext& ctx) {
  const v1::Study& study = ctx.task->study();
  rounds::Expectation expect;
  expect.study_id = ctx.task->study_id();
  expect.spec_sha256 = StudySpecHash(study);
  expect.signers.assign(study.sites().begin(), study.sites().end());
  std::vector<const v1::Transcript*> parts;
  if (ctx.transcript != nullptr) parts.push_back(ctx.transcript);
  parts.push_back(&ctx.task->transcript());
  absl::StatusOr<rounds::VerifiedTranscript> t =
      rounds::VerifiedTranscript::Build(parts, expect, ctx.round_verifier);
  if (!t.ok()) return Refuse(ctx, absl::StrCat("the transcript does not verify: ", t.status().message()));
  if (ctx.transcript_verified != nullptr) *ctx.transcript_verified = true;
  return t;
}

absl::StatusOr<TaskFit> FitOfTask(const TaskContext& ctx, const v1::Model& model) {
  const v1::Study& study = ctx.task->study();
  TaskFit fit;
  const std::string fit_id = kinds::Get(ctx.task->params(), mt::kFit);
  fit.id = fit_id.empty() ? rounds::kDevelopmentFit : fit_id;
  fit.sites = kinds::Get(ctx.task->params(), mt::kFitSites);
  std::sort(fit.sites.begin(), fit.sites.end());
  fit.sites.erase(std::unique(fit.sites.begin(), fit.sites.end()), fit.sites.end());
  for (const std::string& s : fit.sites) {
    if (!IsPlainName(s)) return Refuse(ctx, "params.fit_sites holds a name that is not a site name");
  }
  const std::vector<std::string> named = SpecDevelopSites(study, model);
  if (fit.id == rounds::kDevelopmentFit) {
    if (!named.empty()) {
      if (fit.sites.empty()) fit.sites = named;
      if (fit.sites != named) {
        return Refuse(ctx, absl::StrCat("the approved spec develops model '", model.name(), "' on ",
                                        absl::StrJoin(named, ", "), ", not on ",
                                        absl::StrJoin(fit.sites, ", ")));
      }
      fit.at_site = named.size() == 1;
    }
  } else if (absl::StartsWith(fit.id, "loso-")) {
    const std::string held = fit.id.substr(5);
    if (!Validates(study, model) ||
        study.validation().scheme() != v1::Validation::LEAVE_ONE_SITE_OUT) {
      return Refuse(ctx, absl::StrCat("the approved spec has no leave-one-site-out fits of model '",
                                      model.name(), "'"));
    }
    if (!IsPlainName(held) ||
        std::find(fit.sites.begin(), fit.sites.end(), held) != fit.sites.end()) {
      return Refuse(ctx, "a leave-one-site-out fit must leave its site out");
    }
  } else {
    return Refuse(ctx, "params.fit names no fit the approved spec has");
  }
  if (fit.sites.empty()) return Refuse(ctx, "params.fit_sites names no development site");
  if (study.sites_size() > 0) {
    for (const std::string& s : fit.sites) {
      if (std::find(study.sites().begin(), study.sites().end(), s) == study.sites().end()) {
        return Refuse(ctx, absl::StrCat("site '", s, "' is not a site of the approved spec"));
      }
    }
  }
  return fit;
}

absl::StatusOr<rounds::EvaluationRequest> VerifiedEvaluation(const TaskContext& ctx,
                                                             const v1::Model& model,
                                                             const TaskFit& fit,
                                                             const std::vector<std::string>& covs,
                                                             const Eigen::VectorXd& beta) {
  if (std::find(fit.sites.begin(), fit.sites.end(), ctx.site_id) == fit.sites.end()) {
    return Refuse(ctx, "this site is not a development site of the fit");
  }
  FEDRAD_ASSIGN_OR_RETURN(rounds::VerifiedTranscript t, TaskTranscript(ctx));
  absl::StatusOr<rounds::FitReplay> r = rounds::ReplayFit(model, fit.id, fit.sites, t);
  if (!r.ok()) {
    return Refuse(ctx, absl::StrCat("the fit cannot be recomputed from the transcript: ",
                                    r.status().message()));
  }
  if (r->complete) {
    return Refuse(ctx, absl::StrCat("the transcript already finishes fit '", fit.id, "' after ",
                                    r->evaluations, " evaluations; there is no further step"));
  }
  const rounds::EvaluationRequest& next = r->next;
  const std::string step = absl::StrCat("evaluation ", next.index, " of fit '", fit.id, "'");
  if (next.covariates != covs) {
    return Refuse(ctx, absl::StrCat(step, " is over other covariates than the task's"));
  }
  if (std::find(next.sites.begin(), next.sites.end(), ctx.site_id) == next.sites.end()) {
    return Refuse(ctx, absl::StrCat(step, " does not include this site"));
  }
  if (!rounds::Agree(ToStd(next.beta), ToStd(beta))) {
    return Refuse(ctx, absl::StrCat("the task's beta is not the verified step (", step, ")"));
  }
  absl::StatusOr<std::vector<double>> center = kinds::Get(ctx.task->params(), mt::kCenter);
  absl::StatusOr<std::vector<double>> scale = kinds::Get(ctx.task->params(), mt::kScale);
  const bool scaling_ok =
      next.scaled ? center.ok() && scale.ok() && rounds::Agree(*center, ToStd(next.scaling.center)) &&
                        rounds::Agree(*scale, ToStd(next.scaling.scale))
                  : !center.ok() && !scale.ok();
  if (!scaling_ok) {
    return Refuse(ctx, absl::StrCat("the task's center/scale are not the verified step (", step, ")"));
  }
  return next;
}

absl::StatusOr<rounds::FrozenModel> VerifiedFrozenModel(const TaskContext& ctx,
                                                        const v1::Model& model, const TaskFit& fit,
                                                        const std::vector<std::string>& covs,
                                                        const Eigen::VectorXd& beta) {
  FEDRAD_ASSIGN_OR_RETURN(rounds::VerifiedTranscript t, TaskTranscript(ctx));
  absl::StatusOr<rounds::FrozenModel> frozen =
      rounds::FrozenFromTranscript(model, fit.id, fit.sites, fit.at_site, t);
  if (!frozen.ok()) {
    return Refuse(ctx, absl::StrCat("the frozen model cannot be recomputed from the transcript: ",
                                    frozen.status().message()));
  }
  if (frozen->covariates != covs || !rounds::Agree(ToStd(frozen->beta), ToStd(beta))) {
    return Refuse(ctx, absl::StrCat("the task's coefficients are not the model ",
                                    frozen->source, " produces"));
  }
  return frozen;
}

absl::Status VerifiedValidationInputs(const TaskContext& ctx, const v1::Model& model,
                                      const TaskFit& fit, double t, double tau,
                                      const std::vector<double>& grid,
                                      const std::vector<double>& cumhaz,
                                      const std::vector<double>* cuts) {
  FEDRAD_ASSIGN_OR_RETURN(rounds::VerifiedTranscript tr, TaskTranscript(ctx));
  absl::StatusOr<models::PooledBaseline> h0 =
      rounds::BaselineFromTranscript(model.name(), fit.id, fit.sites, t, tau, tr);
  if (!h0.ok()) {
    return Refuse(ctx, absl::StrCat("the baseline hazard cannot be recomputed from the transcript: ",
                                    h0.status().message()));
  }
  if (!rounds::Agree(h0->grid, grid) || !rounds::Agree(h0->cumhaz, cumhaz)) {
    return Refuse(ctx, "the task's baseline hazard is not the one the development sites' signed "
                       "models.baseline produce");
  }
  if (cuts == nullptr) return absl::OkStatus();
  absl::StatusOr<std::vector<double>> found =
      rounds::CutsFromTranscript(model.name(), fit.id, fit.sites, tr);
  if (!found.ok()) {
    return Refuse(ctx, absl::StrCat("the risk-group cut-points cannot be recomputed from the "
                                    "transcript: ", found.status().message()));
  }
  if (!rounds::Agree(*found, *cuts)) {
    return Refuse(ctx, "the task's risk-group cut-points are not those the development sites' "
                       "signed models.lp_summary produce");
  }
  return absl::OkStatus();
}

absl::StatusOr<VerifiedCombat> VerifiedCombatInputs(const TaskContext& ctx,
                                                    const std::vector<std::string>& features,
                                                    const std::vector<std::string>& covariates,
                                                    bool with_residuals) {
  FEDRAD_ASSIGN_OR_RETURN(rounds::VerifiedTranscript t, TaskTranscript(ctx));
  VerifiedCombat out;
  out.sites = rounds::CombatSites(t);
  const auto me = std::find(out.sites.begin(), out.sites.end(), ctx.site_id);
  if (me == out.sites.end()) {
    return Refuse(ctx, "the transcript has no signed combat.moments of this site");
  }
  out.index = static_cast<int>(me - out.sites.begin());
  for (const rounds::MessagePtr& m : t.Round(rounds::CombatMomentsRound())) {
    if (rounds::InputList(*m, kinds::combat::kFeatures) != features) {
      return Refuse(ctx, absl::StrCat("site '", m->site(), "' signed combat.moments of other "
                                      "features than the task's"));
    }
  }
  const std::string reference = ctx.task->study().harmonization().reference_site();
  absl::StatusOr<harmonization::PooledRegression> reg =
      rounds::RegressionFromTranscript(out.sites, covariates, features.size(), reference, t);
  if (!reg.ok()) {
    return Refuse(ctx, absl::StrCat("the pooled regression cannot be recomputed from the "
                                    "transcript: ", reg.status().message()));
  }
  out.regression = *std::move(reg);
  if (!with_residuals) return out;
  absl::StatusOr<harmonization::PooledEstimates> pooled =
      rounds::PooledFromTranscript(out.regression, features.size(), t);
  if (!pooled.ok()) {
    return Refuse(ctx, absl::StrCat("the pooled estimates cannot be recomputed from the "
                                    "transcript: ", pooled.status().message()));
  }
  out.pooled = *std::move(pooled);
  return out;
}

}  // namespace fedrad::site
