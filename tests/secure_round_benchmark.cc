// The cost of a secure round against a plain round (issue 12): the
// coordinator (in this process) and n fedrad-site processes on loopback with
// mutual TLS; each round sums a debug.vector of `--length` doubles (default
// 1000, about the derivatives of a 30-covariate model) over every site.
// Three rounds of the same computation, each in a study the sites approved:
//   plain         one exchange, nothing signed (a study without
//                 secure_aggregation, a round no later step builds on);
//   plain verified  one exchange whose answers are signed, audited
//                 contributions, each verified by the coordinator: what a
//                 plain study's models.derivatives round costs beyond its
//                 computation (verifiable rounds);
//   secure        the masked exchange (signed), the reveal and the
//                 unmasking (coordinator/secure_round.h; the coordinator
//                 verifies every message), in a study with
//                 secure_aggregation: true.
// No transcript is forwarded to the sites here (debug.vector builds on
// nothing), so the sites' own checks of earlier rounds, which a real fit
// adds to both kinds alike, are not in these times:
// tests/bench/secure_fit_rounds.sh measures a real fit.
// The session's one-off setup (adverts, shares) and the first secure round
// (which carries the signed setup messages) are timed apart.
//
//   build/bench/fedrad_secure_round_benchmark [--sites 4,16,50] [--rounds 10] [--length 1000]
//
// Prints, per n: the mean of each kind of round over --rounds rounds
// (interleaved, so load changes hit all three alike), the ratios of the
// secure round to both plain rounds, and setup_ms / first_round_ms.
// Not a test: nothing is asserted.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "coordinator/coordinator.h"
#include "coordinator/secure_round.h"
#include "core/log.h"
#include "core/pki.h"
#include "proto/payload.h"
#include "proto/round_signing.h"
#include "proto/spec_hash.h"
#include "proto/textproto.h"
#include "tests/sandbox_testutil.h"

namespace fedrad::testing {
namespace {

double Ms(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - since)
      .count();
}

// A coordinator in this process and `n` fedrad-site processes that approved
// one secure study with debug rounds.
struct Federation {
  TempDir dir{"secure-bench"};
  std::unique_ptr<coordinator::Coordinator> coordinator;
  std::vector<Process> sites;
  std::unique_ptr<coordinator::StudyContext> ctx;    // secure_aggregation: true
  std::unique_ptr<coordinator::StudyContext> plain;  // the same study without it
  std::vector<std::string> names;

  explicit Federation(int n) {
    const std::string ca = dir.path() + "/ca", certs = dir.path() + "/certs";
    pki::InitCa(ca, {}).IgnoreError();
    pki::IssueIdentity(ca, "coordinator", pki::Role::kCoordinator, certs).IgnoreError();
    v1::CoordinatorConfig cc;
    cc.set_listen_address("127.0.0.1:0");
    cc.mutable_tls()->set_ca_cert(ca + "/ca.crt");
    cc.mutable_tls()->set_crl(ca + "/crl.pem");
    cc.mutable_tls()->set_cert(certs + "/coordinator.crt");
    cc.mutable_tls()->set_key(certs + "/coordinator.key");
    cc.set_data_dir(dir.path() + "/data");
    cc.set_audit_log(dir.path() + "/audit/coordinator.log");
    coordinator = std::move(coordinator::Coordinator::Create(cc)).value();
    coordinator->Start().IgnoreError();
    v1::Study study;
    study.set_name("secure-bench");
    study.set_secure_aggregation(true);
    study.mutable_quorum()->set_task_timeout_seconds(120);
    study.mutable_debug()->set_vector_rounds(1);
    study.mutable_debug()->set_vector_length(1);
    const std::string study_path = dir.path() + "/study.textproto";
    WriteAll(study_path, ToTextProto(study));
    v1::Study plain_study = study;
    plain_study.set_name("plain-bench");
    plain_study.set_secure_aggregation(false);
    const std::string plain_path = dir.path() + "/plain.textproto";
    WriteAll(plain_path, ToTextProto(plain_study));
    for (int i = 0; i < n; ++i) {
      std::string name = "B" + std::to_string(100 + i);
      names.push_back(name);
      pki::IssueIdentity(ca, name, pki::Role::kSite, certs).IgnoreError();
      std::string csv = dir.path() + "/" + name + ".csv";
      WriteCohortCsv(csv, name, 20, i);
      v1::SiteConfig sc;
      sc.set_coordinator_address("127.0.0.1:" + std::to_string(coordinator->port()));
      sc.mutable_tls()->set_ca_cert(ca + "/ca.crt");
      sc.mutable_tls()->set_crl(ca + "/crl.pem");
      sc.mutable_tls()->set_cert(certs + "/" + name + ".crt");
      sc.mutable_tls()->set_key(certs + "/" + name + ".key");
      sc.set_data_csv(csv);
      sc.mutable_policy()->set_enable_debug_tasks(true);
      sc.mutable_policy()->set_max_queued_tasks_per_study(64);
      sc.set_output_dir(dir.path() + "/sites/" + name);
      sc.set_audit_log(dir.path() + "/audit/" + name + ".log");
      sc.set_state_dir(dir.path() + "/state/" + name);
      std::string config = dir.path() + "/" + name + ".textproto";
      WriteAll(config, ToTextProto(sc));
      for (const std::string& spec : {study_path, plain_path}) {
        if (!ApproveStudy(config, spec, dir.path() + "/" + name + ".approve.log")) {
          FEDRAD_LOG(ERROR) << "site " << name << " did not approve " << spec;
        }
      }
      sites.push_back(Start({BinDir() + "/fedrad-site", "--config", config},
                            dir.path() + "/" + name + ".log"));
    }
    if (!coordinator->WaitForSites(names, 120)) {
      FEDRAD_LOG(ERROR) << "sites did not connect";
    }
    ctx = coordinator->NewStudyContext("secure-bench-" + std::to_string(n), study, names);
    plain = coordinator->NewStudyContext("plain-bench-" + std::to_string(n), plain_study, names);
    // As the daemon's study runner does: signed round messages are checked
    // against the federation CA.
    rounds::Trust trust;
    trust.ca_cert_path = ca + "/ca.crt";
    trust.crl_path = ca + "/crl.pem";
    ctx->set_round_trust(trust);
    plain->set_round_trust(trust);
  }
  ~Federation() {
    ctx.reset();
    plain.reset();
    for (auto& p : sites) Terminate(p);
    coordinator->Shutdown();
  }
};

// The sum of the sites' vectors of a plain round; false if a site is missing.
bool SumPlain(const std::map<std::string, v1::TaskResult>& results, int n, int length) {
  if (static_cast<int>(results.size()) != n) return false;
  std::vector<double> sum(static_cast<size_t>(length), 0.0);
  for (const auto& [site, res] : results) {
    const auto& v = res.payload().arrays(0).values();
    for (int i = 0; i < length; ++i) sum[static_cast<size_t>(i)] += v[i];
  }
  return true;
}

int Bench(int n, int rounds, int length) {
  Federation fed(n);
  v1::Payload params;
  AddScalar(&params, "length", length);
  std::map<std::string, v1::Payload> by_site;
  for (const auto& s : fed.names) by_site[s] = params;
  // Warm-up: one plain round of each study (connections, first task).
  if (!fed.plain->Broadcast("debug.vector", params).ok()) return 1;
  auto t0 = std::chrono::steady_clock::now();
  auto first = coordinator::RunSecureRound(*fed.ctx, "debug.vector", by_site, fed.names);
  const double setup_and_first_ms = Ms(t0);
  if (!first.ok()) {
    std::fprintf(stderr, "secure round failed: %s\n", std::string(first.status().message()).c_str());
    return 1;
  }
  t0 = std::chrono::steady_clock::now();
  if (!coordinator::RunSecureRound(*fed.ctx, "debug.vector", by_site, fed.names).ok()) return 1;
  const double second_ms = Ms(t0);
  double plain_ms = 0, signed_ms = 0, secure_ms = 0;
  for (int r = 0; r < rounds; ++r) {
    t0 = std::chrono::steady_clock::now();
    auto plain = fed.plain->Broadcast("debug.vector", params);
    if (!plain.ok() || !SumPlain(*plain, n, length)) return 1;
    plain_ms += Ms(t0);
    std::map<std::string, v1::Payload> signed_params = by_site;
    for (auto& [site, p] : signed_params) {
      (*p.mutable_strings())["round"] = "bench/r" + std::to_string(r);
    }
    t0 = std::chrono::steady_clock::now();
    auto signed_round = fed.plain->RunRound("debug.vector", signed_params);
    if (!signed_round.ok() || !SumPlain(*signed_round, n, length)) return 1;
    // What a plain study's coordinator does with a verifiable round's
    // answers (coordinator::internal::RoundMessageOf): each site's signed
    // contribution checked against the study CA, spec and round id.
    for (const auto& [site, res] : *signed_round) {
      rounds::Expectation expect;
      expect.study_id = fed.plain->study_id();
      expect.spec_sha256 = StudySpecHash(fed.plain->study());
      expect.signers = {site};
      expect.round_id = "bench/r" + std::to_string(r);
      absl::Status verified =
          !res.has_signed_() ? absl::DataLossError("no signed contribution")
          : fed.plain->round_verifier() == nullptr
              ? absl::FailedPreconditionError("the study context has no round verifier")
              : fed.plain->round_verifier()->Verify(res.signed_(), expect).status();
      if (!verified.ok()) {
        std::fprintf(stderr, "site %s: %s\n", site.c_str(),
                     std::string(verified.message()).c_str());
        return 1;
      }
    }
    signed_ms += Ms(t0);
    t0 = std::chrono::steady_clock::now();
    auto secure = coordinator::RunSecureRound(*fed.ctx, "debug.vector", by_site, fed.names);
    if (!secure.ok()) {
      std::fprintf(stderr, "secure round failed: %s\n",
                   std::string(secure.status().message()).c_str());
      return 1;
    }
    secure_ms += Ms(t0);
  }
  plain_ms /= rounds;
  signed_ms /= rounds;
  secure_ms /= rounds;
  std::printf("sites=%d length=%d rounds=%d plain_ms=%.2f plain_verified_ms=%.2f secure_ms=%.2f "
              "ratio_to_plain=%.2f ratio_to_plain_verified=%.2f setup_and_first_round_ms=%.1f "
              "second_round_ms=%.2f\n",
              n, length, rounds, plain_ms, signed_ms, secure_ms, secure_ms / plain_ms,
              secure_ms / signed_ms, setup_and_first_ms, second_ms);
  std::fflush(stdout);
  return 0;
}

}  // namespace
}  // namespace fedrad::testing

int main(int argc, char** argv) {
  fedrad::SetMinLogLevel(fedrad::LogLevel::kWarning);
  std::vector<int> sites = {4, 16, 50};
  int rounds = 10, length = 1000;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--sites") {
      sites.clear();
      for (absl::string_view s : absl::StrSplit(value, ',')) {
        int n = 0;
        if (absl::SimpleAtoi(s, &n)) sites.push_back(n);
      }
    } else if (flag == "--rounds") {
      absl::SimpleAtoi(value, &rounds);
    } else if (flag == "--length") {
      absl::SimpleAtoi(value, &length);
    }
  }
  int rc = 0;
  for (int n : sites) rc |= fedrad::testing::Bench(n, rounds, length);
  return rc;
}
