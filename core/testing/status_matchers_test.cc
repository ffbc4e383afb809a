#include "core/testing/status_matchers.h"
namespace {
using ::fedrad::testing::StatusIs;
using ::testing::HasSubstr;
absl::StatusOr<int> Five() { return 5; }
absl::StatusOr<int> Bad() { return absl::InvalidArgumentError("field x at line 3"); }
TEST(StatusMatchers, Work) {
  EXPECT_OK(absl::OkStatus());
  ASSERT_OK_AND_ASSIGN(int v, Five());
  EXPECT_EQ(v, 5);
  EXPECT_THAT(Bad(), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("line 3")));
  EXPECT_THAT(Bad(), ::testing::Not(StatusIs(absl::StatusCode::kNotFound)));
  EXPECT_THAT(Bad(), ::testing::Not(::fedrad::testing::IsOk()));
}
TEST(StatusMatchers, FailsVisibly) {
  ::testing::StringMatchResultListener l;
  EXPECT_FALSE(::testing::ExplainMatchResult(::fedrad::testing::IsOk(), Bad(), &l));
  EXPECT_THAT(l.str(), HasSubstr("line 3"));
}
}  // namespace
