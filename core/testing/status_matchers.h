// GoogleTest matchers and macros for absl::Status and absl::StatusOr, so that a
// failing check prints the status it got instead of "false".
//
//   EXPECT_OK(WriteFile(path));
//   ASSERT_OK_AND_ASSIGN(Table t, ReadCsv(path));
//   EXPECT_THAT(ReadCsv("missing.csv"), StatusIs(absl::StatusCode::kNotFound));
//   EXPECT_THAT(Parse(text), StatusIs(absl::StatusCode::kInvalidArgument,
//                                     HasSubstr("line 3")));
//
// Abseil 20220623 ships no matchers of its own; these follow the shape of the
// ones later Abseil and GoogleTest releases have, so tests read the same.
#ifndef FEDRAD_CORE_TESTING_STATUS_MATCHERS_H_
#define FEDRAD_CORE_TESTING_STATUS_MATCHERS_H_

#include <ostream>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fedrad::testing {

namespace internal {

inline const absl::Status& GetStatus(const absl::Status& status) { return status; }

template <typename T>
const absl::Status& GetStatus(const absl::StatusOr<T>& status_or) {
  return status_or.status();
}

// Matches a Status or StatusOr whose code and message satisfy two matchers.
class StatusIsMatcher {
 public:
  using is_gtest_matcher = void;

  StatusIsMatcher(::testing::Matcher<absl::StatusCode> code,
                  ::testing::Matcher<const std::string&> message)
      : code_(std::move(code)), message_(std::move(message)) {}

  template <typename StatusType>
  bool MatchAndExplain(const StatusType& value,
                       ::testing::MatchResultListener* listener) const {
    const absl::Status& status = GetStatus(value);
    *listener << "which has status " << status;
    return code_.Matches(status.code()) &&
           message_.Matches(std::string(status.message()));
  }

  void DescribeTo(std::ostream* os) const {
    *os << "has a status code that ";
    code_.DescribeTo(os);
    *os << " and a message that ";
    message_.DescribeTo(os);
  }

  void DescribeNegationTo(std::ostream* os) const {
    *os << "does not have a status code that ";
    code_.DescribeTo(os);
    *os << " or has a message that does not ";
    message_.DescribeTo(os);
  }

 private:
  ::testing::Matcher<absl::StatusCode> code_;
  ::testing::Matcher<const std::string&> message_;
};

// Matches an OK Status or a StatusOr holding a value.
class IsOkMatcher {
 public:
  using is_gtest_matcher = void;

  template <typename StatusType>
  bool MatchAndExplain(const StatusType& value,
                       ::testing::MatchResultListener* listener) const {
    const absl::Status& status = GetStatus(value);
    if (!status.ok()) *listener << "which has status " << status;
    return status.ok();
  }
  void DescribeTo(std::ostream* os) const { *os << "is OK"; }
  void DescribeNegationTo(std::ostream* os) const { *os << "is not OK"; }
};

}  // namespace internal

// StatusIs(code) and StatusIs(code, message_matcher).
inline internal::StatusIsMatcher StatusIs(
    ::testing::Matcher<absl::StatusCode> code,
    ::testing::Matcher<const std::string&> message = ::testing::_) {
  return internal::StatusIsMatcher(std::move(code), std::move(message));
}

inline internal::IsOkMatcher IsOk() { return internal::IsOkMatcher(); }

}  // namespace fedrad::testing

#define EXPECT_OK(expr) EXPECT_THAT((expr), ::fedrad::testing::IsOk())
#define ASSERT_OK(expr) ASSERT_THAT((expr), ::fedrad::testing::IsOk())

// ASSERT_OK_AND_ASSIGN(lhs, expr): fails the test (printing the status) when
// expr is not OK, otherwise moves its value into lhs, which may declare a
// variable ("auto table" or "Table table").
#define FEDRAD_TESTING_CONCAT_INNER(a, b) a##b
#define FEDRAD_TESTING_CONCAT(a, b) FEDRAD_TESTING_CONCAT_INNER(a, b)
#define ASSERT_OK_AND_ASSIGN(lhs, expr) \
  FEDRAD_TESTING_ASSIGN_IMPL(FEDRAD_TESTING_CONCAT(status_or_, __LINE__), lhs, expr)
#define FEDRAD_TESTING_ASSIGN_IMPL(tmp, lhs, expr)  \
  auto tmp = (expr);                                \
  ASSERT_THAT(tmp.status(), ::fedrad::testing::IsOk()); \
  lhs = std::move(tmp).value()

#endif  // FEDRAD_CORE_TESTING_STATUS_MATCHERS_H_
