// Test-only study step (study.debug): rounds of debug.sleep (a study that
// lasts long enough to kill a site) and debug.vector (the round benchmark;
// the coordinator sums the sites' vectors).
#include "absl/strings/str_cat.h"
#include "coordinator/analyses.h"
#include "coordinator/secure_round.h"
#include "core/status.h"
#include "proto/task_kinds.h"

namespace fedrad::coordinator {

absl::Status RunDebugRounds(StudyContext& ctx) {
  namespace ds = ::fedrad::kinds::debug_sleep;
  namespace dv = ::fedrad::kinds::debug_vector;
  const v1::DebugRounds& debug = ctx.study().debug();
  int total = debug.sleep_rounds() + debug.vector_rounds();
  int done = 0;
  for (int r = 0; r < debug.sleep_rounds(); ++r) {
    v1::Payload params;
    kinds::Put(&params, ds::kSeconds, debug.sleep_seconds());
    FEDRAD_ASSIGN_OR_RETURN(auto results, ctx.Broadcast(ds::kName, params));
    double n = 0;
    for (const auto& [site, result] : results) {
      n += kinds::Get(result.payload(), ds::kN).value_or(0);
    }
    ctx.results().mutable_debug()->set_sleep_n(n);
    ctx.SetProgress("debug rounds", static_cast<double>(++done) / total,
                    absl::StrCat("sleep round ", r + 1, " of ", debug.sleep_rounds()));
  }
  for (int r = 0; r < debug.vector_rounds(); ++r) {
    v1::Payload params;
    kinds::Put(&params, dv::kLength, debug.vector_length());
    if (debug.vector_sleep_seconds() > 0) {
      kinds::Put(&params, dv::kSeconds, debug.vector_sleep_seconds());
    }
    std::map<std::string, v1::TaskResult> results;
    if (SecureAggregation(ctx.study())) {
      // One secure round (coordinator/secure_round.h): the sum only.
      std::map<std::string, v1::Payload> by_site;
      for (const auto& site : ctx.active_sites()) by_site[site] = params;
      FEDRAD_ASSIGN_OR_RETURN(SecureRoundResult r,
                              RunSecureRound(ctx, dv::kName, by_site, ctx.active_sites()));
      results["(secure sum)"].mutable_payload()->Swap(&r.sum);
      *ctx.results().mutable_debug()->mutable_vector_sites() = {r.survivors.begin(),
                                                                r.survivors.end()};
    } else {
      FEDRAD_ASSIGN_OR_RETURN(results, ctx.Broadcast(dv::kName, params));
    }
    std::vector<double> sum(static_cast<size_t>(debug.vector_length()), 0.0);
    for (const auto& [site, result] : results) {
      FEDRAD_ASSIGN_OR_RETURN(std::vector<double> v, kinds::Get(result.payload(), dv::kVector));
      if (v.size() != sum.size()) {
        return absl::DataLossError(absl::StrCat("site ", site, " sent a vector of ", v.size(),
                                                " values, expected ", sum.size()));
      }
      for (size_t i = 0; i < v.size(); ++i) sum[i] += v[i];
    }
    double total_sum = 0;
    for (double x : sum) total_sum += x;
    ctx.results().mutable_debug()->set_vector_sum(total_sum);
    ctx.SetProgress("debug rounds", static_cast<double>(++done) / total,
                    absl::StrCat("vector round ", r + 1, " of ", debug.vector_rounds()));
  }
  return absl::OkStatus();
}

}  // namespace fedrad::coordinator
