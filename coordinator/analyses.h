// The ordered steps of a study. Each step is a function in its own file,
// owned by its module, that runs only when its section of the Study is
// enabled/non-empty:
//   coordinator/analysis_debug.cc   RunDebugRounds    (study.debug; tests, benchmark)
//   coordinator/analysis_cohort.cc  RunCohortSummary  (study.cohort_summary.enabled)
//   coordinator/analysis_combat.cc  RunHarmonization  (study.harmonization.enabled)
//   coordinator/analysis_models.cc  RunModels         (study.models non-empty or
//                                                      study.validation.enabled; runs validation too)
// coordinator/CMakeLists.txt compiles the analysis files that exist and
// defines FEDRAD_HAVE_ANALYSIS_<MODULE>; a study that asks for a step this
// build lacks fails with Unimplemented naming it.
//
//   FEDRAD_RETURN_IF_ERROR(fedrad::coordinator::RunAnalyses(ctx));
#ifndef FEDRAD_COORDINATOR_ANALYSES_H_
#define FEDRAD_COORDINATOR_ANALYSES_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "coordinator/study_context.h"

namespace fedrad::coordinator {

absl::Status RunDebugRounds(StudyContext& ctx);
// coordinator/analysis_features.cc (study.features.enabled): runs first.
absl::Status RunFeatureExtraction(StudyContext& ctx);
// The `features` section's spec check (OK when disabled); InvalidArgument
// naming the field.
absl::Status CheckFeatureExtraction(const v1::Study& study);
absl::Status RunCohortSummary(StudyContext& ctx);
absl::Status RunHarmonization(StudyContext& ctx);
absl::Status RunModels(StudyContext& ctx);

// Runs every enabled step in order; stops at the first error (returned,
// annotated with the step's name).
absl::Status RunAnalyses(StudyContext& ctx);

// Names of the enabled steps, in order (for status and progress).
std::vector<std::string> EnabledSteps(const v1::Study& study);

}  // namespace fedrad::coordinator

#endif  // FEDRAD_COORDINATOR_ANALYSES_H_
