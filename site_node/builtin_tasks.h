// Registers every task kind of the site. One function per module, each
// defined in its own file (owned by that module):
//   site_node/tasks_features.cc  RegisterFeatureTasks  (feature extraction)
//   site_node/tasks_cohort.cc    RegisterCohortTasks   (cohort summary)
//   site_node/tasks_combat.cc    RegisterCombatTasks   (federated ComBat)
//   site_node/tasks_models.cc    RegisterModelTasks    (Cox/logistic rounds, validation)
//   site_node/tasks_debug.cc     RegisterDebugTasks    (test-only kinds)
//   site_node/secure_agg.cc      RegisterSecAggTasks   (secure aggregation)
// A new module adds its file to site_node/CMakeLists.txt and its call here.
//
//   fedrad::site::TaskRegistry registry;
//   fedrad::site::RegisterBuiltinTasks(registry);
#ifndef FEDRAD_SITE_NODE_BUILTIN_TASKS_H_
#define FEDRAD_SITE_NODE_BUILTIN_TASKS_H_

#include "site_node/task_registry.h"

namespace fedrad::site {

void RegisterBuiltinTasks(TaskRegistry& registry);

void RegisterFeatureTasks(TaskRegistry& registry);
void RegisterCohortTasks(TaskRegistry& registry);
void RegisterCombatTasks(TaskRegistry& registry);
void RegisterModelTasks(TaskRegistry& registry);
// "debug.sleep" and "debug.vector" (debug_only: run only when the site's
// policy sets enable_debug_tasks).
void RegisterDebugTasks(TaskRegistry& registry);

}  // namespace fedrad::site

#endif  // FEDRAD_SITE_NODE_BUILTIN_TASKS_H_
