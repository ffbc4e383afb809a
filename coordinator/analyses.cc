#include "coordinator/analyses.h"

#include <algorithm>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/log.h"
#include "core/pattern.h"
#include "core/status.h"

namespace fedrad::coordinator {
namespace {

absl::Status Bad(const std::string& field, const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", what));
}

// Spec patterns run at the sites with RE2 (core/pattern.h): check them the
// same way here, so an honest coordinator and its sites agree.
absl::Status CheckRegex(const std::string& field, const std::string& pattern) {
  if (!Pattern::Compile(pattern, field).ok()) {
    return Bad(field, "is not a valid regular expression (RE2: ECMAScript without backreferences "
                      "and lookaround, at most 1024 bytes)");
  }
  return absl::OkStatus();
}

// What a site accepts as a file name or a column suffix (site_rules.h
// CheckPlainName; tasks_combat.cc CheckSuffix).
constexpr char kPlainNameChars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-";

// A site list field (develop_on, reference_site, ...) must name sites of the
// study when the study names its sites.
absl::Status CheckSiteNamed(const v1::Study& study, const std::string& field,
                            const std::string& site) {
  if (study.sites().empty()) return absl::OkStatus();
  if (std::find(study.sites().begin(), study.sites().end(), site) != study.sites().end()) {
    return absl::OkStatus();
  }
  return Bad(field, absl::StrCat("names site '", site, "' that is not in sites (",
                                 absl::StrJoin(study.sites(), ", "), ")"));
}

absl::Status CheckDebug(const v1::Study& study) {
  const v1::DebugRounds& d = study.debug();
  if (d.sleep_rounds() < 0) return Bad("debug.sleep_rounds", "must be >= 0");
  if (d.sleep_seconds() < 0) return Bad("debug.sleep_seconds", "must be >= 0");
  if (d.vector_rounds() < 0) return Bad("debug.vector_rounds", "must be >= 0");
  if (d.vector_length() < 0 || d.vector_length() > 100000000) {
    return Bad("debug.vector_length", "must be between 0 and 1e8");
  }
  return absl::OkStatus();
}

absl::Status CheckCohort(const v1::Study& study) {
  const v1::CohortSummary& c = study.cohort_summary();
  for (int i = 0; i < c.columns_size(); ++i) {
    if (c.columns(i).empty()) return Bad(absl::StrCat("cohort_summary.columns[", i, "]"), "is empty");
  }
  if (!c.column_regex().empty()) {
    FEDRAD_RETURN_IF_ERROR(CheckRegex("cohort_summary.column_regex", c.column_regex()));
  }
  std::set<std::string> names;
  for (int i = 0; i < c.time_events_size(); ++i) {
    const v1::TimeEvent& te = c.time_events(i);
    std::string field = absl::StrCat("cohort_summary.time_events[", i, "]");
    if (te.time_column().empty()) return Bad(field + ".time_column", "is required");
    if (te.event_column().empty()) return Bad(field + ".event_column", "is required");
    std::string name = te.name().empty() ? te.time_column() : te.name();
    if (!names.insert(name).second) {
      return Bad(field + ".name", absl::StrCat("'", name, "' is used twice"));
    }
  }
  if (c.quantile_rank_error() < 0 || c.quantile_rank_error() >= 0.5) {
    return Bad("cohort_summary.quantile_rank_error", "must be in [0, 0.5) (0: the default 0.01)");
  }
  return absl::OkStatus();
}

absl::Status CheckHarmonization(const v1::Study& study) {
  const v1::Harmonization& h = study.harmonization();
  if (h.features().empty()) {
    return Bad("harmonization.features",
               "is required: a regular expression selecting the feature columns, e.g. \"^f[0-9]+$\"");
  }
  FEDRAD_RETURN_IF_ERROR(CheckRegex("harmonization.features", h.features()));
  static const std::set<std::string> kMethods = {"", "parametric", "nonparametric", "mean-only"};
  if (!kMethods.count(h.method())) {
    return Bad("harmonization.method",
               absl::StrCat("'", h.method(), "' is not one of parametric, nonparametric, mean-only"));
  }
  if (h.nonparametric_mean_only() && h.method() != "nonparametric") {
    return Bad("harmonization.nonparametric_mean_only", "needs method \"nonparametric\"");
  }
  for (int i = 0; i < h.covariates_size(); ++i) {
    if (h.covariates(i).empty()) {
      return Bad(absl::StrCat("harmonization.covariates[", i, "]"), "is empty");
    }
  }
  if (!h.reference_site().empty()) {
    FEDRAD_RETURN_IF_ERROR(CheckSiteNamed(study, "harmonization.reference_site", h.reference_site()));
  }
  if (!h.output_file().empty() &&
      (h.output_file().size() > 128 || h.output_file()[0] == '.' ||
       h.output_file().find_first_not_of(kPlainNameChars) != std::string::npos)) {
    return Bad("harmonization.output_file",
               "must be a plain file name (no folders; letters, digits, '.', '_', '-', not "
               "starting with '.', at most 128 bytes)");
  }
  if (h.output_suffix().size() > 64 ||
      h.output_suffix().find_first_not_of(kPlainNameChars) != std::string::npos) {
    return Bad("harmonization.output_suffix",
               "must be at most 64 letters, digits, '.', '_' or '-' (no comma, quote, space or "
               "line break)");
  }
  return absl::OkStatus();
}

absl::Status CheckModels(const v1::Study& study) {
  std::set<std::string> names;
  for (int i = 0; i < study.models_size(); ++i) {
    const v1::Model& m = study.models(i);
    std::string field = absl::StrCat("models[", i, "]");
    if (m.name().empty()) return Bad(field + ".name", "is required");
    if (!names.insert(m.name()).second) {
      return Bad(field + ".name", absl::StrCat("'", m.name(), "' is used by another model"));
    }
    if (m.type() == v1::Model::LOGISTIC && m.outcome_column().empty()) {
      return Bad(field + ".outcome_column", "is required for a LOGISTIC model");
    }
    if (!m.ties().empty() && m.ties() != "breslow" && m.ties() != "efron") {
      return Bad(field + ".ties", absl::StrCat("'", m.ties(), "' is not breslow or efron"));
    }
    if (!m.covariate_regex().empty()) {
      FEDRAD_RETURN_IF_ERROR(CheckRegex(field + ".covariate_regex", m.covariate_regex()));
    }
    const v1::Penalty& pen = m.penalty();
    if (pen.type() != v1::Penalty::NONE) {
      std::string type = v1::Penalty::Type_Name(pen.type());
      if (pen.lambda_grid_size() == 0 && !(pen.lambda() > 0)) {
        return Bad(field + ".penalty.lambda",
                   absl::StrCat("must be > 0 with penalty ", type, " (or give lambda_grid)"));
      }
      for (int j = 0; j < pen.lambda_grid_size(); ++j) {
        if (!(pen.lambda_grid(j) > 0)) {
          return Bad(absl::StrCat(field, ".penalty.lambda_grid[", j, "]"), "must be > 0");
        }
      }
      if (pen.type() == v1::Penalty::ELASTIC_NET && !(pen.l1_ratio() > 0 && pen.l1_ratio() <= 1)) {
        return Bad(field + ".penalty.l1_ratio", "must be in (0, 1] with penalty ELASTIC_NET");
      }
    }
    for (int j = 0; j < m.develop_on_size(); ++j) {
      FEDRAD_RETURN_IF_ERROR(
          CheckSiteNamed(study, absl::StrCat(field, ".develop_on[", j, "]"), m.develop_on(j)));
    }
  }
  const v1::Validation& v = study.validation();
  if (v.enabled()) {
    if (study.models_size() == 0) return Bad("validation.enabled", "is true but the study has no models");
    for (int j = 0; j < v.models_size(); ++j) {
      if (!names.count(v.models(j))) {
        return Bad(absl::StrCat("validation.models[", j, "]"),
                   absl::StrCat("names '", v.models(j), "', which is not a model"));
      }
    }
    for (const auto& site : v.develop_on()) {
      FEDRAD_RETURN_IF_ERROR(CheckSiteNamed(study, "validation.develop_on", site));
    }
    for (const auto& site : v.validate_on()) {
      FEDRAD_RETURN_IF_ERROR(CheckSiteNamed(study, "validation.validate_on", site));
      if (v.scheme() == v1::Validation::DEVELOP_VALIDATE &&
          std::find(v.develop_on().begin(), v.develop_on().end(), site) != v.develop_on().end()) {
        return Bad("validation.validate_on",
                   absl::StrCat("site '", site, "' is also in develop_on; external validation "
                                "needs other sites"));
      }
    }
    if (v.scheme() == v1::Validation::DEVELOP_VALIDATE && v.develop_on().empty()) {
      return Bad("validation.develop_on", "is required with scheme DEVELOP_VALIDATE");
    }
    if (v.bootstrap_replicates() < -1) {
      return Bad("validation.bootstrap_replicates", "must be >= -1 (-1: none, 0: the default 200)");
    }
    if (v.threshold() < 0 || v.threshold() >= 1) {
      return Bad("validation.threshold", "must be in (0, 1) (0: the default 0.5)");
    }
  }
  // The module's own rules (whatever the field checks above do not cover).
  FEDRAD_RETURN_IF_ERROR(CheckModelSpec(study));
  return absl::OkStatus();
}

struct Step {
  const char* name;
  bool (*enabled)(const v1::Study&);
  absl::Status (*run)(StudyContext&);
  absl::Status (*check)(const v1::Study&);
};

const std::vector<Step>& Steps() {
  static const std::vector<Step> steps = {
      {"debug rounds",
       [](const v1::Study& s) {
         return s.debug().sleep_rounds() > 0 || s.debug().vector_rounds() > 0;
       },
       &RunDebugRounds, &CheckDebug},
      {"feature extraction", [](const v1::Study& s) { return s.features().enabled(); },
       &RunFeatureExtraction, &CheckFeatureExtraction},
      {"cohort summary", [](const v1::Study& s) { return s.cohort_summary().enabled(); },
       &RunCohortSummary, &CheckCohort},
      {"harmonization", [](const v1::Study& s) { return s.harmonization().enabled(); },
       &RunHarmonization, &CheckHarmonization},
      {"models",
       [](const v1::Study& s) { return s.models_size() > 0 || s.validation().enabled(); },
       &RunModels, &CheckModels},
  };
  return steps;
}

constexpr char kDebugStep[] = "debug rounds";

// The enabled steps in the order they run: Steps() order, except that the
// debug rounds move after study.debug.after_step when it names an enabled
// step.
std::vector<const Step*> Plan(const v1::Study& study) {
  std::vector<const Step*> plan;
  const Step* debug = nullptr;
  for (const auto& step : Steps()) {
    if (!step.enabled(study)) continue;
    if (std::string(step.name) == kDebugStep && !study.debug().after_step().empty()) {
      debug = &step;
      continue;
    }
    plan.push_back(&step);
  }
  if (debug != nullptr) {
    auto it = std::find_if(plan.begin(), plan.end(), [&](const Step* s) {
      return s->name == study.debug().after_step();
    });
    plan.insert(it == plan.end() ? plan.end() : it + 1, debug);
  }
  return plan;
}

}  // namespace

std::vector<std::string> EnabledSteps(const v1::Study& study) {
  std::vector<std::string> names;
  for (const Step* step : Plan(study)) names.push_back(step->name);
  return names;
}

absl::Status CheckStudy(const v1::Study& study) {
  std::vector<const Step*> plan = Plan(study);
  if (plan.empty()) {
    return absl::InvalidArgumentError(
        "the study enables no analysis: set cohort_summary { enabled: true } (or "
        "harmonization, models, validation)");
  }
  std::set<std::string> sites;
  for (int i = 0; i < study.sites_size(); ++i) {
    if (study.sites(i).empty()) return Bad(absl::StrCat("sites[", i, "]"), "is empty");
    if (!sites.insert(study.sites(i)).second) {
      return Bad(absl::StrCat("sites[", i, "]"), absl::StrCat("'", study.sites(i), "' is listed twice"));
    }
  }
  if (study.min_cell_count() < 0) {
    return Bad("min_cell_count", "must be >= 0 (0: each site's own k)");
  }
  if (study.quorum().min_sites() < 0) return Bad("quorum.min_sites", "must be >= 0 (0: every site)");
  if (study.sites_size() > 0 && study.quorum().min_sites() > study.sites_size()) {
    return Bad("quorum.min_sites", absl::StrCat("is ", study.quorum().min_sites(), " but the study has ",
                                                study.sites_size(), " sites"));
  }
  if (study.quorum().task_timeout_seconds() < 0) {
    return Bad("quorum.task_timeout_seconds", "must be >= 0 (0: the default 120 s)");
  }
  const std::string& after = study.debug().after_step();
  if (!after.empty()) {
    bool found = false;
    std::vector<std::string> names;
    for (const Step* step : plan) {
      if (step->name == after) found = true;
      if (std::string(step->name) != kDebugStep) names.push_back(step->name);
    }
    if (!found || after == kDebugStep) {
      return Bad("debug.after_step", absl::StrCat("'", after, "' is not an enabled step (enabled: ",
                                                  absl::StrJoin(names, ", "), ")"));
    }
  }
  for (const Step* step : plan) {
    if (step->check != nullptr) FEDRAD_RETURN_IF_ERROR(step->check(study));
  }
  return absl::OkStatus();
}

absl::Status RunAnalyses(StudyContext& ctx, int first_step, const StepDoneFn& on_step_done) {
  std::vector<const Step*> plan = Plan(ctx.study());
  if (plan.empty()) {
    return absl::InvalidArgumentError(
        "the study enables no analysis (cohort_summary, harmonization, models, validation)");
  }
  for (int i = std::max(first_step, 0); i < static_cast<int>(plan.size()); ++i) {
    const Step& step = *plan[i];
    ctx.BeginStep(i, static_cast<int>(plan.size()));
    ctx.SetProgress(step.name, 0.0, "started");
    FEDRAD_LOG(INFO) << "study " << ctx.study_id() << ": step '" << step.name << "'";
    absl::Status status = step.run(ctx);
    if (!status.ok()) return Annotate(status, step.name);
    if (on_step_done) FEDRAD_RETURN_IF_ERROR(on_step_done(i, step.name));
    ctx.SetProgress(step.name, 1.0, "done");
  }
  return absl::OkStatus();
}

}  // namespace fedrad::coordinator
