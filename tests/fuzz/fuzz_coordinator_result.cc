// Fuzz target: the coordinator reading the sites' TaskResults in every
// analysis step of tests/fuzz/fixtures/study.textproto (cohort summary,
// federated ComBat, Cox and logistic fits, validation): RunAnalyses on a
// StudyContext (coordinator/study_context.h) whose StudyHost answers each
// task with the next result of the input (a fedrad.fuzz.CoordinatorScript,
// fuzz_inputs.proto), then results.json as the daemon writes it. The
// sites' signed contributions are read unverified (no round trust, as in
// an in-process test host); their signatures are fuzz_rounds' part.
//
// Seeds: the answers of an honest run (tests/fuzz/make_seeds.cc).
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>

#include "coordinator/analyses.h"
#include "coordinator/study_context.h"
#include "proto/results_json.h"
#include "fuzz_inputs.pb.h"  // generated into the build root
#include "tests/fuzz/site_harness.h"

namespace {

class ScriptedSites : public fedrad::coordinator::StudyHost {
 public:
  explicit ScriptedSites(const fedrad::fuzz::CoordinatorScript& script) : script_(script) {}
  std::map<std::string, absl::StatusOr<fedrad::v1::TaskResult>> Exchange(
      const std::map<std::string, fedrad::v1::Task>& tasks, double) override {
    std::map<std::string, absl::StatusOr<fedrad::v1::TaskResult>> out;
    for (const auto& [site, task] : tasks) {
      if (next_ >= script_.results_size()) {
        out.emplace(site, absl::DeadlineExceededError("no answer"));
        continue;
      }
      fedrad::v1::TaskResult r = script_.results(next_++);
      // The site hub delivers only results to tasks it sent to that site.
      r.set_task_id(task.task_id());
      r.set_study_id(task.study_id());
      out.emplace(site, std::move(r));
    }
    return out;
  }
  void OnSiteState(const std::string&, const std::string&) override {}
  void OnProgress(const std::string&, double, const std::string&) override {}
  bool Cancelled() const override { return false; }

 private:
  const fedrad::fuzz::CoordinatorScript& script_;
  int next_ = 0;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fedrad::fuzz::CoordinatorScript script;
  if (!script.ParseFromArray(data, static_cast<int>(size))) return 0;
  ScriptedSites host(script);
  fedrad::coordinator::StudyContext ctx("fuzz", fedrad::fuzz::FuzzStudy(), {"A", "B", "C"},
                                        &host);
  (void)fedrad::coordinator::RunAnalyses(ctx);
  // results.json as the daemon writes it (study_runner.cc).
  (void)fedrad::PrintResults(ctx.results());
  return 0;
}
