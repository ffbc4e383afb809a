// Verified transcripts of verifiable rounds (issue 12, proto/rounds.proto):
// the round ids every node uses, a site's contribution built from what it
// released, the sum of one round over its sites, and a transcript whose
// signed messages were all checked (rounds::Verify), indexed by round.
//
// One implementation serves the three places that read transcripts: the
// coordinator (it sums the verified contributions of a round), each site (it
// recomputes the step it is asked to take from the transcript the
// coordinator forwards) and the auditor (`fedrad audit replay`, which reads
// the signed messages out of the audit logs). So all three add the same
// numbers in the same order and get the same bits.
//
//   rounds::Verifier verifier(trust);  // per node: each message is checked once
//   FEDRAD_ASSIGN_OR_RETURN(
//       rounds::VerifiedTranscript t,
//       rounds::VerifiedTranscript::Build(task.transcript(),
//                                         {.study_id = id, .spec_sha256 = hash}, &verifier));
//   FEDRAD_ASSIGN_OR_RETURN(std::vector<v1::RoundMessage> msgs,
//                           t.RoundOf(rounds::PrepareRound("cox"), {"S1", "S2"}));
//   FEDRAD_ASSIGN_OR_RETURN(rounds::Sums sums, rounds::SumRound(msgs));
//
// Thread safety: Verifier is thread safe; the rest are values.
#ifndef FEDRAD_ROUNDS_TRANSCRIPT_H_
#define FEDRAD_ROUNDS_TRANSCRIPT_H_

#include <cstdint>
#include <chrono>
#include <map>
#include <unordered_map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "proto/fedrad.pb.h"
#include "proto/round_signing.h"
#include "proto/rounds.pb.h"
#include "proto/task_kinds.h"

namespace fedrad::rounds {

// ---- Round ids (unique within a study) ---------------------------------------
// "models/<model>/prepare": models.prepare (n, events, sum x, sum x x^T).
std::string PrepareRound(const std::string& model);
// "models/<model>/fit/<fit>/eval/<k>": the k-th (0-based) evaluation of the
// derivatives in fit `fit` ("dev": the model's fit; "loso-<site>": the fit
// without <site> of leave-one-site-out validation).
std::string EvalRound(const std::string& model, const std::string& fit, int64_t k);
// "models/<model>/fit/site": the released fit of a model one site develops alone.
std::string SiteFitRound(const std::string& model);
// "models/<model>/fit/<fit>/baseline" and ".../lp_summary": validation inputs
// from the development sites at the frozen coefficients of fit `fit`.
std::string BaselineRound(const std::string& model, const std::string& fit);
std::string LpSummaryRound(const std::string& model, const std::string& fit);
// "models/<model>/fit/<fit>/validate": a validation site's metrics of the
// frozen model of fit `fit` (models.validate; one message per site: the
// development fit's validation sites, or the site left out of "loso-<site>").
std::string ValidateRound(const std::string& model, const std::string& fit);
// "combat/moments" and "combat/residuals".
std::string CombatMomentsRound();
std::string CombatResidualsRound();
// "cohort/moments" and "cohort/counts": the cohort summary's two rounds.
std::string CohortMomentsRound();
std::string CohortCountsRound();
// The fit ids.
inline constexpr char kDevelopmentFit[] = "dev";
std::string LosoFit(const std::string& held_out_site);

// True if the two vectors agree to `rel` relative to the larger max-norm
// (exactly when both are zero): floating-point reordering, not a choice.
bool Agree(const std::vector<double>& a, const std::vector<double>& b, double rel = 1e-12);

// ---- Contributions ------------------------------------------------------------
// The summed arrays of a contribution, by name (matrices row-major).
using Sums = std::map<std::string, std::vector<double>>;

// A site's contribution from its released `payload`: the arrays named in
// `summed` (in that order) become the summed vector; every other array and
// string of the payload goes to `plain`; `inputs` is what the site computed
// at. NotFound if a summed name is not in the payload.
absl::StatusOr<v1::Contribution> MakeContribution(const v1::Payload& payload,
                                                  const std::vector<std::string>& summed,
                                                  v1::Payload inputs);

// One message's summed arrays by name. InvalidArgument when its layout is
// inconsistent (sizes that do not add up, a masked contribution).
absl::StatusOr<Sums> SummedArrays(const v1::RoundMessage& message);

// A verified message, shared (transcripts of large fits are not copied).
using MessagePtr = std::shared_ptr<const v1::RoundMessage>;

// THE sum of one round: the summed arrays of `messages` (one per site, of
// one round) added site by site in the order of the site names, starting
// from zero. Every message must have the same layout. This is the one place
// where a secure round's unmasking plugs in (a masked contribution is
// Unimplemented here until it does).
absl::StatusOr<Sums> SumRound(const std::vector<const v1::RoundMessage*>& messages);
absl::StatusOr<Sums> SumRound(const std::vector<v1::RoundMessage>& messages);
absl::StatusOr<Sums> SumRound(const std::vector<MessagePtr>& messages);

class VerifiedTranscript;
// The sum of one round as every node computes it: SumRound for plain
// contributions; for a secure round's masked contributions (same round),
// rounds::SecureSum (proto/secure_sum.h) over them, the transcript's
// adverts of their session and its reveals of the round, plus the clear
// arrays the contributions name in plain_summed, added site by site in
// name order. FailedPrecondition when the transcript lacks what unmasks
// the round (e.g. its reveals).
absl::StatusOr<Sums> SumRound(const std::vector<MessagePtr>& messages,
                              const VerifiedTranscript& transcript);
// True if the message is a masked (secure) contribution.
bool IsMasked(const v1::RoundMessage& message);

// A named array of a message's inputs/plain payload.
absl::StatusOr<std::vector<double>> InputArray(const v1::RoundMessage& m, const std::string& name);
std::string InputString(const v1::RoundMessage& m, const std::string& key);
// A list (proto/task_kinds.h) of a message's inputs/plain payload; empty when
// absent.
std::vector<std::string> InputList(const v1::RoundMessage& m, const kinds::List& field);

// ---- Audit records of signed messages -------------------------------------------
// The kind of the audit decision a node writes for every signed round message
// it signed (a site) or received (the coordinator).
inline constexpr char kSignedAuditKind[] = "round.signed";
// The record's summary: "round message '<round>' of site '<site>' (<kind>),
// signed-message-base64: <base64 of the SignedMessage's deterministic bytes>".
std::string AuditSummaryOf(const v1::RoundMessage& message, const v1::SignedMessage& signed_message);
// The same from the message's round id, site and kind and the signed
// message's deterministic bytes (DeterministicBytes), for a writer that has
// them at hand (no second serialisation of a large message).
std::string AuditSummaryOf(absl::string_view round_id, absl::string_view site,
                           absl::string_view kind, absl::string_view signed_bytes);
// The SignedMessage in such a summary. InvalidArgument when the summary holds none.
absl::StatusOr<v1::SignedMessage> SignedFromAuditSummary(const std::string& summary);

// ---- Verified transcripts -----------------------------------------------------
// rounds::Verify with caches, for the daemons that check a growing
// transcript every round: a message seen before (the same signature,
// certificate and body) is not checked again, only held to each call's
// expectation; a certificate whose chain was checked against the same CA
// and CRL files (unchanged since: size, modification time, inode; looked at
// every 0.2 s) is not checked again while it is within its validity dates,
// and its public key is parsed once. Same results and errors as rounds::Verify. Judges validity
// now (trust.at_unix is ignored). Thread safe.
class Verifier {
 public:
  explicit Verifier(Trust trust);
  ~Verifier();
  Verifier(const Verifier&) = delete;
  Verifier& operator=(const Verifier&) = delete;
  absl::StatusOr<v1::RoundMessage> Verify(const v1::SignedMessage& signed_message,
                                          const Expectation& expect);
  // As Verify, without copying the message.
  absl::StatusOr<MessagePtr> VerifyShared(const v1::SignedMessage& signed_message,
                                          const Expectation& expect);
  const Trust& trust() const { return trust_; }
  size_t messages_cached() const;

 private:
  struct Cert;
  absl::StatusOr<const Cert*> CheckCertificate(const std::string& pem);
  std::string CurrentStamp();
  const Trust trust_;
  mutable std::mutex mu_;
  std::map<std::string, std::unique_ptr<Cert>> certs_;  // by PEM
  struct Known {
    std::string pem, body;
    MessagePtr message;
  };
  std::unordered_map<std::string, std::vector<Known>> messages_;  // by signature
  size_t known_ = 0;
  std::string stamp_;  // the CA and CRL files' size and mtime, looked at every 0.2 s
  std::chrono::steady_clock::time_point stamp_at_;
};

// The expectation checks of rounds::Verify on a message already verified:
// PermissionDenied naming the signer and the round.
absl::Status CheckExpectation(const v1::RoundMessage& message, const Expectation& expect);

class VerifiedTranscript {
 public:
  VerifiedTranscript() = default;
  // Verifies every message of `transcript` (verifier->Verify with `expect`;
  // expect.round_id must be empty: rounds are checked by RoundOf).
  // Errors: Verify's (Unauthenticated, PermissionDenied, InvalidArgument)
  // naming the message's position; InvalidArgument when one site sent two
  // different messages for one round (equivocation).
  static absl::StatusOr<VerifiedTranscript> Build(const v1::Transcript& transcript,
                                                  const Expectation& expect, Verifier* verifier);
  // The same over several transcripts, in order (a site: the messages it
  // holds for the study, then the task's).
  static absl::StatusOr<VerifiedTranscript> Build(const std::vector<const v1::Transcript*>& parts,
                                                  const Expectation& expect, Verifier* verifier);
  // Adds one message that was verified elsewhere (the auditor's replay).
  absl::Status Add(const v1::RoundMessage& message, const std::string& origin);
  absl::Status Add(MessagePtr message, const std::string& origin);

  // The messages of `round_id` from exactly `sites` (sorted by site):
  // NotFound when the round has no message at all; FailedPrecondition
  // naming the missing or extra sites otherwise.
  absl::StatusOr<std::vector<MessagePtr>> RoundOf(const std::string& round_id,
                                                  const std::vector<std::string>& sites) const;
  // The messages of `round_id` from `sites` (sorted by site), ignoring other
  // sites' messages of that round (models.prepare: every site answers, a fit
  // uses its development sites'). NotFound / FailedPrecondition as RoundOf.
  absl::StatusOr<std::vector<MessagePtr>> RoundFrom(const std::string& round_id,
                                                    const std::vector<std::string>& sites) const;
  // Every message of `round_id` (sorted by site); empty when none.
  std::vector<MessagePtr> Round(const std::string& round_id) const;
  // Every contribution, by round then site.
  std::vector<MessagePtr> All() const;
  // Secure aggregation's messages (adverts, shares, reveals; kept apart
  // from the contributions, one site may sign several for one round id).
  const std::vector<MessagePtr>& SecAgg() const { return secagg_; }
  bool HasRound(const std::string& round_id) const { return by_round_.count(round_id) > 0; }
  // Where the message of (round, site) came from ("" if unknown).
  std::string OriginOf(const std::string& round_id, const std::string& site) const;
  size_t size() const { return count_; }

 private:
  std::map<std::string, std::map<std::string, MessagePtr>> by_round_;
  std::map<std::string, std::string> origin_;  // round + "\n" + site -> origin
  std::vector<MessagePtr> secagg_;
  std::set<std::string> secagg_bytes_;  // their deterministic bytes (no duplicates)
  size_t count_ = 0;
};

}  // namespace fedrad::rounds

#endif  // FEDRAD_ROUNDS_TRANSCRIPT_H_
