// The fixed federation the site and coordinator fuzz targets run in: the
// study tests/fuzz/fixtures/study.textproto over three sites A, B, C holding
// models/testdata/site_{A,B,C}.csv, each site answering a task the way the
// daemon does (site_node/site_worker.cc, SiteNode::Impl::Gate and Execute).
//
//   fedrad::fuzz::FuzzSite site("A", table);
//   fedrad::v1::TaskResult r = site.Run(task);
//
// What FuzzSite::Run leaves out of the daemon's Execute, and why: the
// operator's approval (the fuzzer stands for a coordinator whose spec was
// approved, so the spec in Task.study is trusted as far as an approval makes
// it), the crash-loop guard and the audit log (files; they only record), the
// working snapshot and checkpoints (the fuzzer restarts from the same state
// every input), TLS paths (secure rounds and signed contributions are fuzzed
// through fuzz_rounds instead). Every check the gate makes on the task
// itself, the handler, and the privacy guard with its ledger are the
// production functions, called in the daemon's order.
//
// Not thread safe.
#ifndef FEDRAD_TESTS_FUZZ_SITE_HARNESS_H_
#define FEDRAD_TESTS_FUZZ_SITE_HARNESS_H_

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "coordinator/study_context.h"
#include "core/csv.h"
#include "proto/fedrad.pb.h"
#include "proto/results.pb.h"
#include "proto/study.pb.h"
#include "site_node/privacy_guard.h"
#include "site_node/site_rules.h"
#include "site_node/task_registry.h"

namespace fedrad::fuzz {

// The site policy's k in the harness (the study asks for 5: the larger wins).
constexpr int kSiteMinCellCount = 10;

// tests/fuzz/fixtures/study.textproto (aborts if it does not parse).
const v1::Study& FuzzStudy();
// The sites' tables, by site name (A, B, C).
const std::map<std::string, CsvTable>& FuzzTables();

class FuzzSite {
 public:
  FuzzSite(std::string site_id, CsvTable table);
  FuzzSite(const FuzzSite&) = delete;
  FuzzSite& operator=(const FuzzSite&) = delete;

  // Answers one task as SiteNode::Impl::Execute would; a failed task leaves
  // the state as it was.
  v1::TaskResult Run(const v1::Task& task);

  // The study's state at this site (working table, key/value store,
  // released populations); the fuzz target resets it between inputs.
  CsvTable table;
  std::map<std::string, std::string> kv;
  site::ReleaseLedger ledger;
  // How long a task may run before its handler is told to stop: 2 s for a
  // fuzz input (libFuzzer's -timeout catches one that does not stop); the
  // honest run that builds the fixture gets longer (Federation::RunStudy),
  // so that a loaded machine cannot fail it (models.validate's bootstrap
  // under ASan took more than 2 s while other builds ran).
  std::chrono::milliseconds task_deadline{2000};

 private:
  absl::Status Gate(const v1::Task& task, const site::TaskKind** kind) const;

  const std::string site_id_;
  const CsvTable data_table_;
  site::TaskRegistry registry_;
  site::PrivacyGuard guard_;
};

// A StudyHost whose sites are FuzzSites (A, B, C): the honest federation the
// seed corpora are recorded from, and the fixed state fuzz_site_task starts
// each input from.
class Federation : public coordinator::StudyHost {
 public:
  Federation();
  std::map<std::string, absl::StatusOr<v1::TaskResult>> Exchange(
      const std::map<std::string, v1::Task>& tasks_by_site, double timeout_seconds) override;
  void OnSiteState(const std::string&, const std::string&) override {}
  void OnProgress(const std::string&, double, const std::string&) override {}
  bool Cancelled() const override { return false; }

  // Runs FuzzStudy() to the end (coordinator::RunAnalyses).
  absl::Status RunStudy();

  std::map<std::string, std::unique_ptr<FuzzSite>> sites;
  // Everything exchanged, in order: each task and its result.
  std::vector<std::pair<v1::Task, v1::TaskResult>> log;
  // results.json of the last RunStudy.
  v1::Results results;
};

}  // namespace fedrad::fuzz

#endif  // FEDRAD_TESTS_FUZZ_SITE_HARNESS_H_
