// Feature extraction through real processes: `fedrad synth` writes a tiny
// two-center CT cohort with one corrupt CT file (C2_0004), `fedrad sandbox`
// runs a coordinator and two site processes (mutual TLS, loopback) with a
// study that extracts features and then summarises the cohort. The corrupt
// case is excluded at its site, counted and named in results.json and in the
// rendered report (`fedrad report`), the site's working table loses that row
// (the cohort summary counts 11 at C2), and the study succeeds.
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/sandbox_testutil.h"

namespace fedrad::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kStudy[] = R"pb(
name: "features"
id_column: "case_id"
quorum { task_timeout_seconds: 120 }
features {
  enabled: true
  settings { discretisation { bin_width: 25 } families: "stat" }
  regions { roi: "largest_lesion" prefix: "lesion_" }
  regions { roi: "bkg" prefix: "bkg_" }
  regions { roi: "patient" }
}
cohort_summary {
  enabled: true
  columns: "age"
  columns: "lesion_stat_mean"
  columns: "bkg_stat_variance"
  columns: "patient_lesion_count"
}
)pb";

TEST(SandboxFeatures, CorruptImageIsExcludedNamedAndReportedWhileTheStudySucceeds) {
  TempDir dir("features");
  const std::string cohort = dir.path() + "/cohort";
  std::string synth_output;
  ASSERT_EQ(fedrad::testing::Run({FedradBin(), "synth", "--out", cohort, "--centers", "2", "--patients", "12,12",
                 "--seed", "3", "--threads", "2", "--corrupt-cases", "C2_0004"},
                dir.path() + "/synth.log", &synth_output),
            0)
      << synth_output;
  EXPECT_THAT(synth_output, HasSubstr("C2_0004"));

  SandboxRun run = RunSandbox({{"C1", cohort + "/C1/manifest.csv"}, {"C2", cohort + "/C2/manifest.csv"}},
                              kStudy, dir.path() + "/out", {"--quiet", "--k", "5"});
  ASSERT_EQ(run.exit_code, 0) << run.output;
  const auto& r = run.results;
  ASSERT_TRUE(r.is_object()) << run.output;
  EXPECT_EQ(r["study"]["state"], "SUCCEEDED") << r["study"].dump();

  const auto& f = r["features"];
  ASSERT_TRUE(f.is_object()) << r.dump(1);
  EXPECT_EQ(f["sites"]["C1"]["n_cases"], 12);
  EXPECT_EQ(f["sites"]["C1"]["n_ok"], 12);
  EXPECT_EQ(f["sites"]["C1"]["n_excluded"], 0);
  EXPECT_EQ(f["sites"]["C2"]["n_cases"], 12);
  EXPECT_EQ(f["sites"]["C2"]["n_ok"], 11);
  EXPECT_EQ(f["sites"]["C2"]["n_excluded"], 1);
  ASSERT_EQ(f["sites"]["C2"]["excluded"].size(), 1u);
  EXPECT_EQ(f["sites"]["C2"]["excluded"][0]["case"], "C2_0004");
  const std::string reason = f["sites"]["C2"]["excluded"][0]["reason"];
  // The reason names the column, not the site's local path.
  EXPECT_THAT(reason, HasSubstr("<image>"));
  EXPECT_THAT(reason, Not(HasSubstr(cohort)));
  EXPECT_EQ(f["n_excluded"], 1);
  EXPECT_EQ(f["settings_sha256"].get<std::string>().size(), 64u);
  // stat: 18 features per region, 2 regions, + 2 patient columns.
  EXPECT_EQ(f["n_columns"], 2 * 18 + 2);

  // The working tables lost the excluded row: the next step sees 11 at C2.
  EXPECT_EQ(r["cohort"]["sites"]["C1"]["n"], 12);
  EXPECT_EQ(r["cohort"]["sites"]["C2"]["n"], 11);
  EXPECT_TRUE(r["cohort"]["pooled"]["columns"]["bkg_stat_variance"]["mean"].is_number());

  // The rendered report names the excluded case and its reason.
  const std::string report = dir.path() + "/out/report.html";
  std::string report_output;
  ASSERT_EQ(fedrad::testing::Run({FedradBin(), "report", "--results", dir.path() + "/out/results.json", "--out", report},
                dir.path() + "/report.log", &report_output),
            0)
      << report_output;
  const std::string html = ReadAll(report);
  size_t section = html.find("id=\"excluded\"");
  ASSERT_NE(section, std::string::npos);
  std::string excluded = html.substr(section, 4000);
  EXPECT_THAT(excluded, HasSubstr("C2_0004"));
  EXPECT_THAT(excluded, HasSubstr("features.sites.C2.excluded"));
}

}  // namespace
}  // namespace fedrad::testing
