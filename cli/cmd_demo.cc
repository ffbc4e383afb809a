// `fedrad demo`: a synthetic three-center colorectal-liver-metastasis cohort
// (seeded, so every run is the same), run through `fedrad sandbox` with
// examples/studies/cohort_summary.textproto, then the cohort table per site
// and pooled printed to the terminal. `./quickstart.sh demo` runs it.
#include <cmath>
#include <filesystem>
#include <iostream>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "cli/command.h"
#include "cli/sandbox.h"
#include "core/csv.h"
#include "proto/textproto.h"

namespace fedrad::cli {
namespace {

namespace fs = std::filesystem;

// Used when examples/ is not reachable from the working directory.
constexpr char kBuiltinStudy[] = R"pb(
name: "cohort-summary"
id_column: "patient_id"
quorum { min_sites: 0 task_timeout_seconds: 60 }
cohort_summary {
  enabled: true
  columns: "age" columns: "sex" columns: "bmi" columns: "cea" columns: "n_lesions"
  time_events { name: "overall survival" time_column: "time" event_column: "status" }
}
)pb";

struct SiteSpec {
  const char* name;
  int n;
  double age_shift;
  double cea_scale;
};

// One site's table: clinical covariates typical of resected CRLM cohorts
// (age ~ 62, CEA log-normal, 1-8 lesions) with a site-specific shift, and an
// exponential follow-up with about 45% events.
CsvTable MakeSite(const SiteSpec& spec, std::mt19937_64& rng) {
  CsvTable t({"patient_id", "age", "sex", "bmi", "cea", "n_lesions", "max_lesion_mm",
              "neoadjuvant_chemo", "time", "status"});
  std::normal_distribution<double> age(62 + spec.age_shift, 9), bmi(26.5, 4.2), logcea(1.6, 1.0),
      size(32, 14);
  std::bernoulli_distribution male(0.6), chemo(0.55), event(0.45);
  std::poisson_distribution<int> extra(1.3);
  std::exponential_distribution<double> follow(1.0 / 38.0);
  for (int i = 0; i < spec.n; ++i) {
    auto num = [](double v, int digits) { return absl::StrFormat("%.*f", digits, v); };
    int lesions = 1 + std::min(extra(rng), 7);
    t.AddRow({absl::StrCat(spec.name, "-", 1000 + i), num(std::clamp(age(rng), 28.0, 89.0), 0),
              male(rng) ? "1" : "0", num(std::max(16.0, bmi(rng)), 1),
              num(spec.cea_scale * std::exp(logcea(rng)), 1), absl::StrCat(lesions),
              num(std::max(5.0, size(rng)), 0), chemo(rng) ? "1" : "0",
              num(std::max(0.5, follow(rng)), 1), event(rng) ? "1" : "0"})
        .IgnoreError();
  }
  return t;
}

std::string Cell(const nlohmann::json& col) {
  if (!col.is_object()) return "-";
  if (col.value("suppressed", false)) return "suppressed";
  if (col.value("absent", false)) return "absent";
  auto num = [&](const char* key) -> double {
    return col.contains(key) && col[key].is_number() ? col[key].get<double>() : NAN;
  };
  if (col.value("type", "") == "binary") {
    return absl::StrFormat("%.0f (%.1f%%)", num("count"), num("percent"));
  }
  std::string s = absl::StrFormat("%.1f (%.1f)", num("mean"), num("sd"));
  if (col.contains("median") && col["median"].is_number()) {
    absl::StrAppend(&s, absl::StrFormat(" [%.1f]", num("median")));
  }
  return s;
}

void PrintTable(const nlohmann::json& results) {
  if (!results.contains("cohort")) {
    std::cout << "(results.json has no cohort section)\n";
    return;
  }
  const auto& cohort = results["cohort"];
  std::vector<std::string> sites;
  for (auto it = cohort["sites"].begin(); it != cohort["sites"].end(); ++it) sites.push_back(it.key());
  std::vector<std::string> columns;
  if (cohort["pooled"].contains("columns")) {
    for (auto it = cohort["pooled"]["columns"].begin(); it != cohort["pooled"]["columns"].end(); ++it) {
      columns.push_back(it.key());
    }
  }
  const int w = 26;
  std::cout << "\nCohort summary: mean (SD) [median] for numeric columns, count (%) for 0/1 columns\n\n";
  std::cout << absl::StrFormat("%-18s", "");
  for (const auto& s : sites) std::cout << absl::StrFormat("%-*s", w, s);
  std::cout << absl::StrFormat("%-*s\n", w, "pooled");
  std::cout << absl::StrFormat("%-18s", "n");
  for (const auto& s : sites) std::cout << absl::StrFormat("%-*s", w, cohort["sites"][s].value("n", nlohmann::json(0)).dump());
  std::cout << absl::StrFormat("%-*s\n", w, cohort["pooled"].value("n", nlohmann::json(0)).dump());
  for (const auto& c : columns) {
    std::cout << absl::StrFormat("%-18s", c);
    for (const auto& s : sites) {
      const auto& site = cohort["sites"][s];
      std::cout << absl::StrFormat("%-*s", w,
                                   site.contains("columns") && site["columns"].contains(c)
                                       ? Cell(site["columns"][c])
                                       : "-");
    }
    std::cout << absl::StrFormat("%-*s\n", w, Cell(cohort["pooled"]["columns"][c]));
  }
  std::cout << "\n";
}

int RunDemo(Args& args) {
  args.Describe(
      "Generates a seeded synthetic 3-center cohort, runs it through `fedrad sandbox` (a real "
      "coordinator and three site processes over mutual TLS) with the cohort summary study, and "
      "prints the cohort table per site and pooled.");
  std::string out = args.Flag("out", "demo-output", "Output folder");
  std::string study_path =
      args.Flag("study", "examples/studies/cohort_summary.textproto", "Study spec");
  long seed = args.Int("seed", 20240611, "Random seed of the synthetic cohort");
  bool quiet = args.Bool("quiet", "No progress lines");
  if (!args.Finish()) return args.exit_code();
  fs::create_directories(fs::path(out) / "data");
  std::mt19937_64 rng(static_cast<uint64_t>(seed));
  SandboxOptions options;
  for (const SiteSpec& spec : {SiteSpec{"S1", 180, 0.0, 1.0}, SiteSpec{"S2", 120, 3.0, 1.3},
                               SiteSpec{"S3", 90, -2.5, 0.8}}) {
    std::string path = (fs::path(out) / "data" / (std::string(spec.name) + ".csv")).string();
    if (absl::Status s = WriteCsv(path, MakeSite(spec, rng)); !s.ok()) {
      std::cerr << "fedrad demo: " << s.message() << "\n";
      return 1;
    }
    options.sites.emplace_back(spec.name, path);
  }
  absl::Status loaded = fs::exists(study_path) ? ReadTextProto(study_path, &options.study)
                                               : ParseTextProto(kBuiltinStudy, "built-in demo study",
                                                                &options.study);
  if (!loaded.ok()) {
    std::cerr << "fedrad demo: " << loaded.message() << "\n";
    return 1;
  }
  options.out_dir = out;
  options.quiet = quiet;
  std::cout << "fedrad demo: 3 synthetic sites (" << out << "/data/S1.csv, S2.csv, S3.csv), "
            << "one coordinator, mutual TLS on loopback\n";
  auto results = RunSandbox(options);
  if (!results.ok()) {
    std::cerr << "fedrad demo: " << results.status().message() << "\n";
    return 1;
  }
  const auto& study = (*results)["study"];
  PrintTable(*results);
  std::cout << "study " << study.value("id", "") << ": " << study.value("state", "") << "\n"
            << "results:     " << out << "/results.json\n"
            << "audit logs:  " << out << "/audit/ (check: fedrad audit verify " << out
            << "/audit/S1.log)\n"
            << "site output: " << out << "/sites/NAME/\n";
  return study.value("state", "") == "SUCCEEDED" ? 0 : 1;
}

FEDRAD_REGISTER_COMMAND("demo", "Run the demo federated study on synthetic data", RunDemo);

}  // namespace
}  // namespace fedrad::cli
