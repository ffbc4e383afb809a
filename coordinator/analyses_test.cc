// CheckStudy: every example study passes; a wrong spec is refused before
// anything runs, with the field named. Also the step order (debug rounds
// first unless debug.after_step moves them).
#include "coordinator/analyses.h"

#include <filesystem>

#include "core/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proto/textproto.h"

namespace fedrad::coordinator {
namespace {

using ::fedrad::testing::StatusIs;

using ::testing::ElementsAre;
using ::testing::HasSubstr;
namespace fs = std::filesystem;

v1::Study Parse(const std::string& text) {
  v1::Study study;
  absl::Status s = ParseTextProto(text, "test", &study);
  EXPECT_OK(s);
  return study;
}

TEST(CheckStudy, AcceptsEveryExampleStudy) {
  int checked = 0;
  for (const char* dir : {"examples/studies", "models/testdata"}) {
    for (const auto& entry : fs::directory_iterator(fs::path(FEDRAD_SOURCE_DIR) / dir)) {
      if (entry.path().extension() != ".textproto") continue;
      if (std::string(dir) == "models/testdata" &&
          entry.path().filename().string().find("study") == std::string::npos) {
        continue;
      }
      v1::Study study;
      ASSERT_OK(ReadTextProto(entry.path().string(), &study)) << entry.path();
      EXPECT_OK(CheckStudy(study)) << entry.path();
      ++checked;
    }
  }
  EXPECT_GT(checked, 5);
}

struct Case {
  std::string spec;
  std::string field;  // the message must start with it
  std::string also;   // and contain this
};

TEST(CheckStudy, RefusesWrongSpecsNamingTheField) {
  const std::string cox =
      "models { name: \"a\" type: COX }\n";
  const std::vector<Case> cases = {
      {"name: \"x\"", "", "enables no analysis"},
      {"cohort_summary { enabled: true } quorum { min_sites: -1 }", "quorum.min_sites", ">= 0"},
      {"cohort_summary { enabled: true } min_cell_count: -3", "min_cell_count", ">= 0"},
      {"sites: \"S1\" sites: \"S2\" cohort_summary { enabled: true } quorum { min_sites: 3 }",
       "quorum.min_sites", "2 sites"},
      {"sites: \"S1\" sites: \"S1\" cohort_summary { enabled: true }", "sites[1]", "twice"},
      {"cohort_summary { enabled: true column_regex: \"([\" }", "cohort_summary.column_regex",
       "not a valid regular expression"},
      {"cohort_summary { enabled: true time_events { name: \"os\" time_column: \"t\" } }",
       "cohort_summary.time_events[0].event_column", "required"},
      {"harmonization { enabled: true }", "harmonization.features", "required"},
      {"harmonization { enabled: true features: \"f[\" }", "harmonization.features",
       "not a valid regular expression"},
      {"harmonization { enabled: true features: \"^f\" method: \"bayes\" }",
       "harmonization.method", "'bayes'"},
      {"harmonization { enabled: true features: \"^f\" output_suffix: \"_h,x\" }",
       "harmonization.output_suffix", "comma"},
      {"sites: \"S1\" harmonization { enabled: true features: \"^f\" reference_site: \"S9\" }",
       "harmonization.reference_site", "'S9' that is not in sites"},
      {cox + "models { name: \"b\" penalty { type: L2 } } models { name: \"c\" }",
       "models[1].penalty.lambda", "must be > 0 with penalty L2"},
      {cox + "models { name: \"a\" }", "models[1].name", "'a'"},
      {"models { type: COX }", "models[0].name", "required"},
      {"models { name: \"l\" type: LOGISTIC }", "models[0].outcome_column", "required"},
      {"models { name: \"c\" ties: \"exact\" }", "models[0].ties", "'exact'"},
      {"models { name: \"c\" penalty { type: ELASTIC_NET lambda: 1 } }",
       "models[0].penalty.l1_ratio", "(0, 1]"},
      {"sites: \"S1\" sites: \"S2\" " + cox +
           "validation { enabled: true develop_on: \"X\" }",
       "validation.develop_on", "names site 'X' that is not in sites"},
      {cox + "validation { enabled: true }", "validation.develop_on", "DEVELOP_VALIDATE"},
      {cox + "validation { enabled: true scheme: LEAVE_ONE_SITE_OUT models: \"zz\" }",
       "validation.models[0]", "'zz'"},
      {"validation { enabled: true }", "validation.enabled", "no models"},
      {"cohort_summary { enabled: true } debug { sleep_rounds: 1 after_step: \"nope\" }",
       "debug.after_step", "'nope' is not an enabled step"},
  };
  for (const Case& c : cases) {
    absl::Status s = CheckStudy(Parse(c.spec));
    EXPECT_THAT(s, StatusIs(absl::StatusCode::kInvalidArgument,
                            ::testing::AllOf(::testing::StartsWith(c.field), HasSubstr(c.also))))
        << c.spec;
  }
}

TEST(EnabledSteps, DebugRoundsRunFirstUnlessMovedAfterAStep) {
  v1::Study study = Parse(
      "cohort_summary { enabled: true } harmonization { enabled: true features: \"^f\" } "
      "models { name: \"c\" } debug { sleep_rounds: 1 }");
  EXPECT_THAT(EnabledSteps(study),
              ElementsAre("debug rounds", "cohort summary", "harmonization", "models"));
  study.mutable_debug()->set_after_step("harmonization");
  EXPECT_THAT(EnabledSteps(study),
              ElementsAre("cohort summary", "harmonization", "debug rounds", "models"));
  EXPECT_OK(CheckStudy(study));
}

}  // namespace
}  // namespace fedrad::coordinator
