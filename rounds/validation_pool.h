// The external validation's per-site metrics and their pooling (issue 12):
// one validation site's models.validate answer read into results.json's
// SiteMetrics, and the pooled validation over the sites (n, events, the
// stratified Harrell C and the DerSimonian-Laird meta-analyses on the logit
// scale, docs/models.md "Validation"). One implementation serves the
// coordinator (coordinator/analysis_validation.cc reads each site's released
// payload) and the auditor (`fedrad audit replay` reads the same payload
// from the site's signed models.validate, round ValidateRound), so both get
// the same bits.
//
//   std::map<std::string, rounds::SiteValidation> by_site;
//   for (const auto& [site, payload] : answers) {
//     by_site[site] = rounds::ReadSiteValidation(payload, /*cox=*/true, /*roc_t=*/1095);
//   }
//   v1::Results::PooledValidation pooled = rounds::PoolValidation(by_site, /*cox=*/true);
//
// Thread safety: reentrant (no shared state).
#ifndef FEDRAD_ROUNDS_VALIDATION_POOL_H_
#define FEDRAD_ROUNDS_VALIDATION_POOL_H_

#include <map>
#include <string>
#include <utility>

#include "proto/results.pb.h"
#include "proto/values.pb.h"

namespace fedrad::rounds {

// One validation site's answer as results.json reports it (`metrics`: the
// metrics with their bootstrap CIs, n, events, the curve aggregates), plus
// what the pooling needs: the Harrell pair counts (Cox) and, per metric with
// a finite value in (0, 1) and a positive bootstrap SE on the logit scale,
// (logit(value), SE^2) for the meta-analysis.
struct SiteValidation {
  v1::Results::SiteMetrics metrics;
  double concordant = 0, discordant = 0, tied = 0;
  std::map<std::string, std::pair<double, double>> logit_and_var;
};

// Reads a models.validate payload (proto/task_kinds.h, models_validate: the
// "metric.*" and "curve.*" families, n, events, n_excluded,
// bootstrap_replicates). `cox` picks the survival or the binary metrics;
// `roc_t` is the horizon t of a Cox model's time-dependent ROC (NaN for a
// logistic model). Never fails: a metric the site withheld or did not send
// reads as NaN (null in results.json), a curve it did not send is absent.
SiteValidation ReadSiteValidation(const v1::Payload& payload, bool cox, double roc_t);

// The pooled validation over `sites` (by site name): summed n and events
// (events NaN when a site withheld its count), the number of sites, for Cox
// the stratified Harrell C from the summed pair counts, and the
// DerSimonian-Laird meta-analysis (models::DerSimonianLaird) of harrell_c,
// uno_c and auc_t (Cox) or auc (logistic) on the logit scale, back-
// transformed; a meta-analysis that cannot be computed is NaN with its note.
v1::Results::PooledValidation PoolValidation(const std::map<std::string, SiteValidation>& sites,
                                             bool cox);

}  // namespace fedrad::rounds

#endif  // FEDRAD_ROUNDS_VALIDATION_POOL_H_
