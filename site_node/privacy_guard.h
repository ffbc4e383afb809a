// The site's privacy guard: decides which tasks a site runs and whether a
// result may leave. Every decision is audited by the caller (site_worker.cc).
//
//   PrivacyGuard guard(policy);
//   FEDRAD_RETURN_IF_ERROR(guard.CheckAccepted(*kind));
//   ... run the handler ...
//   FEDRAD_RETURN_IF_ERROR(guard.CheckRelease(*kind, output));
//
// Refusals are public PermissionDenied statuses (site_rules.h) that name the
// rule and never a count below k ("result of 'cohort.moments' rests on fewer
// than k=10 patients (rule min-cell-count)"). Thread safe (immutable after
// construction).
#ifndef FEDRAD_SITE_NODE_PRIVACY_GUARD_H_
#define FEDRAD_SITE_NODE_PRIVACY_GUARD_H_

#include <algorithm>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "site_node/task_registry.h"

namespace fedrad::site {

struct GuardPolicy {
  int min_cell_count = 10;                  // k
  std::vector<std::string> accepted_kinds;  // empty: all non-debug kinds; "x*" prefix
  bool enable_debug_tasks = false;
};

class PrivacyGuard {
 public:
  explicit PrivacyGuard(GuardPolicy policy) : policy_(std::move(policy)) {}

  // OK if the policy lets the site run `kind` at all; otherwise a public
  // PermissionDenied naming the kind (rule policy).
  absl::Status CheckAccepted(const TaskKind& kind) const;
  // OK if `output` may leave: n_contributing >= k, every array and text
  // field name is in kind.releasable_arrays and, when `ledger` is given, its
  // populations keep the ledger's no-differencing rule. k is the larger of
  // the policy's and `study_min_cell_count` (the study's
  // Study.min_cell_count; 0: none). Does not record into the ledger.
  absl::Status CheckRelease(const TaskKind& kind, const TaskOutput& output,
                            int study_min_cell_count = 0,
                            const ReleaseLedger* ledger = nullptr) const;
  // The k that applies to a study asking for `study_min_cell_count`.
  int EffectiveMinCellCount(int study_min_cell_count) const {
    return std::max(policy_.min_cell_count, study_min_cell_count);
  }
  // Names of the registry's kinds this policy accepts (sent in the Hello).
  std::vector<std::string> AcceptedKinds(const TaskRegistry& registry) const;

  const GuardPolicy& policy() const { return policy_; }

 private:
  GuardPolicy policy_;
};

}  // namespace fedrad::site

#endif  // FEDRAD_SITE_NODE_PRIVACY_GUARD_H_
