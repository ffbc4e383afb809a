// The sum of one secure round from its signed messages (issue 12,
// docs/secure-aggregation.md): a pure function for everyone who must
// recompute it — the coordinator, a site checking a transcript, and the
// auditor's `fedrad audit replay`.
//
//   std::vector<v1::RoundMessage> msgs;  // verified (rounds::Verify)
//   FEDRAD_ASSIGN_OR_RETURN(rounds::SecureSumResult r,
//                           rounds::SecureSum(msgs, "e0/r12/models.derivatives"));
//   FEDRAD_ASSIGN_OR_RETURN(std::vector<double> g, GetVector(r.sum, "gradient"));
//
// `messages` may hold anything of the study; SecureSum uses:
//   - the masked Contributions whose round_id is `round_id` (the survivors);
//   - the SecAggAdverts of their session (round_id = the session id), for the
//     session's participants (Shamir x = index + 1) and threshold t;
//   - the SecAggReveals whose round_id is `round_id`: each survivor's
//     per-round self seed and its pairwise seeds with the round's dropped
//     participants, and, for survivors that did not reveal, at least t shares
//     of their master self-mask seed.
// Signatures are not checked here: pass messages that rounds::Verify
// accepted. Errors name the site and message that do not add up:
// InvalidArgument (inconsistent or malformed messages), FailedPrecondition
// (fewer than 3 survivors, fewer than t shares, or a survivor that did not
// reveal in a round where another site dropped: its pairwise masks with the
// dropped site cannot be removed). Thread safe; stateless.
#ifndef FEDRAD_PROTO_SECURE_SUM_H_
#define FEDRAD_PROTO_SECURE_SUM_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "proto/rounds.pb.h"
#include "proto/values.pb.h"

namespace fedrad::rounds {

struct SecureSumResult {
  // The summed arrays, by name, with the shapes the contributions declare.
  v1::Payload sum;
  // Round participants whose masked contribution is in the sum, and those
  // without one (sorted).
  std::vector<std::string> survivors;
  std::vector<std::string> dropped;
};

absl::StatusOr<SecureSumResult> SecureSum(absl::Span<const v1::RoundMessage> messages,
                                          const std::string& round_id);

}  // namespace fedrad::rounds

#endif  // FEDRAD_PROTO_SECURE_SUM_H_
