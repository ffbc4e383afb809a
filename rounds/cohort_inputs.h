// The cohort summary's pooled statistics from what the sites released
// (cohort.moments, cohort.counts): one implementation for the coordinator,
// which pools the answers it receives, and for `fedrad audit replay`, which
// pools the same answers as the sites signed them (issue 12).
//
//   FEDRAD_ASSIGN_OR_RETURN(rounds::CohortSite s, rounds::ParseCohortMoments(site, payload));
//   FEDRAD_ASSIGN_OR_RETURN(rounds::CohortGrids g, rounds::ParseCohortCounts(site, p2, s.columns));
//   rounds::CohortPool pool = rounds::PoolCohort(sites, grids);
//
// Quantiles are approximate to the sites' grids (models::GridQuantiles);
// see docs/results.md, "cohort". Thread safety: reentrant.
#ifndef FEDRAD_ROUNDS_COHORT_INPUTS_H_
#define FEDRAD_ROUNDS_COHORT_INPUTS_H_

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "models/descriptive.h"
#include "proto/values.pb.h"
#include "rounds/transcript.h"

namespace fedrad::rounds {

// One site's cohort.moments answer.
struct CohortSite {
  std::vector<std::string> columns;  // in the site's order
  std::map<std::string, models::ColumnMoments> moments;
  std::set<std::string> suppressed;
  std::set<std::string> size_withheld;  // suppressed below k: n not released
  int64_t rows = 0;
  int64_t min_cell_count = 10;  // the site's k, as it reported it
  std::vector<int64_t> te_n, te_events;
  std::vector<bool> te_suppressed;
};

// One site's cohort.counts answer: grid counts by column (columns without
// released counts are absent).
struct CohortGrids {
  std::map<std::string, models::GridCounts> by_column;
};

// DataLoss naming the site when the arrays are missing or malformed.
absl::StatusOr<CohortSite> ParseCohortMoments(const std::string& site, const v1::Payload& p);
absl::StatusOr<CohortGrids> ParseCohortCounts(const std::string& site, const v1::Payload& p,
                                             const std::vector<std::string>& columns);

// The part a site contributes to a quantile of column `c`: its grid counts
// (none when it released none, e.g. a column 0/1 there) and its moments.
models::GridPart CohortPart(const CohortSite& site, const CohortGrids* grids, const std::string& c);

// The pooled summary over the sites that answered.
struct CohortPool {
  std::vector<std::string> columns;  // first site's order, then any others
  int64_t rows = 0;
  std::map<std::string, models::ColumnMoments> pooled;
  // Sites left out of a column's pooled statistics, with the reason.
  std::map<std::string, std::vector<std::string>> missing_sites;
  // Pooled quantiles of numeric columns every site could count; and each
  // site's own.
  std::map<std::string, std::vector<models::QuantileEstimate>> pooled_quantiles;
  std::map<std::string, std::map<std::string, std::vector<models::QuantileEstimate>>> site_quantiles;
};

// The probabilities of the cohort quantiles (q1, median, q3).
const std::vector<double>& CohortProbabilities();

// Pools `sites` (by name) and their `grids` (a site absent from `grids`
// stopped answering before cohort.counts: quantiles that need it are left
// out and the column marked).
CohortPool PoolCohort(const std::map<std::string, CohortSite>& sites,
                      const std::map<std::string, CohortGrids>& grids);

// PoolCohort over the signed cohort.moments / cohort.counts of a transcript.
// NotFound when no site signed cohort.moments; ParseCohort*'s errors.
absl::StatusOr<CohortPool> PoolCohortFromTranscript(const VerifiedTranscript& transcript);

}  // namespace fedrad::rounds

#endif  // FEDRAD_ROUNDS_COHORT_INPUTS_H_
