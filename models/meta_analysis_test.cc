// Meta-analysis tests. Reference numbers: models/testdata/reference.json from
// make_fixtures.R with metafor::rma(yi, vi, method = "DL") and R qt().
#include "models/meta_analysis.h"

#include <cmath>

#include "core/testing/status_matchers.h"
#include "gtest/gtest.h"
#include "models/testutil.h"

namespace fedrad::models {
namespace {

TEST(DerSimonianLaird, MatchesMetaforRmaDl) {
  nlohmann::json r = testing::Reference()["meta_dl"];
  ASSERT_OK_AND_ASSIGN(auto m, DerSimonianLaird(r["yi"].get<std::vector<double>>(),
                                                r["vi"].get<std::vector<double>>()));
  EXPECT_NEAR(m.mu, r["mu"].get<double>(), 1e-10);
  EXPECT_NEAR(m.se, r["se"].get<double>(), 1e-10);
  EXPECT_NEAR(m.tau2, r["tau2"].get<double>(), 1e-10);
  EXPECT_NEAR(m.i2, r["i2"].get<double>(), 1e-10);
  EXPECT_NEAR(m.q, r["q"].get<double>(), 1e-10);
  EXPECT_NEAR(m.ci_low, r["ci_low"].get<double>(), 1e-9);
  EXPECT_NEAR(m.ci_high, r["ci_high"].get<double>(), 1e-9);
  EXPECT_NEAR(m.pi_low, r["pi_low"].get<double>(), 1e-9);
  EXPECT_NEAR(m.pi_high, r["pi_high"].get<double>(), 1e-9);
}

TEST(DerSimonianLaird, HomogeneousSitesHaveZeroTau2AndNoPredictionIntervalForTwo) {
  auto m = DerSimonianLaird({1.0, 1.0}, {0.1, 0.2});
  ASSERT_OK(m);
  EXPECT_EQ(m->tau2, 0.0);
  EXPECT_EQ(m->i2, 0.0);
  EXPECT_TRUE(std::isnan(m->pi_low));
}

TEST(DerSimonianLaird, RejectsOneSite) {
  EXPECT_EQ(DerSimonianLaird({1.0}, {0.1}).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(StudentTQuantile, MatchesRQt) {
  nlohmann::json r = testing::Reference()["meta_dl"];
  EXPECT_NEAR(StudentTQuantile(0.975, 3), r["qt_975_3"].get<double>(), 1e-10);
  EXPECT_NEAR(StudentTQuantile(0.975, 1), r["qt_975_1"].get<double>(), 1e-9);
  EXPECT_NEAR(StudentTQuantile(0.975, 30), r["qt_975_30"].get<double>(), 1e-10);
  EXPECT_NEAR(StudentTQuantile(0.025, 30), -r["qt_975_30"].get<double>(), 1e-10);
}

}  // namespace
}  // namespace fedrad::models
