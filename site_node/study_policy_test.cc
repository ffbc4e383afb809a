// The site's checks of a task before any handler (study_policy.h): needed
// kinds, column roles, sizes (a 200 kB suffix, a 100,000-deep regex, huge
// arrays) and patterns, each refused publicly naming the field and the rule.
#include "site_node/study_policy.h"

#include <string>

#include "absl/strings/match.h"
#include "core/testing/status_matchers.h"
#include "gtest/gtest.h"
#include "proto/textproto.h"
#include "site_node/site_rules.h"

namespace fedrad::site {
namespace {

using ::fedrad::testing::StatusIs;

constexpr char kSpec[] = R"(name: "crlm-demo"
cohort_summary { enabled: true columns: "age" }
models { name: "cox" type: COX time_column: "time" event_column: "status"
         event_values: "1" covariates: "age" covariates: "cea" }
)";

v1::Study Parse(const std::string& text) {
  v1::Study s;
  EXPECT_OK(ParseTextProto(text, "spec", &s));
  return s;
}

void ExpectRefused(const absl::Status& s, absl::StatusCode code, const std::string& needle) {
  EXPECT_EQ(s.code(), code) << s;
  EXPECT_TRUE(IsPublic(s)) << s;
  EXPECT_TRUE(absl::StrContains(s.message(), needle)) << s << " lacks " << needle;
}

TEST(NeededKinds, OnlyTheFamiliesTheSpecUses) {
  v1::Study spec = Parse(kSpec);
  EXPECT_OK(CheckKindNeeded(spec, "cohort.counts", false));
  EXPECT_OK(CheckKindNeeded(spec, "models.derivatives", false));
  EXPECT_OK(CheckKindNeeded(spec, "models.fit", false));  // a new kind of the family
  EXPECT_OK(CheckKindNeeded(spec, "study.checkpoint", false));
  ExpectRefused(CheckKindNeeded(spec, "combat.fit", false), absl::StatusCode::kPermissionDenied,
                "(rule needed-kinds)");
  ExpectRefused(CheckKindNeeded(spec, "features.extract", false), absl::StatusCode::kPermissionDenied,
                "crlm-demo");
  EXPECT_THAT(CheckKindNeeded(spec, "debug.sleep", true),
              StatusIs(absl::StatusCode::kPermissionDenied));
  spec.mutable_debug()->set_sleep_rounds(1);
  EXPECT_THAT(CheckKindNeeded(spec, "debug.sleep", false),
              StatusIs(absl::StatusCode::kPermissionDenied));  // the policy says no
  EXPECT_OK(CheckKindNeeded(spec, "debug.sleep", true));
  spec.mutable_harmonization()->set_enabled(true);
  EXPECT_OK(CheckKindNeeded(spec, "combat.fit", false));
  spec.clear_models();
  EXPECT_THAT(CheckKindNeeded(spec, "models.validate", false),
              StatusIs(absl::StatusCode::kPermissionDenied));
  spec.mutable_cohort_summary()->set_enabled(false);
  EXPECT_THAT(CheckKindNeeded(spec, "cohort.moments", false),
              StatusIs(absl::StatusCode::kPermissionDenied));
  // A kind that only starts like a family name does not count.
  EXPECT_THAT(CheckKindNeeded(spec, "studyX", false),
              StatusIs(absl::StatusCode::kPermissionDenied));
}

TEST(ColumnRoles, RefusesOverlappingRolesNamingModelAndField) {
  const v1::Study ok = Parse(kSpec);
  EXPECT_OK(CheckSpecRoles(ok, "patient_id"));

  v1::Study s = ok;
  s.mutable_models(0)->add_covariates("time");
  ExpectRefused(CheckSpecRoles(s, "patient_id"), absl::StatusCode::kInvalidArgument,
                "model 'cox': covariates list its time_column 'time' (rule column-roles)");
  s = ok;
  s.mutable_models(0)->add_covariates("status");
  ExpectRefused(CheckSpecRoles(s, "patient_id"), absl::StatusCode::kInvalidArgument, "event_column");
  s = ok;
  s.mutable_models(0)->add_covariates("patient_id");
  ExpectRefused(CheckSpecRoles(s, "patient_id"), absl::StatusCode::kInvalidArgument, "id column");
  s = ok;
  s.mutable_models(0)->set_time_column("status");  // the attack: time = the status column
  ExpectRefused(CheckSpecRoles(s, "patient_id"), absl::StatusCode::kInvalidArgument,
                "time_column and event_column are the same column");
  s = ok;
  s.mutable_models(0)->set_event_column("patient_id");
  ExpectRefused(CheckSpecRoles(s, "patient_id"), absl::StatusCode::kInvalidArgument,
                "event_column is the site's id column");
  s = ok;
  s.mutable_models(0)->add_event_values("");
  ExpectRefused(CheckSpecRoles(s, "patient_id"), absl::StatusCode::kInvalidArgument, "event_values");
  // The site's id column is its config's, whatever the spec says.
  s = ok;
  s.set_id_column("age");
  s.mutable_models(0)->add_covariates("case_no");
  EXPECT_OK(CheckSpecRoles(s, "patient_id"));
  ExpectRefused(CheckSpecRoles(s, "case_no"), absl::StatusCode::kInvalidArgument, "id column");
  // Logistic: the outcome is no covariate.
  s = Parse(R"(models { name: "lr" type: LOGISTIC outcome_column: "recur" covariates: "recur" })");
  ExpectRefused(CheckSpecRoles(s, "patient_id"), absl::StatusCode::kInvalidArgument,
                "model 'lr': covariates list its outcome_column 'recur'");
  // Cohort summary time/event pairs.
  s = Parse(R"(cohort_summary { enabled: true time_events { name: "os" time_column: "t" event_column: "t" } })");
  ExpectRefused(CheckSpecRoles(s, "patient_id"), absl::StatusCode::kInvalidArgument, "time_events 'os'");
}

TEST(Sizes, A200KilobyteSuffixIsRefusedNamingTheField) {
  v1::Study s = Parse(kSpec);
  s.mutable_harmonization()->set_output_suffix(std::string(200 * 1024, 'x'));
  ExpectRefused(CheckStudySpec(s, "patient_id"), absl::StatusCode::kInvalidArgument,
                "study.harmonization.output_suffix: longer than 128 bytes (rule bounded-size)");
  v1::Task task;
  task.set_study_id("s1");
  task.set_kind("cohort.moments");
  *task.mutable_study() = s;
  ExpectRefused(CheckTaskSize(task), absl::StatusCode::kInvalidArgument,
                "study.harmonization.output_suffix");
}

TEST(Sizes, ADeeplyNestedRegexIsRefusedWithoutACrash) {
  v1::Study s = Parse(kSpec);
  std::string deep = std::string(100000, '(') + "a" + std::string(100000, ')');
  s.mutable_cohort_summary()->set_column_regex(deep);
  ExpectRefused(CheckStudySpec(s, "patient_id"), absl::StatusCode::kInvalidArgument,
                "cohort_summary.column_regex");
  // Short enough for the size cap but not a pattern RE2 accepts.
  s.mutable_cohort_summary()->set_column_regex("(a");
  ExpectRefused(CheckSpecPatterns(s), absl::StatusCode::kInvalidArgument,
                "cohort_summary.column_regex: not a pattern this site accepts");
  s.mutable_cohort_summary()->set_column_regex(std::string(1000, '(') + std::string(1000, ')'));
  EXPECT_THAT(CheckStudySpec(s, "patient_id"), StatusIs(absl::StatusCode::kInvalidArgument));
  // Backtracking bait is fine for RE2 (linear time): accepted.
  std::string bait;
  for (int i = 0; i < 100; ++i) bait += ".*";
  s.mutable_cohort_summary()->set_column_regex(bait + "Z");
  EXPECT_OK(CheckSpecPatterns(s));
  s.mutable_models(0)->set_covariate_regex("[");
  ExpectRefused(CheckSpecPatterns(s), absl::StatusCode::kInvalidArgument, "models 'cox' covariate_regex");
}

TEST(Sizes, ParamsAreBounded) {
  v1::Task task;
  task.set_study_id("s1");
  task.set_kind("models.derivatives");
  *task.mutable_study() = Parse(kSpec);
  EXPECT_OK(CheckTaskSize(task));
  auto* a = task.mutable_params()->add_arrays();
  a->set_name("beta");
  a->mutable_values()->Resize(static_cast<int>(kMaxParamArrayValues) + 1, 0.0);
  ExpectRefused(CheckTaskSize(task), absl::StatusCode::kInvalidArgument, "params.arrays[0].values");
  a->mutable_values()->Resize(3, 0.0);
  EXPECT_OK(CheckTaskSize(task));
  (*task.mutable_params()->mutable_strings())["model"] = std::string(kMaxParamStringBytes + 1, 'm');
  ExpectRefused(CheckTaskSize(task), absl::StatusCode::kInvalidArgument, "params.strings");
  task.mutable_params()->mutable_strings()->clear();
  (*task.mutable_params()->mutable_strings())[std::string(200, 'k')] = "v";
  ExpectRefused(CheckTaskSize(task), absl::StatusCode::kInvalidArgument, "longer than 128 bytes");
  task.mutable_params()->mutable_strings()->clear();
  for (int i = 0; i <= kMaxRepeatedEntries; ++i) task.mutable_study()->add_sites("S");
  ExpectRefused(CheckTaskSize(task), absl::StatusCode::kInvalidArgument, "study.sites: more than");
  task.mutable_study()->clear_sites();
  task.set_kind(std::string(300, 'k'));
  ExpectRefused(CheckTaskSize(task), absl::StatusCode::kInvalidArgument, "kind");
}

TEST(Sizes, TranscriptsAllowARealisticFitAndAreBounded) {
  v1::Task task;
  task.set_kind("models.derivatives");
  // A fit over 50 sites x 100 evaluations of p = 50 (docs/privacy.md, rule 8):
  // 5,050 messages. Bodies of ~21 KB each (2,550 doubles) would make this
  // test allocate 100 MB; their count and each one's size are what is
  // bounded, so one full-size body and 5,049 small ones stand for it.
  const std::string full(2550 * 8 + 200, 'x');
  for (int i = 0; i < 5050; ++i) {
    v1::SignedMessage* m = task.mutable_transcript()->add_messages();
    m->set_body(i == 0 ? full : "body");
    m->set_signature(std::string(96, 's'));
    m->set_certificate_pem(std::string(800, 'c'));
  }
  EXPECT_OK(CheckTaskSize(task));
  // More messages than kMaxTranscriptMessages.
  v1::Task many = task;
  for (int i = 5050; i <= kMaxTranscriptMessages; ++i) *many.mutable_transcript()->add_messages() = task.transcript().messages(1);
  ExpectRefused(CheckTaskSize(many), absl::StatusCode::kInvalidArgument, "transcript.messages: more than");
  // One body beyond kMaxSignedBodyBytes.
  v1::Task big = task;
  big.mutable_transcript()->mutable_messages(3)->set_body(std::string(kMaxSignedBodyBytes + 1, 'x'));
  ExpectRefused(CheckTaskSize(big), absl::StatusCode::kInvalidArgument, "transcript.messages[3].body");
  // The transcript does not count against the rest of the task's cap.
  EXPECT_LT(task.transcript().ByteSizeLong(), kMaxTranscriptBytes);
}

TEST(SummarizeParams, NamesTheLargestBetaAndTheGridButNoStringValue) {
  v1::Payload p;
  auto* beta = p.add_arrays();
  beta->set_name("beta");
  beta->add_values(0.5);
  beta->add_values(-1e7);
  auto* grid = p.add_arrays();
  grid->set_name("time_grid");
  for (int i = 0; i < 5; ++i) grid->add_values(i);
  (*p.mutable_strings())["model"] = "secret-value";
  const std::string s = SummarizeParams(p);
  EXPECT_TRUE(absl::StartsWith(s, "params sha256 ")) << s;
  EXPECT_TRUE(absl::StrContains(s, "2 arrays, 7 values")) << s;
  EXPECT_TRUE(absl::StrContains(s, "max |beta*| 1e+07")) << s;
  EXPECT_TRUE(absl::StrContains(s, "5 grid points")) << s;
  EXPECT_TRUE(absl::StrContains(s, "strings: model")) << s;
  EXPECT_FALSE(absl::StrContains(s, "secret-value")) << s;
}

}  // namespace
}  // namespace fedrad::site
