// A Hessian of 1,000 covariates (1,000,000 doubles, 8 MB per site) crosses
// the wire: the transport raises gRPC's 4 MB default message limit to
// 256 MiB on purpose (proto/transport.h). Two real site processes each send
// one such vector through the sandbox; the coordinator sums them.
#include <cstdint>

#include "gtest/gtest.h"
#include "tests/sandbox_testutil.h"

namespace fedrad::testing {
namespace {

TEST(LargeMessages, HessianOfThousandCovariatesCrossesTheWire) {
  TempDir dir("large-message");
  const int n1 = 30, n2 = 45;
  WriteCohortCsv(dir.path() + "/S1.csv", "S1", n1, 1);
  WriteCohortCsv(dir.path() + "/S2.csv", "S2", n2, 2);
  const int64_t length = 1000 * 1000;
  const std::string study =
      "name: \"large-message\"\n"
      "debug { vector_rounds: 1 vector_length: 1000000 }\n";
  SandboxRun run = RunSandbox({{"S1", dir.path() + "/S1.csv"}, {"S2", dir.path() + "/S2.csv"}},
                              study, dir.path() + "/out", {"--quiet", "--debug-tasks"});
  ASSERT_EQ(run.exit_code, 0) << run.output;
  ASSERT_EQ(run.results["study"]["state"], "SUCCEEDED") << run.output;
  // Site s sends v[i] = i * n_s (site_node/tasks_debug.cc), so the summed
  // vector adds up to (n1 + n2) * length * (length - 1) / 2.
  const double expected = static_cast<double>(n1 + n2) * length * (length - 1) / 2.0;
  EXPECT_NEAR(run.results["debug"]["vector_sum"].get<double>(), expected, 1e-12 * expected);
}

}  // namespace
}  // namespace fedrad::testing
