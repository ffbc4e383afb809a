// The report end to end: a real coordinator and three real site processes
// (`fedrad sandbox`, mutual TLS on loopback) run a study with a cohort
// summary, federated ComBat (output_suffix), a Cox and a logistic model
// developed at site D and validated at V1 and V2. The test checks that
// results.json carries the curve aggregates (calibration, km_groups, roc)
// and harmonization.distributions with the minimum-count rule respected,
// then restarts the coordinator on the sandbox's data directory, writes the
// report with `fedrad study report` over the Admin API and opens it in
// headless Chromium (report/browser_test.sh): every plot rendered, the
// screenshot kept at <build>/report_browser_study/report.png.
//
// The site tables are seeded synthetic cohorts written below: features
// f01..f04 measured with a site-specific offset and scale (the acquisition
// effect ComBat removes), a clinical covariate n_lesions, a survival outcome
// drawn from a Cox model in the true features, and recur2y (event within two
// years; empty when censored before). V2 is small (45 patients) and treats
// patients with more lesions, so some of its risk groups fall below k; V3
// makes three validation centers, so the pooled C has a prediction interval.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/sandbox_testutil.h"

namespace fedrad::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using nlohmann::json;

constexpr int kK = 10;

void WriteSite(const std::string& path, const std::string& site, int n, uint64_t seed,
               double offset, double scale, int min_lesions) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0, 1);
  std::uniform_real_distribution<double> unif(0, 1);
  std::uniform_int_distribution<int> lesions(min_lesions, 6);
  std::ofstream out(path);
  out << "patient_id,age,n_lesions,f01,f02,f03,f04,time,status,recur2y\n";
  out.precision(10);
  for (int i = 0; i < n; ++i) {
    const double z1 = normal(rng), z2 = normal(rng), z3 = normal(rng), z4 = normal(rng);
    const int nl = lesions(rng);
    const double age = 62 + 9 * normal(rng);
    const double lp = 0.7 * z1 + 0.5 * z2 + 0.25 * (nl - 3);
    const double t_event = -std::log(unif(rng)) / (std::exp(lp) / 900.0);
    const double t_cens = 200 + 1800 * unif(rng);
    const double time = std::max(1.0, std::round(std::min(t_event, t_cens)));
    const int status = t_event <= t_cens ? 1 : 0;
    std::string recur2y = status == 1 && time <= 730 ? "1" : time > 730 ? "0" : "";
    auto measured = [&](double z, double a) { return 10 + a + offset + scale * (2 * z); };
    out << site << "-" << i << "," << age << "," << nl << "," << measured(z1, 0) << ","
        << measured(z2, 1) << "," << measured(z3, 2) << "," << measured(z4, 3) << "," << time
        << "," << status << "," << recur2y << "\n";
  }
}

const char kStudy[] = R"pb(
name: "report-e2e"
id_column: "patient_id"
cohort_summary {
  enabled: true
  columns: "age"
  columns: "n_lesions"
  time_events { name: "recurrence" time_column: "time" event_column: "status" }
}
harmonization {
  enabled: true
  features: "^f0[1-4]$"
  covariates: "age"
  method: "parametric"
  output_suffix: "_h"
}
models {
  name: "cox_radiomic"
  type: COX
  time_column: "time"
  event_column: "status"
  covariates: "f01_h"
  covariates: "f02_h"
  covariates: "n_lesions"
}
models {
  name: "logistic_2y"
  type: LOGISTIC
  outcome_column: "recur2y"
  covariates: "f01_h"
  covariates: "f02_h"
  covariates: "n_lesions"
}
validation {
  enabled: true
  scheme: DEVELOP_VALIDATE
  develop_on: "D"
  t: 730
  tau: 1825
  bootstrap_replicates: 20
}
)pb";

// Every released calibration bin, KM group / grid point and ROC curve obeys k.
void ExpectCurvesObeyK(const json& site, bool cox, const std::string& where) {
  SCOPED_TRACE(where);
  ASSERT_TRUE(site.contains("calibration")) << site.dump(1);
  const json& cal = site["calibration"];
  if (!cal.value("suppressed", false)) {
    ASSERT_TRUE(cal["n"].is_array());
    EXPECT_GE(cal["n"].size(), 1u);
    EXPECT_LE(cal["n"].size(), 10u);
    EXPECT_EQ(cal["predicted"].size(), cal["n"].size());
    EXPECT_EQ(cal["observed"].size(), cal["n"].size());
    for (const json& n : cal["n"]) EXPECT_GE(n.get<double>(), kK);
  }
  if (cox) {
    ASSERT_TRUE(site.contains("km_groups")) << site.dump(1);
    ASSERT_EQ(site["km_groups"].size(), 3u);
    for (const json& g : site["km_groups"]) {
      if (g.value("suppressed", false)) {
        // Issue 11: a suppressed group reveals nothing, not even its size.
        EXPECT_TRUE(g["n"].is_null()) << g.dump();
        EXPECT_FALSE(g.contains("events"));
        EXPECT_FALSE(g.contains("n_at_risk"));
        EXPECT_FALSE(g.contains("time"));
        EXPECT_FALSE(g.contains("survival"));
        continue;
      }
      EXPECT_GE(g["n"].get<double>(), kK);
      EXPECT_EQ(g["time"].size(), g["survival"].size());
      EXPECT_EQ(g["time"].size(), g["n_at_risk"].size());
      for (const json& r : g["n_at_risk"]) EXPECT_GE(r.get<double>(), kK);
      if (!g["events"].is_null()) {
        EXPECT_GE(g["events"].get<double>(), kK);
        EXPECT_GE(g["n"].get<double>() - g["events"].get<double>(), kK);
      }
    }
  }
  // Cox: the cumulative/dynamic ROC at t; logistic: the ROC of the outcome.
  ASSERT_TRUE(site.contains("roc")) << site.dump(1);
  const json& roc = site["roc"];
  EXPECT_EQ(roc.contains("time_dependent_t"), cox);
  if (roc.value("suppressed", false)) {
    EXPECT_TRUE(roc["n_pos"].get<double>() < kK || roc["n_neg"].get<double>() < kK);
    EXPECT_FALSE(roc.contains("fpr"));
  } else {
    EXPECT_GE(roc["n_pos"].get<double>(), kK);
    EXPECT_GE(roc["n_neg"].get<double>(), kK);
    ASSERT_GE(roc["fpr"].size(), 3u);
    EXPECT_EQ(roc["fpr"].front(), 0);
    EXPECT_EQ(roc["tpr"].back(), 1);
  }
  if (!cox) {
    EXPECT_FALSE(site.contains("km_groups"));
  }
}

std::string BrowserTestScript() {
  return std::string(FEDRAD_SOURCE_DIR) + "/report/browser_test.sh";
}

bool HaveChromium() {
  for (const char* b : {"chromium", "chromium-browser", "google-chrome"}) {
    if (std::system((std::string("command -v ") + b + " >/dev/null 2>&1").c_str()) == 0) return true;
  }
  return false;
}

// Curve aggregates at each validation site, k-rule respected; the KM groups
// and calibration bins that V1 and V2 are large enough for.
void ExpectValidationCurves(const json& r) {
  for (const std::string site : {"V1", "V2", "V3"}) {
    ExpectCurvesObeyK(r["validation"]["cox_radiomic"]["sites"][site], true, "cox at " + site);
    ExpectCurvesObeyK(r["validation"]["logistic_2y"]["sites"][site], false, "logistic at " + site);
  }
  // Development site D takes no part in validation.
  EXPECT_FALSE(r["validation"]["cox_radiomic"]["sites"].contains("D"));
  // V1 is large enough for 10 calibration bins and three drawn KM groups.
  EXPECT_EQ(r["validation"]["cox_radiomic"]["sites"]["V1"]["calibration"]["n"].size(), 10u);
  // V2 (45 patients) has floor(45/10) = 4 bins.
  EXPECT_EQ(r["validation"]["cox_radiomic"]["sites"]["V2"]["calibration"]["n"].size(), 4u);
  // Its patients have 4-6 lesions: the low-risk group is below k and withheld.
  int suppressed_groups = 0;
  for (const json& g : r["validation"]["cox_radiomic"]["sites"]["V2"]["km_groups"]) {
    suppressed_groups += g.value("suppressed", false);
  }
  EXPECT_GE(suppressed_groups, 1) << r["validation"]["cox_radiomic"]["sites"]["V2"].dump(1);
}

// The cut-points come from the development site's linear predictor.
void ExpectRiskGroupCuts(const json& r) {
  const json& groups = r["validation"]["cox_radiomic"]["risk_groups"];
  ASSERT_EQ(groups["cuts"].size(), 2u) << r["validation"]["cox_radiomic"].dump(1);
  EXPECT_LE(groups["cuts"][0].get<double>(), groups["cuts"][1].get<double>());
  EXPECT_EQ(groups["sites"], json::array({"D"}));
}

// Harmonisation distributions: before (raw f0x) and after (f0x_h) at every
// site, k-rule respected, and ComBat moved the sites' means together.
void ExpectDistributions(const json& r) {
  const json& dist = r["harmonization"]["distributions"];
  ASSERT_TRUE(dist.is_object()) << r["harmonization"].dump(1);
  EXPECT_EQ(dist.size(), 4u);  // four features, at most 12
  for (const auto& [feature, phases] : dist.items()) {
    for (const char* phase : {"before", "after"}) {
      for (const std::string site : {"D", "V1", "V2", "V3"}) {
        SCOPED_TRACE(feature + " " + phase + " " + site);
        const json& e = phases[phase][site];
        ASSERT_TRUE(e.is_object());
        if (e.value("suppressed", false)) {
          EXPECT_LT(e["n"].get<double>(), kK);
          EXPECT_FALSE(e.contains("mean"));
          continue;
        }
        EXPECT_GE(e["n"].get<double>(), kK);
        EXPECT_LE(e["q1"].get<double>(), e["median"].get<double>());
        EXPECT_LE(e["median"].get<double>(), e["q3"].get<double>());
      }
    }
  }
  // ComBat moved the sites' means together: V1 was measured 3 units high.
  const double before_gap = std::abs(dist["f01"]["before"]["V1"]["mean"].get<double>() -
                                     dist["f01"]["before"]["D"]["mean"].get<double>());
  const double after_gap = std::abs(dist["f01"]["after"]["V1"]["mean"].get<double>() -
                                    dist["f01"]["after"]["D"]["mean"].get<double>());
  EXPECT_GT(before_gap, 2.0);
  EXPECT_LT(after_gap, 1.0);
}

// `fedrad study report` with `extra` arguments against the coordinator that
// `connect` names; returns its exit code, its output in *output.
int StudyReport(const std::string& d, const std::vector<std::string>& connect,
                const std::vector<std::string>& extra, std::string* output) {
  std::vector<std::string> argv = {FedradBin(), "study", "report"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  argv.insert(argv.end(), connect.begin(), connect.end());
  return fedrad::testing::Run(argv, d + "/study-report.log", output);
}

// `fedrad study report` writes nothing for a study the coordinator does not
// know, nor for one that has not ended (and says how to watch it).
void ExpectNoReportForUnknownOrRunningStudy(const std::string& d, const std::vector<std::string>& connect) {
  std::string output;
  EXPECT_EQ(StudyReport(d, connect, {"no-such-study", "--out", d + "/none.html"}, &output), 1);
  EXPECT_THAT(output, HasSubstr("knows no study 'no-such-study'"));
  EXPECT_FALSE(std::filesystem::exists(d + "/none.html"));

  // A study that has not ended (it waits for a site that never connects).
  WriteAll(d + "/waiting.textproto",
           "name: \"waiting\" sites: \"nobody\" cohort_summary { enabled: true }\n");
  std::vector<std::string> submit = {FedradBin(), "study", "submit", d + "/waiting.textproto"};
  submit.insert(submit.end(), connect.begin(), connect.end());
  ASSERT_EQ(fedrad::testing::Run(submit, d + "/submit.log", &output), 0) << output;
  const std::string waiting_id = output.substr(0, output.find('\n'));
  EXPECT_EQ(StudyReport(d, connect, {waiting_id, "--out", d + "/waiting.html"}, &output), 1);
  EXPECT_THAT(output, HasSubstr("fedrad study watch " + waiting_id));
  EXPECT_FALSE(std::filesystem::exists(d + "/waiting.html"));
}

// The report's HTML names every plot of the study.
void ExpectEveryPlot(const std::string& html) {
  for (const std::string what :
       {"Calibration plot for model cox_radiomic", "Calibration plot for model logistic_2y",
        "Kaplan-Meier curves for model cox_radiomic at site V1", "ROC curves for model logistic_2y",
        "Distribution of f01 by center before and after ComBat",
        "Forest plot of Harrell&#39;s C for model cox_radiomic",
        "Forest plot of AUC for model logistic_2y", "Forest plot of the HRs of model cox_radiomic",
        // Three validation centers: the pooled C has a prediction interval.
        "grey bar: 95% prediction interval for a new center"}) {
    EXPECT_THAT(html, HasSubstr(what));
  }
  EXPECT_THAT(html, HasSubstr("ROC curves for model cox_radiomic"));
  EXPECT_THAT(html, HasSubstr("Time-dependent (cumulative/dynamic) ROC at t = 730 days"));
}

TEST(SandboxReport, CurvesDistributionsAndStudyReportRenderInChromium) {
  TempDir dir("report-e2e");
  const std::string d = dir.path();
  WriteSite(d + "/D.csv", "D", 160, 11, 0.0, 1.0, 1);
  WriteSite(d + "/V1.csv", "V1", 120, 12, 3.0, 1.6, 1);
  WriteSite(d + "/V2.csv", "V2", 45, 13, -2.0, 0.7, 4);
  WriteSite(d + "/V3.csv", "V3", 80, 14, 1.0, 1.2, 1);
  SandboxRun run = RunSandbox({{"D", d + "/D.csv"}, {"V1", d + "/V1.csv"}, {"V2", d + "/V2.csv"},
                               {"V3", d + "/V3.csv"}},
                              kStudy, d + "/out", {"--quiet", "--k", std::to_string(kK)});
  ASSERT_EQ(run.exit_code, 0) << run.output << "\n" << ReadAll(d + "/out/logs/coordinator.log");
  const json& r = run.results;
  ASSERT_EQ(r["study"]["state"], "SUCCEEDED") << r.dump(1);
  const std::string id = r["study"]["id"];

  ExpectValidationCurves(r);
  ASSERT_NO_FATAL_FAILURE(ExpectRiskGroupCuts(r));
  ASSERT_NO_FATAL_FAILURE(ExpectDistributions(r));
  // Every site's audit head is in results.json (the sandbox adds the sites').
  for (const std::string node : {"coordinator", "D", "V1", "V2", "V3"}) {
    EXPECT_TRUE(r["provenance"]["audit_log_heads"].contains(node)) << node;
  }

  // Restart the coordinator on the sandbox's data directory: a finished
  // study's results are served from DATA_DIR/studies/ID/results.json.
  const std::string out = d + "/out";
  std::filesystem::remove(out + "/coordinator/port");
  Process coordinator = Start({BinDir() + "/fedrad-coordinator", "--config",
                               out + "/config/coordinator.textproto"},
                              d + "/coordinator-restart.log");
  std::string port;
  ASSERT_TRUE(WaitFor([&] {
    port = ReadAll(out + "/coordinator/port");
    return !port.empty() && port.back() == '\n';
  })) << ReadAll(d + "/coordinator-restart.log");
  port.pop_back();
  const std::vector<std::string> connect = {"--admin-config", out + "/config/admin.textproto",
                                            "--coordinator", "127.0.0.1:" + port};
  ASSERT_NO_FATAL_FAILURE(ExpectNoReportForUnknownOrRunningStudy(d, connect));

  std::string output;
  const std::string html_path = d + "/report.html";
  ASSERT_EQ(StudyReport(d, connect,
                        {id, "--out", html_path, "--results-out", d + "/fetched.json", "--audit-log",
                         "V1=" + out + "/audit/V1.log"},
                        &output),
            0)
      << output;
  Terminate(coordinator);
  const json fetched = json::parse(ReadAll(d + "/fetched.json"));
  EXPECT_EQ(fetched["validation"], r["validation"]);
  // The coordinator records its own audit head; --audit-log added V1's.
  EXPECT_TRUE(fetched["provenance"]["audit_log_heads"].contains("coordinator"));
  EXPECT_EQ(fetched["provenance"]["audit_log_heads"]["V1"], r["provenance"]["audit_log_heads"]["V1"]);

  ExpectEveryPlot(ReadAll(html_path));

  if (!HaveChromium()) GTEST_SKIP() << "chromium is not installed; the browser check is skipped";
  const std::string shot_dir = std::string(FEDRAD_BIN_DIR) + "/../report_browser_study";
  EXPECT_EQ(fedrad::testing::Run({"/bin/bash", BrowserTestScript(), "--html", html_path, shot_dir},
                d + "/browser.log", &output),
            0)
      << output;
  EXPECT_TRUE(std::filesystem::exists(shot_dir + "/report.png"));
}

}  // namespace
}  // namespace fedrad::testing
