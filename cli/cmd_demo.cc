// `fedrad demo`: the motivating CRLM study end to end on one machine.
//
//   1. `fedrad synth`: a seeded synthetic cohort of 4 centers (60, 45, 80, 30
//      patients) with CT volumes, liver and lesion masks, clinical data and
//      outcomes, one CT file deliberately corrupt (C2_0007), in OUT/cohort/;
//      center C2 as DICOM CT series with an RTSTRUCT (the hospital path,
//      --dicom-centers), the others as NIfTI;
//   2. `fedrad sandbox`: a throw-away PKI, a coordinator and one site process
//      per center over mutual TLS on loopback; each site is given its
//      center's manifest.csv; the study examples/studies/crlm_demo.textproto
//      (feature extraction, cohort summary, federated ComBat, clinical /
//      radiomic / combined models developed at C3, external validation at
//      C1, C2, C4);
//   3. OUT/results.json, OUT/report.html, OUT/audit/*.log and a terminal
//      summary: per-center C-index with and without harmonisation beside the
//      C-index of the true risk, the excluded case, where the report is.
//
//   ./quickstart.sh demo          # = build/bin/fedrad demo --out demo-output
#include <chrono>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "cli/command.h"
#include "cli/sandbox.h"
#include "core/csv.h"
#include "proto/textproto.h"
#include "report/report.h"
#include "synth/cohort.h"

namespace fedrad::cli {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr char kStudyRelative[] = "examples/studies/crlm_demo.textproto";

// The study file: as given, else relative to the source tree the binary was
// built in (build/bin/fedrad -> ../../examples/...).
std::string FindStudy(const std::string& given) {
  if (fs::exists(given)) return given;
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    for (fs::path dir = exe.parent_path(); !dir.empty() && dir != dir.root_path();
         dir = dir.parent_path()) {
      if (fs::exists(dir / kStudyRelative)) return (dir / kStudyRelative).string();
    }
  }
  return given;
}

const json* At(const json& j, std::initializer_list<const char*> path) {
  const json* p = &j;
  for (const char* k : path) {
    if (!p->is_object() || !p->contains(k)) return nullptr;
    p = &(*p)[k];
  }
  return p;
}

std::string Metric(const json& results, const std::string& model, const std::string& site,
                   const char* metric) {
  const json* v = At(results, {"validation", model.c_str(), "sites", site.c_str(), metric});
  if (v == nullptr || !v->is_number()) return "-";
  std::string s = absl::StrFormat("%.3f", v->get<double>());
  const json* lo = At(results, {"validation", model.c_str(), "sites", site.c_str(),
                                absl::StrCat(metric, "_ci_low").c_str()});
  const json* hi = At(results, {"validation", model.c_str(), "sites", site.c_str(),
                                absl::StrCat(metric, "_ci_high").c_str()});
  if (lo && hi && lo->is_number() && hi->is_number()) {
    absl::StrAppend(&s, absl::StrFormat(" (%.2f-%.2f)", lo->get<double>(), hi->get<double>()));
  }
  return s;
}

void PrintSummary(const json& results, const synth::CohortSummary& cohort,
                  const std::vector<std::string>& centers, const std::string& develop_on) {
  std::map<std::string, std::map<std::string, double>> truth;  // outcome -> center -> C
  for (const auto& c : cohort.true_risk_concordance) {
    for (const auto& [center, value] : c.by_center) truth[c.outcome][center] = value;
  }
  struct Row {
    const char* label;
    const char* model;
    const char* metric;
  };
  const Row rows[] = {
      {"clinical", "clinical", "harrell_c"},
      {"radiomic, harmonised", "radiomic", "harrell_c"},
      {"radiomic, NOT harmonised", "radiomic_unharmonized", "harrell_c"},
      {"combined (clin + harm.)", "combined", "harrell_c"},
  };
  std::cout << "\nExternal validation, recurrence: Harrell's C (95% bootstrap CI) per center;\n"
            << "models developed at " << develop_on << ", frozen, applied at each other center.\n\n";
  const int w = 20;
  std::cout << absl::StrFormat("%-27s", "");
  for (const auto& c : centers) std::cout << absl::StrFormat("%-*s", w, c);
  std::cout << "\n";
  for (const Row& r : rows) {
    std::cout << absl::StrFormat("%-27s", r.label);
    for (const auto& c : centers) {
      std::cout << absl::StrFormat("%-*s", w, c == develop_on ? "(development)" : Metric(results, r.model, c, r.metric));
    }
    std::cout << "\n";
  }
  std::cout << absl::StrFormat("%-27s", "true risk (ceiling)");
  for (const auto& c : centers) {
    auto it = truth["recurrence"].find(c);
    std::cout << absl::StrFormat("%-*s", w, it == truth["recurrence"].end() ? "-" : absl::StrFormat("%.3f", it->second));
  }
  std::cout << "\n";
  // Harrell's C is blind to a shift of every patient's score at a center;
  // an uncorrected scanner effect shows in calibration instead.
  std::cout << "\nWithin one center ComBat shifts and scales each feature for every patient "
               "alike, so a model\nwhose features move together keeps its ranking (the same C); "
               "the scanner effect shows in\ncalibration. Radiomic model at 2 years: "
               "observed/expected events (1 is perfect) and Brier score\n(lower is better):\n";
  const Row calibration[] = {{"O/E, harmonised", "radiomic", "oe_ratio_t"},
                             {"O/E, NOT harmonised", "radiomic_unharmonized", "oe_ratio_t"},
                             {"Brier, harmonised", "radiomic", "brier_t"},
                             {"Brier, NOT harmonised", "radiomic_unharmonized", "brier_t"}};
  for (const Row& r : calibration) {
    std::cout << absl::StrFormat("%-27s", r.label);
    for (const auto& c : centers) {
      std::cout << absl::StrFormat("%-*s", w, c == develop_on ? "(development)" : Metric(results, r.model, c, r.metric));
    }
    std::cout << "\n";
  }
  const json* pooled_h = At(results, {"validation", "radiomic", "pooled", "harrell_c_stratified"});
  const json* pooled_u = At(results, {"validation", "radiomic_unharmonized", "pooled", "harrell_c_stratified"});
  if (pooled_h && pooled_u && pooled_h->is_number() && pooled_u->is_number()) {
    std::cout << absl::StrFormat(
        "\nPooled over validation centers (site-stratified C): radiomic %.3f harmonised vs %.3f "
        "not harmonised.\n",
        pooled_h->get<double>(), pooled_u->get<double>());
  }
  const Row more[] = {{"recur2y AUC (combined)", "combined_recur2y", "auc"},
                      {"DSS C (clinical)", "clinical_dss", "harrell_c"},
                      {"DSS C (combined)", "combined_dss", "harrell_c"},
                      {"local rec. C (clinical)", "clinical_local", "harrell_c"},
                      {"local rec. C (combined)", "combined_local", "harrell_c"}};
  std::cout << "\n";
  for (const Row& r : more) {
    if (At(results, {"validation", r.model}) == nullptr) continue;
    std::cout << absl::StrFormat("%-27s", r.label);
    for (const auto& c : centers) {
      std::cout << absl::StrFormat("%-*s", w, c == develop_on ? "(development)" : Metric(results, r.model, c, r.metric));
    }
    std::cout << "\n";
  }
  // Excluded cases (named by the sites: their pseudonymous case ids).
  std::cout << "\nExcluded cases:\n";
  int n = 0;
  if (const json* sites = At(results, {"features", "sites"}); sites && sites->is_object()) {
    for (auto it = sites->begin(); it != sites->end(); ++it) {
      if (!it->contains("excluded")) continue;
      for (const auto& e : (*it)["excluded"]) {
        std::cout << "  " << it.key() << " " << e.value("case", "") << ": " << e.value("reason", "")
                  << "\n";
        ++n;
      }
    }
  }
  if (n == 0) std::cout << "  none\n";
  if (const json* ex = At(results, {"study", "excluded_sites"}); ex && ex->is_object() && !ex->empty()) {
    std::cout << "Excluded sites:\n";
    for (auto it = ex->begin(); it != ex->end(); ++it) {
      std::cout << "  " << it.key() << ": " << (it->is_string() ? it->get<std::string>() : it->dump()) << "\n";
    }
  }
}

int RunDemo(Args& args) {
  args.Describe(
      "Runs the motivating CRLM study end to end on this machine: writes a seeded synthetic "
      "4-center CT cohort (one CT file corrupt on purpose), starts a coordinator and one site "
      "process per center over mutual TLS on loopback, runs examples/studies/crlm_demo.textproto "
      "(feature extraction, cohort summary, federated ComBat, clinical/radiomic/combined models "
      "developed at C3 and validated at the other centers) and writes OUT/results.json, "
      "OUT/report.html and the audit logs.");
  std::string out = args.Flag("out", "demo-output", "Output folder");
  std::string study_path = args.Flag("study", kStudyRelative, "Study spec");
  std::string patients = args.Flag("patients", "60,45,80,30", "Patients per center C1..C4");
  long seed = args.Int("seed", 7, "Random seed of the synthetic cohort");
  std::string corrupt =
      args.Flag("corrupt-cases", "C2_0007", "Case ids whose CT file is written corrupt ('' for none)");
  std::string dicom_centers = args.Flag(
      "dicom-centers", "C2",
      "Centers whose cohort is written as DICOM CT series + RTSTRUCT (the hospital path; '' for "
      "none)");
  long threads = args.Int("threads", 1, "Feature-extraction threads per site (4 sites run at once)");
  bool quiet = args.Bool("quiet", "No progress lines");
  if (!args.Finish()) return args.exit_code();
  const auto start = std::chrono::steady_clock::now();
  auto elapsed = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };

  v1::Study study;
  const std::string found = FindStudy(study_path);
  if (absl::Status s = ReadTextProto(found, &study); !s.ok()) {
    std::cerr << "fedrad demo: " << s.message() << "\n";
    return 1;
  }
  auto counts = synth::ParsePatientCounts(patients, 4);
  if (!counts.ok()) return args.UsageError(std::string(counts.status().message()));

  // 1. The cohort.
  synth::CohortOptions cohort;
  cohort.out_dir = (fs::path(out) / "cohort").string();
  cohort.patients_per_center = *counts;
  cohort.seed = static_cast<uint64_t>(seed);
  cohort.overwrite = true;
  for (absl::string_view id : absl::StrSplit(corrupt, ',', absl::SkipWhitespace())) {
    cohort.corrupt_cases.emplace_back(id);
  }
  for (absl::string_view c : absl::StrSplit(dicom_centers, ',', absl::SkipWhitespace())) {
    cohort.dicom_centers.emplace_back(c);
  }
  std::cout << "fedrad demo: writing the synthetic cohort (4 centers, " << patients
            << " patients, seed " << seed << ") to " << cohort.out_dir << " ..." << std::endl;
  auto summary = synth::GenerateCohort(cohort);
  if (!summary.ok()) {
    std::cerr << "fedrad demo: " << summary.status().message() << "\n";
    return 1;
  }
  std::cout << absl::StrFormat("fedrad demo: cohort written in %.0f s", elapsed());
  if (!cohort.corrupt_cases.empty()) {
    std::cout << " (corrupt CT on purpose: " << corrupt << ")";
  }
  if (!cohort.dicom_centers.empty()) {
    std::cout << "; DICOM CT series + RTSTRUCT at " << dicom_centers;
  }
  std::cout << "\n";

  // 2. The federation.
  SandboxOptions options;
  std::vector<std::string> centers;
  for (const auto& p : summary->centers) {
    centers.push_back(p.center);
    options.sites.emplace_back(p.center, (fs::path(cohort.out_dir) / p.center / "manifest.csv").string());
  }
  options.study = study;
  options.out_dir = out;
  options.quiet = quiet;
  options.extraction_threads = static_cast<int>(threads);
  std::cout << "fedrad demo: study " << found << "; one coordinator and " << centers.size()
            << " site processes over mutual TLS on loopback" << std::endl;
  auto results = RunSandbox(options);
  if (!results.ok()) {
    std::cerr << "fedrad demo: " << results.status().message() << "\n";
    return 1;
  }

  // 3. The report and the summary.
  const std::string report_path = (fs::path(out) / "report.html").string();
  report::ReportOptions ro;
  ro.default_min_cell_count = options.min_cell_count;
  ro.results_source = (fs::path(out) / "results.json").string();
  auto html = report::RenderReport(*results, ro);
  if (!html.ok()) {
    std::cerr << "fedrad demo: report: " << html.status().message() << "\n";
  } else if (absl::Status s = WriteStringToFile(report_path, *html); !s.ok()) {
    std::cerr << "fedrad demo: " << s.message() << "\n";
  }
  const json& st = (*results)["study"];
  std::string develop_on = study.validation().develop_on().empty() ? "" : study.validation().develop_on(0);
  if (st.value("state", "") == "SUCCEEDED") {
    PrintSummary(*results, *summary, centers, develop_on);
  }
  std::cout << "\nstudy " << st.value("id", "") << ": " << st.value("state", "") << " "
            << st.value("message", "") << "\n"
            << absl::StrFormat("wall time:  %.0f s\n", elapsed())
            << "report:     " << report_path << "\n"
            << "results:    " << out << "/results.json\n"
            << "audit logs: " << out << "/audit/ (check: fedrad audit verify " << out
            << "/audit/C1.log)\n"
            << "site data:  " << cohort.out_dir << "/C<k>/ (truth.csv there is for judging only)\n";
  return st.value("state", "") == "SUCCEEDED" ? 0 : 1;
}

FEDRAD_REGISTER_COMMAND("demo", "Run the CRLM demo study (synthetic CTs, 4 centers) end to end",
                        RunDemo);

}  // namespace
}  // namespace fedrad::cli
