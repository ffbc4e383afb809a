#include "site_node/secure_agg.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>
#include <set>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "core/csv.h"
#include "core/hash.h"
#include "core/pki.h"
#include "core/secagg.h"
#include "core/secagg_rounds.h"
#include "core/status.h"
#include "proto/payload.h"
#include "proto/round_signing.h"
#include "proto/spec_hash.h"
#include "proto/task_kinds.h"
#include "site_node/secagg_journal.h"
#include "site_node/site_rules.h"
#include "site_node/study_checkpoint.h"

namespace fedrad::site {
namespace {

namespace sa = ::fedrad::secagg;

// Longest session or round id accepted (they become state keys).
constexpr size_t kMaxIdBytes = 200;

std::string Param(const TaskContext& ctx, const char* key) {
  auto it = ctx.task->params().strings().find(key);
  return it == ctx.task->params().strings().end() ? "" : it->second;
}

std::vector<std::string> Lines(const std::string& s) {
  return absl::StrSplit(s, '\n', absl::SkipEmpty());
}

absl::Status Refuse(absl::StatusCode code, const std::string& text) {
  return PublicError(code, text);
}

// ---- The per-study state (TaskContext::state), hex for binary values -------

std::string SessionKey(const std::string& session, const std::string& what) {
  return absl::StrCat("secagg/session/", session, "/", what);
}
std::string RoundKey(const std::string& round, const std::string& what) {
  return absl::StrCat("secagg/round/", round, "/", what);
}

std::string Get(const TaskContext& ctx, const std::string& key) {
  auto it = ctx.state->find(key);
  return it == ctx.state->end() ? "" : it->second;
}
void Put(TaskContext& ctx, const std::string& key, const std::string& value) {
  (*ctx.state)[key] = value;
}
absl::StatusOr<sa::Key32> GetKey(const TaskContext& ctx, const std::string& key) {
  return sa::KeyFromBytes(absl::HexStringToBytes(Get(ctx, key)), key);
}
void PutKey(TaskContext& ctx, const std::string& key, const sa::Key32& k) {
  Put(ctx, key, absl::BytesToHexString(sa::KeyBytes(k)));
}

// What a site masked and revealed for each round: the journal
// (site_node/secagg_journal.h) beside the study's state; without an output
// folder (unit tests) the records go to TaskContext::state.
std::string JournalPath(const TaskContext& ctx) {
  if (ctx.output_dir.empty()) return "";
  return StudyStateDir(ctx.output_dir) + "/secagg.journal";
}

std::string RoundGet(const TaskContext& ctx, const std::string& round, const std::string& what) {
  const std::string path = JournalPath(ctx);
  if (path.empty()) return Get(ctx, RoundKey(round, what));
  return JournalGet(path, RoundKey(round, what));
}

// Records (what, value) pairs of `round`, in one append.
absl::Status RoundPut(TaskContext& ctx, const std::string& round,
                      const std::vector<std::pair<std::string, std::string>>& records) {
  const std::string path = JournalPath(ctx);
  std::vector<std::pair<std::string, std::string>> keyed;
  for (const auto& [what, value] : records) {
    if (path.empty()) Put(ctx, RoundKey(round, what), value);
    keyed.emplace_back(RoundKey(round, what), value);
  }
  if (path.empty()) return absl::OkStatus();
  return JournalAppend(path, keyed);
}

absl::Status CheckId(const std::string& id, const char* what) {
  if (id.empty() || id.size() > kMaxIdBytes || id.find('\n') != std::string::npos) {
    return Refuse(absl::StatusCode::kInvalidArgument,
                  absl::StrCat("secure aggregation: param '", what,
                               "' is missing or not a short one-line name"));
  }
  return absl::OkStatus();
}

// A sorted, duplicate-free list of at least 3 sites that includes this one.
absl::Status CheckSiteList(const TaskContext& ctx, const std::vector<std::string>& sites,
                           const char* what) {
  std::set<std::string> unique(sites.begin(), sites.end());
  if (unique.size() != sites.size() || !std::is_sorted(sites.begin(), sites.end())) {
    return Refuse(absl::StatusCode::kInvalidArgument,
                  absl::StrCat("secure aggregation: ", what, " must be sorted and distinct"));
  }
  if (static_cast<int>(sites.size()) < sa::kMinParticipants) {
    return Refuse(absl::StatusCode::kFailedPrecondition,
                  absl::StrCat("secure aggregation needs at least ", sa::kMinParticipants,
                               " sites; the ", what, " are ", sites.size(),
                               " (rule secagg-min-sites: with two, each would read the other's "
                               "values off the sum)"));
  }
  return absl::OkStatus();
}

// The session's participants, as this site advertised them.
absl::StatusOr<std::vector<std::string>> SessionParticipants(const TaskContext& ctx,
                                                             const std::string& session) {
  std::string p = Get(ctx, SessionKey(session, "participants"));
  if (p.empty()) {
    return Refuse(absl::StatusCode::kFailedPrecondition,
                  absl::StrCat("secure aggregation: this site has no session '", session,
                               "' (secagg.advertise did not run here)"));
  }
  return Lines(p);
}

int IndexOf(const std::vector<std::string>& v, const std::string& s) {
  auto it = std::find(v.begin(), v.end(), s);
  return it == v.end() ? -1 : static_cast<int>(it - v.begin());
}

rounds::Trust TrustOf(const TaskContext& ctx) {
  rounds::Trust t;
  t.ca_cert_path = ctx.ca_cert_path;
  t.crl_path = ctx.crl_path;
  return t;
}

// Verified messages of `session` with the given content from the task's
// transcript, one per participant.
absl::StatusOr<std::map<std::string, v1::RoundMessage>> VerifiedFromTranscript(
    const TaskContext& ctx, const std::string& session, const std::vector<std::string>& signers,
    v1::RoundMessage::ContentCase content) {
  rounds::Expectation expect;
  expect.study_id = ctx.task->study_id();
  expect.spec_sha256 = StudySpecHash(ctx.task->study());
  expect.signers = signers;
  expect.round_id = session;
  std::map<std::string, v1::RoundMessage> out;
  for (const v1::SignedMessage& sm : ctx.task->transcript().messages()) {
    v1::RoundMessage peek;
    if (!peek.ParseFromString(sm.body()) || peek.content_case() != content ||
        peek.round_id() != session) {
      continue;
    }
    absl::StatusOr<v1::RoundMessage> m = rounds::Verify(sm, TrustOf(ctx), expect);
    if (!m.ok()) {
      return Refuse(absl::StatusCode::kPermissionDenied,
                    absl::StrCat("secure aggregation: a message of session ", session,
                                 " does not verify: ", m.status().message()));
    }
    out[m->site()] = std::move(*m);
  }
  return out;
}

int ThresholdFor(const v1::Study& study, int n) {
  return study.secure_aggregation_threshold() > 0 ? study.secure_aggregation_threshold()
                                                  : sa::DefaultThreshold(n);
}

TaskOutput NothingReleased(const TaskContext& ctx) {
  TaskOutput out;
  // Keys and seeds, no patient data: the row count only satisfies the
  // guard's k for a site that takes part at all.
  out.n_contributing = static_cast<int64_t>(ctx.table->num_rows());
  return out;
}

// ---- secagg.advertise -------------------------------------------------------

absl::StatusOr<TaskOutput> Advertise(TaskContext& ctx) {
  const v1::Study& study = ctx.task->study();
  if (!study.secure_aggregation()) {
    return Refuse(absl::StatusCode::kPermissionDenied,
                  "secagg.advertise: the approved spec does not ask for secure aggregation");
  }
  const std::string session = Param(ctx, kSecAggSession);
  FEDRAD_RETURN_IF_ERROR(CheckId(session, kSecAggSession));
  const std::vector<std::string> participants = Lines(Param(ctx, kSecAggParticipants));
  FEDRAD_RETURN_IF_ERROR(CheckSiteList(ctx, participants, "participants"));
  if (IndexOf(participants, ctx.site_id) < 0) {
    return Refuse(absl::StatusCode::kInvalidArgument,
                  "secagg.advertise: the participants do not include this site");
  }
  for (const std::string& p : participants) {
    if (study.sites_size() > 0 &&
        std::find(study.sites().begin(), study.sites().end(), p) == study.sites().end()) {
      return Refuse(absl::StatusCode::kPermissionDenied,
                    absl::StrCat("secagg.advertise: participant ", p,
                                 " is not a site of the approved spec (rule secagg-participants)"));
    }
  }
  const int n = static_cast<int>(participants.size());
  const int t = ThresholdFor(study, n);
  if (t < 2 || t > n) {
    return Refuse(absl::StatusCode::kFailedPrecondition,
                  absl::StrCat("secure aggregation: the spec's threshold t=", t,
                               " must be between 2 and the ", n, " participants"));
  }
  TaskOutput out = NothingReleased(ctx);
  v1::RoundMessage m;
  m.set_round_id(session);
  const std::string stored = Get(ctx, SessionKey(session, "advert"));
  if (!stored.empty()) {
    // A repeated request: the same keys, the same answer.
    if (!m.mutable_advert()->ParseFromString(absl::HexStringToBytes(stored))) {
      return absl::DataLossError("secagg: the stored advert does not parse");
    }
  } else {
    FEDRAD_ASSIGN_OR_RETURN(sa::KeyPair mask, sa::GenerateKeyPair());
    FEDRAD_ASSIGN_OR_RETURN(sa::KeyPair share, sa::GenerateKeyPair());
    FEDRAD_ASSIGN_OR_RETURN(sa::Key32 master, sa::RandomSeed());
    PutKey(ctx, SessionKey(session, "mask_sk"), mask.private_key);
    PutKey(ctx, SessionKey(session, "share_sk"), share.private_key);
    PutKey(ctx, SessionKey(session, "master"), master);
    Put(ctx, SessionKey(session, "participants"), absl::StrJoin(participants, "\n"));
    Put(ctx, SessionKey(session, "threshold"), absl::StrCat(t));
    v1::SecAggAdvert* a = m.mutable_advert();
    a->set_mask_public_key(sa::KeyBytes(mask.public_key));
    a->set_share_public_key(sa::KeyBytes(share.public_key));
    for (const auto& p : participants) a->add_participants(p);
    a->set_threshold(t);
    Put(ctx, SessionKey(session, "advert"), absl::BytesToHexString(a->SerializeAsString()));
  }
  out.round_message = m;
  out.audit_note = absl::StrCat("secure aggregation session ", session, ": advertised public keys; ",
                                n, " participants (", absl::StrJoin(participants, ", "),
                                "), threshold t=", t);
  return out;
}

// ---- secagg.shares ----------------------------------------------------------

// Checks the verified adverts of the session and stores the peers' keys.
absl::Status AcceptAdverts(TaskContext& ctx, const std::string& session,
                           const std::vector<std::string>& participants) {
  FEDRAD_ASSIGN_OR_RETURN(
      auto adverts, VerifiedFromTranscript(ctx, session, participants, v1::RoundMessage::kAdvert));
  const std::string t = Get(ctx, SessionKey(session, "threshold"));
  for (const std::string& p : participants) {
    auto it = adverts.find(p);
    if (it == adverts.end()) {
      return Refuse(absl::StatusCode::kFailedPrecondition,
                    absl::StrCat("secagg.shares: no signed advert of participant ", p));
    }
    const v1::SecAggAdvert& a = it->second.advert();
    std::vector<std::string> theirs(a.participants().begin(), a.participants().end());
    if (theirs != participants || absl::StrCat(a.threshold()) != t) {
      return Refuse(absl::StatusCode::kPermissionDenied,
                    absl::StrCat("secagg.shares: site ", p, "'s advert names other participants "
                                 "or another threshold than this site derived (rule "
                                 "secagg-participants)"));
    }
    FEDRAD_ASSIGN_OR_RETURN(sa::Key32 mpk, sa::KeyFromBytes(a.mask_public_key(), "a mask key"));
    FEDRAD_ASSIGN_OR_RETURN(sa::Key32 spk, sa::KeyFromBytes(a.share_public_key(), "a share key"));
    PutKey(ctx, SessionKey(session, "mask_pk/" + p), mpk);
    PutKey(ctx, SessionKey(session, "share_pk/" + p), spk);
  }
  FEDRAD_ASSIGN_OR_RETURN(sa::Key32 own_sk, GetKey(ctx, SessionKey(session, "mask_sk")));
  FEDRAD_ASSIGN_OR_RETURN(sa::Key32 own_pk, sa::PublicKeyOf(own_sk));
  FEDRAD_ASSIGN_OR_RETURN(sa::Key32 seen, GetKey(ctx, SessionKey(session, "mask_pk/" + ctx.site_id)));
  if (own_pk != seen) {
    return Refuse(absl::StatusCode::kPermissionDenied,
                  "secagg.shares: the advert forwarded for this site is not the one it made");
  }
  // The pairwise agreements, once per session (X25519 is the costly part
  // of masking); they are as secret as mask_sk and kept beside it.
  for (const std::string& p : participants) {
    if (p == ctx.site_id) continue;
    FEDRAD_ASSIGN_OR_RETURN(sa::Key32 pk, GetKey(ctx, SessionKey(session, "mask_pk/" + p)));
    FEDRAD_ASSIGN_OR_RETURN(sa::Key32 agreed, sa::AgreeKey(own_sk, pk));
    PutKey(ctx, SessionKey(session, "agreed/" + p), agreed);
  }
  return absl::OkStatus();
}

absl::StatusOr<TaskOutput> Shares(TaskContext& ctx) {
  const std::string session = Param(ctx, kSecAggSession);
  FEDRAD_RETURN_IF_ERROR(CheckId(session, kSecAggSession));
  FEDRAD_ASSIGN_OR_RETURN(std::vector<std::string> participants, SessionParticipants(ctx, session));
  TaskOutput out = NothingReleased(ctx);
  v1::RoundMessage m;
  m.set_round_id(session);
  const std::string stored = Get(ctx, SessionKey(session, "shares_sent"));
  if (!stored.empty()) {
    if (!m.mutable_shares()->ParseFromString(absl::HexStringToBytes(stored))) {
      return absl::DataLossError("secagg: the stored shares do not parse");
    }
  } else {
    FEDRAD_RETURN_IF_ERROR(AcceptAdverts(ctx, session, participants));
    FEDRAD_ASSIGN_OR_RETURN(sa::Key32 master, GetKey(ctx, SessionKey(session, "master")));
    FEDRAD_ASSIGN_OR_RETURN(sa::Key32 share_sk, GetKey(ctx, SessionKey(session, "share_sk")));
    int t = 0;
    if (!absl::SimpleAtoi(Get(ctx, SessionKey(session, "threshold")), &t)) {
      return absl::DataLossError("secagg: the stored threshold does not parse");
    }
    FEDRAD_ASSIGN_OR_RETURN(std::vector<sa::Share> shares,
                            sa::SplitSecret(master, t, static_cast<int>(participants.size())));
    for (size_t j = 0; j < participants.size(); ++j) {
      const std::string& to = participants[j];
      if (to == ctx.site_id) {
        Put(ctx, SessionKey(session, "share_of/" + ctx.site_id), absl::BytesToHexString(shares[j].y));
        continue;
      }
      FEDRAD_ASSIGN_OR_RETURN(sa::Key32 pk, GetKey(ctx, SessionKey(session, "share_pk/" + to)));
      FEDRAD_ASSIGN_OR_RETURN(sa::Key32 agreed, sa::AgreeKey(share_sk, pk));
      FEDRAD_ASSIGN_OR_RETURN(std::string ct,
                              sa::EncryptShare(agreed, session, ctx.site_id, to, shares[j].y));
      v1::EncryptedShare* e = m.mutable_shares()->add_shares();
      e->set_to_site(to);
      e->set_ciphertext(ct);
    }
    Put(ctx, SessionKey(session, "shares_sent"),
        absl::BytesToHexString(m.shares().SerializeAsString()));
  }
  out.round_message = m;
  out.audit_note = absl::StrCat("secure aggregation session ", session,
                                ": checked every participant's signed advert; sent the Shamir "
                                "shares of this site's master self-mask seed, each encrypted to "
                                "its holder (AES-256-GCM)");
  return out;
}

// Decrypts and keeps the shares addressed to this site (once per session).
absl::Status AbsorbShares(TaskContext& ctx, const std::string& session,
                          const std::vector<std::string>& participants) {
  if (Get(ctx, SessionKey(session, "shares_received")) == "1") return absl::OkStatus();
  FEDRAD_ASSIGN_OR_RETURN(
      auto msgs, VerifiedFromTranscript(ctx, session, participants, v1::RoundMessage::kShares));
  FEDRAD_ASSIGN_OR_RETURN(sa::Key32 share_sk, GetKey(ctx, SessionKey(session, "share_sk")));
  for (const std::string& from : participants) {
    if (from == ctx.site_id) continue;
    auto it = msgs.find(from);
    const v1::EncryptedShare* mine = nullptr;
    if (it != msgs.end()) {
      for (const auto& e : it->second.shares().shares()) {
        if (e.to_site() == ctx.site_id) mine = &e;
      }
    }
    if (mine == nullptr) {
      return Refuse(absl::StatusCode::kFailedPrecondition,
                    absl::StrCat("secure aggregation: the signed shares of site ", from,
                                 " for this site were not delivered with the first secure round "
                                 "of session ", session));
    }
    FEDRAD_ASSIGN_OR_RETURN(sa::Key32 pk, GetKey(ctx, SessionKey(session, "share_pk/" + from)));
    FEDRAD_ASSIGN_OR_RETURN(sa::Key32 agreed, sa::AgreeKey(share_sk, pk));
    absl::StatusOr<std::string> y =
        sa::DecryptShare(agreed, session, from, ctx.site_id, mine->ciphertext());
    if (!y.ok()) return Refuse(y.status().code(), std::string(y.status().message()));
    Put(ctx, SessionKey(session, "share_of/" + from), absl::BytesToHexString(*y));
  }
  Put(ctx, SessionKey(session, "shares_received"), "1");
  return absl::OkStatus();
}

// ---- secagg.reveal ----------------------------------------------------------

absl::StatusOr<TaskOutput> Reveal(TaskContext& ctx) {
  const std::string session = Param(ctx, kSecAggSession);
  const std::string round = Param(ctx, kSecAggRound);
  FEDRAD_RETURN_IF_ERROR(CheckId(session, kSecAggSession));
  FEDRAD_RETURN_IF_ERROR(CheckId(round, kSecAggRound));
  FEDRAD_ASSIGN_OR_RETURN(std::vector<std::string> session_sites, SessionParticipants(ctx, session));
  const std::vector<std::string> survivors = Lines(Param(ctx, kSecAggSurvivors));
  const std::vector<std::string> unresponsive = Lines(Param(ctx, kSecAggUnresponsive));
  FEDRAD_RETURN_IF_ERROR(CheckSiteList(ctx, survivors, "survivors"));
  for (const auto& s : survivors) {
    if (IndexOf(session_sites, s) < 0) {
      return Refuse(absl::StatusCode::kInvalidArgument,
                    absl::StrCat("secagg.reveal: survivor ", s, " is not in session ", session));
    }
  }
  const std::vector<std::string> masked_over = Lines(RoundGet(ctx, round, "participants"));
  if (!masked_over.empty() && IndexOf(survivors, ctx.site_id) < 0) {
    return Refuse(absl::StatusCode::kPermissionDenied,
                  absl::StrCat("secagg.reveal: this site sent its masked contribution to round ",
                               round, " but the request lists it as dropped (rule "
                               "secagg-reveal-once)"));
  }
  // The rule: one survivor set per round, fixed by the first request.
  const std::string fixed = RoundGet(ctx, round, "survivors");
  const std::string asked = absl::StrJoin(survivors, "\n");
  if (!fixed.empty() && fixed != asked) {
    return Refuse(absl::StatusCode::kPermissionDenied,
                  absl::StrCat("secagg.reveal: round ", round, " was revealed for survivors {",
                               absl::StrJoin(Lines(fixed), ", "), "}; a request for {",
                               absl::StrJoin(survivors, ", "),
                               "} contradicts it and would unmask a site (rule secagg-reveal-once)"));
  }
  std::set<std::string> pairs_with;
  for (const auto& s : Lines(RoundGet(ctx, round, "pairs_with"))) pairs_with.insert(s);
  std::set<std::string> self_of;
  for (const auto& s : Lines(RoundGet(ctx, round, "self_of"))) self_of.insert(s);

  v1::RoundMessage m;
  m.set_round_id(round);
  v1::SecAggReveal* r = m.mutable_reveal();
  r->set_secagg_session(session);
  for (const auto& s : survivors) r->add_survivors(s);
  for (const auto& u : unresponsive) r->add_unresponsive(u);
  std::vector<std::string> revealed;
  if (!masked_over.empty()) {
    FEDRAD_ASSIGN_OR_RETURN(sa::Key32 master, GetKey(ctx, SessionKey(session, "master")));
    FEDRAD_ASSIGN_OR_RETURN(sa::Key32 self, sa::RoundSelfSeed(master, session, round));
    r->set_self_seed(sa::KeyBytes(self));
    revealed.push_back("its own self seed");
    std::vector<std::string> dropped;
    for (const auto& p : masked_over) {
      if (IndexOf(survivors, p) >= 0) continue;
      if (self_of.count(p)) {
        return Refuse(absl::StatusCode::kPermissionDenied,
                      absl::StrCat("secagg.reveal: this site revealed self-mask material of ", p,
                                   " for round ", round, "; it will not reveal their pairwise "
                                   "seed too (rule secagg-reveal-once)"));
      }
      FEDRAD_ASSIGN_OR_RETURN(sa::Key32 agreed, GetKey(ctx, SessionKey(session, "agreed/" + p)));
      FEDRAD_ASSIGN_OR_RETURN(sa::Key32 seed,
                              sa::RoundPairSeed(agreed, session, round, ctx.site_id, p));
      v1::PairSeed* ps = r->add_pair_seeds();
      ps->set_dropped_site(p);
      ps->set_seed(sa::KeyBytes(seed));
      pairs_with.insert(p);
      dropped.push_back(p);
    }
    if (!dropped.empty()) {
      revealed.push_back(absl::StrCat("pairwise seeds with ", absl::StrJoin(dropped, ", ")));
    }
  }
  std::vector<std::string> shared;
  const int x = IndexOf(session_sites, ctx.site_id) + 1;
  for (const auto& u : unresponsive) {
    if (IndexOf(survivors, u) < 0 || u == ctx.site_id || pairs_with.count(u)) {
      return Refuse(absl::StatusCode::kPermissionDenied,
                    absl::StrCat("secagg.reveal: shares of ", u, "'s seed for round ", round,
                                 " are asked, but ", u, " is no other survivor of the round "
                                 "(rule secagg-reveal-once)"));
    }
    const std::string y = absl::HexStringToBytes(Get(ctx, SessionKey(session, "share_of/" + u)));
    if (y.empty()) {
      return Refuse(absl::StatusCode::kFailedPrecondition,
                    absl::StrCat("secagg.reveal: this site holds no share of ", u, "'s seed"));
    }
    v1::SeedShare* s = r->add_seed_shares();
    s->set_of_site(u);
    s->set_x(x);
    s->set_y(y);
    self_of.insert(u);
    shared.push_back(u);
  }
  if (!shared.empty()) {
    revealed.push_back(absl::StrCat("its shares of the master seeds of ", absl::StrJoin(shared, ", ")));
  }
  // Recorded before the answer leaves.
  FEDRAD_RETURN_IF_ERROR(RoundPut(
      ctx, round,
      {{"survivors", asked},
       {"pairs_with",
        absl::StrJoin(std::vector<std::string>(pairs_with.begin(), pairs_with.end()), "\n")},
       {"self_of",
        absl::StrJoin(std::vector<std::string>(self_of.begin(), self_of.end()), "\n")}}));
  TaskOutput out = NothingReleased(ctx);
  out.round_message = m;
  out.audit_note = absl::StrCat("secure round ", round, " (session ", session, "), survivors {",
                                absl::StrJoin(survivors, ", "), "}: revealed ",
                                revealed.empty() ? "nothing" : absl::StrJoin(revealed, "; "));
  return out;
}

}  // namespace

const std::map<std::string, std::vector<std::string>>& SecurelySummedArrays() {
  // The outputs proto/task_kinds.h declares masked (Sum::kMasked...).
  static const auto* const masked = [] {
    auto* m = new std::map<std::string, std::vector<std::string>>;
    for (const kinds::Kind& k : kinds::AllKinds()) {
      if (!kinds::MaskedNames(k).empty()) (*m)[k.name] = kinds::MaskedNames(k);
    }
    return m;
  }();
  return *masked;
}

bool IsSecureRound(const v1::Task& task) {
  return task.params().strings().count(kSecAggRound) > 0 &&
         task.kind().rfind("secagg.", 0) != 0;
}

absl::Status CheckPlainRelease(const v1::Task& task, const TaskOutput& output) {
  if (!task.study().secure_aggregation()) return absl::OkStatus();
  auto kind = SecurelySummedArrays().find(task.kind());
  if (kind == SecurelySummedArrays().end()) return absl::OkStatus();
  for (const auto& array : output.payload.arrays()) {
    if (std::find(kind->second.begin(), kind->second.end(), array.name()) != kind->second.end()) {
      return Refuse(absl::StatusCode::kPermissionDenied,
                    absl::StrCat("'", task.kind(), "' asked without a secure round in a study whose "
                                 "approved spec sets secure_aggregation: its '", array.name(),
                                 "' leaves a site only masked (rule secagg-required)"));
    }
  }
  return absl::OkStatus();
}

absl::Status MaskOutput(TaskContext& ctx, TaskOutput* output) {
  const v1::Study& study = ctx.task->study();
  if (!study.secure_aggregation()) {
    return Refuse(absl::StatusCode::kPermissionDenied,
                  "a secure round in a study whose approved spec does not ask for one");
  }
  auto kind = SecurelySummedArrays().find(ctx.task->kind());
  if (kind == SecurelySummedArrays().end()) {
    return Refuse(absl::StatusCode::kInvalidArgument,
                  absl::StrCat("task kind '", ctx.task->kind(), "' has no securely summed arrays"));
  }
  const std::string session = Param(ctx, kSecAggSession);
  const std::string round = Param(ctx, kSecAggRound);
  FEDRAD_RETURN_IF_ERROR(CheckId(session, kSecAggSession));
  FEDRAD_RETURN_IF_ERROR(CheckId(round, kSecAggRound));
  FEDRAD_ASSIGN_OR_RETURN(std::vector<std::string> session_sites, SessionParticipants(ctx, session));
  const std::vector<std::string> participants = Lines(Param(ctx, kSecAggParticipants));
  FEDRAD_RETURN_IF_ERROR(CheckSiteList(ctx, participants, "round's participants"));
  for (const auto& p : participants) {
    if (IndexOf(session_sites, p) < 0) {
      return Refuse(absl::StatusCode::kInvalidArgument,
                    absl::StrCat("secure round ", round, ": participant ", p,
                                 " is not in session ", session));
    }
  }
  if (IndexOf(participants, ctx.site_id) < 0) {
    return Refuse(absl::StatusCode::kInvalidArgument,
                  absl::StrCat("secure round ", round, ": this site is not a participant"));
  }
  // A round others build on (verifiable rounds): the secure round is the
  // step's own round id, named by the site, not by the coordinator.
  if (output->round.has_value() && output->round->round_id != round) {
    return Refuse(absl::StatusCode::kPermissionDenied,
                  absl::StrCat("secure round ", round, ": this site's step is round ",
                               output->round->round_id, " (rule verified-step)"));
  }
  FEDRAD_RETURN_IF_ERROR(AbsorbShares(ctx, session, session_sites));

  // The clear values of the summed arrays, in the site's order.
  v1::Contribution c;
  std::vector<double> values;
  v1::Payload plain;
  for (const v1::Array& a : output->payload.arrays()) {
    const auto& names = kind->second;
    if (std::find(names.begin(), names.end(), a.name()) == names.end()) {
      *plain.add_arrays() = a;
      continue;
    }
    c.add_summed_names(a.name());
    c.add_summed_sizes(a.values_size());
    v1::Array* layout = c.add_summed_layout();
    layout->set_name(a.name());
    *layout->mutable_shape() = a.shape();
    values.insert(values.end(), a.values().begin(), a.values().end());
  }
  *plain.mutable_strings() = output->payload.strings();
  *plain.mutable_lists() = output->payload.lists();
  absl::StatusOr<std::vector<uint64_t>> encoded =
      sa::EncodeWide(values, static_cast<int>(participants.size()));
  if (!encoded.ok()) {
    return Refuse(absl::StatusCode::kFailedPrecondition,
                  absl::StrCat("secure round ", round, " (", ctx.task->kind(),
                               "): ", encoded.status().message()));
  }
  // One masked vector per round id, ever (rule secagg-one-mask-per-round).
  const std::string digest = Sha256Hex(absl::StrCat(
      absl::StrJoin(participants, "\n"), "|",
      std::string(reinterpret_cast<const char*>(encoded->data()), encoded->size() * 8)));
  const std::string before = RoundGet(ctx, round, "masked");
  if (!before.empty() && before != digest) {
    return Refuse(absl::StatusCode::kPermissionDenied,
                  absl::StrCat("secure round ", round, ": this site already masked other values "
                               "under this round id; it will not mask twice "
                               "(rule secagg-one-mask-per-round)"));
  }
  std::vector<uint64_t> y = std::move(*encoded);
  FEDRAD_ASSIGN_OR_RETURN(sa::Key32 master, GetKey(ctx, SessionKey(session, "master")));
  FEDRAD_ASSIGN_OR_RETURN(sa::Key32 self, sa::RoundSelfSeed(master, session, round));
  FEDRAD_RETURN_IF_ERROR(sa::AddMask(&y, self, false));
  for (const auto& p : participants) {
    if (p == ctx.site_id) continue;
    FEDRAD_ASSIGN_OR_RETURN(sa::Key32 agreed, GetKey(ctx, SessionKey(session, "agreed/" + p)));
    FEDRAD_ASSIGN_OR_RETURN(sa::Key32 seed, sa::RoundPairSeed(agreed, session, round, ctx.site_id, p));
    FEDRAD_RETURN_IF_ERROR(sa::AddMask(&y, seed, !sa::AddsPairMask(ctx.site_id, p)));
  }
  FEDRAD_RETURN_IF_ERROR(RoundPut(
      ctx, round, {{"masked", digest}, {"participants", absl::StrJoin(participants, "\n")}}));

  if (output->round.has_value()) {
    // What the site computed at, and which clear arrays a verifiable round
    // adds over the sites (rounds::SumRound).
    *c.mutable_inputs() = output->round->inputs;
    for (const std::string& name : output->round->summed) {
      if (std::find(kind->second.begin(), kind->second.end(), name) == kind->second.end()) {
        c.add_plain_summed(name);
      }
    }
  } else {
    for (const v1::Array& a : ctx.task->params().arrays()) *c.mutable_inputs()->add_arrays() = a;
  }
  *c.mutable_plain() = plain;
  for (uint64_t w : y) c.add_masked(w);
  c.set_scale_bits(sa::kWideScaleBits);
  c.set_words_per_value(sa::kWideWords);
  c.set_secagg_session(session);
  c.set_self_seed_sha256(sa::SelfSeedCommitment(self));
  for (const auto& p : participants) c.add_round_participants(p);
  v1::RoundMessage m;
  m.set_round_id(round);
  *m.mutable_contribution() = std::move(c);
  output->round_message = std::move(m);
  output->payload = std::move(plain);
  output->audit_note = absl::StrCat(
      "secure round ", round, " (session ", session, "): masked ",
      absl::StrJoin(output->round_message->contribution().summed_names(), ", "), " (",
      values.size(), " values) over participants ", absl::StrJoin(participants, ", "),
      "; released in the clear: ", plain.arrays_size(), " array(s)");
  return absl::OkStatus();
}

absl::StatusOr<v1::SignedMessage> SignRoundMessage(const TaskContext& ctx,
                                                   v1::RoundMessage message) {
  if (ctx.key_path.empty() || ctx.cert_path.empty()) {
    return Refuse(absl::StatusCode::kFailedPrecondition,
                  "a signed round needs the site's certificate and key (tls.cert, tls.key); "
                  "this site runs without them (insecure test mode)");
  }
  message.set_study_id(ctx.task->study_id());
  message.set_spec_sha256(StudySpecHash(ctx.task->study()));
  message.set_site(ctx.site_id);
  message.set_kind(ctx.task->kind());
  // The key and certificate, read once per process and path (a site signs
  // two messages per secure round).
  struct Signer {
    std::unique_ptr<pki::PrivateKey> key;
    std::string cert;
  };
  static std::mutex mu;
  static auto* const signers = new std::map<std::string, std::shared_ptr<Signer>>();
  std::shared_ptr<Signer> signer;
  {
    std::lock_guard<std::mutex> lock(mu);
    auto& slot = (*signers)[ctx.key_path + "\n" + ctx.cert_path];
    if (slot == nullptr) {
      auto fresh = std::make_shared<Signer>();
      FEDRAD_ASSIGN_OR_RETURN(fresh->key, pki::PrivateKey::Load(ctx.key_path));
      FEDRAD_ASSIGN_OR_RETURN(fresh->cert, ReadFileToString(ctx.cert_path));
      slot = std::move(fresh);
    }
    signer = slot;
  }
  return rounds::Sign(message, *signer->key, signer->cert);
}

void RegisterSecAggTasks(TaskRegistry& registry) {
  registry.Register(TaskKind{"secagg.advertise",
                             "secure aggregation: this site's public keys for the study's session",
                             {},
                             Advertise});
  registry.Register(TaskKind{"secagg.shares",
                             "secure aggregation: Shamir shares of the self-mask seed, encrypted",
                             {},
                             Shares});
  registry.Register(TaskKind{"secagg.reveal",
                             "secure aggregation: the seeds that unmask one round's sum", {},
                             Reveal});
}

}  // namespace fedrad::site
