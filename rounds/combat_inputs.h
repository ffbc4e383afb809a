// Federated ComBat's pooled estimates recomputed from the sites' signed
// contributions (issue 12): combat.moments gives the pooled regression
// (harmonization::PoolMoments), combat.residuals the pooled variance
// (harmonization::FinishPooled) -- the coordinator's own formulas, on the
// numbers every site signed. A site checks the intercept and beta it is sent
// with combat.residuals, and the grand mean, pooled variance and beta it is
// sent with combat.fit, against these; the auditor recomputes them.
//
//   std::vector<std::string> sites = rounds::CombatSites(transcript);
//   FEDRAD_ASSIGN_OR_RETURN(harmonization::PooledRegression reg,
//       rounds::RegressionFromTranscript(sites, covariates, reference, transcript));
//
// Thread safety: reentrant.
#ifndef FEDRAD_ROUNDS_COMBAT_INPUTS_H_
#define FEDRAD_ROUNDS_COMBAT_INPUTS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "harmonization/combat.h"
#include "rounds/transcript.h"

namespace fedrad::rounds {

// The sites that signed combat.moments (sorted): the ComBat batches.
std::vector<std::string> CombatSites(const VerifiedTranscript& transcript);

// The pooled regression from the signed combat.moments of `sites` (in that
// order: the batch levels). `features` is the number of adjusted features.
// NotFound / FailedPrecondition when a contribution is missing, DataLoss when
// one is malformed, PoolMoments' errors otherwise.
absl::StatusOr<harmonization::PooledRegression> RegressionFromTranscript(
    const std::vector<std::string>& sites, const std::vector<std::string>& covariates,
    size_t features, const std::string& reference_site, const VerifiedTranscript& transcript);

// The pooled estimates from `regression` and the signed combat.residuals of
// its sites.
absl::StatusOr<harmonization::PooledEstimates> PooledFromTranscript(
    const harmonization::PooledRegression& regression, size_t features,
    const VerifiedTranscript& transcript);

}  // namespace fedrad::rounds

#endif  // FEDRAD_ROUNDS_COMBAT_INPUTS_H_
