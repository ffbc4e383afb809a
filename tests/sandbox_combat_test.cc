// Federated ComBat through the sandbox (a real coordinator and four real site
// processes on loopback with mutual TLS), for each example study
// examples/studies/combat_*.textproto. Each site's DIR/sites/NAME/.../
// harmonized.csv is compared with `fedrad harmonize` on the concatenation
// of the sites' tables (1e-10 relative) and with R's sva::ComBat
// (harmonization/testdata/expected_*.csv, made by
// harmonization/testdata/make_fixtures.R; 1e-9 of each feature's SD).
#include <algorithm>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/sandbox_testutil.h"

namespace fedrad::testing {
namespace {

using ::testing::HasSubstr;

const std::vector<std::string> kSites = {"S1", "S2", "S3", "S4"};

std::string Source(const std::string& rel) { return std::string(FEDRAD_SOURCE_DIR) + "/" + rel; }
std::string Fixture(const std::string& name) {
  return Source("harmonization/testdata/" + name);
}

// A CSV as header + rows of cells (plain: the fixtures have no quoting).
struct Table {
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
  int Column(const std::string& name) const {
    auto it = std::find(header.begin(), header.end(), name);
    return it == header.end() ? -1 : static_cast<int>(it - header.begin());
  }
};

Table ReadTable(const std::string& path) {
  Table t;
  std::stringstream in(ReadAll(path));
  std::string line;
  auto split = [](const std::string& l) {
    std::vector<std::string> cells;
    std::stringstream ls(l);
    for (std::string c; std::getline(ls, c, ',');) cells.push_back(c);
    return cells;
  };
  if (std::getline(in, line)) t.header = split(line);
  while (std::getline(in, line)) {
    if (!line.empty()) t.rows.push_back(split(line));
  }
  return t;
}

std::string FindHarmonized(const std::string& site_dir) {
  std::error_code ec;
  for (auto& e : std::filesystem::recursive_directory_iterator(site_dir, ec)) {
    if (e.path().filename() == "harmonized.csv") return e.path().string();
  }
  return "";
}

std::vector<std::pair<std::string, std::string>> SiteCsvs() {
  std::vector<std::pair<std::string, std::string>> sites;
  for (const std::string& s : kSites) sites.push_back({s, Fixture("site_" + s + ".csv")});
  return sites;
}

struct Example {
  std::string study;     // examples/studies/combat_<study>.textproto
  std::string expected;  // expected_<expected>.csv
  std::vector<std::string> harmonize_flags;
};

TEST(SandboxComBat, ExampleStudiesEqualPooledHarmonizeAndSva) {
  const std::vector<Example> examples = {
      {"parametric", "parametric", {"--covariates", "age,sex"}},
      {"nonparametric", "nonparametric", {"--covariates", "age,sex", "--method", "nonparametric"}},
      {"mean_only", "mean_only", {"--covariates", "age,sex", "--method", "mean-only"}},
      {"reference_site_S1", "reference_S1", {"--covariates", "age,sex", "--reference-site", "S1"}},
      {"no_covariates", "no_covariates", {}},
  };
  for (const Example& ex : examples) {
    SCOPED_TRACE(ex.study);
    TempDir dir("combat-" + ex.study);
    const std::string study =
        ReadAll(Source("examples/studies/combat_" + ex.study + ".textproto"));
    SandboxRun run = RunSandbox(SiteCsvs(), study, dir.path() + "/out", {"--quiet"});
    ASSERT_EQ(run.exit_code, 0) << run.output;
    ASSERT_EQ(run.results["study"]["state"], "SUCCEEDED") << run.results.dump(2);

    // The pooled path: `fedrad harmonize` on the concatenation.
    std::vector<std::string> argv = {FedradBin(), "harmonize", "--input", Fixture("pooled.csv"),
                                     "--site-column", "site", "--features", "^f[0-9]+$",
                                     "--out", dir.path() + "/pooled_harmonized.csv"};
    argv.insert(argv.end(), ex.harmonize_flags.begin(), ex.harmonize_flags.end());
    std::string output;
    ASSERT_EQ(fedrad::testing::Run(argv, dir.path() + "/harmonize.log", &output), 0) << output;
    Table pooled = ReadTable(dir.path() + "/pooled_harmonized.csv");
    Table expected = ReadTable(Fixture("expected_" + ex.expected + ".csv"));
    Table input = ReadTable(Fixture("pooled.csv"));
    ASSERT_EQ(pooled.rows.size(), expected.rows.size());

    size_t row = 0;  // pooled.csv lists S1, S2, S3, S4 in order
    for (const std::string& site : kSites) {
      const std::string path = FindHarmonized(run.out_dir + "/sites/" + site);
      ASSERT_FALSE(path.empty()) << "no harmonized.csv for " << site;
      Table fed = ReadTable(path);
      Table original = ReadTable(Fixture("site_" + site + ".csv"));
      EXPECT_EQ(fed.header, original.header);
      ASSERT_EQ(fed.rows.size(), original.rows.size());
      for (size_t i = 0; i < fed.rows.size(); ++i, ++row) {
        EXPECT_EQ(fed.rows[i][0], original.rows[i][0]);  // same patients, same order
        for (size_t c = 0; c < fed.header.size(); ++c) {
          const std::string& col = fed.header[c];
          if (col.size() != 3 || col[0] != 'f') {
            EXPECT_EQ(fed.rows[i][c], original.rows[i][c]) << col;  // non-features untouched
            continue;
          }
          const double f = std::stod(fed.rows[i][c]);
          const double p = std::stod(pooled.rows[row][pooled.Column(col)]);
          const double r = std::stod(expected.rows[row][expected.Column(col)]);
          EXPECT_NEAR(f, p, 1e-10 * std::abs(p)) << site << " " << col;
          // Every feature's SD in the fixture is above 0.05.
          EXPECT_NEAR(f, r, 1e-9 * 0.05) << site << " " << col;
        }
      }
    }
    const nlohmann::json& h = run.results["harmonization"];
    for (const std::string& site : kSites) {
      EXPECT_TRUE(h["sites"][site]["gamma_star"].contains("f01")) << h.dump(1);
      EXPECT_TRUE(h["sites"][site]["delta_star"].contains("f06"));
    }
    EXPECT_TRUE(h["pooled"]["grand_mean"].contains("f03"));
    EXPECT_TRUE(h["pooled"]["var_pooled"].contains("f03"));
    EXPECT_EQ(h["model"]["format"], "fedrad.combat.v1");
  }
}

TEST(SandboxComBat, JoiningCentreIsHarmonisedWithTheModelFromResults) {
  TempDir dir("combat-join");
  // The example names S1..S4; here S4 joins later, so the study names three.
  std::string study = ReadAll(Source("examples/studies/combat_parametric.textproto"));
  const size_t named = study.find("sites: \"S4\"\n");
  ASSERT_NE(named, std::string::npos);
  study.erase(named, std::string("sites: \"S4\"\n").size());
  std::vector<std::pair<std::string, std::string>> three = SiteCsvs();
  three.pop_back();  // S4 joins later
  SandboxRun run = RunSandbox(three, study, dir.path() + "/out", {"--quiet"});
  ASSERT_EQ(run.results["study"]["state"], "SUCCEEDED") << run.output;
  WriteAll(dir.path() + "/model.json", run.results["harmonization"]["model"].dump());
  // The new centre's table with a site column.
  std::string s4 = ReadAll(Fixture("site_S4.csv"));
  std::stringstream in(s4), out;
  std::string line;
  bool first = true;
  while (std::getline(in, line)) {
    out << (first ? "site," : "S4,") << line << "\n";
    first = false;
  }
  WriteAll(dir.path() + "/s4.csv", out.str());
  std::string output;
  ASSERT_EQ(fedrad::testing::Run({FedradBin(), "harmonize", "--model-in", dir.path() + "/model.json", "--input",
                 dir.path() + "/s4.csv", "--out", dir.path() + "/s4_h.csv", "--model-out",
                 dir.path() + "/model2.json"},
                dir.path() + "/join.log", &output),
            0)
      << output;
  nlohmann::json model2 = nlohmann::json::parse(ReadAll(dir.path() + "/model2.json"));
  EXPECT_TRUE(model2["sites"]["S4"]["joined_after_fit"].get<bool>());
  // The fitted sites' estimates did not move.
  EXPECT_EQ(model2["sites"]["S1"], run.results["harmonization"]["model"]["sites"]["S1"]);
  EXPECT_EQ(ReadTable(dir.path() + "/s4_h.csv").rows.size(), 30u);
}

// `fedrad harmonize --model-in` on a new patient at a known site gives the
// value the original fit gave that patient (stored estimates, the patient's
// own covariates), and nothing is refitted.
TEST(HarmonizeCli, NewPatientAtKnownSiteWithStoredModel) {
  TempDir dir("combat-cli");
  std::string output;
  ASSERT_EQ(fedrad::testing::Run({FedradBin(), "harmonize", "--input", Fixture("pooled.csv"),
                                  "--site-column", "site", "--features", "^f[0-9]+$",
                                  "--covariates", "age,sex", "--out", dir.path() + "/h.csv",
                                  "--model-out", dir.path() + "/model.json"},
                                 dir.path() + "/fit.log", &output),
            0)
      << output;
  Table input = ReadTable(Fixture("pooled.csv"));
  Table fitted = ReadTable(dir.path() + "/h.csv");
  const size_t row = 40;  // an S3 patient
  ASSERT_EQ(input.rows[row][0], "S3");
  std::string one;
  for (size_t c = 0; c < input.header.size(); ++c) one += (c ? "," : "") + input.header[c];
  one += "\n";
  for (size_t c = 0; c < input.rows[row].size(); ++c) one += (c ? "," : "") + input.rows[row][c];
  WriteAll(dir.path() + "/one.csv", one + "\n");
  ASSERT_EQ(fedrad::testing::Run({FedradBin(), "harmonize", "--model-in",
                                  dir.path() + "/model.json", "--input", dir.path() + "/one.csv",
                                  "--out", dir.path() + "/one_h.csv"},
                                 dir.path() + "/apply.log", &output),
            0)
      << output;
  Table applied = ReadTable(dir.path() + "/one_h.csv");
  ASSERT_EQ(applied.rows.size(), 1u);
  for (const char* f : {"f01", "f02", "f03", "f04", "f05", "f06"}) {
    const double a = std::stod(applied.rows[0][applied.Column(f)]);
    const double b = std::stod(fitted.rows[row][fitted.Column(f)]);
    EXPECT_NEAR(a, b, 1e-12 * std::abs(b)) << f;
  }
}

TEST(HarmonizeCli, BadInputIsAnErrorNamingTheCause) {
  TempDir dir("combat-cli-bad");
  std::string text = ReadAll(Fixture("pooled.csv"));
  text.replace(text.find("74.5"), 4, "old");  // S1-001's age
  WriteAll(dir.path() + "/bad.csv", text);
  std::string output;
  EXPECT_EQ(fedrad::testing::Run({FedradBin(), "harmonize", "--input", dir.path() + "/bad.csv",
                                  "--features", "^f[0-9]+$", "--covariates", "age,sex", "--out",
                                  dir.path() + "/h.csv"},
                                 dir.path() + "/bad.log", &output),
            1);
  EXPECT_THAT(output, HasSubstr("line 2, column 'age': 'old' is not a number"));
  EXPECT_EQ(fedrad::testing::Run({FedradBin(), "harmonize", "--input", Fixture("pooled.csv"),
                                  "--features", "^f[0-9]+$", "--method", "bayes", "--out",
                                  dir.path() + "/h.csv"},
                                 dir.path() + "/method.log", &output),
            2);
  EXPECT_THAT(output, HasSubstr("unknown ComBat method 'bayes'"));
}

TEST(SandboxComBat, FeatureMissingAtOneSiteFailsTheStudyNamingIt) {
  TempDir dir("combat-missing");
  // S3 without f06.
  Table s3 = ReadTable(Fixture("site_S3.csv"));
  std::string text;
  for (size_t c = 0; c + 1 < s3.header.size(); ++c) text += (c ? "," : "") + s3.header[c];
  text += "\n";
  for (const auto& r : s3.rows) {
    for (size_t c = 0; c + 1 < r.size(); ++c) text += (c ? "," : "") + r[c];
    text += "\n";
  }
  WriteAll(dir.path() + "/S3.csv", text);
  auto sites = SiteCsvs();
  sites[2].second = dir.path() + "/S3.csv";
  SandboxRun run = RunSandbox(sites, ReadAll(Source("examples/studies/combat_parametric.textproto")),
                              dir.path() + "/out", {"--quiet"});
  EXPECT_EQ(run.results["study"]["state"], "FAILED");
  EXPECT_THAT(run.results["study"]["message"].get<std::string>(),
              HasSubstr("feature 'f06' is missing at site(s) S3"));
  EXPECT_EQ(FindHarmonized(run.out_dir + "/sites/S1"), "");
}

}  // namespace
}  // namespace fedrad::testing
