// `fedrad report`: renders a results.json into one self-contained HTML file
// (docs/report.md).
#include <iostream>

#include "cli/command.h"
#include "report/report.h"

namespace {

int RunReport(fedrad::cli::Args& args) {
  args.Describe(
      "Renders a study's results.json into ONE self-contained HTML report (inline CSS and "
      "SVG plots, no network access): study and provenance, cohort by center, "
      "harmonisation, models, per-center validation with forest, calibration, "
      "Kaplan-Meier and ROC plots. See docs/report.md.");
  const std::string results = args.Flag("results", "", "results.json to render (required)");
  const std::string out = args.Flag("out", "report.html", "HTML file to write");
  const std::string title = args.Flag("title", "", "Page title (default: from the study name)");
  const long k = args.Int("min-cell-count", 10,
                          "k used when results.json states none (never draw a curve point "
                          "with fewer patients)");
  if (!args.Finish()) return args.exit_code();
  if (results.empty()) return args.UsageError("--results is required");
  if (k < 1) return args.UsageError("--min-cell-count must be at least 1");
  fedrad::report::ReportOptions options;
  options.title = title;
  options.default_min_cell_count = static_cast<int>(k);
  const absl::Status s = fedrad::report::WriteReportFile(results, out, options);
  if (!s.ok()) {
    std::cerr << "fedrad report: " << s.message() << "\n";
    return 1;
  }
  std::cout << "wrote " << out << "\n";
  return 0;
}

FEDRAD_REGISTER_COMMAND("report", "Render results.json into a self-contained HTML report",
                        RunReport);

}  // namespace
