// PrintResults / ParseResults (proto/results_json.h): the numbers printed are
// the doubles set, bit for bit, as the nlohmann::json writer that built
// results.json before proto/results.proto printed them; NaN is null; the
// json_keep_empty lists are [] or {} except in a suppressed entry; unset
// fields have no key; parsing is the inverse and refuses unknown keys.
#include "proto/results_json.h"

#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fedrad {
namespace {

using nlohmann::json;
using ::fedrad::testing::StatusIs;
using ::testing::HasSubstr;

json Printed(const v1::Results& r) {
  absl::StatusOr<std::string> text = PrintResults(r);
  EXPECT_OK(text);
  return json::parse(text.ok() ? *text : "{}");
}

TEST(PrintResults, NumbersAreTheDoublesSetAndNaNIsNull) {
  const std::vector<double> values = {0.1,
                                      1.0 / 3,
                                      -2.5e-300,
                                      6.02214076e23,
                                      55.0,
                                      1e21,
                                      -0.0,
                                      123456789.123456789,
                                      std::numeric_limits<double>::denorm_min(),
                                      std::numeric_limits<double>::max()};
  v1::Results r;
  auto& grand_mean = *r.mutable_harmonization()->mutable_pooled()->mutable_grand_mean();
  for (size_t i = 0; i < values.size(); ++i) grand_mean["f" + std::to_string(i)] = values[i];
  grand_mean["nan"] = std::numeric_limits<double>::quiet_NaN();
  grand_mean["inf"] = std::numeric_limits<double>::infinity();
  const json j = Printed(r)["harmonization"]["pooled"]["grand_mean"];
  for (size_t i = 0; i < values.size(); ++i) {
    const json& v = j["f" + std::to_string(i)];
    ASSERT_TRUE(v.is_number()) << v;
    EXPECT_EQ(v.get<double>(), values[i]) << i;
    // What nlohmann::json (the old writer) prints for the same double.
    EXPECT_EQ(json::parse(json(values[i]).dump()).get<double>(), v.get<double>()) << i;
  }
  EXPECT_TRUE(j["nan"].is_null());
  EXPECT_TRUE(j["inf"].is_null());
  // Counts are int32: printed as numbers, not as proto3's int64 strings.
  r.mutable_cohort()->mutable_pooled()->set_n(55);
  EXPECT_EQ(Printed(r)["cohort"]["pooled"]["n"], 55);
}

TEST(PrintResults, KeysAreExactlyTheFieldsSetAndKeptEmptyLists) {
  v1::Results r;
  r.mutable_study()->set_rounds(0);           // set to 0: printed
  r.mutable_study()->set_state("SUCCEEDED");  // sites, excluded_sites: kept empty
  v1::Results::SiteMetrics& site =
      (*r.mutable_validation())["cox"].mutable_sites()->operator[]("A");
  site.set_events(std::numeric_limits<double>::quiet_NaN());  // withheld
  v1::Results::KmGroup* shown = site.add_km_groups();
  shown->set_suppressed(false);
  v1::Results::KmGroup* hidden = site.add_km_groups();
  hidden->set_suppressed(true);
  hidden->set_n(std::numeric_limits<double>::quiet_NaN());
  const json j = Printed(r);
  EXPECT_EQ(j["study"], json::parse(R"({"completed_sites": [], "excluded_sites": {}, "rounds": 0,
                                        "sites": [], "state": "SUCCEEDED"})"));
  const json& a = j["validation"]["cox"]["sites"]["A"];
  EXPECT_TRUE(a.contains("events") && a["events"].is_null());
  EXPECT_FALSE(a.contains("harrell_c"));  // unset: no key
  EXPECT_EQ(a["km_groups"][0], json::parse(R"({"suppressed": false, "time": [], "survival": [],
                                               "n_at_risk": []})"));
  EXPECT_EQ(a["km_groups"][1], json::parse(R"({"suppressed": true, "n": null})"));
  EXPECT_FALSE(j.contains("cohort"));
}

TEST(ParseResults, IsTheInverseOfPrintAndRefusesUnknownKeys) {
  v1::Results r;
  (*r.mutable_models())["cox"].set_loglik(-123.25);
  (*(*r.mutable_models())["cox"].mutable_std_errors())["x1"] =
      std::numeric_limits<double>::quiet_NaN();
  r.mutable_cohort()->mutable_pooled()->set_n(7);
  ASSERT_OK_AND_ASSIGN(std::string text, PrintResults(r));
  ASSERT_OK_AND_ASSIGN(v1::Results back, ParseResults(text));
  EXPECT_EQ(back.models().at("cox").loglik(), -123.25);
  EXPECT_TRUE(std::isnan(back.models().at("cox").std_errors().at("x1")));
  EXPECT_EQ(back.cohort().pooled().n(), 7);
  ASSERT_OK_AND_ASSIGN(std::string again, PrintResults(back));
  EXPECT_EQ(again, text);

  absl::StatusOr<v1::Results> bad =
      ParseResults(R"({"cohort": {"pooled": {"n": 7, "iqr": 3}}})", "x/results.json");
  EXPECT_THAT(bad, StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("x/results.json")));
  EXPECT_THAT(bad, StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("iqr")));
  EXPECT_THAT(ParseResults("[1, 2]"), StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace fedrad
