// Fuzz target: a results.json as the report reads it (`fedrad report`,
// report/report.h): report::WriteReportFile, which reads and parses the
// file, renders it with report::RenderReport and writes the page.
// Seeds: report/testdata and the results of the fuzz study (make_seeds.cc).
#include <cstddef>
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "report/report.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = fedrad::fuzz::WriteScratch("results.json", data, size);
  (void)fedrad::report::WriteReportFile(path, fedrad::fuzz::ScratchDir() + "/report.html");
  return 0;
}
