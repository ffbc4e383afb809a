// What a site checks in every task before any handler runs, from the task and
// the approved study spec it carries (site_worker.cc calls these in order; the
// `approve` command runs CheckStudySpec too, so an operator cannot approve a
// spec the site would refuse). Every refusal is a PublicError naming the
// field and the rule, never a value from the site's data.
//
//   FEDRAD_RETURN_IF_ERROR(CheckTaskSize(task));                 // sizes, unknown fields
//   FEDRAD_RETURN_IF_ERROR(CheckStudySpec(task.study(), "patient_id"));  // patterns, roles
//   FEDRAD_RETURN_IF_ERROR(CheckKindNeeded(task.study(), task.kind(), debug_enabled));
//
// Thread safe (pure functions).
#ifndef FEDRAD_SITE_NODE_STUDY_POLICY_H_
#define FEDRAD_SITE_NODE_STUDY_POLICY_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "proto/fedrad.pb.h"
#include "proto/study.pb.h"

namespace fedrad::site {

// ---- Sizes (rule bounded-size) ----------------------------------------------
// Largest serialized task a site accepts (a 1000 x 1000 matrix is 8 MB).
inline constexpr size_t kMaxTaskBytes = 64u << 20;
// Most entries of any repeated field of a spec (covariates, grids, sites),
// and most arrays / string params of a task.
inline constexpr int kMaxRepeatedEntries = 4096;
// Most dimensions of a parameter array.
inline constexpr int kMaxArrayDims = 8;
// Task.transcript (verifiable rounds, issue 12), beside kMaxTaskBytes for the
// rest of the task: a fit over 50 sites with 100 evaluations of p = 50
// coefficients is 5,050 messages of ~21 KB (~106 MB); beyond these the task
// is refused.
inline constexpr int kMaxTranscriptMessages = 8192;
inline constexpr size_t kMaxTranscriptBytes = 160u << 20;
// One signed message: its body (a p = 350 information matrix is ~1 MB), its
// signature and its certificate.
inline constexpr size_t kMaxSignedBodyBytes = 2u << 20;
inline constexpr size_t kMaxSignatureBytes = 1024;
inline constexpr size_t kMaxCertificatePemBytes = 16 * 1024;

// Walks the whole task with protobuf reflection and refuses (public
// InvalidArgument naming the field, rule bounded-size) when:
//   - the task without its transcript is larger than kMaxTaskBytes, or the
//     transcript larger than kMaxTranscriptBytes or longer than
//     kMaxTranscriptMessages messages (each body, signature and certificate
//     bounded by kMaxSignedBodyBytes, kMaxSignatureBytes,
//     kMaxCertificatePemBytes);
//   - a string is too long. Caps by field: Task.task_id 2*kMaxNameBytes;
//     Task.study_id and Task.kind kMaxNameBytes; in Task.study every string
//     is a name (column, model, site, step, suffix, file, event value):
//     kMaxNameBytes, except the patterns (CohortSummary.column_regex,
//     Model.covariate_regex, Harmonization.features and any *_regex field):
//     Pattern::kMaxPatternBytes; in Task.params array names and string keys
//     are names (kMaxNameBytes), string values kMaxParamStringBytes;
//   - a repeated field has more than kMaxRepeatedEntries entries, except an
//     array's values (kMaxParamArrayValues) and shape (kMaxArrayDims);
//   - any message holds fields this software does not know (rule
//     known-fields-only).
absl::Status CheckTaskSize(const v1::Task& task);
// The same walk over a study spec alone (used by `fedrad-site approve`).
absl::Status CheckStudySize(const v1::Study& study);

// ---- Patterns (rule pattern) ------------------------------------------------
// Every pattern of the spec compiles with fedrad::Pattern (RE2: linear time,
// capped size); otherwise a public InvalidArgument naming the field.
absl::Status CheckSpecPatterns(const v1::Study& study);

// ---- Column roles (rule column-roles) -----------------------------------------
// The site's id column is its config's (`site_id_column`), never the spec's.
// Refuses a model whose id/time/event/outcome column is also one of its listed
// covariates, whose time/event/outcome column is the id column, whose time
// column is its event column, or whose event_values hold an empty string; the
// same for cohort_summary.time_events; and harmonization covariates naming
// the id column. The error names the model (or section) and the field.
absl::Status CheckSpecRoles(const v1::Study& study, const std::string& site_id_column);

// CheckStudySize + CheckSpecPatterns + CheckSpecRoles.
absl::Status CheckStudySpec(const v1::Study& study, const std::string& site_id_column);

// ---- Needed kinds (rule needed-kinds) ------------------------------------------
// The task-kind families the spec needs: "study." always; "features." iff
// features.enabled; "cohort." iff cohort_summary.enabled; "combat." iff
// harmonization.enabled; "models." iff the spec has models (validation uses
// them); "debug." iff spec.debug asks for rounds and `debug_enabled` (the
// site's policy enables debug tasks).
std::vector<std::string> NeededKindFamilies(const v1::Study& study, bool debug_enabled);
// OK if `kind` belongs to a needed family; otherwise a public
// PermissionDenied naming the kind and the study.
absl::Status CheckKindNeeded(const v1::Study& study, const std::string& kind, bool debug_enabled);

// ---- Audit summary of a task's params ------------------------------------------
// "params sha256 <hex>; 3 arrays, 12 values; max |beta*| 0.53; 0 grid points;
// strings: model, step_name": the digest of the params' deterministic
// serialisation, the number of arrays and values, the largest |value| of any
// array whose name starts with "beta", the number of values of arrays whose
// name contains "grid", "threshold", "cut" or "times", and the string
// params' names. Names are clipped; never a string value.
std::string SummarizeParams(const v1::Payload& params);

}  // namespace fedrad::site

#endif  // FEDRAD_SITE_NODE_STUDY_POLICY_H_
