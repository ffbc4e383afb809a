// proto/payload.h on arrays a peer shaped: regression tests of what
// tests/fuzz/fuzz_site_task and fuzz_coordinator_result found.
#include "proto/payload.h"

#include <cmath>
#include <limits>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fedrad {
namespace {

using ::testing::HasSubstr;

// fuzz_site_task: a task's array with shape {645168054673611700, 13588}
// overflowed int64_t in GetArray (undefined behaviour) before the size check.
TEST(Payload, OverflowingShapeIsDataLoss) {
  v1::Payload p;
  v1::Array* a = p.add_arrays();
  a->set_name("beta");
  a->add_shape(645168054673611700);
  a->add_shape(13588);
  a->add_values(1.0);
  auto got = GetArray(p, "beta");
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(got.status().message(), HasSubstr("'beta'"));
}

TEST(Payload, NegativeDimensionIsDataLoss) {
  v1::Payload p;
  v1::Array* a = p.add_arrays();
  a->set_name("x");
  a->add_shape(-1);
  a->add_shape(-1);
  a->add_values(1.0);
  EXPECT_EQ(GetArray(p, "x").status().code(), absl::StatusCode::kDataLoss);
}

TEST(Payload, ZeroDimensionHoldsNoValues) {
  v1::Payload p;
  AddArray(&p, "empty", {std::numeric_limits<int64_t>::max(), 0}, {});
  EXPECT_TRUE(GetArray(p, "empty").ok());
}

// fuzz_coordinator_result: a site's n = 2.4e40 was cast to int64_t
// (undefined behaviour) in the models step.
TEST(Payload, CountFromDoubleOutsideTheExactRangeIsTheFallback) {
  EXPECT_EQ(CountFromDouble(42.0), 42);
  EXPECT_EQ(CountFromDouble(42.9), 42);
  EXPECT_EQ(CountFromDouble(-3.0), -3);
  EXPECT_EQ(CountFromDouble(9007199254740992.0), 9007199254740992);
  EXPECT_EQ(CountFromDouble(2.38198e+40), -1);
  EXPECT_EQ(CountFromDouble(-2.38198e+40, 0), 0);
  EXPECT_EQ(CountFromDouble(std::nan("")), -1);
  EXPECT_EQ(CountFromDouble(std::numeric_limits<double>::infinity(), 7), 7);
}

}  // namespace
}  // namespace fedrad
