#include "site_node/study_policy.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/hash.h"
#include "core/status.h"
#include "core/pattern.h"
#include "google/protobuf/descriptor.h"
#include "proto/node_audit.h"
#include "site_node/approvals.h"
#include "site_node/site_rules.h"

namespace fedrad::site {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

// Where a message sits in the task: decides the caps of its strings.
enum class Zone { kTask, kStudy, kParams, kTranscript };

bool IsPatternField(const FieldDescriptor* f) {
  const std::string& full = f->full_name();
  return full == "fedrad.v1.CohortSummary.column_regex" ||
         full == "fedrad.v1.Model.covariate_regex" || full == "fedrad.v1.Harmonization.features" ||
         absl::EndsWith(f->name(), "_regex");
}

absl::Status TooLarge(const std::string& path, const std::string& what) {
  return PublicError(absl::StatusCode::kInvalidArgument,
                     absl::StrCat(path, ": ", what, " (rule bounded-size)"));
}

size_t StringCap(const FieldDescriptor* f, Zone zone) {
  const std::string& full = f->full_name();
  // Signed messages of earlier rounds (Task.transcript: verifiable rounds'
  // contributions, secure aggregation's adverts, shares and reveals).
  if (zone == Zone::kTranscript) {
    if (full == "fedrad.v1.SignedMessage.body") return kMaxSignedBodyBytes;
    if (full == "fedrad.v1.SignedMessage.signature") return kMaxSignatureBytes;
    return kMaxCertificatePemBytes;
  }
  if (zone == Zone::kTask) {
    if (full == "fedrad.v1.Task.task_id") return 2 * kMaxNameBytes;
    return kMaxNameBytes;  // study_id, kind
  }
  if (zone == Zone::kStudy) return IsPatternField(f) ? Pattern::kMaxPatternBytes : kMaxNameBytes;
  // Params: array names and map keys are names; string values are text.
  if (full == "fedrad.v1.Payload.StringsEntry.value") return kMaxParamStringBytes;
  return kMaxNameBytes;
}

int RepeatedCap(const FieldDescriptor* f) {
  const std::string& full = f->full_name();
  if (full == "fedrad.v1.Array.values") return static_cast<int>(kMaxParamArrayValues);
  if (full == "fedrad.v1.Array.shape") return kMaxArrayDims;
  if (full == "fedrad.v1.Transcript.messages") return kMaxTranscriptMessages;
  return kMaxRepeatedEntries;
}

absl::Status Walk(const Message& m, Zone zone, const std::string& path, int depth) {
  const Reflection* r = m.GetReflection();
  if (!r->GetUnknownFields(m).empty()) {
    return PublicError(absl::StatusCode::kInvalidArgument,
                       absl::StrCat(path.empty() ? "task" : path,
                                    ": holds fields this site's software does not know "
                                    "(rule known-fields-only)"));
  }
  if (depth > 32) return TooLarge(path, "nested too deeply");
  std::vector<const FieldDescriptor*> fields;
  r->ListFields(m, &fields);
  for (const FieldDescriptor* f : fields) {
    Zone sub = zone;
    if (zone == Zone::kTask && f->name() == "study") sub = Zone::kStudy;
    if (zone == Zone::kTask && f->name() == "params") sub = Zone::kParams;
    if (zone == Zone::kTask && f->name() == "transcript") sub = Zone::kTranscript;
    const std::string fpath = path.empty() ? f->name() : absl::StrCat(path, ".", f->name());
    if (f->is_repeated()) {
      const int n = r->FieldSize(m, f);
      if (n > RepeatedCap(f)) {
        return TooLarge(fpath, absl::StrCat("more than ", RepeatedCap(f), " entries"));
      }
      if (f->cpp_type() == FieldDescriptor::CPPTYPE_STRING) {
        const size_t cap = StringCap(f, sub);
        for (int i = 0; i < n; ++i) {
          std::string scratch;
          const std::string& s = r->GetRepeatedStringReference(m, f, i, &scratch);
          if (s.size() > cap) {
            return TooLarge(absl::StrCat(fpath, "[", i, "]"),
                            absl::StrCat("longer than ", cap, " bytes"));
          }
        }
      } else if (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
        for (int i = 0; i < n; ++i) {
          const Message& child = r->GetRepeatedMessage(m, f, i);
          // A map entry is named by its key when the key is short.
          std::string child_path = absl::StrCat(fpath, "[", i, "]");
          FEDRAD_RETURN_IF_ERROR(Walk(child, sub, child_path, depth + 1));
        }
      }
      continue;
    }
    if (f->cpp_type() == FieldDescriptor::CPPTYPE_STRING) {
      std::string scratch;
      const std::string& s = r->GetStringReference(m, f, &scratch);
      const size_t cap = StringCap(f, sub);
      if (s.size() > cap) return TooLarge(fpath, absl::StrCat("longer than ", cap, " bytes"));
    } else if (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
      FEDRAD_RETURN_IF_ERROR(Walk(r->GetMessage(m, f), sub, fpath, depth + 1));
    }
  }
  return absl::OkStatus();
}

absl::Status RoleError(const std::string& where, const std::string& what) {
  return PublicError(absl::StatusCode::kInvalidArgument,
                     absl::StrCat(where, ": ", what, " (rule column-roles)"));
}

bool IsGridName(absl::string_view name) {
  return absl::StrContains(name, "grid") || absl::StrContains(name, "threshold") ||
         absl::StrContains(name, "cut") || absl::StrContains(name, "times");
}

std::string Clip(const std::string& s) {
  return s.size() <= 48 ? s : absl::StrCat(s.substr(0, 48), "...");
}

}  // namespace

absl::Status CheckTaskSize(const v1::Task& task) {
  const size_t transcript = task.has_transcript() ? task.transcript().ByteSizeLong() : 0;
  if (transcript > kMaxTranscriptBytes) {
    return TooLarge("transcript", absl::StrCat("larger than ", kMaxTranscriptBytes, " bytes"));
  }
  if (task.ByteSizeLong() - transcript > kMaxTaskBytes) {
    return TooLarge("task", absl::StrCat("larger than ", kMaxTaskBytes, " bytes"));
  }
  return Walk(task, Zone::kTask, "", 0);
}

absl::Status CheckStudySize(const v1::Study& study) {
  if (study.ByteSizeLong() > kMaxTaskBytes) {
    return TooLarge("study", absl::StrCat("larger than ", kMaxTaskBytes, " bytes"));
  }
  return Walk(study, Zone::kStudy, "study", 0);
}

absl::Status CheckSpecPatterns(const v1::Study& study) {
  auto check = [](const std::string& text, const std::string& field) -> absl::Status {
    if (text.empty()) return absl::OkStatus();
    auto p = Pattern::Compile(text, field);
    if (p.ok()) return absl::OkStatus();
    return PublicError(absl::StatusCode::kInvalidArgument,
                       absl::StrCat(field, ": not a pattern this site accepts (RE2, at most ",
                                    Pattern::kMaxPatternBytes, " bytes, bounded program) (rule pattern)"));
  };
  FEDRAD_RETURN_IF_ERROR(check(study.cohort_summary().column_regex(), "cohort_summary.column_regex"));
  FEDRAD_RETURN_IF_ERROR(check(study.harmonization().features(), "harmonization.features"));
  for (const auto& m : study.models()) {
    FEDRAD_RETURN_IF_ERROR(
        check(m.covariate_regex(), absl::StrCat("models '", m.name(), "' covariate_regex")));
  }
  return absl::OkStatus();
}

absl::Status CheckSpecRoles(const v1::Study& study, const std::string& id) {
  for (const auto& m : study.models()) {
    const std::string where = absl::StrCat("model '", m.name(), "'");
    const std::vector<std::pair<const char*, const std::string*>> roles = {
        {"time_column", &m.time_column()},
        {"event_column", &m.event_column()},
        {"outcome_column", &m.outcome_column()}};
    for (const auto& [field, col] : roles) {
      if (!col->empty() && *col == id) {
        return RoleError(where, absl::StrCat(field, " is the site's id column"));
      }
    }
    if (!m.time_column().empty() && m.time_column() == m.event_column()) {
      return RoleError(where, "time_column and event_column are the same column");
    }
    for (const auto& c : m.covariates()) {
      if (c == id) return RoleError(where, "covariates list the site's id column");
      for (const auto& [field, col] : roles) {
        if (!col->empty() && c == *col) {
          return RoleError(where, absl::StrCat("covariates list its ", field, " '", c, "'"));
        }
      }
    }
    for (const auto& v : m.event_values()) {
      if (v.empty()) return RoleError(where, "event_values holds an empty value");
    }
  }
  for (const auto& te : study.cohort_summary().time_events()) {
    const std::string where = absl::StrCat("cohort_summary.time_events '", te.name(), "'");
    if (te.time_column() == id || te.event_column() == id) {
      return RoleError(where, "names the site's id column");
    }
    if (!te.time_column().empty() && te.time_column() == te.event_column()) {
      return RoleError(where, "time_column and event_column are the same column");
    }
  }
  for (const auto& c : study.cohort_summary().columns()) {
    if (c == id) return RoleError("cohort_summary.columns", "lists the site's id column");
  }
  for (const auto& c : study.harmonization().covariates()) {
    if (c == id) return RoleError("harmonization.covariates", "lists the site's id column");
  }
  return absl::OkStatus();
}

// Harmonisation's file name and column suffix, as combat.fit will check them
// (site_node/tasks_combat.cc), so that a spec is never approved that could
// not run.
absl::Status CheckHarmonizationNames(const v1::Harmonization& h) {
  if (!h.output_file().empty()) {
    FEDRAD_RETURN_IF_ERROR(CheckPlainName(h.output_file(), "harmonization.output_file"));
  }
  if (!h.output_suffix().empty()) {
    FEDRAD_RETURN_IF_ERROR(CheckPlainName(absl::StrCat("x", h.output_suffix()),
                                          "harmonization.output_suffix"));
    if (h.output_suffix().size() > kMaxOutputSuffixBytes) {
      return PublicError(absl::StatusCode::kInvalidArgument,
                         absl::StrCat("harmonization.output_suffix: longer than ",
                                      kMaxOutputSuffixBytes, " bytes (rule bounded-size)"));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckStudySpec(const v1::Study& study, const std::string& site_id_column) {
  FEDRAD_RETURN_IF_ERROR(CheckStudySize(study));
  FEDRAD_RETURN_IF_ERROR(CheckHarmonizationNames(study.harmonization()));
  FEDRAD_RETURN_IF_ERROR(CheckSpecPatterns(study));
  return CheckSpecRoles(study, site_id_column);
}

std::vector<std::string> NeededKindFamilies(const v1::Study& study, bool debug_enabled) {
  std::vector<std::string> out = {"study."};
  if (study.features().enabled()) out.push_back("features.");
  if (study.cohort_summary().enabled()) out.push_back("cohort.");
  if (study.harmonization().enabled()) out.push_back("combat.");
  if (study.models_size() > 0) out.push_back("models.");
  // Secure aggregation's setup and reveals (site_node/secure_agg.h).
  if (study.secure_aggregation()) out.push_back("secagg.");
  if (debug_enabled && (study.debug().sleep_rounds() > 0 || study.debug().vector_rounds() > 0)) {
    out.push_back("debug.");
  }
  return out;
}

absl::Status CheckKindNeeded(const v1::Study& study, const std::string& kind, bool debug_enabled) {
  for (const auto& family : NeededKindFamilies(study, debug_enabled)) {
    if (absl::StartsWith(kind, family)) return absl::OkStatus();
  }
  return PublicError(absl::StatusCode::kPermissionDenied,
                     absl::StrCat("task kind '", kind, "' is not needed by study ",
                                  CanonicalStudy(study).name(),
                                  " as approved (rule needed-kinds)"));
}

std::string SummarizeParams(const v1::Payload& params) {
  size_t values = 0, grid = 0;
  double max_beta = 0;
  bool any_beta = false, nan_beta = false;
  for (const auto& a : params.arrays()) {
    values += static_cast<size_t>(a.values_size());
    if (absl::StartsWith(a.name(), "beta")) {
      for (double v : a.values()) {
        any_beta = true;
        if (std::isnan(v)) nan_beta = true;
        else max_beta = std::max(max_beta, std::fabs(v));
      }
    }
    if (IsGridName(a.name())) grid += static_cast<size_t>(a.values_size());
  }
  std::set<std::string> names;
  for (const auto& [k, v] : params.strings()) names.insert(Clip(k));
  std::vector<std::string> list(names.begin(), names.end());
  if (list.size() > 16) {
    list.resize(16);
    list.push_back("...");
  }
  return absl::StrCat("params sha256 ", WireDigest(params), "; ", params.arrays_size(),
                      " arrays, ", values, " values; max |beta*| ",
                      !any_beta ? std::string("-") : nan_beta ? std::string("nan") : absl::StrCat(max_beta), "; ", grid,
                      " grid points; strings: ", list.empty() ? "none" : absl::StrJoin(list, ", "));
}

}  // namespace fedrad::site
