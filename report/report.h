// The study report: renders a results.json (docs/results.md) into ONE
// self-contained HTML file — inline CSS, inline SVG plots drawn by
// report/internal/svg.h, no network access, no external script — readable
// by a clinician and a statistician. Only aggregates in results.json are
// shown; curve points whose count is below the study's minimum cell count k
// are never drawn (they are reported as suppressed).
//
//   FEDRAD_ASSIGN_OR_RETURN(fedrad::v1::Results results, fedrad::ParseResults(text));
//   FEDRAD_ASSIGN_OR_RETURN(std::string html, fedrad::report::RenderReport(results));
//   // or, from files:
//   FEDRAD_RETURN_IF_ERROR(fedrad::report::WriteReportFile("results.json", "report.html"));
//
// Each section renders only when its keys exist and otherwise says "not part
// of this study". The keys read are listed in docs/report.md; results.json is
// read into its definition, proto/results.proto (proto/results_json.h), so a
// file with a key the definition lacks is refused, naming the key.
#ifndef FEDRAD_REPORT_REPORT_H_
#define FEDRAD_REPORT_REPORT_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include <nlohmann/json.hpp>

#include "proto/results.pb.h"

namespace fedrad::report {

struct ReportOptions {
  // Page title; default "fedrad study report: <study.name>".
  std::string title;
  // k used when results.json states none (study.min_cell_count,
  // privacy.min_cell_count, cohort.min_cell_count are looked up first).
  int default_min_cell_count = 10;
  // Where the results came from, shown in the footer (set by WriteReportFile).
  std::string results_source;
  std::string results_sha256;
  // An inline script that marks every plot with data-rendered="yes|no"
  // after layout (its bounding box) and fills #render-check; used by the
  // headless-browser test, harmless to readers.
  bool render_check = true;
};

// Renders the report. Thread safe (no shared state).
absl::StatusOr<std::string> RenderReport(const v1::Results& results,
                                         const ReportOptions& options = {});
// The same from results.json as a JSON tree: InvalidArgument when it is not
// an object or does not match proto/results.proto (naming the key).
absl::StatusOr<std::string> RenderReport(const nlohmann::json& results,
                                         const ReportOptions& options = {});

// Reads `results_path`, renders it and writes `out_path` atomically.
// NotFound / DataLoss for unreadable input, InvalidArgument for malformed
// JSON or a key proto/results.proto lacks (naming the file), DataLoss on
// write failure.
absl::Status WriteReportFile(const std::string& results_path, const std::string& out_path,
                             ReportOptions options = {});

}  // namespace fedrad::report

#endif  // FEDRAD_REPORT_REPORT_H_
