// A 3-site cohort summary through real processes (coordinator + 3 sites on
// loopback, mutual TLS) equals the pooled computation on the concatenated
// tables, done here in the test with plain two-pass formulas.
#include <cmath>
#include <numeric>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/sandbox_testutil.h"

namespace fedrad::testing {
namespace {

constexpr char kStudy[] = R"pb(
name: "cohort"
quorum { task_timeout_seconds: 60 }
cohort_summary { enabled: true columns: "age" columns: "bmi" columns: "cea" columns: "n_lesions" }
)pb";

double Mean(const std::vector<double>& v) {
  return std::accumulate(v.begin(), v.end(), 0.0) / v.size();
}
double Sd(const std::vector<double>& v) {
  double m = Mean(v), ss = 0;
  for (double x : v) ss += (x - m) * (x - m);
  return std::sqrt(ss / (v.size() - 1));
}

TEST(SandboxCohort, ThreeSiteSummaryEqualsPooledComputation) {
  TempDir dir("cohort");
  std::vector<std::pair<std::string, std::string>> sites;
  int sizes[] = {60, 45, 30};
  for (int i = 0; i < 3; ++i) {
    std::string name = "S" + std::to_string(i + 1);
    std::string csv = dir.path() + "/" + name + ".csv";
    WriteCohortCsv(csv, name, sizes[i], 100 + i, 2.0 * i);
    sites.emplace_back(name, csv);
  }
  SandboxRun run = RunSandbox(sites, kStudy, dir.path() + "/out", {"--quiet"});
  ASSERT_EQ(run.exit_code, 0) << run.output;
  const auto& r = run.results;
  ASSERT_TRUE(r.is_object()) << run.output;
  EXPECT_EQ(r["study"]["state"], "SUCCEEDED");
  EXPECT_EQ(r["study"]["sites"], nlohmann::json({"S1", "S2", "S3"}));
  EXPECT_EQ(r["cohort"]["pooled"]["n"], 135);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(r["cohort"]["sites"][sites[i].first]["n"], sizes[i]);
  }
  for (const char* column : {"age", "bmi", "cea", "n_lesions"}) {
    std::vector<double> pooled;
    for (const auto& [name, csv] : sites) {
      auto v = ReadColumn(csv, column);
      pooled.insert(pooled.end(), v.begin(), v.end());
    }
    const auto& c = r["cohort"]["pooled"]["columns"][column];
    ASSERT_TRUE(c.is_object()) << column;
    EXPECT_NEAR(c["mean"].get<double>(), Mean(pooled), 1e-10 * std::abs(Mean(pooled))) << column;
    EXPECT_NEAR(c["sd"].get<double>(), Sd(pooled), 1e-10 * Sd(pooled)) << column;
  }
  // Every node's audit log is there, and provenance names the spec.
  for (const char* log : {"S1.log", "S2.log", "S3.log", "coordinator.log"}) {
    EXPECT_TRUE(std::filesystem::exists(run.out_dir + "/audit/" + log)) << log;
  }
  EXPECT_EQ(r["provenance"]["spec_sha256"].get<std::string>().size(), 64u);
  EXPECT_TRUE(std::filesystem::is_directory(run.out_dir + "/sites/S1"));
}

}  // namespace
}  // namespace fedrad::testing
