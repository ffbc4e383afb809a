// A whole federation on one machine: a throw-away PKI, one coordinator
// process and one site process per site on loopback with mutual TLS, one
// study, results.json. Used by `fedrad sandbox` and `fedrad demo`
// (implemented in cmd_sandbox.cc).
//
//   fedrad::cli::SandboxOptions o;
//   o.sites = {{"S1", "s1.csv"}, {"S2", "s2.csv"}};
//   o.study_path = "examples/studies/cohort_summary.textproto";
//   o.out_dir = "out";
//   auto results = fedrad::cli::RunSandbox(o);   // also writes out/results.json
#ifndef FEDRAD_CLI_SANDBOX_H_
#define FEDRAD_CLI_SANDBOX_H_

#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"
#include "proto/study.pb.h"

namespace fedrad::cli {

struct SandboxOptions {
  std::vector<std::pair<std::string, std::string>> sites;  // name -> data CSV
  v1::Study study;
  std::string out_dir;
  int min_cell_count = 10;          // every site's k
  bool enable_debug_tasks = false;  // test-only task kinds at the sites
  bool quiet = false;               // no progress lines
  double site_wait_seconds = 30;    // how long the study waits for sites
  int extraction_threads = 0;       // every site's SiteConfig.extraction_threads (0: all cores)
};

// Runs the study; returns results.json (also written to out_dir). The study's
// own failure (state FAILED) is not an error here: results.json says so.
// Errors: InvalidArgument (bad options), Unavailable (a process did not
// start; the message names its log under out_dir/logs/), Cancelled (SIGINT or
// SIGTERM). Every started process is stopped before returning.
absl::StatusOr<nlohmann::json> RunSandbox(const SandboxOptions& options);

}  // namespace fedrad::cli

#endif  // FEDRAD_CLI_SANDBOX_H_
