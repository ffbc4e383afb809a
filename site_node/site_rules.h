// The rules a site applies to every task, whatever its kind (docs/privacy.md):
// what an error may say when it leaves the site, which names may become
// paths, how large a task may be, and the per-study ledger that stops
// differencing. The site trusts nothing it receives: these are the shared
// tools each task handler and the site daemon use to hold that line.
//
//   // A handler refusing in words that may leave the site:
//   return PublicError(absl::StatusCode::kPermissionDenied,
//                      "models.baseline: grid: refused (rule grid-lattice)");
//   // The daemon, before a failed result leaves:
//   result.set_status_message(ForTheWire(status, task.kind()).message());
//
// Thread safety: the free functions are; a ReleaseLedger is not (one per
// study, used by the site's worker for that study).
#ifndef FEDRAD_SITE_NODE_SITE_RULES_H_
#define FEDRAD_SITE_NODE_SITE_RULES_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace fedrad::site {

// ---- Bounded work: caps on what a task may carry ----------------------------
// Longest string parameter (and longest string field of a study spec).
inline constexpr size_t kMaxParamStringBytes = 64 * 1024;
// Longest name (column, model, study id, file name, suffix).
inline constexpr size_t kMaxNameBytes = 128;
// Most values in one parameter array (a 1000 x 1000 matrix fits).
inline constexpr size_t kMaxParamArrayValues = 1'000'000;
// Most points of any grid (time grid, thresholds) a site evaluates.
inline constexpr size_t kMaxGridPoints = 4096;
// Longest harmonisation output suffix (it becomes part of column names).
inline constexpr size_t kMaxOutputSuffixBytes = 64;
// Most bootstrap replicates a site computes for one validation.
inline constexpr int kMaxBootstrapReplicates = 2000;

// ---- Errors that leave the site ---------------------------------------------
// A status whose message may leave the site as it is. Use it for refusals and
// errors whose text names only fields, rules and names from the approved spec
// (never a cell value, a count below k, a path or a file line).
absl::Status PublicError(absl::StatusCode code, absl::string_view message);
// True if `status` was made by PublicError (or is OK).
bool IsPublic(const absl::Status& status);
// What leaves the site for a failed task: `status` unchanged when public;
// otherwise the same code with a fixed text naming only the task kind (the
// full reason stays in the site's log and audit record).
absl::Status ForTheWire(const absl::Status& status, absl::string_view kind);

// ---- Names that may become paths --------------------------------------------
// A plain name: 1..kMaxNameBytes of [A-Za-z0-9._-], not starting with '.'
// (so never ".", ".." or a hidden file), no separator.
bool IsPlainName(absl::string_view name);
// OK for a plain name; otherwise a public InvalidArgument naming `field`.
absl::Status CheckPlainName(absl::string_view name, absl::string_view field);

// ---- The per-study ledger (no differencing) ---------------------------------
// The patients one released aggregate rests on, and the quantities it is
// about (column names, e.g. {"age"} for a mean of age, or a model's outcome
// and covariate columns for its derivatives). Two answers about the same
// quantity must rest on the same patients or on sets that differ by at least
// k patients; otherwise their difference would describe fewer than k.
struct Population {
  std::vector<std::string> quantities;
  std::vector<std::string> ids;  // the site's patient ids (any order)
};

class ReleaseLedger {
 public:
  // The ledger kept in `path`; an absent file is an empty ledger. DataLoss
  // when the file is corrupt.
  static absl::StatusOr<ReleaseLedger> Load(const std::string& path);
  // Writes the ledger to `path` (atomically: temp file, then rename).
  absl::Status Save(const std::string& path) const;

  // OK if releasing `populations` keeps the rule for k: for each quantity,
  // every population recorded under it so far is the same set or differs
  // from the new one by at least k patients (symmetric difference). A
  // refusal is public and names the quantity, never a count.
  absl::Status Check(const std::vector<Population>& populations, int k) const;
  // Records `populations` as released.
  void Record(const std::vector<Population>& populations);
  // Number of distinct populations recorded (all quantities).
  size_t size() const;

 private:
  // quantity -> distinct populations, each the sorted 64-bit digests of the
  // patients' ids (the ids themselves are not written to the ledger file).
  std::map<std::string, std::vector<std::vector<uint64_t>>> by_quantity_;
};

}  // namespace fedrad::site

#endif  // FEDRAD_SITE_NODE_SITE_RULES_H_
