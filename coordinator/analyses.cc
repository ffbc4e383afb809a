#include "coordinator/analyses.h"

#include "absl/strings/str_cat.h"
#include "core/log.h"
#include "core/status.h"

namespace fedrad::coordinator {
namespace {

struct Step {
  const char* name;
  bool (*enabled)(const v1::Study&);
  absl::Status (*run)(StudyContext&);  // nullptr: not in this build
};

const std::vector<Step>& Steps() {
  static const std::vector<Step> steps = {
      {"debug rounds",
       [](const v1::Study& s) {
         return s.debug().sleep_rounds() > 0 || s.debug().vector_rounds() > 0;
       },
       &RunDebugRounds},
      {"feature extraction", [](const v1::Study& s) { return s.features().enabled(); },
#ifdef FEDRAD_HAVE_ANALYSIS_FEATURES
       &RunFeatureExtraction
#else
       nullptr
#endif
      },
      {"cohort summary", [](const v1::Study& s) { return s.cohort_summary().enabled(); },
#ifdef FEDRAD_HAVE_ANALYSIS_COHORT
       &RunCohortSummary
#else
       nullptr
#endif
      },
      {"harmonization", [](const v1::Study& s) { return s.harmonization().enabled(); },
#ifdef FEDRAD_HAVE_ANALYSIS_COMBAT
       &RunHarmonization
#else
       nullptr
#endif
      },
      {"models",
       [](const v1::Study& s) { return s.models_size() > 0 || s.validation().enabled(); },
#ifdef FEDRAD_HAVE_ANALYSIS_MODELS
       &RunModels
#else
       nullptr
#endif
      },
  };
  return steps;
}

}  // namespace

std::vector<std::string> EnabledSteps(const v1::Study& study) {
  std::vector<std::string> names;
  for (const auto& step : Steps()) {
    if (step.enabled(study)) names.push_back(step.name);
  }
  return names;
}

absl::Status RunAnalyses(StudyContext& ctx) {
  std::vector<std::string> enabled = EnabledSteps(ctx.study());
  if (enabled.empty()) {
    return absl::InvalidArgumentError(
        "the study enables no analysis (cohort_summary, harmonization, models, validation)");
  }
  int done = 0;
  for (const auto& step : Steps()) {
    if (!step.enabled(ctx.study())) continue;
    if (step.run == nullptr) {
      return absl::UnimplementedError(
          absl::StrCat("the study asks for '", step.name, "', which this build does not provide"));
    }
    ctx.SetProgress(step.name, static_cast<double>(done) / enabled.size(), "started");
    FEDRAD_LOG(INFO) << "study " << ctx.study_id() << ": step '" << step.name << "'";
    absl::Status status = step.run(ctx);
    if (!status.ok()) return Annotate(status, step.name);
    ++done;
    ctx.SetProgress(step.name, static_cast<double>(done) / enabled.size(), "done");
  }
  return absl::OkStatus();
}

}  // namespace fedrad::coordinator
