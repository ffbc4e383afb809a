#include "proto/secure_sum.h"

#include <algorithm>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/secagg.h"
#include "core/secagg_rounds.h"
#include "core/status.h"

namespace fedrad::rounds {
namespace {

std::vector<std::string> Sorted(const google::protobuf::RepeatedPtrField<std::string>& f) {
  std::vector<std::string> v(f.begin(), f.end());
  std::sort(v.begin(), v.end());
  return v;
}

bool SameLayout(const v1::Contribution& a, const v1::Contribution& b) {
  if (a.summed_names_size() != b.summed_names_size() ||
      a.summed_layout_size() != b.summed_layout_size()) {
    return false;
  }
  for (int i = 0; i < a.summed_names_size(); ++i) {
    if (a.summed_names(i) != b.summed_names(i) || a.summed_sizes(i) != b.summed_sizes(i)) {
      return false;
    }
  }
  for (int i = 0; i < a.summed_layout_size(); ++i) {
    if (a.summed_layout(i).name() != b.summed_layout(i).name() ||
        !std::equal(a.summed_layout(i).shape().begin(), a.summed_layout(i).shape().end(),
                    b.summed_layout(i).shape().begin(), b.summed_layout(i).shape().end())) {
      return false;
    }
  }
  return true;
}

struct Session {
  std::vector<std::string> participants;
  int threshold = 0;
};

absl::StatusOr<Session> SessionOf(absl::Span<const v1::RoundMessage> messages,
                                  const std::string& session) {
  Session s;
  std::set<std::string> signers;
  for (const v1::RoundMessage& m : messages) {
    if (!m.has_advert() || m.round_id() != session) continue;
    std::vector<std::string> p(m.advert().participants().begin(), m.advert().participants().end());
    if (signers.empty()) {
      s.participants = p;
      s.threshold = m.advert().threshold();
    } else if (p != s.participants || m.advert().threshold() != s.threshold) {
      return absl::InvalidArgumentError(absl::StrCat(
          "secure sum: the advert of site ", m.site(), " in session ", session,
          " names other participants or another threshold than the others"));
    }
    signers.insert(m.site());
  }
  if (signers.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("secure sum: no advert of session ", session, " among the messages"));
  }
  if (!std::is_sorted(s.participants.begin(), s.participants.end()) || s.threshold < 1 ||
      s.threshold > static_cast<int>(s.participants.size())) {
    return absl::InvalidArgumentError(absl::StrCat(
        "secure sum: session ", session, " has unsorted participants or threshold ", s.threshold));
  }
  return s;
}

// The per-round self seed of `site`: from its own reveal, else from the
// shares of its master seed the others revealed.
absl::StatusOr<secagg::Key32> SelfSeed(const std::string& site, const std::string& session,
                                       const std::string& round_id, const Session& sess,
                                       const std::map<std::string, const v1::SecAggReveal*>& own,
                                       absl::Span<const v1::RoundMessage> messages) {
  auto it = own.find(site);
  if (it != own.end() && !it->second->self_seed().empty()) {
    return secagg::KeyFromBytes(it->second->self_seed(),
                                absl::StrCat("the self seed site ", site, " revealed"));
  }
  std::vector<secagg::Share> shares;
  std::set<uint32_t> xs;
  for (const v1::RoundMessage& m : messages) {
    if (!m.has_reveal() || m.round_id() != round_id) continue;
    for (const v1::SeedShare& s : m.reveal().seed_shares()) {
      if (s.of_site() != site) continue;
      auto pos = std::find(sess.participants.begin(), sess.participants.end(), m.site());
      if (pos == sess.participants.end() ||
          s.x() != static_cast<int>(pos - sess.participants.begin()) + 1) {
        return absl::InvalidArgumentError(absl::StrCat(
            "secure sum: site ", m.site(), " revealed a share of ", site, "'s seed with x=",
            s.x(), ", which is not its own index in session ", session));
      }
      if (!xs.insert(static_cast<uint32_t>(s.x())).second) continue;  // a repeated reveal
      shares.push_back({static_cast<uint32_t>(s.x()), sess.threshold, s.y()});
    }
  }
  if (static_cast<int>(shares.size()) < sess.threshold) {
    return absl::FailedPreconditionError(absl::StrCat(
        "secure sum of round ", round_id, ": site ", site, " did not reveal its self seed and only ",
        shares.size(), " share(s) of its master seed were revealed; the threshold is t=",
        sess.threshold, " (rule secagg-threshold)"));
  }
  absl::StatusOr<secagg::Key32> master = secagg::ReconstructSecret(shares);
  if (!master.ok()) {
    return Annotate(master.status(), absl::StrCat("secure sum: the shares of ", site, "'s seed"));
  }
  return secagg::RoundSelfSeed(*master, session, round_id);
}

}  // namespace

absl::StatusOr<SecureSumResult> SecureSum(absl::Span<const v1::RoundMessage> messages,
                                          const std::string& round_id) {
  std::map<std::string, const v1::Contribution*> contributions;
  const v1::Contribution* first = nullptr;
  for (const v1::RoundMessage& m : messages) {
    if (!m.has_contribution() || m.round_id() != round_id) continue;
    const v1::Contribution& c = m.contribution();
    int64_t total = 0;
    for (int64_t size : c.summed_sizes()) total += size;
    if (c.words_per_value() != secagg::kWideWords || c.scale_bits() != secagg::kWideScaleBits ||
        c.masked_size() != total * secagg::kWideWords ||
        c.summed_names_size() != c.summed_sizes_size() || c.secagg_session().empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "secure sum: the contribution of site ", m.site(), " to round ", round_id,
          " is not a well-formed masked contribution"));
    }
    if (first != nullptr &&
        (!SameLayout(c, *first) || c.secagg_session() != first->secagg_session() ||
         Sorted(c.round_participants()) != Sorted(first->round_participants()))) {
      return absl::InvalidArgumentError(absl::StrCat(
          "secure sum: the contribution of site ", m.site(), " to round ", round_id,
          " has another layout, session or participant list than the others"));
    }
    if (!contributions.emplace(m.site(), &c).second) {
      return absl::InvalidArgumentError(absl::StrCat("secure sum: site ", m.site(),
                                                     " contributed twice to round ", round_id));
    }
    if (first == nullptr) first = &c;
  }
  if (first == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("secure sum: no masked contribution to round ", round_id));
  }
  const std::string session = first->secagg_session();
  FEDRAD_ASSIGN_OR_RETURN(Session sess, SessionOf(messages, session));
  SecureSumResult out;
  const std::vector<std::string> participants = Sorted(first->round_participants());
  for (const std::string& p : participants) {
    if (!std::binary_search(sess.participants.begin(), sess.participants.end(), p)) {
      return absl::InvalidArgumentError(absl::StrCat("secure sum: round ", round_id,
                                                     " names participant ", p,
                                                     ", who is not in session ", session));
    }
    (contributions.count(p) ? out.survivors : out.dropped).push_back(p);
  }
  for (const auto& [site, c] : contributions) {
    if (!std::binary_search(participants.begin(), participants.end(), site)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "secure sum: site ", site, " contributed to round ", round_id, " but is no participant"));
    }
  }
  if (static_cast<int>(out.survivors.size()) < secagg::kMinParticipants) {
    return absl::FailedPreconditionError(absl::StrCat(
        "secure sum of round ", round_id, ": only ", out.survivors.size(),
        " site(s) contributed; secure aggregation needs at least ", secagg::kMinParticipants,
        " (rule secagg-min-sites)"));
  }
  // Each survivor's own reveal (the one with its self seed).
  std::map<std::string, const v1::SecAggReveal*> own;
  for (const v1::RoundMessage& m : messages) {
    if (!m.has_reveal() || m.round_id() != round_id) continue;
    if (Sorted(m.reveal().survivors()) != out.survivors) {
      return absl::InvalidArgumentError(absl::StrCat(
          "secure sum: site ", m.site(), " revealed for round ", round_id,
          " with survivors {", absl::StrJoin(m.reveal().survivors(), ", "),
          "}, but the contributions are from {", absl::StrJoin(out.survivors, ", "), "}"));
    }
    if (!m.reveal().self_seed().empty()) own[m.site()] = &m.reveal();
  }
  std::vector<uint64_t> acc(first->masked_size(), 0);
  for (const auto& [site, c] : contributions) {
    FEDRAD_RETURN_IF_ERROR(
        secagg::AddWide(&acc, {c->masked().data(), static_cast<size_t>(c->masked_size())}, false));
  }
  for (const std::string& s : out.survivors) {
    FEDRAD_ASSIGN_OR_RETURN(secagg::Key32 self, SelfSeed(s, session, round_id, sess, own, messages));
    const std::string& committed = contributions.at(s)->self_seed_sha256();
    if (!committed.empty() && committed != secagg::SelfSeedCommitment(self)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "secure sum of round ", round_id, ": the self seed of site ", s,
          " does not match the commitment in its signed contribution (rule secagg-commitment)"));
    }
    FEDRAD_RETURN_IF_ERROR(secagg::AddMask(&acc, self, /*subtract=*/true));
    for (const std::string& d : out.dropped) {
      auto it = own.find(s);
      const v1::PairSeed* found = nullptr;
      if (it != own.end()) {
        for (const v1::PairSeed& ps : it->second->pair_seeds()) {
          if (ps.dropped_site() == d) found = &ps;
        }
      }
      if (found == nullptr) {
        return absl::FailedPreconditionError(absl::StrCat(
            "secure sum of round ", round_id, ": site ", s,
            " did not reveal its pairwise seed with ", d,
            ", which dropped; its masks cannot be removed (rerun the round)"));
      }
      FEDRAD_ASSIGN_OR_RETURN(secagg::Key32 seed,
                              secagg::KeyFromBytes(found->seed(), absl::StrCat(
                                  "the pairwise seed ", s, " revealed with ", d)));
      // s added PRG(s_sd) when s < d: take it away, and the reverse.
      FEDRAD_RETURN_IF_ERROR(secagg::AddMask(&acc, seed, secagg::AddsPairMask(s, d)));
    }
  }
  FEDRAD_ASSIGN_OR_RETURN(std::vector<double> values, secagg::DecodeWide(acc));
  size_t at = 0;
  for (int i = 0; i < first->summed_names_size(); ++i) {
    v1::Array* a = out.sum.add_arrays();
    a->set_name(first->summed_names(i));
    if (i < first->summed_layout_size()) *a->mutable_shape() = first->summed_layout(i).shape();
    const size_t n = static_cast<size_t>(first->summed_sizes(i));
    for (size_t k = 0; k < n; ++k) a->add_values(values[at + k]);
    at += n;
  }
  return out;
}

}  // namespace fedrad::rounds
