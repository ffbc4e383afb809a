// The site's privacy guard: decides which tasks a site runs and whether a
// result may leave. Every decision is audited by the caller (site_node.cc).
//
//   PrivacyGuard guard(policy);
//   FEDRAD_RETURN_IF_ERROR(guard.CheckAccepted(*kind));
//   ... run the handler ...
//   FEDRAD_RETURN_IF_ERROR(guard.CheckRelease(*kind, output));
//
// Refusals are PermissionDenied with a reason a coordinator can read
// ("result computed over 4 patients, below this site's minimum cell count
// k=10"). Thread safe (immutable after construction).
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

  // OK if the policy lets the site run `kind` at all.
  absl::Status CheckAccepted(const TaskKind& kind) const;
  // OK if `output` may leave: n_contributing >= k and every array and text
  // field name is in kind.releasable_arrays. k is the larger of the policy's and
  // `study_min_cell_count` (the study's Study.min_cell_count; 0: none).
  absl::Status CheckRelease(const TaskKind& kind, const TaskOutput& output,
                            int study_min_cell_count = 0) const;
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
