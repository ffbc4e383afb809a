#include "rounds/replay.h"

#include <cmath>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "core/audit_log.h"
#include "core/status.h"
#include "proto/results_json.h"
#include "proto/spec_hash.h"
#include "proto/study.pb.h"
#include "proto/textproto.h"
#include "rounds/fit_replay.h"
#include "rounds/validation_inputs.h"
#include "rounds/cohort_inputs.h"
#include "rounds/combat_inputs.h"
#include "models/cox.h"
#include "models/metrics.h"
#include "rounds/transcript.h"
#include "rounds/validation_pool.h"

namespace fedrad::rounds {
namespace {

using nlohmann::json;

constexpr double kTolerance = 1e-9;

bool Close(double a, double b) {
  if (std::isnan(a) && std::isnan(b)) return true;
  return std::fabs(a - b) <= kTolerance * std::max({1.0, std::fabs(a), std::fabs(b)});
}

// The record's time as seconds since the epoch (0 when unreadable: "now").
int64_t RecordUnix(const std::string& time) {
  absl::Time t;
  std::string err;
  if (!absl::ParseTime(absl::RFC3339_full, time, &t, &err)) return 0;
  return absl::ToUnixSeconds(t);
}

// The fits the transcript holds rounds of, by model: fit id -> its sites
// (from the signed inputs of its first evaluation).
std::map<std::string, std::vector<std::string>> FitsOf(const std::string& model,
                                                        const std::vector<MessagePtr>& all) {
  std::map<std::string, std::vector<std::string>> fits;
  const std::string prefix = absl::StrCat("models/", model, "/fit/");
  for (const MessagePtr& mp : all) {
    const v1::RoundMessage& m = *mp;
    if (!absl::StartsWith(m.round_id(), prefix) || !absl::EndsWith(m.round_id(), "/eval/0")) continue;
    const std::string fit = InputString(m, kinds::model_task::kFit.name);
    if (fit.empty() || fits.count(fit)) continue;
    fits[fit] = InputList(m, kinds::model_task::kFitSites);
  }
  return fits;
}

// Compares a recomputed fit with its results.json entry `j`.
void CompareFit(const std::string& where, const std::vector<std::string>& names,
                const Eigen::VectorXd& beta, const models::SpecFit* fit, const json& j,
                ReplayReport* report) {
  auto mismatch = [&](const std::string& what, double got, const json& want) {
    report->problems.push_back(absl::StrCat(where, ": ", what, " recomputed ", got,
                                            ", results.json says ", want.dump()));
  };
  for (size_t k = 0; k < names.size(); ++k) {
    const json* c = j.contains("coefficients") && j["coefficients"].contains(names[k])
                        ? &j["coefficients"][names[k]]
                        : nullptr;
    ++report->compared;
    if (c == nullptr || !c->is_number()) {
      mismatch(absl::StrCat("coefficient ", names[k]), beta[static_cast<Eigen::Index>(k)],
               c == nullptr ? json(nullptr) : *c);
    } else if (!Close(beta[static_cast<Eigen::Index>(k)], c->get<double>())) {
      mismatch(absl::StrCat("coefficient ", names[k]), beta[static_cast<Eigen::Index>(k)], *c);
    }
  }
  if (j.contains("coefficients") && j["coefficients"].size() != names.size()) {
    report->problems.push_back(absl::StrCat(where, ": results.json has ", j["coefficients"].size(),
                                            " coefficients, the recomputed fit ", names.size()));
  }
  if (fit == nullptr) return;
  const std::pair<const char*, double> scalars[] = {
      {"loglik", fit->loglik}, {"iterations", static_cast<double>(fit->iterations)},
      {"n", static_cast<double>(fit->n)}, {"events", static_cast<double>(fit->events)}};
  for (const auto& [key, got] : scalars) {
    if (!j.contains(key)) continue;
    ++report->compared;
    if (!j[key].is_number() || !Close(got, j[key].get<double>())) mismatch(key, got, j[key]);
  }
}

std::vector<std::string> SignersOf(const std::vector<MessagePtr>& msgs) {
  std::vector<std::string> out;
  for (const auto& m : msgs) out.push_back(m->site());
  return out;
}

// The pooled validation inputs of fit `fit` (H0 at t and tau, the
// risk-group cut-points) from the signed models.baseline / lp_summary,
// compared with the results.json object `vj` that reports them (its
// "baseline" and "risk_groups").
void CompareValidationInputs(const v1::Study& spec, const v1::Model& model, const std::string& fit,
                             const VerifiedTranscript& transcript, const json* vj,
                             ReplayReport* report) {
  const double t = spec.validation().t() > 0 ? spec.validation().t() : models::kDefaultHorizonDays;
  const double tau =
      spec.validation().tau() > 0 ? spec.validation().tau() : models::kDefaultTruncationDays;
  const std::string where = absl::StrCat("model '", model.name(), "' fit '", fit, "'");
  auto compare = [&](const std::string& what, double got, const json* want) {
    ++report->compared;
    if (want == nullptr || !want->is_number() || !Close(got, want->get<double>())) {
      report->problems.push_back(absl::StrCat(where, ": ", what, " recomputed ", got,
                                              ", results.json says ",
                                              want == nullptr ? "nothing" : want->dump()));
    }
  };
  auto at = [&](const char* a, const char* b) -> const json* {
    if (vj == nullptr || !vj->contains(a) || !(*vj)[a].contains(b)) return nullptr;
    return &(*vj)[a][b];
  };
  std::vector<MessagePtr> base = transcript.Round(BaselineRound(model.name(), fit));
  if (!base.empty()) {
    absl::StatusOr<models::PooledBaseline> h0 =
        BaselineFromTranscript(model.name(), fit, SignersOf(base), t, tau, transcript);
    if (!h0.ok()) {
      report->problems.push_back(absl::StrCat(where, ": the baseline hazard cannot be recomputed: ",
                                              h0.status().message()));
    } else {
      report->notes.push_back(absl::StrCat(where, ": baseline hazard recomputed from ",
                                           base.size(), " signed models.baseline"));
      if (vj != nullptr) {
        compare("H0(t)", models::CumulativeHazardAt(h0->grid, h0->cumhaz, t), at("baseline", "cumhaz_t"));
        compare("H0(tau)", models::CumulativeHazardAt(h0->grid, h0->cumhaz, tau),
                at("baseline", "cumhaz_tau"));
      }
    }
  }
  std::vector<MessagePtr> lp = transcript.Round(LpSummaryRound(model.name(), fit));
  if (!lp.empty()) {
    absl::StatusOr<std::vector<double>> cuts =
        CutsFromTranscript(model.name(), fit, SignersOf(lp), transcript);
    if (!cuts.ok()) {
      report->problems.push_back(absl::StrCat(where, ": the risk-group cut-points cannot be "
                                              "recomputed: ", cuts.status().message()));
    } else if (vj != nullptr) {
      const json* want = at("risk_groups", "cuts");
      for (size_t i = 0; i < cuts->size(); ++i) {
        compare(absl::StrCat("risk-group cut ", i), (*cuts)[i],
                want != nullptr && want->is_array() && want->size() == cuts->size() ? &(*want)[i]
                                                                                   : nullptr);
      }
    }
  }
}

// ComBat's pooled estimates from the signed combat.moments / residuals,
// compared with results.json harmonization.pooled.
void CompareCombat(const v1::Study& spec, const VerifiedTranscript& transcript, const json& results,
                   ReplayReport* report) {
  const std::vector<std::string> sites = CombatSites(transcript);
  if (sites.empty()) return;
  const std::vector<MessagePtr> moments = transcript.Round(CombatMomentsRound());
  const std::vector<std::string> features = InputList(*moments.front(), kinds::combat::kFeatures);
  const std::vector<std::string> covariates(spec.harmonization().covariates().begin(),
                                            spec.harmonization().covariates().end());
  absl::StatusOr<harmonization::PooledRegression> reg = RegressionFromTranscript(
      sites, covariates, features.size(), spec.harmonization().reference_site(), transcript);
  absl::StatusOr<harmonization::PooledEstimates> pooled =
      reg.ok() ? PooledFromTranscript(*reg, features.size(), transcript)
               : absl::StatusOr<harmonization::PooledEstimates>(reg.status());
  if (!pooled.ok()) {
    report->problems.push_back(absl::StrCat("ComBat: the pooled estimates cannot be recomputed: ",
                                            pooled.status().message()));
    return;
  }
  report->notes.push_back(absl::StrCat("ComBat: pooled estimates recomputed from ", sites.size(),
                                       " sites' signed moments and residuals"));
  if (!results.is_object() || !results.contains("harmonization")) return;
  const json& pj = results["harmonization"].value("pooled", json::object());
  auto compare = [&](const std::string& what, double got, const json& want) {
    ++report->compared;
    if (!want.is_number() || !Close(got, want.get<double>())) {
      report->problems.push_back(absl::StrCat("ComBat: ", what, " recomputed ", got,
                                              ", results.json says ", want.dump()));
    }
  };
  for (size_t g = 0; g < features.size(); ++g) {
    const Eigen::Index j = static_cast<Eigen::Index>(g);
    const json none;
    auto at = [&](const char* key) -> const json& {
      return pj.contains(key) && pj[key].contains(features[g]) ? pj[key][features[g]] : none;
    };
    compare(absl::StrCat("grand_mean of ", features[g]), pooled->grand_mean[j], at("grand_mean"));
    compare(absl::StrCat("var_pooled of ", features[g]), pooled->var_pooled[j], at("var_pooled"));
    for (size_t c = 0; c < covariates.size(); ++c) {
      const json& b = pj.contains("beta") && pj["beta"].contains(covariates[c]) &&
                              pj["beta"][covariates[c]].contains(features[g])
                          ? pj["beta"][covariates[c]][features[g]]
                          : none;
      compare(absl::StrCat("beta of ", covariates[c], " on ", features[g]),
              pooled->beta(static_cast<Eigen::Index>(c), j), b);
    }
  }
}

// The cohort summary's pooled statistics from the signed cohort.moments /
// cohort.counts, compared with results.json cohort.pooled.
void CompareCohort(const v1::Study& spec, const VerifiedTranscript& transcript, const json& results,
                   ReplayReport* report) {
  if (!spec.cohort_summary().enabled()) return;
  absl::StatusOr<CohortPool> pool = PoolCohortFromTranscript(transcript);
  if (!pool.ok()) {
    report->problems.push_back(absl::StrCat("cohort summary: the pooled statistics cannot be "
                                            "recomputed: ", pool.status().message()));
    return;
  }
  report->notes.push_back(absl::StrCat("cohort summary: pooled moments and quantiles of ",
                                       pool->columns.size(), " columns recomputed from ",
                                       transcript.Round(CohortMomentsRound()).size(),
                                       " sites' signed cohort.moments and cohort.counts"));
  if (!results.is_object() || !results.contains("cohort")) return;
  const json& pj = results["cohort"].value("pooled", json::object());
  auto compare = [&](const std::string& what, double got, const json& want) {
    ++report->compared;
    const bool both_missing = !std::isfinite(got) && want.is_null();
    if (!both_missing && (!want.is_number() || !Close(got, want.get<double>()))) {
      report->problems.push_back(absl::StrCat("cohort summary: ", what, " recomputed ", got,
                                              ", results.json says ", want.dump()));
    }
  };
  compare("pooled n", static_cast<double>(pool->rows), pj.value("n", json()));
  const json columns = pj.value("columns", json::object());
  for (const std::string& c : pool->columns) {
    const json col = columns.value(c, json::object());
    const models::ColumnMoments& m = pool->pooled.at(c);
    compare(absl::StrCat("n of ", c), static_cast<double>(m.n), col.value("n", json()));
    compare(absl::StrCat("mean of ", c), m.mean, col.value("mean", json()));
    compare(absl::StrCat("sd of ", c), models::StandardDeviation(m), col.value("sd", json()));
    if (m.binary) compare(absl::StrCat("count of ", c), static_cast<double>(m.count_one), col.value("count", json()));
    auto q = pool->pooled_quantiles.find(c);
    if (q == pool->pooled_quantiles.end()) continue;
    const char* const names[] = {"q1", "median", "q3"};
    for (size_t i = 0; i < q->second.size() && i < 3; ++i) {
      compare(absl::StrCat(names[i], " of ", c), q->second[i].value, col.value(names[i], json()));
    }
  }
}

// Compares `got` (recomputed, printed by PrintResults) with `want` (the
// same place of results.json) at `path`, every number to kTolerance, and
// names each difference with `where` and its results.json path.
void CompareJson(const std::string& where, const std::string& path, const json& got,
                 const json& want, ReplayReport* report) {
  auto mismatch = [&](const std::string& what) {
    report->problems.push_back(absl::StrCat(where, ": ", path, what));
  };
  if (got.is_object()) {
    if (!want.is_object()) {
      return mismatch(absl::StrCat(" recomputed an object, results.json says ", want.dump()));
    }
    for (const auto& [key, value] : got.items()) {
      const std::string at = absl::StrCat(path, ".", key);
      if (!want.contains(key)) {
        report->problems.push_back(absl::StrCat(where, ": ", at, " recomputed ", value.dump(),
                                                ", results.json has none"));
      } else {
        CompareJson(where, at, value, want[key], report);
      }
    }
    for (const auto& [key, value] : want.items()) {
      if (!got.contains(key)) {
        report->problems.push_back(absl::StrCat(where, ": ", path, ".", key, " in results.json (",
                                                value.dump(), ") is not recomputed"));
      }
    }
    return;
  }
  if (got.is_array()) {
    if (!want.is_array() || want.size() != got.size()) {
      return mismatch(absl::StrCat(" recomputed ", got.size(), " values, results.json says ",
                                   want.dump()));
    }
    for (size_t i = 0; i < got.size(); ++i) {
      CompareJson(where, absl::StrCat(path, "[", i, "]"), got[i], want[i], report);
    }
    return;
  }
  ++report->compared;
  const bool same = got.is_number() && want.is_number()
                        ? Close(got.get<double>(), want.get<double>())
                        : got == want;  // null (NaN), text, booleans
  if (!same) mismatch(absl::StrCat(" recomputed ", got.dump(), ", results.json says ", want.dump()));
}

// The validation of `model` (issue 12): each validation site's metrics read
// from its signed models.validate (rounds::ReadSiteValidation) and their
// pooled meta-analysis (rounds::PoolValidation), the coordinator's own
// functions; compared with results.json validation.<model>.sites and
// .pooled. `betas`: the recomputed coefficients of the model's fits, by fit
// id, which each site must have scored.
void CompareValidation(const v1::Study& spec, const v1::Model& model,
                       const VerifiedTranscript& transcript, const json& results,
                       const std::map<std::string, Eigen::VectorXd>& betas,
                       ReplayReport* report) {
  const v1::Validation& v = spec.validation();
  if (!v.enabled() || (v.models_size() > 0 && std::find(v.models().begin(), v.models().end(),
                                                        model.name()) == v.models().end())) {
    return;
  }
  const bool loso = v.scheme() == v1::Validation::LEAVE_ONE_SITE_OUT;
  const bool cox = model.type() == v1::Model::COX;
  const double t = v.t() > 0 ? v.t() : models::kDefaultHorizonDays;
  const std::string where = absl::StrCat("model '", model.name(), "' validation");
  auto fit_of = [&](const std::string& site) {
    return loso ? LosoFit(site) : std::string(kDevelopmentFit);
  };
  // The signed answers in the logs, by site.
  std::map<std::string, MessagePtr> signed_by_site;
  for (const MessagePtr& m : transcript.All()) {
    if (m->round_id() == ValidateRound(model.name(), fit_of(m->site()))) signed_by_site[m->site()] = m;
  }
  // The sites results.json reports (a leave-one-site-out fold that could not
  // be fitted has only its error).
  const json* vj = results.is_object() && results.contains("validation") &&
                           results["validation"].contains(model.name())
                       ? &results["validation"][model.name()]
                       : nullptr;
  std::set<std::string> sites;
  if (vj != nullptr && vj->contains("sites") && (*vj)["sites"].is_object()) {
    for (const auto& [s, sj] : (*vj)["sites"].items()) {
      if (!sj.contains("error")) sites.insert(s);
    }
  }
  for (const auto& [s, m] : signed_by_site) {
    if (vj != nullptr && !sites.count(s)) {
      report->problems.push_back(absl::StrCat(
          where, ": results.json reports no metrics of site ", s, ", whose signed models.validate is in ",
          transcript.OriginOf(m->round_id(), s)));
    }
    if (vj == nullptr) sites.insert(s);
  }
  if (sites.empty()) return;
  std::map<std::string, SiteValidation> by_site;
  for (const std::string& s : sites) {
    auto it = signed_by_site.find(s);
    const std::string round = ValidateRound(model.name(), fit_of(s));
    if (it == signed_by_site.end()) {
      report->problems.push_back(absl::StrCat(
          where, ": the signed models.validate of site ", s, " (round '", round,
          "') is missing from the logs: its metrics in results.json cannot be checked"));
      continue;
    }
    const v1::RoundMessage& m = *it->second;
    const std::string origin = transcript.OriginOf(round, s);
    // The coefficients the site scored: the fit the logs produce.
    auto beta = betas.find(fit_of(s));
    absl::StatusOr<std::vector<double>> scored = InputArray(m, kinds::model_task::kBeta.name);
    if (beta != betas.end() &&
        (!scored.ok() || !Agree(*scored, std::vector<double>(beta->second.data(),
                                                             beta->second.data() + beta->second.size()),
                                kTolerance))) {
      report->problems.push_back(absl::StrCat(where, ": site ", s, " scored coefficients that are not "
                                              "fit '", fit_of(s), "' recomputed from the logs (",
                                              origin, ")"));
    }
    by_site[s] = ReadSiteValidation(m.contribution().plain(), cox,
                                    cox ? t : std::numeric_limits<double>::quiet_NaN());
    ++report->validation_sites;
    if (vj == nullptr) continue;
    v1::Results got;
    (*(*got.mutable_validation())[model.name()].mutable_sites())[s] = by_site[s].metrics;
    absl::StatusOr<std::string> text = PrintResults(got);
    if (!text.ok()) {
      report->problems.push_back(absl::StrCat(where, ": ", text.status().message()));
      continue;
    }
    CompareJson(absl::StrCat(where, " at site ", s, " (signed models.validate in ", origin, ")"),
                absl::StrCat("validation.", model.name(), ".sites.", s),
                json::parse(*text)["validation"][model.name()]["sites"][s], (*vj)["sites"][s],
                report);
  }
  if (by_site.size() != sites.size()) {
    report->problems.push_back(absl::StrCat(where, ": the pooled validation is not recomputed (",
                                            sites.size() - by_site.size(),
                                            " site(s) without a signed models.validate)"));
    return;
  }
  ++report->validated_models;
  std::vector<std::string> names;
  for (const auto& [s, sv] : by_site) names.push_back(s);
  report->notes.push_back(absl::StrCat(where, ": the metrics of ", by_site.size(), " site(s) (",
                                       absl::StrJoin(names, ", "),
                                       ") and their pooled meta-analysis recomputed from their "
                                       "signed models.validate"));
  if (vj == nullptr) return;
  v1::Results got;
  *(*got.mutable_validation())[model.name()].mutable_pooled() = PoolValidation(by_site, cox);
  absl::StatusOr<std::string> text = PrintResults(got);
  if (!text.ok()) {
    report->problems.push_back(absl::StrCat(where, ": ", text.status().message()));
    return;
  }
  CompareJson(absl::StrCat(where, " pooled over sites ", absl::StrJoin(names, ", ")),
              absl::StrCat("validation.", model.name(), ".pooled"),
              json::parse(*text)["validation"][model.name()]["pooled"],
              vj->value("pooled", json()), report);
}

// Step 1 and 2: the logs' integrity, then their signed messages.
absl::Status ReadLogs(const ReplayOptions& o, const std::string& spec_hash,
                      VerifiedTranscript* transcript, ReplayReport* report) {
  std::set<std::string> seen;
  for (const std::string& log : o.logs) {
    audit::VerifyOptions vo;
    vo.ca_cert_path = o.ca_cert_path;
    vo.live = true;
    FEDRAD_ASSIGN_OR_RETURN(audit::VerifyReport chain, audit::VerifyLog(log, vo));
    for (const std::string& p : chain.problems) {
      report->problems.push_back(absl::StrCat(log, ": audit chain: ", p));
    }
    FEDRAD_ASSIGN_OR_RETURN(std::vector<audit::AuditRecord> records, audit::ReadRecords(log));
    int64_t found = 0;
    for (const audit::AuditRecord& r : records) {
      if (r.type != "event" || r.kind != kSignedAuditKind || r.study != o.study_id) continue;
      const std::string where = absl::StrCat(log, " record ", r.seq);
      absl::StatusOr<v1::SignedMessage> s = SignedFromAuditSummary(r.summary);
      if (!s.ok()) {
        report->problems.push_back(absl::StrCat(where, ": ", s.status().message()));
        continue;
      }
      // Who and which round it claims, for the report (before verification).
      v1::RoundMessage claimed;
      claimed.ParseFromString(s->body());
      const std::string who = absl::StrCat(where, " (site ", claimed.site(), ", round '",
                                           claimed.round_id(), "')");
      Trust trust{o.ca_cert_path, o.crl_path, RecordUnix(r.time)};
      Expectation expect;
      expect.study_id = o.study_id;
      expect.spec_sha256 = spec_hash;
      absl::StatusOr<v1::RoundMessage> m = Verify(*s, trust, expect);
      if (!m.ok()) {
        report->problems.push_back(absl::StrCat(who, ": ", m.status().message()));
        continue;
      }
      ++found;
      if (absl::Status added = transcript->Add(*m, where); !added.ok()) {
        report->problems.push_back(absl::StrCat(who, ": ", added.message()));
      }
    }
    report->notes.push_back(absl::StrCat(log, ": ", records.size(), " records, ", found,
                                         " verified signed round messages of study ", o.study_id,
                                         chain.ok ? ", chain OK" : ", chain FAILED"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ReplayReport> Replay(const ReplayOptions& o) {
  if (o.study_id.empty() || o.spec_path.empty() || o.ca_cert_path.empty() || o.logs.empty()) {
    return absl::InvalidArgumentError("replay needs the study id, its spec, the CA and the logs");
  }
  v1::Study spec;
  FEDRAD_RETURN_IF_ERROR(ReadTextProto(o.spec_path, &spec));
  const std::string spec_hash = StudySpecHash(spec);
  ReplayReport report;
  json results;
  if (!o.results_path.empty()) {
    std::ifstream in(o.results_path);
    std::stringstream text;
    text << in.rdbuf();
    results = json::parse(text.str(), nullptr, false);
    if (!in || results.is_discarded() || !results.is_object()) {
      return absl::InvalidArgumentError(absl::StrCat("cannot read results ", o.results_path));
    }
    const json prov = results.value("provenance", json::object());
    if (prov.contains("spec_approval_sha256") && prov["spec_approval_sha256"] != spec_hash) {
      report.problems.push_back(absl::StrCat(o.results_path, ": provenance.spec_approval_sha256 is ",
                                             prov["spec_approval_sha256"].dump(),
                                             ", the spec given hashes to ", spec_hash));
    }
  }
  VerifiedTranscript transcript;
  FEDRAD_RETURN_IF_ERROR(ReadLogs(o, spec_hash, &transcript, &report));
  report.messages = static_cast<int64_t>(transcript.size());
  std::vector<MessagePtr> all = transcript.All();

  for (const v1::Model& model : spec.models()) {
    const json* mj = results.is_object() && results.contains("models") &&
                             results["models"].contains(model.name())
                         ? &results["models"][model.name()]
                         : nullptr;
    std::map<std::string, Eigen::VectorXd> betas;  // recomputed, by fit id
    // A model fitted by its one development site: its signed models.fit.
    std::vector<MessagePtr> site_fit = transcript.Round(SiteFitRound(model.name()));
    if (!site_fit.empty()) {
      const v1::RoundMessage& m = *site_fit.front();
      absl::StatusOr<std::vector<double>> beta = InputArray(m, kinds::models_fit::kBeta.name);
      std::vector<std::string> names = InputList(m, kinds::models_fit::kCovariates);
      if (model.type() != v1::Model::COX) names.insert(names.begin(), "intercept");
      const std::string where = absl::StrCat("model '", model.name(), "' (fitted by site ", m.site(), ")");
      if (!beta.ok() || beta->size() != names.size()) {
        report.problems.push_back(absl::StrCat(where, ": the signed models.fit has no usable beta"));
      } else {
        ++report.fits;
        betas[kDevelopmentFit] = Eigen::Map<Eigen::VectorXd>(beta->data(), beta->size());
        if (mj != nullptr) {
          CompareFit(where, names, Eigen::Map<Eigen::VectorXd>(beta->data(), beta->size()), nullptr,
                     *mj, &report);
        }
        report.notes.push_back(absl::StrCat(where, ": read from its signed models.fit"));
      }
    }
    const json* vj = results.is_object() && results.contains("validation") &&
                             results["validation"].contains(model.name())
                         ? &results["validation"][model.name()]
                         : nullptr;
    CompareValidationInputs(spec, model, kDevelopmentFit, transcript, vj, &report);
    for (const auto& [fit_id, sites] : FitsOf(model.name(), all)) {
      if (fit_id != kDevelopmentFit && absl::StartsWith(fit_id, "loso-")) {
        const json* lj = vj != nullptr && vj->contains("loso_models") &&
                                 (*vj)["loso_models"].contains(fit_id.substr(5))
                             ? &(*vj)["loso_models"][fit_id.substr(5)]
                             : nullptr;
        CompareValidationInputs(spec, model, fit_id, transcript, lj, &report);
      }
      const std::string where = absl::StrCat("model '", model.name(), "' fit '", fit_id, "' on ",
                                             absl::StrJoin(sites, ", "));
      absl::StatusOr<FitReplay> r = ReplayFit(model, fit_id, sites, transcript);
      if (!r.ok()) {
        report.problems.push_back(absl::StrCat(where, ": cannot be recomputed: ", r.status().message()));
        continue;
      }
      if (!r->complete) {
        report.problems.push_back(absl::StrCat(where, ": the logs stop after ", r->evaluations,
                                               " evaluations; the fit is not finished"));
        continue;
      }
      ++report.fits;
      betas[fit_id] = r->fit.beta;
      report.notes.push_back(absl::StrCat(where, ": recomputed from ", r->evaluations,
                                          " signed evaluations, loglik ", r->fit.loglik));
      const json* fj = nullptr;
      if (fit_id == kDevelopmentFit) {
        fj = mj;
      } else if (absl::StartsWith(fit_id, "loso-") && results.is_object() &&
                 results.contains("validation")) {
        const json& v = results["validation"];
        const std::string held = fit_id.substr(5);
        if (v.contains(model.name()) && v[model.name()].contains("loso_models") &&
            v[model.name()]["loso_models"].contains(held)) {
          fj = &v[model.name()]["loso_models"][held];
        }
      }
      if (fj != nullptr) CompareFit(where, r->fit.names, r->fit.beta, &r->fit, *fj, &report);
    }
    CompareValidation(spec, model, transcript, results, betas, &report);
  }
  CompareCombat(spec, transcript, results, &report);
  CompareCohort(spec, transcript, results, &report);
  report.ok = report.problems.empty();
  return report;
}

}  // namespace fedrad::rounds
