#include "site_node/task_registry.h"

#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "core/log.h"

namespace fedrad::site {

absl::StatusOr<std::vector<std::string>> PatientIds(const TaskContext& ctx) {
  const int idx = ctx.table->ColumnIndex(ctx.id_column);
  if (idx < 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("the site's id column '", ctx.id_column, "' is not in its table"));
  }
  std::vector<std::string> ids(ctx.table->num_rows());
  for (size_t r = 0; r < ids.size(); ++r) ids[r] = ctx.table->cell(r, static_cast<size_t>(idx));
  return ids;
}

TaskKind DefinedKind(const char* name,
                     std::function<absl::StatusOr<TaskOutput>(TaskContext&)> handler) {
  const kinds::Kind* def = kinds::FindKind(name);
  if (def == nullptr) {
    FEDRAD_LOG(ERROR) << "task kind '" << name << "' is not defined in proto/task_kinds.h";
    std::abort();
  }
  TaskKind kind;
  kind.kind = def->name;
  kind.description = def->description;
  kind.releasable_arrays = kinds::ReleasableNames(*def);
  kind.handler = std::move(handler);
  kind.debug_only = def->debug_only;
  kind.definition = def;
  return kind;
}

void TaskRegistry::Register(TaskKind kind) {
  std::string name = kind.kind;
  kinds_[name] = std::move(kind);
}

const TaskKind* TaskRegistry::Find(const std::string& name) const {
  auto it = kinds_.find(name);
  return it == kinds_.end() ? nullptr : &it->second;
}

std::vector<std::string> TaskRegistry::Kinds() const {
  std::vector<std::string> out;
  for (const auto& [name, kind] : kinds_) out.push_back(name);
  return out;
}

bool MatchesPattern(const std::string& pattern, const std::string& name) {
  if (!pattern.empty() && pattern.back() == '*') {
    return name.compare(0, pattern.size() - 1, pattern, 0,
                        pattern.size() - 1) == 0;
  }
  return pattern == name;
}

}  // namespace fedrad::site
