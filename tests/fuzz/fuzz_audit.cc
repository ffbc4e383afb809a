// Fuzz target: an auditor's tools on logs that may have been tampered with.
// The input is a site's audit log, optionally followed by "\n====\n" and a
// coordinator's log:
//   - audit::VerifyLogText (`fedrad audit verify`, closed and live logs);
//   - audit::VerifyLog, ReadRecords, LastRecordOfStudy on the log file;
//   - audit::CrossCheck (`fedrad audit cross-check SITE COORDINATOR`).
// Seeds: logs written by audit::AuditLog (tests/fuzz/make_seeds.cc).
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "core/audit_log.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<std::string> logs = fedrad::fuzz::Split(data, size, "\n====\n", 2);
  const std::string site = fedrad::fuzz::WriteScratch("site.log", logs[0]);
  const std::string coordinator =
      fedrad::fuzz::WriteScratch("coordinator.log", logs.size() > 1 ? logs[1] : logs[0]);
  fedrad::audit::VerifyOptions options;
  (void)fedrad::audit::VerifyLogText(logs[0], options);
  options.live = true;
  (void)fedrad::audit::VerifyLogText(logs[0], options);
  (void)fedrad::audit::VerifyLog(site, "");
  if (auto records = fedrad::audit::ReadRecords(site); records.ok() && !records->empty()) {
    (void)fedrad::audit::LastRecordOfStudy(*records, records->back().study);
  }
  (void)fedrad::audit::CrossCheck(site, coordinator);
  return 0;
}
