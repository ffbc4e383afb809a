// The ordered steps of a study. Each step is a function in its own file,
// owned by its module, that runs only when its section of the Study is
// enabled/non-empty:
//   coordinator/analysis_debug.cc   RunDebugRounds    (study.debug; tests, benchmark)
//   coordinator/analysis_cohort.cc  RunCohortSummary  (study.cohort_summary.enabled)
//   coordinator/analysis_combat.cc  RunHarmonization  (study.harmonization.enabled)
//   coordinator/analysis_models.cc  RunModels         (study.models non-empty or
//                                                      study.validation.enabled; runs validation too)
//   coordinator/analysis_features.cc RunFeatureExtraction (study.features.enabled)
// A new step adds its file to coordinator/CMakeLists.txt and its entry to
// Steps() in analyses.cc.
//
// Debug rounds run first unless study.debug.after_step names another step.
// Each step also has a check of its section, run by CheckStudy before
// anything starts (submit, `fedrad sandbox`, `fedrad study submit`).
//
//   FEDRAD_RETURN_IF_ERROR(fedrad::coordinator::CheckStudy(study));
//   FEDRAD_RETURN_IF_ERROR(fedrad::coordinator::RunAnalyses(ctx));
//   // resuming after step 1 of EnabledSteps(study), checkpointing each step:
//   RunAnalyses(ctx, 2, [&](int index, const std::string& name) { return Checkpoint(index); });
#ifndef FEDRAD_COORDINATOR_ANALYSES_H_
#define FEDRAD_COORDINATOR_ANALYSES_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "coordinator/study_context.h"
#include "proto/study.pb.h"

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
// The models module's own check of models/validation (analysis_models.cc).
absl::Status CheckModelSpec(const v1::Study& study);

// Checks a study spec before anything runs: at least one step enabled, the
// quorum, and every enabled step's section. InvalidArgument naming the
// field, e.g. "models[2].penalty.lambda: must be > 0 with penalty L2" or
// "validation.develop_on: names site 'X' that is not in sites".
absl::Status CheckStudy(const v1::Study& study);

// Called after step `index` (of EnabledSteps) completed; an error stops the
// study with that error.
using StepDoneFn = std::function<absl::Status(int index, const std::string& name)>;

// Runs the enabled steps in order, starting at index `first_step` of
// EnabledSteps (0: from the start; a resumed study starts after its last
// completed step); stops at the first error (returned, annotated with the
// step's name). `on_step_done` (may be empty) runs after each step.
absl::Status RunAnalyses(StudyContext& ctx, int first_step = 0,
                         const StepDoneFn& on_step_done = nullptr);

// Names of the enabled steps, in the order they run (for status, progress
// and the coordinator's store).
std::vector<std::string> EnabledSteps(const v1::Study& study);

}  // namespace fedrad::coordinator

#endif  // FEDRAD_COORDINATOR_ANALYSES_H_
