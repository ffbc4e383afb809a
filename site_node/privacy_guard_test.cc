#include "site_node/privacy_guard.h"

#include "proto/task_kinds.h"
#include "site_node/task_registry.h"

#include "core/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fedrad::site {
namespace {

using ::fedrad::testing::StatusIs;

using ::testing::HasSubstr;
using ::testing::Not;

TaskKind Kind(std::string name, std::vector<std::string> arrays, bool debug = false) {
  TaskKind k;
  k.kind = std::move(name);
  k.releasable_arrays = std::move(arrays);
  k.debug_only = debug;
  return k;
}

TEST(PrivacyGuard, RefusesAnUndeclaredTextField) {
  PrivacyGuard guard(GuardPolicy{10, {}, false});
  TaskOutput out;
  out.n_contributing = 50;
  (*out.payload.mutable_strings())["columns"] = "age,bmi";
  EXPECT_OK(guard.CheckRelease(Kind("cohort.moments", {"n", "columns"}), out));
  (*out.payload.mutable_strings())["patient_ids"] = "P1,P2";
  absl::Status s = guard.CheckRelease(Kind("cohort.moments", {"n", "columns"}), out);
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(std::string(s.message()), HasSubstr("text field 'patient_ids'"));
}

// Case notes (features.extract's excluded case ids with their reasons) leave
// only under the name and the type the kind's definition declares.
TEST(PrivacyGuard, ReleasesCaseNotesOnlyAsDeclared) {
  namespace fe = ::fedrad::kinds::features_extract;
  PrivacyGuard guard(GuardPolicy{10, {}, false});
  const TaskKind kind = DefinedKind(fe::kName, [](TaskContext&) -> absl::StatusOr<TaskOutput> {
    return TaskOutput();
  });
  TaskOutput out;
  out.n_contributing = 50;
  v1::CaseNote note;
  note.set_case_id("C1_0003");
  note.set_reason("cannot read <image>");
  kinds::Put(&out.payload, fe::kExcludedCases, {note});
  EXPECT_OK(guard.CheckRelease(kind, out));

  TaskOutput other = out;
  (*other.payload.mutable_case_notes())["patients"] =
      out.payload.case_notes().at(fe::kExcludedCases.name);
  EXPECT_THAT(guard.CheckRelease(kind, other), StatusIs(absl::StatusCode::kPermissionDenied,
                                                        HasSubstr("case list 'patients'")));
  // A declared name under another type (the columns list as case notes).
  TaskOutput retyped = out;
  (*retyped.payload.mutable_case_notes())[fe::kColumns.name] = v1::CaseNoteList();
  EXPECT_THAT(guard.CheckRelease(kind, retyped),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("another type")));
  // The old spelling (a JSON text field) is another type now.
  TaskOutput as_text;
  as_text.n_contributing = 50;
  (*as_text.payload.mutable_strings())[fe::kExcludedCases.name] = "[]";
  EXPECT_THAT(guard.CheckRelease(kind, as_text),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("another type")));
}

TEST(PrivacyGuard, AStricterStudyKAppliesAndALooserOneDoesNot) {
  PrivacyGuard guard(GuardPolicy{10, {}, false});
  TaskOutput out;
  out.n_contributing = 12;
  absl::Status s = guard.CheckRelease(Kind("cohort.summary", {"n"}), out, 15);
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(std::string(s.message()), HasSubstr("k=15"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("the study's k"));
  EXPECT_OK(guard.CheckRelease(Kind("cohort.summary", {"n"}), out, 5));
  out.n_contributing = 9;
  EXPECT_THAT(guard.CheckRelease(Kind("cohort.summary", {"n"}), out, 5),
              StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_EQ(guard.EffectiveMinCellCount(0), 10);
  EXPECT_EQ(guard.EffectiveMinCellCount(20), 20);
}

TEST(PrivacyGuard, RefusesResultBelowMinimumCellCount) {
  PrivacyGuard guard(GuardPolicy{10, {}, false});
  TaskOutput out;
  out.n_contributing = 9;
  absl::Status s = guard.CheckRelease(Kind("cohort.summary", {"n"}), out);
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  // The refusal leaves the site: it names k, never the count below it.
  EXPECT_THAT(std::string(s.message()), Not(HasSubstr("9")));
  EXPECT_THAT(std::string(s.message()), HasSubstr("fewer than"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("k=10"));
  out.n_contributing = 10;
  EXPECT_OK(guard.CheckRelease(Kind("cohort.summary", {"n"}), out));
}

TEST(PrivacyGuard, RefusesUndeclaredArrayAndMatchesPrefixes) {
  PrivacyGuard guard(GuardPolicy{1, {}, false});
  TaskOutput out;
  out.n_contributing = 50;
  AddScalar(&out.payload, "moments.age", 1);
  EXPECT_OK(guard.CheckRelease(Kind("k", {"moments.*"}), out));
  AddVector(&out.payload, "rows", {1, 2});
  absl::Status s = guard.CheckRelease(Kind("k", {"moments.*"}), out);
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(std::string(s.message()), HasSubstr("'rows'"));
}

TEST(PrivacyGuard, AcceptsOnlyListedKindsAndDebugWhenEnabled) {
  PrivacyGuard guard(GuardPolicy{10, {"cohort.*"}, false});
  EXPECT_OK(guard.CheckAccepted(Kind("cohort.summary", {})));
  EXPECT_EQ(guard.CheckAccepted(Kind("cox.derivatives", {})).code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(guard.CheckAccepted(Kind("debug.sleep", {}, true)).code(),
            absl::StatusCode::kPermissionDenied);
  PrivacyGuard debug(GuardPolicy{10, {}, true});
  EXPECT_OK(debug.CheckAccepted(Kind("debug.sleep", {}, true)));
}

}  // namespace
}  // namespace fedrad::site
