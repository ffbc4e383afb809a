#include "rounds/transcript.h"

#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <cmath>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/hash.h"
#include "core/pki.h"
#include "core/secagg_rounds.h"
#include "core/status.h"
#include "proto/node_audit.h"
#include "proto/payload.h"
#include "proto/secure_sum.h"

namespace fedrad::rounds {

std::string PrepareRound(const std::string& model) { return absl::StrCat("models/", model, "/prepare"); }
std::string EvalRound(const std::string& model, const std::string& fit, int64_t k) {
  return absl::StrCat("models/", model, "/fit/", fit, "/eval/", k);
}
std::string SiteFitRound(const std::string& model) { return absl::StrCat("models/", model, "/fit/site"); }
std::string BaselineRound(const std::string& model, const std::string& fit) {
  return absl::StrCat("models/", model, "/fit/", fit, "/baseline");
}
std::string LpSummaryRound(const std::string& model, const std::string& fit) {
  return absl::StrCat("models/", model, "/fit/", fit, "/lp_summary");
}
std::string ValidateRound(const std::string& model, const std::string& fit) {
  return absl::StrCat("models/", model, "/fit/", fit, "/validate");
}
std::string CombatMomentsRound() { return "combat/moments"; }
std::string CombatResidualsRound() { return "combat/residuals"; }
std::string CohortMomentsRound() { return "cohort/moments"; }
std::string CohortCountsRound() { return "cohort/counts"; }
std::string LosoFit(const std::string& held_out_site) { return absl::StrCat("loso-", held_out_site); }

bool Agree(const std::vector<double>& a, const std::vector<double>& b, double rel) {
  if (a.size() != b.size()) return false;
  double norm = 0, diff = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    if (!std::isfinite(a[i]) || !std::isfinite(b[i])) {
      if (!(a[i] == b[i]) && !(std::isnan(a[i]) && std::isnan(b[i]))) return false;
      continue;
    }
    norm = std::max({norm, std::fabs(a[i]), std::fabs(b[i])});
    diff = std::max(diff, std::fabs(a[i] - b[i]));
  }
  return diff <= rel * norm;
}

absl::StatusOr<v1::Contribution> MakeContribution(const v1::Payload& payload,
                                                  const std::vector<std::string>& summed,
                                                  v1::Payload inputs) {
  v1::Contribution c;
  *c.mutable_inputs() = std::move(inputs);
  for (const std::string& name : summed) {
    FEDRAD_ASSIGN_OR_RETURN(const v1::Array* a, GetArray(payload, name));
    c.add_summed_names(name);
    c.add_summed_sizes(a->values_size());
    c.mutable_summed()->Add(a->values().begin(), a->values().end());
  }
  for (const v1::Array& a : payload.arrays()) {
    if (std::find(summed.begin(), summed.end(), a.name()) == summed.end()) {
      *c.mutable_plain()->add_arrays() = a;
    }
  }
  for (const auto& [k, v] : payload.strings()) (*c.mutable_plain()->mutable_strings())[k] = v;
  *c.mutable_plain()->mutable_lists() = payload.lists();
  return c;
}

absl::StatusOr<Sums> SummedArrays(const v1::RoundMessage& message) {
  const std::string who = absl::StrCat("the contribution of site '", message.site(), "' to round '",
                                       message.round_id(), "'");
  if (!message.has_contribution()) return absl::InvalidArgumentError(absl::StrCat(who, " is missing"));
  const v1::Contribution& c = message.contribution();
  if (c.masked_size() > 0) {
    return absl::UnimplementedError(absl::StrCat(who, " is masked (secure aggregation); this build "
                                                      "sums plain rounds only"));
  }
  if (c.summed_names_size() != c.summed_sizes_size()) {
    return absl::InvalidArgumentError(absl::StrCat(who, ": summed_names and summed_sizes differ in length"));
  }
  Sums out;
  int64_t at = 0;
  for (int i = 0; i < c.summed_names_size(); ++i) {
    const int64_t size = c.summed_sizes(i);
    if (size < 0 || at + size > c.summed_size() || out.count(c.summed_names(i))) {
      return absl::InvalidArgumentError(absl::StrCat(who, ": its summed layout does not add up"));
    }
    out[c.summed_names(i)].assign(c.summed().begin() + at, c.summed().begin() + at + size);
    at += size;
  }
  if (at != c.summed_size()) {
    return absl::InvalidArgumentError(absl::StrCat(who, ": its summed layout does not add up"));
  }
  return out;
}

absl::StatusOr<Sums> SumRound(const std::vector<v1::RoundMessage>& messages) {
  std::vector<const v1::RoundMessage*> p;
  for (const auto& m : messages) p.push_back(&m);
  return SumRound(p);
}

absl::StatusOr<Sums> SumRound(const std::vector<MessagePtr>& messages) {
  std::vector<const v1::RoundMessage*> p;
  for (const auto& m : messages) p.push_back(m.get());
  return SumRound(p);
}

absl::StatusOr<Sums> SumRound(const std::vector<const v1::RoundMessage*>& messages) {
  if (messages.empty()) return absl::InvalidArgumentError("a round with no contribution");
  std::vector<const v1::RoundMessage*> sorted = messages;
  std::sort(sorted.begin(), sorted.end(),
            [](const v1::RoundMessage* a, const v1::RoundMessage* b) { return a->site() < b->site(); });
  Sums total;
  bool first = true;
  for (const v1::RoundMessage* m : sorted) {
    // Secure aggregation (part A) replaces this loop for masked rounds.
    FEDRAD_ASSIGN_OR_RETURN(Sums one, SummedArrays(*m));
    if (first) {
      for (const auto& [name, v] : one) total[name].assign(v.size(), 0.0);
      first = false;
    }
    if (one.size() != total.size()) {
      return absl::InvalidArgumentError(absl::StrCat("round '", m->round_id(), "': site '", m->site(),
                                                     "' contributes other arrays than the others"));
    }
    for (auto& [name, acc] : total) {
      auto it = one.find(name);
      if (it == one.end() || it->second.size() != acc.size()) {
        return absl::InvalidArgumentError(absl::StrCat("round '", m->round_id(), "': site '", m->site(),
                                                       "' contributes '", name, "' of another size"));
      }
      for (size_t i = 0; i < acc.size(); ++i) acc[i] += it->second[i];
    }
  }
  return total;
}

bool IsMasked(const v1::RoundMessage& message) {
  return message.has_contribution() && (message.contribution().masked_size() > 0 ||
                                        !message.contribution().secagg_session().empty());
}

absl::StatusOr<Sums> SumRound(const std::vector<MessagePtr>& messages,
                              const VerifiedTranscript& transcript) {
  if (messages.empty() || !IsMasked(*messages.front())) return SumRound(messages);
  const std::string& round_id = messages.front()->round_id();
  const std::string& session = messages.front()->contribution().secagg_session();
  std::vector<v1::RoundMessage> all;
  for (const MessagePtr& m : transcript.SecAgg()) {
    if ((m->has_advert() && m->round_id() == session) ||
        (m->has_reveal() && m->round_id() == round_id)) {
      all.push_back(*m);
    }
  }
  std::vector<const v1::RoundMessage*> sorted;
  for (const MessagePtr& m : messages) {
    if (!IsMasked(*m) || m->round_id() != round_id || m->contribution().secagg_session() != session) {
      return absl::InvalidArgumentError(absl::StrCat("round '", round_id, "': site '", m->site(),
                                                     "' mixes masked and other contributions"));
    }
    all.push_back(*m);
    sorted.push_back(m.get());
  }
  absl::StatusOr<SecureSumResult> secure = SecureSum(all, round_id);
  if (!secure.ok()) {
    return absl::Status(secure.status().code(),
                        absl::StrCat("secure round '", round_id, "': ", secure.status().message()));
  }
  Sums total;
  for (const v1::Array& a : secure->sum.arrays()) total[a.name()].assign(a.values().begin(), a.values().end());
  std::sort(sorted.begin(), sorted.end(),
            [](const v1::RoundMessage* a, const v1::RoundMessage* b) { return a->site() < b->site(); });
  for (const std::string& name : sorted.front()->contribution().plain_summed()) {
    std::vector<double>& acc = total[name];
    for (const v1::RoundMessage* m : sorted) {
      FEDRAD_ASSIGN_OR_RETURN(std::vector<double> v, GetVector(m->contribution().plain(), name));
      if (acc.empty()) acc.assign(v.size(), 0.0);
      if (v.size() != acc.size()) {
        return absl::InvalidArgumentError(absl::StrCat("round '", round_id, "': site '", m->site(),
                                                       "' contributes '", name, "' of another size"));
      }
      for (size_t i = 0; i < acc.size(); ++i) acc[i] += v[i];
    }
  }
  return total;
}

absl::StatusOr<std::vector<double>> InputArray(const v1::RoundMessage& m, const std::string& name) {
  absl::StatusOr<std::vector<double>> v = GetVector(m.contribution().inputs(), name);
  if (v.ok()) return v;
  return GetVector(m.contribution().plain(), name);
}

std::string InputString(const v1::RoundMessage& m, const std::string& key) {
  for (const v1::Payload* p : {&m.contribution().inputs(), &m.contribution().plain()}) {
    auto it = p->strings().find(key);
    if (it != p->strings().end()) return it->second;
  }
  return "";
}

std::vector<std::string> InputList(const v1::RoundMessage& m, const kinds::List& field) {
  for (const v1::Payload* p : {&m.contribution().inputs(), &m.contribution().plain()}) {
    if (kinds::Has(*p, field)) return kinds::Get(*p, field);
  }
  return {};
}

namespace {
constexpr char kAuditMarker[] = "signed-message-base64: ";
}  // namespace

std::string AuditSummaryOf(const v1::RoundMessage& message, const v1::SignedMessage& signed_message) {
  return AuditSummaryOf(message.round_id(), message.site(), message.kind(),
                        DeterministicBytes(signed_message));
}

std::string AuditSummaryOf(absl::string_view round_id, absl::string_view site,
                           absl::string_view kind, absl::string_view signed_bytes) {
  return absl::StrCat("round message '", round_id, "' of site '", site, "' (", kind, "), ",
                      kAuditMarker, absl::Base64Escape(signed_bytes));
}

absl::StatusOr<v1::SignedMessage> SignedFromAuditSummary(const std::string& summary) {
  const size_t at = summary.find(kAuditMarker);
  std::string bytes;
  v1::SignedMessage out;
  if (at == std::string::npos ||
      !absl::Base64Unescape(absl::string_view(summary).substr(at + sizeof(kAuditMarker) - 1), &bytes) ||
      !out.ParseFromString(bytes)) {
    return absl::InvalidArgumentError("the record holds no readable signed round message");
  }
  return out;
}

namespace {

// The size and modification time of a file ("" when it cannot be read):
// a changed CRL or CA file invalidates the certificates checked against it.
std::string FileStamp(const std::string& path) {
  if (path.empty()) return "-";
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return "";
  return absl::StrCat(st.st_size, ":", st.st_mtim.tv_sec, ".", st.st_mtim.tv_nsec, ":", st.st_ino);
}

}  // namespace

// Messages a Verifier remembers (a fit of 50 sites x 100 evaluations is 5,050).
constexpr size_t kMaxCachedMessages = 100000;

struct Verifier::Cert {
  pki::CertificateInfo info;
  std::unique_ptr<pki::PublicKey> key;
  std::string stamp;  // CA and CRL files when the chain was checked
};

Verifier::Verifier(Trust trust) : trust_(std::move(trust)) {}
Verifier::~Verifier() = default;

size_t Verifier::messages_cached() const {
  std::lock_guard<std::mutex> lock(mu_);
  return known_;
}

std::string Verifier::CurrentStamp() {
  // The CA and CRL files are looked at no more than every 0.2 s: a
  // revocation is seen within that (the TLS layer checks every handshake).
  const auto now = std::chrono::steady_clock::now();
  std::lock_guard<std::mutex> lock(mu_);
  if (stamp_.empty() || now - stamp_at_ > std::chrono::milliseconds(200)) {
    const std::string ca = FileStamp(trust_.ca_cert_path), crl = FileStamp(trust_.crl_path);
    // An unreadable file: nothing is taken from the cache (the check fails).
    stamp_ = ca.empty() || crl.empty() ? "" : absl::StrCat(ca, "|", crl);
    stamp_at_ = now;
  }
  return stamp_;
}

absl::StatusOr<const Verifier::Cert*> Verifier::CheckCertificate(const std::string& pem) {
  const std::string stamp = CurrentStamp();
  const int64_t now = static_cast<int64_t>(std::time(nullptr));
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = certs_.find(pem);
    if (it != certs_.end() && !stamp.empty() && it->second->stamp == stamp &&
        it->second->info.not_before_unix <= now && now <= it->second->info.not_after_unix) {
      return it->second.get();
    }
  }
  absl::Status chain = pki::VerifyCertificatePem(pem, trust_.ca_cert_path, trust_.crl_path);
  if (!chain.ok()) {
    return absl::UnauthenticatedError(
        absl::StrCat("a signed round message's certificate: ", chain.message()));
  }
  auto cert = std::make_unique<Cert>();
  FEDRAD_ASSIGN_OR_RETURN(cert->info, pki::ParseCertificatePem(pem));
  if (cert->info.is_ca || cert->info.role != pki::Role::kSite) {
    return absl::UnauthenticatedError(absl::StrCat("round message signed by '",
                                                   cert->info.common_name,
                                                   "', whose certificate is not a site's"));
  }
  FEDRAD_ASSIGN_OR_RETURN(cert->key, pki::PublicKey::FromCertificatePem(pem));
  cert->stamp = stamp;
  std::lock_guard<std::mutex> lock(mu_);
  if (certs_.size() >= 4096) certs_.clear();
  auto& slot = certs_[pem];
  slot = std::move(cert);
  return slot.get();
}

absl::StatusOr<v1::RoundMessage> Verifier::Verify(const v1::SignedMessage& signed_message,
                                                  const Expectation& expect) {
  FEDRAD_ASSIGN_OR_RETURN(MessagePtr m, VerifyShared(signed_message, expect));
  return *m;
}

absl::StatusOr<MessagePtr> Verifier::VerifyShared(const v1::SignedMessage& signed_message,
                                                  const Expectation& expect) {
  // Known by its signature; the certificate and body must be the same too
  // (a signature is never trusted for another body or certificate).
  MessagePtr message;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = messages_.find(signed_message.signature());
    if (it != messages_.end()) {
      for (const Known& k : it->second) {
        if (k.body == signed_message.body() && k.pem == signed_message.certificate_pem()) {
          message = k.message;
          break;
        }
      }
    }
  }
  if (message != nullptr) {
    // The certificate may have been revoked since: re-checked when the CRL
    // changed.
    FEDRAD_RETURN_IF_ERROR(CheckCertificate(signed_message.certificate_pem()).status());
  } else {
    FEDRAD_ASSIGN_OR_RETURN(const Cert* cert, CheckCertificate(signed_message.certificate_pem()));
    absl::Status sig = cert->key->Verify(SignedBytesOf(signed_message.body()), signed_message.signature());
    if (!sig.ok()) {
      return absl::UnauthenticatedError(absl::StrCat("round message from '", cert->info.common_name,
                                                     "': the signature does not match (",
                                                     sig.message(), ")"));
    }
    auto parsed = std::make_shared<v1::RoundMessage>();
    if (!parsed->ParseFromString(signed_message.body())) {
      return absl::InvalidArgumentError(
          absl::StrCat("round message from '", cert->info.common_name, "' does not parse"));
    }
    if (parsed->site() != cert->info.common_name) {
      return absl::UnauthenticatedError(absl::StrCat("round message claims site '", parsed->site(),
                                                     "' but is signed by '",
                                                     cert->info.common_name, "'"));
    }
    message = std::move(parsed);
    std::lock_guard<std::mutex> lock(mu_);
    // Bounded: a long-lived node forgets (and re-checks) old messages.
    if (known_ >= kMaxCachedMessages) {
      messages_.clear();
      known_ = 0;
    }
    messages_[signed_message.signature()].push_back(
        {signed_message.certificate_pem(), signed_message.body(), message});
    ++known_;
  }
  FEDRAD_RETURN_IF_ERROR(CheckExpectation(*message, expect));
  return message;
}

absl::Status CheckExpectation(const v1::RoundMessage& message, const Expectation& expect) {
  const std::string where = absl::StrCat("round message from '", message.site(), "' (round '",
                                         message.round_id(), "')");
  if (!expect.study_id.empty() && message.study_id() != expect.study_id) {
    return absl::PermissionDeniedError(absl::StrCat(where, " belongs to study '", message.study_id(),
                                                    "', not '", expect.study_id, "'"));
  }
  if (!expect.spec_sha256.empty() && message.spec_sha256() != expect.spec_sha256) {
    return absl::PermissionDeniedError(absl::StrCat(where, " was made under another spec (sha256 ",
                                                    message.spec_sha256().substr(0, 12), "…)"));
  }
  if (!expect.signers.empty() && std::find(expect.signers.begin(), expect.signers.end(),
                                           message.site()) == expect.signers.end()) {
    return absl::PermissionDeniedError(absl::StrCat(where, ": that site has no part in this round"));
  }
  if (!expect.round_id.empty() && message.round_id() != expect.round_id) {
    return absl::PermissionDeniedError(
        absl::StrCat(where, " was expected for round '", expect.round_id, "'"));
  }
  return absl::OkStatus();
}

absl::StatusOr<VerifiedTranscript> VerifiedTranscript::Build(const v1::Transcript& transcript,
                                                             const Expectation& expect,
                                                             Verifier* verifier) {
  return Build(std::vector<const v1::Transcript*>{&transcript}, expect, verifier);
}

namespace {

// A secure round's reveal that holds nothing but its site's self seed for
// the round (the usual case: nobody dropped). Null otherwise.
std::shared_ptr<v1::RoundMessage> SelfSeedOnlyReveal(const v1::SignedMessage& s) {
  auto m = std::make_shared<v1::RoundMessage>();
  if (!m->ParseFromString(s.body()) || !m->has_reveal()) return nullptr;
  const v1::SecAggReveal& r = m->reveal();
  if (r.self_seed().size() != 32 || r.pair_seeds_size() > 0 || r.seed_shares_size() > 0 ||
      r.unresponsive_size() > 0) {
    return nullptr;
  }
  return m;
}

// Whether `reveal`'s self seed is the one its site committed to in its
// signed contribution to the same round (already in `out`).
bool MatchesCommitment(const VerifiedTranscript& out, const v1::RoundMessage& reveal) {
  for (const MessagePtr& c : out.Round(reveal.round_id())) {
    if (c->site() != reveal.site() || !c->has_contribution()) continue;
    const std::string& committed = c->contribution().self_seed_sha256();
    absl::StatusOr<secagg::Key32> seed = secagg::KeyFromBytes(reveal.reveal().self_seed(), "seed");
    return !committed.empty() && seed.ok() && committed == secagg::SelfSeedCommitment(*seed);
  }
  return false;
}

}  // namespace

absl::StatusOr<VerifiedTranscript> VerifiedTranscript::Build(
    const std::vector<const v1::Transcript*>& parts, const Expectation& expect, Verifier* verifier) {
  VerifiedTranscript out;
  // Reveals holding only a self seed are checked last, against the
  // commitment in their site's signed contribution (one hash instead of a
  // signature check: a secure round's reveals would otherwise double what
  // a site verifies per round). The seed is all such a reveal contributes
  // (rounds::SecureSum checks its survivor list against the contributions
  // and the seed against the commitment again); any other reveal, or one
  // whose contribution has no commitment, is verified by its signature.
  struct Deferred {
    int at;
    const v1::SignedMessage* signed_message;
    std::shared_ptr<v1::RoundMessage> reveal;  // parsed once
  };
  std::vector<Deferred> deferred;
  int i = 0;
  for (const v1::Transcript* part : parts) {
    for (const v1::SignedMessage& s : part->messages()) {
      ++i;
      if (std::shared_ptr<v1::RoundMessage> reveal = SelfSeedOnlyReveal(s); reveal != nullptr) {
        deferred.push_back({i, &s, std::move(reveal)});
        continue;
      }
      absl::StatusOr<MessagePtr> m = verifier->VerifyShared(s, expect);
      if (!m.ok()) return Annotate(m.status(), absl::StrCat("transcript message #", i));
      FEDRAD_RETURN_IF_ERROR(out.Add(*std::move(m), absl::StrCat("transcript message #", i)));
    }
  }
  for (Deferred& d : deferred) {
    std::shared_ptr<v1::RoundMessage> reveal = std::move(d.reveal);
    const v1::SignedMessage* s = d.signed_message;
    const std::string origin = absl::StrCat("transcript message #", d.at);
    if (MatchesCommitment(out, *reveal)) {
      absl::Status fits = CheckExpectation(*reveal, expect);
      if (!fits.ok()) return Annotate(fits, origin);
      FEDRAD_RETURN_IF_ERROR(out.Add(MessagePtr(std::move(reveal)), origin));
      continue;
    }
    absl::StatusOr<MessagePtr> m = verifier->VerifyShared(*s, expect);
    if (!m.ok()) return Annotate(m.status(), origin);
    FEDRAD_RETURN_IF_ERROR(out.Add(*std::move(m), origin));
  }
  return out;
}

absl::Status VerifiedTranscript::Add(const v1::RoundMessage& message, const std::string& origin) {
  return Add(std::make_shared<const v1::RoundMessage>(message), origin);
}

absl::Status VerifiedTranscript::Add(MessagePtr message, const std::string& origin) {
  if (message->content_case() != v1::RoundMessage::kContribution) {
    if (secagg_bytes_.insert(DeterministicBytes(*message)).second) {
      secagg_.push_back(std::move(message));
      ++count_;
    }
    return absl::OkStatus();
  }
  auto& round = by_round_[message->round_id()];
  auto it = round.find(message->site());
  if (it != round.end()) {
    if (it->second == message || DeterministicBytes(*it->second) == DeterministicBytes(*message)) {
      return absl::OkStatus();
    }
    return absl::InvalidArgumentError(absl::StrCat(
        "site '", message->site(), "' signed two different messages for round '",
        message->round_id(), "' (", OriginOf(message->round_id(), message->site()), " and ", origin,
        ")"));
  }
  origin_[absl::StrCat(message->round_id(), "\n", message->site())] = origin;
  round[message->site()] = std::move(message);
  ++count_;
  return absl::OkStatus();
}

std::string VerifiedTranscript::OriginOf(const std::string& round_id, const std::string& site) const {
  auto it = origin_.find(absl::StrCat(round_id, "\n", site));
  return it == origin_.end() ? "" : it->second;
}

absl::StatusOr<std::vector<MessagePtr>> VerifiedTranscript::RoundFrom(
    const std::string& round_id, const std::vector<std::string>& sites) const {
  auto it = by_round_.find(round_id);
  if (it == by_round_.end()) {
    return absl::NotFoundError(absl::StrCat("the transcript has no message of round '", round_id, "'"));
  }
  std::vector<std::string> want = sites;
  std::sort(want.begin(), want.end());
  std::vector<std::string> missing;
  std::vector<MessagePtr> out;
  for (const auto& s : want) {
    auto m = it->second.find(s);
    if (m == it->second.end()) {
      missing.push_back(s);
    } else {
      out.push_back(m->second);
    }
  }
  if (!missing.empty()) {
    return absl::FailedPreconditionError(absl::StrCat("round '", round_id, "' lacks the contributions of ",
                                                      absl::StrJoin(missing, ", ")));
  }
  return out;
}

std::vector<MessagePtr> VerifiedTranscript::All() const {
  std::vector<MessagePtr> out;
  for (const auto& [round, by_site] : by_round_) {
    for (const auto& [site, m] : by_site) out.push_back(m);
  }
  return out;
}

std::vector<MessagePtr> VerifiedTranscript::Round(const std::string& round_id) const {
  std::vector<MessagePtr> out;
  auto it = by_round_.find(round_id);
  if (it == by_round_.end()) return out;
  for (const auto& [site, m] : it->second) out.push_back(m);
  return out;
}

absl::StatusOr<std::vector<MessagePtr>> VerifiedTranscript::RoundOf(
    const std::string& round_id, const std::vector<std::string>& sites) const {
  auto it = by_round_.find(round_id);
  if (it == by_round_.end()) {
    return absl::NotFoundError(absl::StrCat("the transcript has no message of round '", round_id, "'"));
  }
  std::vector<std::string> want = sites;
  std::sort(want.begin(), want.end());
  std::vector<std::string> missing, extra;
  for (const auto& s : want) {
    if (!it->second.count(s)) missing.push_back(s);
  }
  for (const auto& [s, m] : it->second) {
    if (std::find(want.begin(), want.end(), s) == want.end()) extra.push_back(s);
  }
  if (!missing.empty() || !extra.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "round '", round_id, "' should have the contributions of ", absl::StrJoin(want, ", "),
        missing.empty() ? "" : absl::StrCat("; missing: ", absl::StrJoin(missing, ", ")),
        extra.empty() ? "" : absl::StrCat("; from sites with no part in it: ", absl::StrJoin(extra, ", "))));
  }
  std::vector<MessagePtr> out;
  for (const auto& s : want) out.push_back(it->second.at(s));
  return out;
}

}  // namespace fedrad::rounds
