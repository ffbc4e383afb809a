// Fuzz target: CSV tables and manifests as a site reads them.
//   - core/csv.h ParseCsv, then the typed accessors every handler uses
//     (NumericColumn, StringColumn, RequireUnique) and FormatCsv, whose
//     output must parse back to the same table;
//   - features/cohort.h ReadManifest (`fedrad extract`, features.extract),
//     on the same bytes written as a manifest file.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "core/csv.h"
#include "features/cohort.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<fedrad::CsvTable> table = fedrad::ParseCsv(text, "fuzz.csv");
  if (table.ok()) {
    for (const std::string& column : table->header()) {
      (void)table->NumericColumn(column, fedrad::MissingValues::kAllow);
      (void)table->NumericColumn(column, fedrad::MissingValues::kReject);
      (void)table->StringColumn(column);
      (void)table->RequireUnique(column);
    }
    // What the site writes back (working snapshots) must read back equal.
    absl::StatusOr<fedrad::CsvTable> again = fedrad::ParseCsv(fedrad::FormatCsv(*table), "again");
    if (!again.ok() || again->header() != table->header() || again->rows() != table->rows()) {
      std::abort();
    }
  }
  const std::string manifest = fedrad::fuzz::WriteScratch("manifest.csv", data, size);
  (void)fedrad::features::ReadManifest(manifest);
  return 0;
}
