// Status helpers used everywhere in fedrad.
//
// Debian's Abseil (20220623) has absl::Status and absl::StatusOr but no
// status macros; these are fedrad's, used the same way in every module:
//
//   absl::StatusOr<Table> LoadTable(const std::string& path) {
//     FEDRAD_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
//     FEDRAD_RETURN_IF_ERROR(CheckHeader(text));
//     return ParseTable(text);
//   }
//
// Codes mean one thing each (STYLE.md): InvalidArgument bad input,
// FailedPrecondition wrong state, DataLoss corrupt file, Unavailable
// unreachable peer, PermissionDenied policy refusal.
#ifndef FEDRAD_CORE_STATUS_H_
#define FEDRAD_CORE_STATUS_H_

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define FEDRAD_STATUS_CONCAT_INNER_(a, b) a##b
#define FEDRAD_STATUS_CONCAT_(a, b) FEDRAD_STATUS_CONCAT_INNER_(a, b)

// Evaluates `expr` (an absl::Status); returns it from the enclosing function
// if it is not OK.
#define FEDRAD_RETURN_IF_ERROR(expr)                                   \
  do {                                                                 \
    ::absl::Status fedrad_status_ = (expr);                            \
    if (!fedrad_status_.ok()) return fedrad_status_;                   \
  } while (false)

// Evaluates `rexpr` (an absl::StatusOr<T>); on error returns its status from
// the enclosing function, otherwise moves the value into `lhs`, which may be
// a declaration (`auto x`) or an existing variable.
#define FEDRAD_ASSIGN_OR_RETURN(lhs, rexpr)                                  \
  FEDRAD_ASSIGN_OR_RETURN_IMPL_(                                             \
      FEDRAD_STATUS_CONCAT_(fedrad_statusor_, __LINE__), lhs, rexpr)

#define FEDRAD_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, rexpr) \
  auto statusor = (rexpr);                                  \
  if (!statusor.ok()) return std::move(statusor).status();  \
  lhs = std::move(statusor).value()

namespace fedrad {

// Returns `status` with `context: ` prepended to its message; OK stays OK.
absl::Status Annotate(const absl::Status& status, absl::string_view context);

}  // namespace fedrad

#endif  // FEDRAD_CORE_STATUS_H_
