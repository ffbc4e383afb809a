// The auditor's replay of a study from the nodes' audit logs (issue 12;
// `fedrad audit replay`, docs/auditor.md "Replay"). The logs of the sites and
// of the coordinator hold every signed round message (audit decisions of
// kind "round.signed", rounds/transcript.h). Replay
//   1. verifies each log's chain and signatures (audit::VerifyLog, as live
//      logs; their problems are mismatches);
//   2. extracts the study's signed messages and verifies each signature
//      (rounds::Verify: the study CA, a site certificate, the study id and the
//      approved spec's hash); a message that does not verify is reported with
//      its log, record number, site and round;
//   3. recomputes every model fit (rounds::ReplayFit, the same FitSpec the
//      coordinator and the sites ran) and, when results.json is given,
//      compares its coefficients, log-likelihood, iterations, n and events
//      (1e-9 relative); each difference is a mismatch;
//   4. reads each validation site's metrics from its signed models.validate
//      (checking that it scored the recomputed coefficients) and pools them
//      (rounds/validation_pool.h, the coordinator's functions); with
//      results.json, compares every number of validation.<model>.sites.<site>
//      and validation.<model>.pooled; a missing signed models.validate is a
//      mismatch naming the site and the round.
//
//   rounds::ReplayOptions o;
//   o.study_id = "demo-20261205T120000-1";
//   o.spec_path = "study.textproto";
//   o.ca_cert_path = "pki/ca/ca.crt";
//   o.logs = {"audit/A.log", "audit/B.log", "audit/coordinator.log"};
//   o.results_path = "results.json";
//   FEDRAD_ASSIGN_OR_RETURN(rounds::ReplayReport r, rounds::Replay(o));
//   if (!r.ok) for (const auto& p : r.problems) std::cerr << p << "\n";
//
// Thread safety: reentrant.
#ifndef FEDRAD_ROUNDS_REPLAY_H_
#define FEDRAD_ROUNDS_REPLAY_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace fedrad::rounds {

struct ReplayOptions {
  std::string study_id;
  std::string spec_path;     // the approved spec (protobuf text format)
  std::string ca_cert_path;  // the study CA certificate
  std::string crl_path;      // optional
  std::string results_path;  // optional: results.json to check
  std::vector<std::string> logs;
};

struct ReplayReport {
  bool ok = false;
  std::vector<std::string> problems;  // each names the log, record, site, round
  std::vector<std::string> notes;     // what was recomputed
  int64_t messages = 0;               // distinct verified signed messages
  int64_t fits = 0;                   // fits recomputed
  int64_t compared = 0;               // results.json numbers compared
  int64_t validated_models = 0;       // models whose pooled validation was recomputed
  int64_t validation_sites = 0;       // signed models.validate answers read
};

// Replays the study. Errors (not problems): InvalidArgument for missing
// options, NotFound / InvalidArgument for an unreadable spec, log or
// results file.
absl::StatusOr<ReplayReport> Replay(const ReplayOptions& options);

}  // namespace fedrad::rounds

#endif  // FEDRAD_ROUNDS_REPLAY_H_
