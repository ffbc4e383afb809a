// Fuzz target: the signed round messages of verifiable and secure rounds as
// every node reads them (the input is a serialized fedrad.v1.Transcript, as
// it arrives in Task.transcript or TaskResult.signed):
//   1. rounds::VerifiedTranscript::Build with a rounds::Verifier against a
//      fixed study CA (certificate PEM, signature, body, signer checks);
//   2. the same bodies signed by real site certificates of that CA (A, B, C;
//      a body naming another site is signed by A) -- a site with a valid
//      certificate can sign anything, so what comes after verification must
//      hold against any body: Build again, then for every round its
//      messages (RoundOf, Round), rounds::SumRound with the transcript
//      (plain sums, or rounds::SecureSum for masked contributions),
//      rounds::SummedArrays, and the audit summary round trip
//      (AuditSummaryOf / SignedFromAuditSummary) that `fedrad audit replay`
//      reads.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "core/csv.h"
#include "core/pki.h"
#include "proto/round_signing.h"
#include "proto/secure_sum.h"
#include "rounds/transcript.h"
#include "tests/fuzz/fuzz_util.h"

namespace {

struct Identity {
  std::unique_ptr<fedrad::pki::PrivateKey> key;
  std::string cert_pem;
};

struct Fixture {
  fedrad::rounds::Trust trust;
  std::map<std::string, Identity> sites;

  Fixture() {
    const std::string ca = fedrad::fuzz::ScratchDir() + "/ca";
    Check(fedrad::pki::InitCa(ca, {}), "InitCa");
    trust.ca_cert_path = ca + "/ca.crt";
    trust.crl_path = ca + "/crl.pem";
    for (const char* site : {"A", "B", "C"}) {
      const std::string dir = fedrad::fuzz::ScratchDir() + "/ids";
      Check(fedrad::pki::IssueIdentity(ca, site, fedrad::pki::Role::kSite, dir).status(), site);
      auto key = fedrad::pki::PrivateKey::Load(dir + "/" + site + ".key");
      auto pem = fedrad::ReadFileToString(dir + "/" + site + ".crt");
      Check(key.status(), "key");
      Check(pem.status(), "cert");
      sites[site] = Identity{*std::move(key), *pem};
    }
  }
  static void Check(const absl::Status& s, const char* what) {
    if (!s.ok()) {
      std::cerr << "fuzz_rounds fixture: " << what << ": " << s << "\n";
      std::abort();
    }
  }
};

Fixture& TheFixture() {
  static Fixture* f = new Fixture;
  return *f;
}

void ReadVerified(const fedrad::rounds::VerifiedTranscript& t) {
  std::set<std::string> rounds;
  for (const auto& m : t.All()) rounds.insert(m->round_id());
  for (const auto& m : t.SecAgg()) rounds.insert(m->round_id());
  for (const std::string& round : rounds) {
    (void)t.RoundOf(round, {"A", "B", "C"});
    (void)t.RoundFrom(round, {"A", "B"});
    std::vector<fedrad::rounds::MessagePtr> messages = t.Round(round);
    for (const auto& m : messages) {
      (void)fedrad::rounds::SummedArrays(*m);
      (void)fedrad::rounds::InputArray(*m, "beta");
    }
    if (!messages.empty()) (void)fedrad::rounds::SumRound(messages, t);
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  TheFixture();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fedrad::v1::Transcript transcript;
  if (!transcript.ParseFromArray(data, static_cast<int>(size))) return 0;
  if (transcript.messages_size() > 64) return 0;  // each costs a signature
  Fixture& f = TheFixture();
  // 1. As received. A Verifier per input: its caches would grow with every
  // input otherwise (a daemon's grows with the study).
  {
    fedrad::rounds::Verifier verifier(f.trust);
    auto t = fedrad::rounds::VerifiedTranscript::Build(transcript, {}, &verifier);
    if (t.ok()) ReadVerified(*t);
  }
  // 2. Signed by sites of the federation.
  fedrad::v1::Transcript resigned;
  for (const auto& signed_message : transcript.messages()) {
    fedrad::v1::RoundMessage body;
    if (!body.ParseFromString(signed_message.body())) continue;
    auto it = f.sites.find(body.site());
    const Identity& id = it != f.sites.end() ? it->second : f.sites.at("A");
    auto s = fedrad::rounds::Sign(body, *id.key, id.cert_pem);
    if (!s.ok()) continue;
    auto back = fedrad::rounds::SignedFromAuditSummary(fedrad::rounds::AuditSummaryOf(body, *s));
    if (!back.ok() || back->SerializeAsString() != s->SerializeAsString()) std::abort();
    *resigned.add_messages() = *std::move(s);
  }
  fedrad::rounds::Verifier verifier(f.trust);
  auto t = fedrad::rounds::VerifiedTranscript::Build(resigned, {}, &verifier);
  if (t.ok()) ReadVerified(*t);
  return 0;
}
