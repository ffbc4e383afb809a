// Fuzz target: a site answering one Task from a coordinator (the input is
// the serialized fedrad.v1.Task, as it arrives in CoordinatorMessage.task):
// decode, the daemon's gate (sizes and unknown fields, plain study id,
// registry lookup, policy, needed kinds, spec patterns and roles), the
// handler of every registered kind, the privacy guard with the study's
// release ledger, and the masking of a secure round -- FuzzSite::Run in
// site_harness.h, which lists what of SiteNode::Impl::Execute it leaves out.
//
// Each input starts from the state the sites hold after an honest run of
// tests/fuzz/fixtures/study.textproto (prepared model rows, fitted ComBat,
// the ledger of what was released), so that later steps are reachable. The
// site answering is the one the task id ends with ("/B", "/C"; A otherwise),
// as in the coordinator's task ids. Seeds: tests/fuzz/make_seeds.cc.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>

#include "absl/strings/match.h"
#include "tests/fuzz/site_harness.h"

namespace {

struct Fixture {
  fedrad::fuzz::Federation federation;
  std::map<std::string, fedrad::CsvTable> tables;
  std::map<std::string, std::map<std::string, std::string>> kvs;
  std::map<std::string, fedrad::site::ReleaseLedger> ledgers;

  Fixture() {
    if (absl::Status s = federation.RunStudy(); !s.ok()) {
      std::cerr << "the honest study failed: " << s << "\n";
      std::abort();
    }
    for (const auto& [name, site] : federation.sites) {
      tables[name] = site->table;
      kvs[name] = site->kv;
      ledgers[name] = site->ledger;
    }
  }
};

Fixture& TheFixture() {
  static Fixture* fixture = new Fixture;
  return *fixture;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  TheFixture();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fedrad::v1::Task task;
  if (!task.ParseFromArray(data, static_cast<int>(size))) return 0;
  Fixture& f = TheFixture();
  std::string name = "A";
  if (absl::EndsWith(task.task_id(), "/B")) name = "B";
  if (absl::EndsWith(task.task_id(), "/C")) name = "C";
  fedrad::fuzz::FuzzSite& site = *f.federation.sites.at(name);
  site.table = f.tables[name];
  site.kv = f.kvs[name];
  site.ledger = f.ledgers[name];
  fedrad::v1::TaskResult result = site.Run(task);
  // What leaves the site is a message the coordinator can read.
  std::string bytes;
  if (!result.SerializeToString(&bytes)) std::abort();
  return 0;
}
