#include "site_node/privacy_guard.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "site_node/site_rules.h"

namespace fedrad::site {

absl::Status PrivacyGuard::CheckAccepted(const TaskKind& kind) const {
  if (kind.debug_only && !policy_.enable_debug_tasks) {
    return PublicError(absl::StatusCode::kPermissionDenied, absl::StrCat(
        "task kind '", kind.kind,
        "' is test-only and this site's policy does not enable debug tasks (rule policy)"));
  }
  if (kind.always_accepted) return absl::OkStatus();
  if (policy_.accepted_kinds.empty()) return absl::OkStatus();
  for (const auto& pattern : policy_.accepted_kinds) {
    if (MatchesPattern(pattern, kind.kind)) return absl::OkStatus();
  }
  // Public: it names only the kind and the kinds the site already lists in
  // its Hello.
  return PublicError(absl::StatusCode::kPermissionDenied, absl::StrCat(
      "task kind '", kind.kind, "' is not accepted by this site's policy (accepts: ",
      absl::StrJoin(policy_.accepted_kinds, ", "), ") (rule policy)"));
}

absl::Status PrivacyGuard::CheckRelease(const TaskKind& kind, const TaskOutput& output,
                                        int study_min_cell_count,
                                        const ReleaseLedger* ledger) const {
  const int k = EffectiveMinCellCount(study_min_cell_count);
  if (output.n_contributing < k) {
    // The refusal leaves the site: it names k, never the count below it.
    return PublicError(absl::StatusCode::kPermissionDenied,
                       absl::StrCat("result of '", kind.kind, "' rests on fewer than k=", k,
                                    " patients (rule min-cell-count",
                                    k > policy_.min_cell_count ? ", the study's k" : "", ")"));
  }
  for (const Population& p : output.populations) {
    if (!p.ids.empty() && p.ids.size() < static_cast<size_t>(k)) {
      return PublicError(absl::StatusCode::kPermissionDenied,
                         absl::StrCat("result of '", kind.kind,
                                      "' holds an aggregate that rests on fewer than k=", k,
                                      " patients (rule min-cell-count)"));
    }
  }
  if (ledger != nullptr) {
    if (absl::Status s = ledger->Check(output.populations, k); !s.ok()) return s;
  }
  // Every array, text and list must be a name the kind declares and, when the
  // kind has a definition (proto/task_kinds.h), of the type declared there.
  auto check = [&](const std::string& name, const char* what, bool typed_ok) -> absl::Status {
    bool allowed = false;
    for (const auto& pattern : kind.releasable_arrays) {
      if (MatchesPattern(pattern, name)) allowed = true;
    }
    if (!allowed) {
      return PublicError(absl::StatusCode::kPermissionDenied, absl::StrCat(
          "result of '", kind.kind, "' holds ", what, " '", name,
          "', which the kind does not declare releasable (declared: ",
          absl::StrJoin(kind.releasable_arrays, ", "), ")"));
    }
    if (!typed_ok) {
      return PublicError(absl::StatusCode::kPermissionDenied, absl::StrCat(
          "result of '", kind.kind, "' holds ", what, " '", name,
          "', which the kind's definition declares with another type"));
    }
    return absl::OkStatus();
  };
  auto type_of = [&](const std::string& name) -> const kinds::Field* {
    return kind.definition == nullptr ? nullptr : kinds::FindOutput(*kind.definition, name);
  };
  for (const auto& array : output.payload.arrays()) {
    const kinds::Field* f = type_of(array.name());
    const bool ok = kind.definition == nullptr || (f != nullptr && kinds::IsArray(*f));
    if (absl::Status s = check(array.name(), "array", ok); !s.ok()) return s;
  }
  // Text fields, lists (column names, reasons) and case notes (excluded case
  // ids with a reason) are released under the same rule: only names the kind
  // declares, with the declared type.
  for (const auto& [name, value] : output.payload.strings()) {
    const kinds::Field* f = type_of(name);
    const bool ok =
        kind.definition == nullptr || (f != nullptr && f->type == kinds::FieldType::kText);
    if (absl::Status s = check(name, "text field", ok); !s.ok()) return s;
  }
  for (const auto& [name, value] : output.payload.lists()) {
    const kinds::Field* f = type_of(name);
    const bool ok =
        kind.definition == nullptr || (f != nullptr && f->type == kinds::FieldType::kList);
    if (absl::Status s = check(name, "list", ok); !s.ok()) return s;
  }
  for (const auto& [name, value] : output.payload.case_notes()) {
    const kinds::Field* f = type_of(name);
    const bool ok =
        kind.definition == nullptr || (f != nullptr && f->type == kinds::FieldType::kCaseNotes);
    if (absl::Status s = check(name, "case list", ok); !s.ok()) return s;
  }
  return absl::OkStatus();
}

std::vector<std::string> PrivacyGuard::AcceptedKinds(
    const TaskRegistry& registry) const {
  std::vector<std::string> out;
  for (const auto& name : registry.Kinds()) {
    if (CheckAccepted(*registry.Find(name)).ok()) out.push_back(name);
  }
  return out;
}

}  // namespace fedrad::site
