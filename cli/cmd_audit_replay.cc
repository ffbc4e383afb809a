// `fedrad audit replay`: recompute a study from the nodes' audit logs
// (rounds/replay.h; docs/auditor.md "Replay"). Exit codes: 0 everything
// verified and recomputed equal, 1 a mismatch (each printed, naming the log,
// record, site and round) or an unreadable file, 2 usage error.
//
//   fedrad audit replay --study demo-20261205T120000-1 --spec study.textproto
//       --ca pki/ca/ca.crt --results results.json audit/*.log
#include <algorithm>
#include <iostream>
#include <string>

#include "cli/command.h"
#include "rounds/replay.h"

namespace {

using fedrad::cli::Args;

int RunReplay(Args& args) {
  args.Describe(
      "Recomputes a study from the audit logs of its sites and its coordinator: verifies "
      "each log's chain, extracts the study's signed round messages (each site's signed "
      "contribution to every round), verifies every signature against the study CA and the "
      "approved spec's hash, recomputes every model fit with the same procedure the "
      "coordinator and the sites ran, reads each validation site's metrics from its signed "
      "models.validate and pools them as the coordinator does, and compares the coefficients, "
      "log-likelihood, iterations, n and events, the baselines, ComBat, the cohort summary and "
      "every validation metric and pooled meta-analysis number with results.json (--results). "
      "Exit 0 only if everything "
      "verifies and agrees; each mismatch is printed with its log, record, site and round.");
  const std::string study = args.Flag("study", "", "The study id (required)");
  const std::string spec = args.Flag("spec", "", "The approved study spec, text format (required)");
  const std::string ca = args.Flag("ca", "", "The study CA certificate (required)");
  const std::string crl = args.Flag("crl", "", "The study CA's CRL (optional)");
  const std::string results = args.Flag("results", "", "results.json to check (optional)");
  // One or more logs: one positional per log given (at least one).
  const size_t logs = std::max<size_t>(1, args.positionals().size());
  for (size_t i = 0; i < logs; ++i) {
    args.Positional(i == 0 ? "LOG..." : "LOG", "Audit logs of the sites and the coordinator");
  }
  if (!args.Finish()) return args.exit_code();
  if (study.empty() || spec.empty() || ca.empty()) {
    return args.UsageError("--study, --spec and --ca are required");
  }
  fedrad::rounds::ReplayOptions o;
  o.study_id = study;
  o.spec_path = spec;
  o.ca_cert_path = ca;
  o.crl_path = crl;
  o.results_path = results;
  o.logs = args.positionals();
  auto report = fedrad::rounds::Replay(o);
  if (!report.ok()) {
    std::cerr << "fedrad audit replay: " << report.status().message() << "\n";
    return 1;
  }
  for (const auto& n : report->notes) std::cout << "note: " << n << "\n";
  if (!report->ok) {
    std::cout << "FAILED: " << report->problems.size() << " mismatch(es)\n";
    for (const auto& p : report->problems) std::cout << "  " << p << "\n";
    return 1;
  }
  std::cout << "OK: " << report->messages << " signed messages verified, " << report->fits
            << " fit(s) recomputed, " << report->validation_sites << " site validation(s) of "
            << report->validated_models << " model(s) recomputed";
  if (!results.empty()) std::cout << ", " << report->compared << " numbers of results.json agree";
  std::cout << "\n";
  return 0;
}

FEDRAD_REGISTER_COMMAND("audit replay", "Recompute a study's results from the audit logs",
                        RunReplay);

}  // namespace
