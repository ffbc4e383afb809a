// The site's half of secure aggregation (docs/secure-aggregation.md,
// issue 12): the secagg.* task kinds, the masking of a secure round's
// summed arrays, and signing a round message with the site's certificate key.
//
// A study whose approved spec sets secure_aggregation runs, once:
//   secagg.advertise  params secagg.session, secagg.participants: the site
//                     checks the participants against the spec (>= 3, itself
//                     among them, within the spec's sites), derives the
//                     threshold t from the spec, makes two X25519 key pairs
//                     (masks, share encryption) and a master self-mask seed
//                     (kept in the study's state), returns a signed advert
//   secagg.shares     transcript: every participant's signed advert; the site
//                     checks each signature (rounds::Verify against its CA),
//                     participants and t, Shamir-splits its master seed
//                     (t of n) and encrypts share j to site j (AES-256-GCM);
//                     returns them signed
// then, for each secure round (a task of a summing kind whose params carry
// secagg.round, secagg.session, secagg.participants; the first one also
// carries the signed shares in its transcript), MaskOutput replaces the
// kind's summed arrays (kSummedArrays) by a masked Contribution, after the
// privacy guard passed the clear values; and afterwards
//   secagg.reveal     params secagg.session, secagg.round, secagg.survivors
//                     [, secagg.unresponsive]: the site reveals its own
//                     per-round self seed and its per-round pairwise seeds
//                     with the round's dropped sites, or its shares of the
//                     master seeds of unresponsive survivors. The survivor
//                     set of a round is fixed by its first reveal request: a
//                     site never reveals self-mask material and pairwise
//                     seeds of the same site for one round; it refuses
//                     (PermissionDenied, audited) a contradicting request.
// Every step leaves an audit note (TaskOutput::audit_note) naming the round
// and what was revealed. Not thread safe beyond TaskContext (one worker per
// study).
#ifndef FEDRAD_SITE_NODE_SECURE_AGG_H_
#define FEDRAD_SITE_NODE_SECURE_AGG_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "proto/fedrad.pb.h"
#include "proto/rounds.pb.h"
#include "site_node/task_registry.h"

namespace fedrad::site {

// The params of secure rounds and the secagg.* kinds are defined in
// proto/task_kinds.h (kinds::secagg, kinds::secagg_advertise, ...).

// The arrays of each kind that are only used pooled, hence masked in a
// secure round (everything else the kind releases stays in the clear, per
// site). The site's own list: the coordinator cannot ask for less masking.
const std::map<std::string, std::vector<std::string>>& SecurelySummedArrays();

// Registers secagg.advertise, secagg.shares and secagg.reveal.
void RegisterSecAggTasks(TaskRegistry& registry);

// True if the task asks for a secure round: params carry secagg.round and
// the kind is not one of secagg.*.
bool IsSecureRound(const v1::Task& task);

// For a task that is not a secure round: in a study whose approved spec sets
// secure_aggregation, refuses an output that holds any of its kind's
// securely summed arrays (PermissionDenied naming rule secagg-required), so
// that a coordinator cannot have a site skip the masking by leaving out the
// secure-round params. Answers without those arrays (a site idle in the
// round, a per-site quantity) pass. OK in other studies.
absl::Status CheckPlainRelease(const v1::Task& task, const TaskOutput& output);

// For a secure round: checks the round against the session, absorbs the
// session's incoming encrypted shares from the task's transcript (first
// round), encodes the kind's summed arrays (128-bit fixed point), adds the
// per-round masks, moves them out of output->payload into
// output->round_message (a Contribution) and records the round in the
// state. FailedPrecondition / PermissionDenied / InvalidArgument with a
// text naming the rule; on error *output and the state may be half changed
// (the caller rolls the state back).
absl::Status MaskOutput(TaskContext& ctx, TaskOutput* output);

// Fills study id, spec hash, site, kind (and round id when empty) of
// `message` from the task and signs it with the site's certificate key
// (ctx.key_path, ctx.cert_path). FailedPrecondition if the site has no
// certificate (insecure test mode). For every round message a site sends
// (part B reuses it for plain verifiable rounds).
absl::StatusOr<v1::SignedMessage> SignRoundMessage(const TaskContext& ctx,
                                                   v1::RoundMessage message);

}  // namespace fedrad::site

#endif  // FEDRAD_SITE_NODE_SECURE_AGG_H_
