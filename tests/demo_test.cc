// `fedrad demo` end to end on a smaller cohort (30, 25, 80, 20 patients,
// seed 7): synthetic CTs, a coordinator and four site processes over mutual
// TLS, examples/studies/crlm_demo.textproto, center C2 as DICOM + RTSTRUCT.
// The study succeeds; the corrupt case (C2_0007, a truncated slice file) is
// excluded and named in results.json, the report and the
// terminal summary; every node's audit log is written; and, for this seeded
// cohort, harmonisation improves the radiomic model's calibration at C2
// (the center whose scanner differs most from the development center C3).
#include <cmath>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "core/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proto/results_json.h"
#include "tests/results_doc_testutil.h"
#include "tests/sandbox_testutil.h"

namespace fedrad::testing {
namespace {

using ::testing::HasSubstr;

TEST(Demo, RunsTheCrlmStudyEndToEndAndNamesTheCorruptCase) {
  TempDir dir("demo");
  const std::string out = dir.path() + "/demo-output";
  std::string output;
  int code = fedrad::testing::Run(
      {FedradBin(), "demo", "--quiet", "--out", out, "--patients", "30,25,80,20", "--seed", "7",
       "--threads", "2", "--study", std::string(FEDRAD_SOURCE_DIR) + "/examples/studies/crlm_demo.textproto"},
      dir.path() + "/demo.log", &output);
  ASSERT_EQ(code, 0) << output;
  EXPECT_THAT(output, HasSubstr("radiomic, NOT harmonised"));
  EXPECT_THAT(output, HasSubstr("true risk (ceiling)"));
  // C2 is written as DICOM CT series + RTSTRUCT (the hospital path); its
  // corrupt case lost a slice file.
  EXPECT_THAT(output, HasSubstr("C2 C2_0007: <image>: series"));
  EXPECT_THAT(output, HasSubstr("missing slice(s)"));
  EXPECT_TRUE(std::filesystem::exists(out + "/cohort/C2/cases/C2_0001/RS.dcm"));
  EXPECT_TRUE(std::filesystem::exists(out + "/cohort/C1/cases/C1_0001/ct.nii.gz"));
  EXPECT_THAT(output, HasSubstr("report:     " + out + "/report.html"));

  auto r = nlohmann::json::parse(ReadAll(out + "/results.json"), nullptr, false);
  ASSERT_FALSE(r.is_discarded());
  // results.json is what proto/results.proto defines (a key it lacks fails
  // the parse), and it has every key docs/results.md documents except those
  // this study has no reason to write.
  EXPECT_OK(ParseResults(ReadAll(out + "/results.json"), out + "/results.json"));
  const std::set<std::string> not_in_this_study = {
      "features.sites.<site>.settings_sha256",          // every site used the study's settings
      "features.columns_not_at_every_site",             // every site has every column
      "cohort.sites.<site>.columns.<column>.absent",    // (the same)
      "harmonization.pooled.beta.<covariate>.<feature>",  // ComBat preserves no covariate
      "models.<name>.penalty.selected",                 // no elastic net
      "models.<name>.penalty.lambda_grid",              // no cross-validated penalty
      "models.<name>.penalty.cv_deviance",
      "validation.<name>.sites.<site>.error",           // leave-one-site-out only
      "validation.<name>.loso_models.<site>",
      "validation.<name>.pooled.<m>_meta_note",         // every meta-analysis was computed
      "study.excluded_sites.<site>",                    // no site was dropped
      "study.notices",
      "debug.*",                                        // test-only rounds
  };
  const std::vector<DocKey> documented =
      DocumentedKeys(ReadAll(std::string(FEDRAD_SOURCE_DIR) + "/docs/results.md"));
  EXPECT_GT(documented.size(), 150u);
  EXPECT_THAT(DocumentedButAbsent(r, documented, not_in_this_study), ::testing::IsEmpty())
      << "keys docs/results.md documents that the demo's results.json lacks";
  EXPECT_EQ(r["study"]["state"], "SUCCEEDED");
  EXPECT_EQ(r["features"]["sites"]["C2"]["excluded"][0]["case"], "C2_0007");
  EXPECT_EQ(r["features"]["n_excluded"], 1);
  EXPECT_EQ(r["cohort"]["sites"]["C2"]["n"], 24);
  for (const char* model : {"clinical", "radiomic", "radiomic_unharmonized", "combined"}) {
    for (const char* site : {"C1", "C2", "C4"}) {
      EXPECT_TRUE(r["validation"][model]["sites"][site]["harrell_c"].is_number()) << model << " " << site;
    }
  }
  EXPECT_TRUE(r["validation"]["combined_recur2y"]["sites"]["C2"]["auc"].is_number());
  const double oe_h = r["validation"]["radiomic"]["sites"]["C2"]["oe_ratio_t"];
  const double oe_raw = r["validation"]["radiomic_unharmonized"]["sites"]["C2"]["oe_ratio_t"];
  EXPECT_LT(std::abs(std::log(oe_h)), std::abs(std::log(oe_raw))) << oe_h << " vs " << oe_raw;

  const std::string html = ReadAll(out + "/report.html");
  EXPECT_THAT(html, HasSubstr("C2_0007"));
  for (const char* node : {"coordinator", "C1", "C2", "C3", "C4"}) {
    EXPECT_TRUE(std::filesystem::exists(out + "/audit/" + node + ".log")) << node;
  }
}

}  // namespace
}  // namespace fedrad::testing
