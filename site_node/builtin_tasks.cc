#include "site_node/builtin_tasks.h"

#include "site_node/secure_agg.h"

namespace fedrad::site {

void RegisterBuiltinTasks(TaskRegistry& registry) {
  RegisterFeatureTasks(registry);
  RegisterCohortTasks(registry);
  RegisterCombatTasks(registry);
  RegisterModelTasks(registry);
  RegisterDebugTasks(registry);
  RegisterSecAggTasks(registry);
}

}  // namespace fedrad::site
