// The inputs of external validation that the coordinator derives from the
// development sites' answers -- the pooled baseline hazard H0 and the
// risk-group cut-points -- recomputed from the sites' signed contributions
// (issue 12): a validation site checks what it is asked to score with, and
// the auditor recomputes them, with the same functions the coordinator uses
// (models::PoolBaseline, models::TertileCuts).
//
//   FEDRAD_ASSIGN_OR_RETURN(models::PooledBaseline h0,
//       rounds::BaselineFromTranscript("cox", "dev", {"A", "B"}, t, tau, transcript));
//
// Thread safety: reentrant.
#ifndef FEDRAD_ROUNDS_VALIDATION_INPUTS_H_
#define FEDRAD_ROUNDS_VALIDATION_INPUTS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "models/pooled_baseline.h"
#include "rounds/transcript.h"

namespace fedrad::rounds {

// H0 from the signed models.baseline of `sites` (round BaselineRound(model,
// fit)). NotFound / FailedPrecondition when a site's contribution is
// missing; DataLoss when one is malformed.
absl::StatusOr<models::PooledBaseline> BaselineFromTranscript(const std::string& model,
                                                              const std::string& fit,
                                                              const std::vector<std::string>& sites,
                                                              double t, double tau,
                                                              const VerifiedTranscript& transcript);

// The two cut-points from the signed models.lp_summary of `sites`.
absl::StatusOr<std::vector<double>> CutsFromTranscript(const std::string& model,
                                                       const std::string& fit,
                                                       const std::vector<std::string>& sites,
                                                       const VerifiedTranscript& transcript);

}  // namespace fedrad::rounds

#endif  // FEDRAD_ROUNDS_VALIDATION_INPUTS_H_
