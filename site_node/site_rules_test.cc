#include "site_node/site_rules.h"

#include <cmath>
#include <filesystem>
#include <limits>
#include <string>
#include <vector>

#include "core/testing/status_matchers.h"
#include "gtest/gtest.h"
#include "site_node/site_fits.h"
#include "site_node/validation_rules.h"

namespace fedrad::site {
namespace {

using ::fedrad::testing::StatusIs;

std::vector<std::string> Ids(int from, int to) {
  std::vector<std::string> ids;
  for (int i = from; i < to; ++i) ids.push_back("P" + std::to_string(i));
  return ids;
}

// Found by tests/fuzz/fuzz_site_task: an approved spec's validation tau of
// 1e15 days (with the KM step at its floor) made models.validate build a
// lattice of 10^15 points and run the site out of memory; an infinite tau
// never ended. The lattices stay within kMaxGridPoints; a tau or t that is
// not finite takes the default.
TEST(ValidationLattices, AHugeOrInfiniteHorizonIsBounded) {
  for (double tau : {1e15, std::numeric_limits<double>::infinity()}) {
    v1::Validation v;
    v.set_tau(tau);
    v.set_t(tau);
    v.set_km_time_step(1e-300);
    v.set_time_grid_step(1e-300);
    const ValidationSettings s = SettingsFromSpec(v);
    EXPECT_TRUE(std::isfinite(s.tau)) << tau;
    EXPECT_LE(KmLattice(s).size(), kMaxGridPoints) << tau;
    EXPECT_LE(BaselineLattice(v, s).size(), kMaxGridPoints) << tau;
    v.set_tau(1e15);
    v.set_t(1e15);
    const ValidationSettings huge = SettingsFromSpec(v);
    EXPECT_EQ(KmLattice(huge).size(), kMaxGridPoints);
    EXPECT_LE(BaselineLattice(v, huge).size(), kMaxGridPoints);
  }
}

TEST(PublicError, PassesOnlyMarkedMessages) {
  absl::Status pub = PublicError(absl::StatusCode::kPermissionDenied, "grid: refused (rule x)");
  EXPECT_TRUE(IsPublic(pub));
  EXPECT_EQ(ForTheWire(pub, "models.baseline").message(), "grid: refused (rule x)");

  absl::Status secret = absl::InvalidArgumentError("/data/site/table.csv: line 7, column 'age': 'abc'");
  EXPECT_FALSE(IsPublic(secret));
  absl::Status wire = ForTheWire(secret, "cohort.moments");
  EXPECT_EQ(wire.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(wire.message().find("table.csv"), std::string::npos);
  EXPECT_EQ(wire.message().find("abc"), std::string::npos);
  EXPECT_NE(wire.message().find("cohort.moments"), std::string::npos);
}

TEST(PlainName, RefusesPathsAndHiddenNames) {
  EXPECT_TRUE(IsPlainName("crlm-demo_2.v1"));
  for (const char* bad : {"", ".", "..", "../x", "/etc/passwd", "a/b", ".hidden", "a b", "x\ny"}) {
    EXPECT_FALSE(IsPlainName(bad)) << bad;
  }
  EXPECT_FALSE(IsPlainName(std::string(kMaxNameBytes + 1, 'a')));
  absl::Status s = CheckPlainName("../../etc", "harmonization.output_file");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(IsPublic(s));
  EXPECT_EQ(s.message().find("../"), std::string::npos);
}

TEST(ReleaseLedger, RefusesAnswersOneToKMinusOnePatientsApart) {
  ReleaseLedger ledger;
  const int k = 10;
  ledger.Record({{{"age"}, Ids(0, 60)}});
  // The same patients again: fine (the same answer).
  EXPECT_OK(ledger.Check({{{"age"}, Ids(0, 60)}}, k));
  // One patient fewer: the difference would be that patient.
  absl::Status s = ledger.Check({{{"age"}, Ids(1, 60)}}, k);
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(IsPublic(s));
  EXPECT_NE(s.message().find("age"), std::string::npos);
  // k - 1 fewer, or one swapped: refused; k fewer: allowed.
  EXPECT_THAT(ledger.Check({{{"age"}, Ids(9, 60)}}, k),
              StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(ledger.Check({{{"age"}, Ids(1, 61)}}, k),
              StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_OK(ledger.Check({{{"age"}, Ids(10, 60)}}, k));
  // Another quantity is another question.
  EXPECT_OK(ledger.Check({{{"size"}, Ids(1, 60)}}, k));
  // A population about several quantities is checked under each.
  EXPECT_THAT(ledger.Check({{{"size", "age"}, Ids(1, 60)}}, k),
              StatusIs(absl::StatusCode::kPermissionDenied));
}

TEST(ReleaseLedger, SurvivesARestart) {
  const std::string path =
      (std::filesystem::temp_directory_path() / "fedrad_ledger_test.tsv").string();
  std::filesystem::remove(path);
  {
    ASSERT_OK_AND_ASSIGN(auto empty, ReleaseLedger::Load(path));
    EXPECT_EQ(empty.size(), 0u);
    empty.Record({{{"time", "status"}, Ids(0, 40)}});
    ASSERT_OK(empty.Save(path));
  }
  ASSERT_OK_AND_ASSIGN(auto loaded, ReleaseLedger::Load(path));
  EXPECT_EQ(loaded.size(), 2u);
  EXPECT_THAT(loaded.Check({{{"status"}, Ids(0, 39)}}, 10),
              StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_OK(loaded.Check({{{"status"}, Ids(0, 40)}}, 10));
  std::filesystem::remove(path);
}

TEST(SiteFits, RoundTripsThroughTheStudyState) {
  std::map<std::string, std::string> state;
  EXPECT_FALSE(FindSiteFit(state, "cox").has_value());
  StoreSiteFit(&state, "cox", {{"age", "bkg_stat_variance"}, {0.1 / 3, -2.5e-7}});
  auto fit = FindSiteFit(state, "cox");
  ASSERT_TRUE(fit.has_value());
  EXPECT_EQ(fit->covariates, (std::vector<std::string>{"age", "bkg_stat_variance"}));
  EXPECT_TRUE(SameCoefficients(*fit, {0.1 / 3, -2.5e-7}));
  EXPECT_FALSE(SameCoefficients(*fit, {0.1 / 3, -2.6e-7}));
  EXPECT_FALSE(SameCoefficients(*fit, {0.1 / 3}));
}

}  // namespace
}  // namespace fedrad::site
