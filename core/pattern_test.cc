#include "core/pattern.h"

#include <string>

#include "core/testing/status_matchers.h"
#include "gtest/gtest.h"

namespace fedrad {
namespace {

using ::fedrad::testing::StatusIs;

TEST(Pattern, SearchesAndMatchesWhole) {
  ASSERT_OK_AND_ASSIGN(auto p, Pattern::Compile("^f[0-9]+$", "harmonization.features"));
  EXPECT_TRUE(p.Search("f12"));
  EXPECT_FALSE(p.Search("xf12"));
  ASSERT_OK_AND_ASSIGN(auto q, Pattern::Compile("glcm", "covariate_regex"));
  EXPECT_TRUE(q.Search("lesion_glcm_contrast"));
  EXPECT_FALSE(q.FullMatch("lesion_glcm_contrast"));
  EXPECT_TRUE(q.FullMatch("glcm"));
}

TEST(Pattern, RefusesDeepNestingWithoutCrashing) {
  // 100,000 nested groups crashed std::regex (stack overflow).
  std::string deep(100000, '(');
  deep += "a";
  deep += std::string(100000, ')');
  auto p = Pattern::Compile(deep, "cohort_summary.column_regex");
  ASSERT_THAT(p, StatusIs(absl::StatusCode::kInvalidArgument,
                          ::testing::HasSubstr("cohort_summary.column_regex")));
  // The message does not echo the pattern.
  EXPECT_LT(p.status().message().size(), 200u);
}

TEST(Pattern, NestedButShortIsCappedByProgramMemory) {
  // Short patterns whose compiled form explodes are refused, not run.
  std::string blowup = "((((((((((a{1,100}){1,100}){1,100}){1,100}){1,100}){1,100})))))";
  auto p = Pattern::Compile(blowup, "f");
  EXPECT_THAT(p, StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(Pattern, BacktrackingPatternRunsInLinearTime) {
  // ".*" x 100 + "Z" is exponential for a backtracking engine.
  std::string text;
  for (int i = 0; i < 100; ++i) text += ".*";
  text += "Z";
  ASSERT_OK_AND_ASSIGN(auto p, Pattern::Compile(text, "f"));
  EXPECT_FALSE(p.FullMatch(std::string(5000, 'a')));
}

TEST(Pattern, InvalidSyntaxNamesTheField) {
  auto p = Pattern::Compile("(unclosed", "models[0].covariate_regex");
  ASSERT_THAT(p, StatusIs(absl::StatusCode::kInvalidArgument,
                          ::testing::HasSubstr("models[0].covariate_regex")));
}

TEST(Wildcard, MatchesAlternativesAndStars) {
  EXPECT_TRUE(WildcardMatch("GTV*|Metastasis*", "Metastasis_2"));
  EXPECT_TRUE(WildcardMatch("GTV*|Metastasis*", "GTV"));
  EXPECT_FALSE(WildcardMatch("GTV*|Metastasis*", "Liver"));
  EXPECT_TRUE(WildcardMatch("L?ver", "Liver"));
  EXPECT_TRUE(WildcardMatch("*", ""));
  EXPECT_FALSE(WildcardMatch("a*b*c*d*e*f*g*h*z", std::string(10000, 'a')));
}

}  // namespace
}  // namespace fedrad
