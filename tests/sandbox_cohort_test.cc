// A 3-site cohort summary through real processes (coordinator + 3 sites on
// loopback, mutual TLS) equals the pooled computation on the concatenated
// tables, done here in the test with plain two-pass formulas.
#include <algorithm>
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
cohort_summary {
  enabled: true columns: "age" columns: "bmi" columns: "cea" columns: "n_lesions"
  time_events { name: "os" time_column: "time" event_column: "status" }
}
)pb";

// The inverse of the empirical CDF (R type 1): the smallest value with at
// least p·n values at or below it, the quantile a bracket bounds.
double Type1(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  const size_t i = static_cast<size_t>(std::ceil(p * v.size() - 1e-12));
  return v[std::max<size_t>(i, 1) - 1];
}

// Quartiles come from counts on each site's own grid (steps of >= k = 10
// values, 3-significant-digit lattice), so they are approximate: the
// released counts prove the sample quantile lies in [bracket_low,
// bracket_high] (null: unbounded on that side), and the estimate lies there
// too. Its distance from the exact value is then at most the bracket's
// width; for these continuous columns that is well under half an SD (a step
// of 10 values out of 135, or out of 60 at one site). For a count with heavy
// ties (n_lesions, 1..6) the interpolation spreads a tied step between two
// integers: at most one lesion away.
void ExpectGridQuantiles(const nlohmann::json& col, const std::vector<double>& values,
                         const std::string& what) {
  const bool counts = what.find("n_lesions") != std::string::npos;
  const double sd = [&] {
    double m = 0, ss = 0;
    for (double x : values) m += x / values.size();
    for (double x : values) ss += (x - m) * (x - m);
    return std::sqrt(ss / (values.size() - 1));
  }();
  const std::pair<const char*, double> qs[] = {{"q1", 0.25}, {"median", 0.5}, {"q3", 0.75}};
  for (const auto& [name, p] : qs) {
    SCOPED_TRACE(what + " " + name);
    const nlohmann::json& q = col["quantiles"][name];
    ASSERT_TRUE(q.is_object());
    const double value = q["value"].get<double>();
    EXPECT_EQ(col[name].get<double>(), value);
    const double exact = Type1(values, p);
    EXPECT_TRUE(q["bracket_low"].is_number() || q["bracket_high"].is_number());
    if (q["bracket_low"].is_number()) {
      EXPECT_LT(q["bracket_low"].get<double>(), exact);
      EXPECT_GE(value, q["bracket_low"].get<double>());
    }
    if (q["bracket_high"].is_number()) {
      EXPECT_GE(q["bracket_high"].get<double>(), exact);
      EXPECT_LE(value, q["bracket_high"].get<double>());
    }
    EXPECT_LE(std::abs(value - exact), counts ? 1.0 : 0.5 * sd);
  }
}

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
    ExpectGridQuantiles(c, pooled, column);
    // The largest site alone (60 patients, k = 10: five released points).
    ExpectGridQuantiles(r["cohort"]["sites"]["S1"]["columns"][column], ReadColumn(sites[0].second, column),
                        std::string("S1 ") + column);
  }
  // The time/event pair: events summed; median follow-up = the time median.
  std::vector<double> time, status;
  for (const auto& [name, csv] : sites) {
    auto t = ReadColumn(csv, "time"), e = ReadColumn(csv, "status");
    time.insert(time.end(), t.begin(), t.end());
    status.insert(status.end(), e.begin(), e.end());
  }
  const auto& os = r["cohort"]["pooled"]["time_events"]["os"];
  EXPECT_EQ(os["n"], 135);
  EXPECT_EQ(os["events"].get<double>(), std::accumulate(status.begin(), status.end(), 0.0));
  EXPECT_EQ(os["median_followup"], r["cohort"]["pooled"]["columns"]["time"]["median"]);
  ExpectGridQuantiles(r["cohort"]["pooled"]["columns"]["time"], time, "time");
  // Every node's audit log is there, and provenance names the spec.
  for (const char* log : {"S1.log", "S2.log", "S3.log", "coordinator.log"}) {
    EXPECT_TRUE(std::filesystem::exists(run.out_dir + "/audit/" + log)) << log;
  }
  EXPECT_EQ(r["provenance"]["spec_sha256"].get<std::string>().size(), 64u);
  EXPECT_TRUE(std::filesystem::is_directory(run.out_dir + "/sites/S1"));
}

}  // namespace
}  // namespace fedrad::testing
