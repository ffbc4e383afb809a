#include "site_node/privacy_guard.h"

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
