#include "features/filters/padding.h"

#include "core/testing/status_matchers.h"
#include "gtest/gtest.h"

namespace fedrad::features::filters {
namespace {

using ::fedrad::testing::StatusIs;

TEST(PaddingTest, IndicesInsideAreUnchanged) {
  for (Padding p : {Padding::kConstant, Padding::kNearest, Padding::kPeriodic, Padding::kMirror}) {
    for (int i = 0; i < 5; ++i) EXPECT_EQ(PaddedIndex(i, 5, p), i);
  }
}

TEST(PaddingTest, EachModeReadsOutsideAsDefined) {
  // n = 4: indices -5..8.
  const int n = 4;
  const int constant[] = {-1, -1, -1, -1, -1, 0, 1, 2, 3, -1, -1, -1, -1, -1};
  const int nearest[] = {0, 0, 0, 0, 0, 0, 1, 2, 3, 3, 3, 3, 3, 3};
  const int periodic[] = {3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0};
  const int mirror[] = {3, 3, 2, 1, 0, 0, 1, 2, 3, 3, 2, 1, 0, 0};
  for (int i = -5; i <= 8; ++i) {
    EXPECT_EQ(PaddedIndex(i, n, Padding::kConstant), constant[i + 5]) << i;
    EXPECT_EQ(PaddedIndex(i, n, Padding::kNearest), nearest[i + 5]) << i;
    EXPECT_EQ(PaddedIndex(i, n, Padding::kPeriodic), periodic[i + 5]) << i;
    EXPECT_EQ(PaddedIndex(i, n, Padding::kMirror), mirror[i + 5]) << i;
  }
}

TEST(PaddingTest, NamesParseAndUnknownNamesAreRefused) {
  EXPECT_EQ(*ParsePadding("Mirror"), Padding::kMirror);
  EXPECT_EQ(*ParsePadding("wrap"), Padding::kPeriodic);
  EXPECT_EQ(PaddingName(*ParsePadding("zero")), "constant");
  absl::StatusOr<Padding> bad = ParsePadding("circular");
  ASSERT_THAT(bad, StatusIs(absl::StatusCode::kInvalidArgument, ::testing::HasSubstr("circular")));
}

}  // namespace
}  // namespace fedrad::features::filters
