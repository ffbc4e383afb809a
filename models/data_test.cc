// Tests of covariate resolution and row extraction (models/data.h), on small
// tables written in the test.
#include "models/data.h"

#include "core/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fedrad::models {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

CsvTable Table(const std::string& text) {
  auto t = ParseCsv(text, "site.csv");
  EXPECT_OK(t);
  return *t;
}

TEST(ResolveCovariates, DefaultIsEveryColumnExceptIdAndOutcomes) {
  auto c = ResolveCovariates({"patient_id", "time", "status", "age", "entropy", "recur2y"}, {}, "",
                             {"patient_id", "time", "status", "recur2y"});
  ASSERT_OK(c);
  EXPECT_THAT(*c, ElementsAre("age", "entropy"));
}

TEST(ResolveCovariates, ListedThenRegexMatchesInHeaderOrder) {
  auto c = ResolveCovariates({"id", "bkg_entropy", "age", "lesion_entropy", "bkg_variance"},
                             {"age"}, "^bkg_.*", {"id"});
  ASSERT_OK(c);
  EXPECT_THAT(*c, ElementsAre("age", "bkg_entropy", "bkg_variance"));
}

TEST(ResolveCovariates, RejectsMissingOrOutcomeColumns) {
  EXPECT_EQ(ResolveCovariates({"id", "a"}, {"b"}, "", {"id"}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ResolveCovariates({"id", "time"}, {"time"}, "", {"id", "time"}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ResolveCovariates({"id", "a"}, {}, "(", {"id"}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(ExtractModelRows, ExcludesAndCountsRowsWithMissingValues) {
  CsvTable t = Table(
      "patient_id,time,status,age,recur2y\n"
      "p1,100,1,60,1\n"
      "p2,200,0,,0\n"
      "p3,300,0,70,NA\n"
      "p4,400,1,55,\n");
  auto surv = ExtractModelRows(t, OutcomeColumns::Survival("time", "status"), {"age"});
  ASSERT_OK(surv);
  EXPECT_EQ(surv->x.rows(), 3);
  EXPECT_EQ(surv->n_excluded, 1);
  EXPECT_EQ(surv->excluded_by_reason.at("missing age"), 1);
  auto bin = ExtractModelRows(t, OutcomeColumns::Binary("recur2y"), {"age"});
  ASSERT_OK(bin);
  EXPECT_EQ(bin->x.rows(), 1);
  EXPECT_EQ(bin->excluded_by_reason.at("missing recur2y"), 2);
  EXPECT_EQ(bin->excluded_by_reason.at("missing age"), 1);
}

TEST(ExtractModelRows, EventValuesCensorOtherCauses) {
  // Disease-specific death: cause 1 is the event, cause 2 (other death) and 0 are censored.
  CsvTable t = Table("patient_id,time,cause,age\np1,10,1,50\np2,20,2,51\np3,30,0,52\n");
  auto rows = ExtractModelRows(t, OutcomeColumns::Survival("time", "cause", {"1"}), {"age"});
  ASSERT_OK(rows);
  EXPECT_THAT(rows->status, ElementsAre(1, 0, 0));
}

TEST(ExtractModelRows, NonNumericCellIsAnErrorNamingLineAndColumn) {
  CsvTable t = Table("patient_id,time,status,age\np1,10,1,50\np2,20,0,old\n");
  auto rows = ExtractModelRows(t, OutcomeColumns::Survival("time", "status"), {"age"});
  EXPECT_EQ(rows.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(rows.status().message(), HasSubstr("line 3"));
  EXPECT_THAT(rows.status().message(), HasSubstr("'age'"));
}

TEST(Scaling, PooledFromSumsEqualsOneTable) {
  Eigen::MatrixXd a(3, 2), b(2, 2);
  a << 1, 2, 3, 5, 4, 4;
  b << 7, 1, 0, 2;
  CrossProducts cp = ComputeCrossProducts(a);
  cp.Add(ComputeCrossProducts(b));
  Eigen::MatrixXd all(5, 2);
  all << a, b;
  auto s = ScalingFromCrossProducts(cp, {"u", "v"});
  ASSERT_OK(s);
  Eigen::VectorXd mean = all.colwise().mean();
  for (int j = 0; j < 2; ++j) {
    const double sd = std::sqrt((all.col(j).array() - mean[j]).square().sum() / 4);
    EXPECT_NEAR(s->center[j], mean[j], 1e-12);
    EXPECT_NEAR(s->scale[j], sd, 1e-12);
  }
  CrossProducts constant = ComputeCrossProducts(Eigen::MatrixXd::Ones(4, 1));
  EXPECT_THAT(ScalingFromCrossProducts(constant, {"scanner"}).status().message(),
              HasSubstr("scanner"));
}

}  // namespace
}  // namespace fedrad::models
