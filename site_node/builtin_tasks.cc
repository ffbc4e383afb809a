#include "site_node/builtin_tasks.h"

#include "site_node/secure_agg.h"

namespace fedrad::site {

void RegisterBuiltinTasks(TaskRegistry& registry) {
#ifdef FEDRAD_HAVE_FEATURES_TASKS
  RegisterFeatureTasks(registry);
#endif
#ifdef FEDRAD_HAVE_COHORT_TASKS
  RegisterCohortTasks(registry);
#endif
#ifdef FEDRAD_HAVE_COMBAT_TASKS
  RegisterCombatTasks(registry);
#endif
#ifdef FEDRAD_HAVE_MODELS_TASKS
  RegisterModelTasks(registry);
#endif
  RegisterDebugTasks(registry);
  RegisterSecAggTasks(registry);
}

}  // namespace fedrad::site
