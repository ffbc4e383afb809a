#include "coordinator/secure_round.h"

#include <algorithm>
#include <chrono>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/log.h"
#include "core/secagg.h"
#include "core/status.h"
#include "proto/round_signing.h"
#include "proto/secure_sum.h"
#include "proto/spec_hash.h"
#include "site_node/secure_agg.h"

namespace fedrad::coordinator {
namespace {

// The study's session: who takes part, and the signed setup messages.
struct Session {
  std::string id;
  std::vector<std::string> participants;
  std::vector<v1::SignedMessage> setup;   // adverts, then shares
  std::vector<v1::RoundMessage> adverts;  // parsed, for SecureSum
  v1::Transcript signed_adverts;
  std::set<std::string> delivered;        // sites that got `setup` with a round
};

constexpr int kSetupAttempts = 3;

// The body of `site`'s signed answer to `what`, checked like every other
// signed contribution the coordinator reads (RoundMessageOf): the site's
// certificate and signature, the study, the spec and the round id, when
// the study verifies rounds; then its content and signer.
absl::StatusOr<v1::RoundMessage> Body(StudyContext& ctx, const std::string& site,
                                      const v1::TaskResult& r, v1::RoundMessage::ContentCase content,
                                      const std::string& what, const std::string& round_id) {
  v1::RoundMessage m;
  if (!r.has_signed_()) {
    return absl::DataLossError(absl::StrCat("site ", site, " answered ", what,
                                            " without its signed message"));
  }
  if (ctx.round_verifier() != nullptr) {
    rounds::Expectation expect;
    expect.study_id = ctx.study_id();
    expect.spec_sha256 = StudySpecHash(ctx.study());
    expect.signers = {site};
    expect.round_id = round_id;
    absl::StatusOr<v1::RoundMessage> verified = ctx.round_verifier()->Verify(r.signed_(), expect);
    if (!verified.ok()) {
      return Annotate(verified.status(), absl::StrCat("site ", site, "'s answer to ", what));
    }
    m = *std::move(verified);
  } else if (!m.ParseFromString(r.signed_().body())) {
    return absl::DataLossError(absl::StrCat("site ", site, " answered ", what,
                                            " with a signed message that does not parse"));
  }
  if (m.content_case() != content || m.site() != site) {
    return absl::DataLossError(absl::StrCat("site ", site, " answered ", what,
                                            " with a signed message of another kind or site"));
  }
  return m;
}

absl::Status RequireThree(const std::vector<std::string>& sites, const std::string& what) {
  if (static_cast<int>(sites.size()) >= secagg::kMinParticipants) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat(
      "secure aggregation needs at least ", secagg::kMinParticipants, " sites, but ", what,
      " are ", sites.size(), " (", absl::StrJoin(sites, ", "),
      ") (rule secagg-min-sites: with two, each could read the other's values off the sum; "
      "no plain round is run instead)"));
}

// One setup attempt over the active sites: adverts, then shares.
absl::StatusOr<std::shared_ptr<Session>> TrySetup(StudyContext& ctx, bool* retry) {
  *retry = false;
  auto s = std::make_shared<Session>();
  s->participants = ctx.active_sites();
  FEDRAD_RETURN_IF_ERROR(RequireThree(s->participants, "the active sites"));
  s->id = absl::StrCat("secagg/e", ctx.epoch(), "/r", ctx.rounds() + 1);
  v1::Payload params;
  (*params.mutable_strings())[site::kSecAggSession] = s->id;
  (*params.mutable_strings())[site::kSecAggParticipants] = absl::StrJoin(s->participants, "\n");
  FEDRAD_ASSIGN_OR_RETURN(auto adverts, ctx.Broadcast("secagg.advertise", params));
  if (adverts.size() != s->participants.size()) {
    *retry = true;
    return absl::UnavailableError("a site dropped during secagg.advertise");
  }
  v1::Transcript all_adverts;
  for (const auto& [site, r] : adverts) {
    FEDRAD_ASSIGN_OR_RETURN(v1::RoundMessage m,
                            Body(ctx, site, r, v1::RoundMessage::kAdvert, "secagg.advertise", s->id));
    s->adverts.push_back(std::move(m));
    *all_adverts.add_messages() = r.signed_();
  }
  std::map<std::string, v1::Transcript> transcripts;
  std::map<std::string, v1::Payload> by_site;
  v1::Payload share_params;
  (*share_params.mutable_strings())[site::kSecAggSession] = s->id;
  for (const auto& site : s->participants) {
    transcripts[site] = all_adverts;
    by_site[site] = share_params;
  }
  FEDRAD_ASSIGN_OR_RETURN(auto shares, ctx.RunRound("secagg.shares", by_site, transcripts));
  if (shares.size() != s->participants.size()) {
    *retry = true;
    return absl::UnavailableError("a site dropped during secagg.shares");
  }
  s->setup.assign(all_adverts.messages().begin(), all_adverts.messages().end());
  s->signed_adverts = all_adverts;
  for (const auto& [site, r] : shares) {
    FEDRAD_RETURN_IF_ERROR(Body(ctx, site, r, v1::RoundMessage::kShares, "secagg.shares", s->id).status());
    s->setup.push_back(r.signed_());
  }
  FEDRAD_LOG(INFO) << "study " << ctx.study_id() << ": secure aggregation session " << s->id
                   << " over " << absl::StrJoin(s->participants, ", ");
  return s;
}

// The study's session, opened (again) when none covers `participants`.
absl::StatusOr<Session*> EnsureSession(StudyContext& ctx,
                                       const std::vector<std::string>& participants) {
  auto* current = static_cast<Session*>(ctx.secure_session().get());
  if (current != nullptr) {
    bool covered = true;
    for (const auto& p : participants) {
      covered = covered && std::binary_search(current->participants.begin(),
                                              current->participants.end(), p);
    }
    if (covered) return current;
  }
  ctx.SetProgress("secure aggregation", 0.0, "setting up the session (keys and shares)");
  for (int attempt = 1;; ++attempt) {
    bool retry = false;
    absl::StatusOr<std::shared_ptr<Session>> s = TrySetup(ctx, &retry);
    if (s.ok()) {
      ctx.secure_session() = *s;
      return s->get();
    }
    if (!retry || attempt >= kSetupAttempts) return s.status();
    FEDRAD_LOG(WARNING) << "study " << ctx.study_id() << ": " << s.status().message()
                        << "; setting up the session again without it";
  }
}

// secagg.reveal to every active site; the answers' reveal messages.
absl::StatusOr<std::map<std::string, v1::RoundMessage>> RevealRound(
    StudyContext& ctx, const Session& s, const std::string& round_id,
    const std::vector<std::string>& survivors, const std::vector<std::string>& unresponsive,
    v1::Transcript* signed_reveals) {
  v1::Payload params;
  (*params.mutable_strings())[site::kSecAggSession] = s.id;
  (*params.mutable_strings())[site::kSecAggRound] = round_id;
  (*params.mutable_strings())[site::kSecAggSurvivors] = absl::StrJoin(survivors, "\n");
  if (!unresponsive.empty()) {
    (*params.mutable_strings())[site::kSecAggUnresponsive] = absl::StrJoin(unresponsive, "\n");
  }
  FEDRAD_ASSIGN_OR_RETURN(auto answers, ctx.Broadcast("secagg.reveal", params));
  std::map<std::string, v1::RoundMessage> out;
  for (const auto& [site, r] : answers) {
    FEDRAD_ASSIGN_OR_RETURN(out[site], Body(ctx, site, r, v1::RoundMessage::kReveal, "secagg.reveal", round_id));
    *signed_reveals->add_messages() = r.signed_();
  }
  return out;
}

}  // namespace

absl::StatusOr<SecureRoundResult> RunSecureRound(
    StudyContext& ctx, const std::string& kind,
    const std::map<std::string, v1::Payload>& params_by_site,
    const std::vector<std::string>& participants_in, const std::string& round_id,
    const std::map<std::string, v1::Transcript>& earlier) {
  std::vector<std::string> participants;
  const std::vector<std::string> active = ctx.active_sites();
  for (const auto& p : participants_in) {
    if (std::binary_search(active.begin(), active.end(), p)) participants.push_back(p);
  }
  std::sort(participants.begin(), participants.end());
  participants.erase(std::unique(participants.begin(), participants.end()), participants.end());
  FEDRAD_RETURN_IF_ERROR(RequireThree(participants, absl::StrCat("the participants of '", kind, "'")));
  FEDRAD_ASSIGN_OR_RETURN(Session * s, EnsureSession(ctx, participants));

  SecureRoundResult out;
  out.round_id =
      round_id.empty() ? absl::StrCat("e", ctx.epoch(), "/r", ctx.rounds() + 1, "/", kind) : round_id;
  std::map<std::string, v1::Payload> params = params_by_site;
  std::map<std::string, v1::Transcript> transcripts;
  for (const auto& p : participants) {
    auto& strings = *params[p].mutable_strings();
    strings[site::kSecAggSession] = s->id;
    strings[site::kSecAggRound] = out.round_id;
    strings[site::kSecAggParticipants] = absl::StrJoin(participants, "\n");
    if (!s->delivered.count(p)) {
      for (const auto& m : s->setup) *transcripts[p].add_messages() = m;
    }
  }
  for (const auto& [site, t] : earlier) {
    for (const auto& m : t.messages()) *transcripts[site].add_messages() = m;
  }
  FEDRAD_ASSIGN_OR_RETURN(out.by_site, ctx.RunRound(kind, params, transcripts));
  std::vector<v1::RoundMessage> messages = s->adverts;
  for (const auto& p : participants) {
    auto it = out.by_site.find(p);
    if (it == out.by_site.end()) continue;  // dropped: excluded by RunRound
    s->delivered.insert(p);
    FEDRAD_ASSIGN_OR_RETURN(v1::RoundMessage m,
                            Body(ctx, p, it->second, v1::RoundMessage::kContribution, kind, out.round_id));
    messages.push_back(std::move(m));
    out.survivors.push_back(p);
  }
  out.session_id = s->id;
  out.session_adverts = s->signed_adverts;
  for (const auto& p : out.survivors) *out.signed_messages.add_messages() = out.by_site.at(p).signed_();
  FEDRAD_RETURN_IF_ERROR(RequireThree(out.survivors, absl::StrCat("the survivors of '", kind, "'")));
  const double delay = ctx.study().debug().secure_reveal_delay_seconds();
  if (delay > 0 && kind == "debug.vector") {
    // Test-only window (DebugRounds): a site can be killed after it masked.
    std::this_thread::sleep_for(std::chrono::milliseconds(static_cast<int64_t>(delay * 1000)));
  }
  FEDRAD_ASSIGN_OR_RETURN(auto reveals, RevealRound(ctx, *s, out.round_id, out.survivors, {}, &out.signed_messages));
  std::vector<std::string> unresponsive;
  for (const auto& sv : out.survivors) {
    if (!reveals.count(sv)) unresponsive.push_back(sv);
  }
  for (auto& [site, m] : reveals) messages.push_back(std::move(m));
  if (!unresponsive.empty()) {
    FEDRAD_LOG(WARNING) << "study " << ctx.study_id() << ": secure round " << out.round_id << ": "
                        << absl::StrJoin(unresponsive, ", ")
                        << " did not reveal; asking the others for their shares";
    FEDRAD_ASSIGN_OR_RETURN(auto shares,
                            RevealRound(ctx, *s, out.round_id, out.survivors, unresponsive,
                                        &out.signed_messages));
    for (auto& [site, m] : shares) messages.push_back(std::move(m));
  }
  FEDRAD_ASSIGN_OR_RETURN(rounds::SecureSumResult sum, rounds::SecureSum(messages, out.round_id));
  out.sum = std::move(sum.sum);
  return out;
}

}  // namespace fedrad::coordinator
