// Test-only task kinds, accepted only when the site's policy sets
// enable_debug_tasks:
//   debug.sleep   sleeps params "seconds" (interruptible), releases "n"
//   debug.vector  releases "vector": params "length" doubles, value i * n
//                 where n is the site's row count (so the coordinator's sum
//                 is checkable), and n_contributing = n. With a string
//                 param "round", a plain answer is a signed verifiable
//                 contribution to that round.
//   debug.crash   crashes the worker (SIGSEGV), for the crash-loop guard's
//                 test; releases nothing.
#include <csignal>
#include <chrono>
#include <thread>

#include "absl/status/status.h"
#include "site_node/builtin_tasks.h"
#include "site_node/secure_agg.h"

namespace fedrad::site {

void RegisterDebugTasks(TaskRegistry& registry) {
  namespace ds = ::fedrad::kinds::debug_sleep;
  namespace dv = ::fedrad::kinds::debug_vector;
  registry.Register(DefinedKind(
      ds::kName,
      [](TaskContext& ctx) -> absl::StatusOr<TaskOutput> {
        double seconds = kinds::Get(ctx.task->params(), ds::kSeconds).value_or(0);
        auto end = std::chrono::steady_clock::now() +
                   std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000));
        while (std::chrono::steady_clock::now() < end) {
          if (ctx.cancelled()) return absl::CancelledError("site shutting down");
          std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        TaskOutput out;
        out.n_contributing = static_cast<int64_t>(ctx.table->num_rows());
        kinds::Put(&out.payload, ds::kN, static_cast<double>(out.n_contributing));
        return out;
      }));
  registry.Register(DefinedKind(
      dv::kName,
      [](TaskContext& ctx) -> absl::StatusOr<TaskOutput> {
        // Optional "seconds": sleep first (a window to kill a site before it
        // answers; the secure-aggregation dropout tests).
        double seconds = kinds::Get(ctx.task->params(), dv::kSeconds).value_or(0);
        auto end = std::chrono::steady_clock::now() +
                   std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000));
        while (std::chrono::steady_clock::now() < end) {
          if (ctx.cancelled()) return absl::CancelledError("site shutting down");
          std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        double length = kinds::Get(ctx.task->params(), dv::kLength).value_or(0);
        if (length < 0 || length > 1e8) {
          return absl::InvalidArgumentError("debug.vector: bad length");
        }
        TaskOutput out;
        out.n_contributing = static_cast<int64_t>(ctx.table->num_rows());
        std::vector<double> v(static_cast<size_t>(length));
        for (size_t i = 0; i < v.size(); ++i) {
          v[i] = static_cast<double>(i) * out.n_contributing;
        }
        kinds::Put(&out.payload, dv::kVector, v);
        // Optional round: a verifiable round id. A plain answer is then
        // signed and audited as a plain study's models.derivatives is (the
        // secure-round benchmark's plain, verified round).
        const std::string round = kinds::Get(ctx.task->params(), dv::kRound);
        if (kinds::Has(ctx.task->params(), dv::kRound) && !IsSecureRound(*ctx.task)) {
          out.round = RoundContribution{
              round, kinds::RoundSummedNames(*kinds::FindKind(dv::kName)), {}};
        }
        return out;
      }));
  registry.Register(DefinedKind(kinds::debug_crash::kName,
                                [](TaskContext&) -> absl::StatusOr<TaskOutput> {
                                  std::raise(SIGSEGV);
                                  return absl::InternalError("debug.crash: still alive");
                                }));
}

}  // namespace fedrad::site
