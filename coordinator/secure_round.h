// Secure rounds at the coordinator (docs/secure-aggregation.md, issue 12):
// what an analysis calls instead of StudyContext::RunRound when the study
// sets secure_aggregation, for a round whose sums it only needs pooled.
//
//   if (SecureAggregation(ctx.study())) {
//     FEDRAD_ASSIGN_OR_RETURN(SecureRoundResult r,
//         RunSecureRound(ctx, "models.derivatives", params_by_site, sites));
//     // r.by_site: each site's clear values; r.sum: the masked arrays, summed
//   }
//
// The first secure round of a study opens a session over the active sites
// (secagg.advertise, then secagg.shares with every signed advert), kept in
// StudyContext::secure_session(); the first round of the session carries
// every signed advert and share message to the participants in
// Task.transcript. Each round then costs two exchanges: the round itself
// (masked contributions, TaskResult.signed) and secagg.reveal to the active
// sites with the survivors; a third only when a survivor does not answer
// the reveal (its self-mask seed is rebuilt from t shares). Sites that fail
// or time out are excluded by RunRound's failure semantics. The sum is
// proto/secure_sum.h's SecureSum over the messages, the same function an
// auditor's replay runs.
//
// Errors: FailedPrecondition (fewer than 3 participants or survivors,
// fewer than t answers), DataLoss (a site's answer lacks its contribution),
// or RunRound's. Not thread safe (the study's thread).
#ifndef FEDRAD_COORDINATOR_SECURE_ROUND_H_
#define FEDRAD_COORDINATOR_SECURE_ROUND_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "coordinator/study_context.h"
#include "proto/fedrad.pb.h"

namespace fedrad::coordinator {

inline bool SecureAggregation(const v1::Study& study) { return study.secure_aggregation(); }

struct SecureRoundResult {
  // Every OK answer of the round (participants: their clear values only).
  std::map<std::string, v1::TaskResult> by_site;
  // The masked arrays summed over the survivors, with their shapes.
  v1::Payload sum;
  std::vector<std::string> survivors;
  std::string round_id;
  // The signed messages that unmask the sum, for transcripts (verifiable
  // rounds): the survivors' masked contributions, then the reveals; and
  // the session (its id and signed adverts) they were masked in.
  v1::Transcript signed_messages;
  std::string session_id;
  v1::Transcript session_adverts;
};

// Runs `kind` with `params_by_site` on every active site; the active sites
// among `participants` (at least 3) mask their summed arrays (the site's
// list, site_node/secure_agg.h); the others answer as the params say (e.g.
// role idle). `round_id`: the round's id (a verifiable round's own, e.g.
// rounds::EvalRound; the site refuses another); empty: "e<epoch>/r<n>/<kind>".
// `transcripts`: per site, signed messages of earlier rounds the task also
// carries (after the session's setup, for a site that has not had it).
absl::StatusOr<SecureRoundResult> RunSecureRound(
    StudyContext& ctx, const std::string& kind,
    const std::map<std::string, v1::Payload>& params_by_site,
    const std::vector<std::string>& participants, const std::string& round_id = "",
    const std::map<std::string, v1::Transcript>& transcripts = {});

}  // namespace fedrad::coordinator

#endif  // FEDRAD_COORDINATOR_SECURE_ROUND_H_
