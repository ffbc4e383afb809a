// report_render_fixture RESULTS_JSON OUT_HTML: renders a results.json with
// fedrad::report, for the headless-browser test (browser_test.sh) without
// building the whole `fedrad` command.
#include <iostream>

#include "report/report.h"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: report_render_fixture RESULTS_JSON OUT_HTML\n";
    return 2;
  }
  const absl::Status s = fedrad::report::WriteReportFile(argv[1], argv[2]);
  if (!s.ok()) {
    std::cerr << "report_render_fixture: " << s.message() << "\n";
    return 1;
  }
  return 0;
}
