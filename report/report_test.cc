// Tests of the HTML report rendered from results.json. The fixture
// testdata/results_fixture.json is a rendering fixture with made-up numbers
// (testdata/make_fixture.py), not the output of an analysis.
#include "report/report.h"

#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>

#include "core/csv.h"
#include "core/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "re2/re2.h"

namespace fedrad::report {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using json = nlohmann::json;

json Fixture() {
  auto text = ReadFileToString(std::string(FEDRAD_SOURCE_DIR) + "/report/testdata/results_fixture.json");
  EXPECT_OK(text);
  return json::parse(*text);
}

std::string Render(const json& j) {
  auto html = RenderReport(j);
  EXPECT_OK(html);
  return html.ok() ? *html : "";
}

int Count(const std::string& text, const std::string& needle) {
  int n = 0;
  for (size_t p = text.find(needle); p != std::string::npos; p = text.find(needle, p + 1)) ++n;
  return n;
}

// The <section> with the given id, or "".
std::string SectionOf(const std::string& html, const std::string& id) {
  const size_t start = html.find("<section id=\"" + id + "\"");
  if (start == std::string::npos) return "";
  return html.substr(start, html.find("</section>", start) - start);
}

TEST(RenderReport, FixtureRendersEverySectionAndPlot) {
  const std::string html = Render(Fixture());
  for (const char* id : {"glance", "study", "sites", "cohort", "excluded", "harmonization", "models",
                         "validation", "other"}) {
    const std::string section = SectionOf(html, id);
    EXPECT_FALSE(section.empty()) << id;
    EXPECT_THAT(section, Not(HasSubstr("class=\"absent\""))) << id;
  }
  // Plots, by their ids: 2 strip plots (gamma*, delta*), 2 distributions,
  // 2 coefficient forests, forests for 3 Cox metrics + AUC + Brier,
  // 1 calibration (C4's bins are all suppressed), 1 ROC, KM for 3 sites.
  EXPECT_EQ(Count(html, "data-plot-id=\"strip-"), 2);
  EXPECT_EQ(Count(html, "data-plot-id=\"dist-"), 2);
  EXPECT_EQ(Count(html, "data-plot-id=\"coef-"), 2);
  EXPECT_EQ(Count(html, "data-plot-id=\"forest-"), 5);
  EXPECT_EQ(Count(html, "data-plot-id=\"calibration-"), 1);
  EXPECT_EQ(Count(html, "data-plot-id=\"roc-"), 1);
  EXPECT_EQ(Count(html, "data-plot-id=\"km-"), 3);
  EXPECT_EQ(Count(html, "<svg class=\"plot\""), 16);
}

TEST(RenderReport, ShowsTheStudyFacts) {
  const std::string html = Render(Fixture());
  EXPECT_THAT(html, HasSubstr("9f2c4d1e8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d"));
  EXPECT_THAT(SectionOf(html, "study"), HasSubstr("Audit logs"));
  EXPECT_THAT(SectionOf(html, "sites"), HasSubstr("timed out after 600 s in round combat.fit"));
  EXPECT_THAT(SectionOf(html, "excluded"), HasSubstr("mask/image geometry mismatch"));
  EXPECT_THAT(SectionOf(html, "excluded"), HasSubstr("features.sites.C2.excluded"));
  // Pooled C with its prediction interval, in the summary and the forest plot.
  EXPECT_THAT(SectionOf(html, "glance"), HasSubstr("0.659 (95% CI 0.612–0.706)"));
  EXPECT_THAT(SectionOf(html, "validation"), HasSubstr("PI [0.550, 0.760]"));
  // Coefficient table: HR = exp(0.48) = 1.62 for the BKG entropy.
  EXPECT_THAT(SectionOf(html, "models"), HasSubstr("1.62"));
  EXPECT_THAT(SectionOf(html, "cohort"), HasSubstr("suppressed (&lt;10)"));
}

TEST(RenderReport, HasNoExternalReferences) {
  const std::string html = Render(Fixture());
  const RE2 external(R"((?i)(src|href)\s*=\s*["']?\s*(https?:)?//)");
  EXPECT_FALSE(RE2::PartialMatch(html, external));
  EXPECT_THAT(html, Not(HasSubstr("http://")));
  EXPECT_THAT(html, Not(HasSubstr("https://")));
  EXPECT_THAT(html, Not(HasSubstr("<link")));
  EXPECT_THAT(html, Not(HasSubstr("<script src")));
  EXPECT_THAT(html, Not(HasSubstr("<img")));
}

TEST(RenderReport, NeverDrawsCurvePointsBelowTheMinimumCellCount) {
  const std::string html = Render(Fixture());
  const std::string v = SectionOf(html, "validation");
  // C4: every calibration bin (of 4) has n = 6 < k = 10; its low-risk KM group has
  // n = 9; its ROC has 8 non-events.
  EXPECT_THAT(v, HasSubstr("4 bin(s) with fewer than k = 10 patients suppressed"));
  EXPECT_THAT(v, HasSubstr("low risk: suppressed (n &lt; k = 10)"));
  EXPECT_THAT(v, HasSubstr("C4 suppressed (fewer than k = 10 events or non-events)"));
  EXPECT_THAT(v, HasSubstr("curve stops where fewer than k = 10 patients remain at risk"));
  EXPECT_THAT(v, Not(HasSubstr("C4: predicted")));  // no C4 calibration marker
}

TEST(RenderReport, EscapesNamesFromResults) {
  json j = Fixture();
  j["study"]["name"] = "<script>alert(1)</script>";
  j["cohort"]["sites"]["<img src=x onerror=alert(2)>"] = j["cohort"]["sites"]["C1"];
  j["cohort"]["pooled"]["columns"]["age\"><b>x</b>"] = j["cohort"]["pooled"]["columns"]["age"];
  j["models"]["recurrence_cox"]["coefficients"]["<svg onload=alert(3)>"] = 0.1;
  j["validation"]["recurrence_cox"]["sites"]["</svg><script>x</script>"] =
      j["validation"]["recurrence_cox"]["sites"]["C2"];
  const std::string html = Render(j);
  EXPECT_THAT(html, Not(HasSubstr("<script>alert")));
  EXPECT_THAT(html, Not(HasSubstr("<img src=x")));
  EXPECT_THAT(html, Not(HasSubstr("<b>x</b>")));
  EXPECT_THAT(html, Not(HasSubstr("<svg onload")));
  EXPECT_THAT(html, Not(HasSubstr("</svg><script>")));
  EXPECT_THAT(html, HasSubstr("&lt;script&gt;alert(1)&lt;/script&gt;"));
  EXPECT_THAT(html, HasSubstr("&lt;img src=x onerror=alert(2)&gt;"));
  // The only <script> is the report's own render check.
  EXPECT_EQ(Count(html, "<script"), 1);
}

TEST(RenderReport, MissingSectionsSayNotPartOfThisStudy) {
  json j = {{"study", {{"name", "cohort only"}, {"sites", {"A", "B"}},
                       {"completed_sites", {"A", "B"}}}},
            {"cohort", Fixture()["cohort"]}};
  const std::string html = Render(j);
  for (const char* id : {"harmonization", "models", "validation", "excluded"}) {
    EXPECT_THAT(SectionOf(html, id), HasSubstr("not part of this study")) << id;
  }
  EXPECT_THAT(SectionOf(html, "cohort"), Not(HasSubstr("not part of this study")));
  EXPECT_THAT(SectionOf(html, "sites"), HasSubstr("Every site completed"));
  EXPECT_EQ(Count(html, "<svg class=\"plot\""), 0);
  // Validation without curve aggregates: the metrics render, the curves say so.
  json v = Fixture();
  for (auto& [site, s] : v["validation"]["recurrence_cox"]["sites"].items()) {
    s.erase("calibration");
    s.erase("km_groups");
  }
  const std::string vh = Render(v);
  // A survival model misses calibration and KM curves (ROC is for binary models).
  EXPECT_THAT(SectionOf(vh, "validation"),
              HasSubstr("calibration curves, Kaplan–Meier curves: not part of this study"));
}

// The shape the models module writes when only one site validates: no
// meta-analysis (null with a note), the C over within-site pairs still shown.
TEST(RenderReport, OneValidationSiteShowsThePairsCAndWhyThereIsNoPooledEstimate) {
  json j;
  j["validation"]["cox"]["sites"]["C"] = {{"n", 70}, {"events", 45}, {"harrell_c", 0.695},
                                          {"harrell_c_ci_low", 0.629}, {"harrell_c_ci_high", 0.775},
                                          {"concordant_pairs", 1317.0}};
  j["validation"]["cox"]["sites"]["D"] = {{"error", "model without D: separation in <x3>"}};
  j["validation"]["cox"]["pooled"] = {
      {"harrell_c_meta", nullptr},
      {"harrell_c_meta_note", "meta-analysis needs at least 2 sites, got 1"},
      {"harrell_c_stratified", 0.6953}};
  const std::string html = Render(j);
  EXPECT_THAT(SectionOf(html, "glance"), HasSubstr("Harrell's C over all within-center pairs 0.695"));
  EXPECT_THAT(SectionOf(html, "validation"),
              HasSubstr("no pooled estimate: meta-analysis needs at least 2 sites, got 1"));
  EXPECT_EQ(Count(html, "data-plot-id=\"forest-"), 1);  // concordant_pairs is not a metric
  EXPECT_THAT(SectionOf(html, "validation"), HasSubstr("model without D: separation in &lt;x3&gt;"));
}

TEST(RenderReport, EmptyResultsStillRender) {
  const std::string html = Render(json::object());
  EXPECT_THAT(html, HasSubstr("<!DOCTYPE html>"));
  EXPECT_THAT(SectionOf(html, "glance"), HasSubstr("not part of this study"));
  EXPECT_THAT(html, HasSubstr("k = 10 (default; results.json states none)"));
  EXPECT_EQ(RenderReport(json::array()).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(WriteReportFile, WritesTheFileAndRejectsBadJson) {
  const std::string dir = ::testing::TempDir();
  const std::string in = dir + "/report_test_results.json", out = dir + "/report_test.html";
  ASSERT_OK(WriteStringToFile(in, Fixture().dump()));
  ASSERT_OK(WriteReportFile(in, out));
  ASSERT_OK_AND_ASSIGN(auto html, ReadFileToString(out));
  EXPECT_THAT(html, HasSubstr("SHA-256"));
  ASSERT_OK(WriteStringToFile(in, "{\"study\": "));
  const absl::Status bad = WriteReportFile(in, out);
  EXPECT_EQ(bad.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(bad.message()), HasSubstr("is not valid JSON"));
  EXPECT_EQ(WriteReportFile(dir + "/does_not_exist.json", out).code(), absl::StatusCode::kNotFound);
}

// `fedrad report` writes the file (skipped when the fedrad binary is not built).
TEST(FedradReportCommand, WritesTheReportAndRejectsAMissingFlag) {
  const std::string fedrad = std::string(FEDRAD_BIN_DIR) + "/fedrad";
  if (!std::filesystem::exists(fedrad)) GTEST_SKIP() << fedrad << " not built";
  const std::string out = ::testing::TempDir() + "/report_cli.html";
  std::filesystem::remove(out);
  const std::string fixture = std::string(FEDRAD_SOURCE_DIR) + "/report/testdata/results_fixture.json";
  EXPECT_EQ(WEXITSTATUS(std::system((fedrad + " report --results " + fixture + " --out " + out +
                                     " > /dev/null").c_str())),
            0);
  ASSERT_OK_AND_ASSIGN(auto html, ReadFileToString(out));
  EXPECT_THAT(html, HasSubstr("External validation"));
  EXPECT_EQ(WEXITSTATUS(std::system((fedrad + " report --out " + out + " 2> /dev/null").c_str())), 2);
}

}  // namespace
}  // namespace fedrad::report
