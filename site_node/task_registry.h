// The site's task kinds: what a coordinator may ask a site to compute, and
// what each kind may release. Every analysis module registers its kinds in
// its own file (site_node/tasks_<module>.cc) through RegisterBuiltinTasks
// (site_node/builtin_tasks.h). A kind defined in proto/task_kinds.h (its
// params, outputs and their disclosure rules, shared with the coordinator
// and rounds/) is registered with DefinedKind, which takes the description
// and the releasable names from that one definition:
//
//   namespace ds = fedrad::kinds::debug_sleep;
//   registry.Register(DefinedKind(ds::kName, [](TaskContext& ctx)
//                                                -> absl::StatusOr<TaskOutput> {
//     TaskOutput out;
//     out.n_contributing = ctx.table->num_rows();
//     fedrad::kinds::Put(&out.payload, ds::kN, out.n_contributing);
//     return out;
//   }));
//
// A handler returns InvalidArgument for bad data (naming file, row, column
// via core/csv.h), FailedPrecondition when a prerequisite step has not run.
// The privacy guard (privacy_guard.h) then checks the output before it
// leaves; handlers need not check k themselves but must set n_contributing
// honestly (the number of patients the released aggregates are computed
// over; the smallest cell when a result holds several groups).
#ifndef FEDRAD_SITE_NODE_TASK_REGISTRY_H_
#define FEDRAD_SITE_NODE_TASK_REGISTRY_H_

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/csv.h"
#include "proto/fedrad.pb.h"
#include "proto/payload.h"
#include "proto/study.pb.h"
#include "proto/task_kinds.h"
#include "site_node/site_rules.h"

namespace fedrad::rounds {
class Verifier;
}  // namespace fedrad::rounds

namespace fedrad::site {

struct TaskContext {
  std::string site_id;                        // from the site's certificate
  const fedrad::v1::Task* task = nullptr;     // kind, params, study
  CsvTable* table = nullptr;                  // the site's working table for this study (mutable)
  std::string output_dir;                     // the site's local output folder for this study (exists)
  int min_cell_count = 10;                    // k from the site's policy
  std::map<std::string, std::string>* state = nullptr;  // per-study key/value store kept between tasks
  // The study's id column ("patient_id" unless the study or site says otherwise).
  std::string id_column = "patient_id";
  // The folder of the site's data CSV: relative image/mask paths in the table
  // resolve against it (features.extract).
  std::string data_dir;
  // Feature-extraction worker threads (SiteConfig.extraction_threads; 0 =
  // hardware concurrency).
  int extraction_threads = 0;
  // True once shutdown was requested: long handlers should return early.
  std::function<bool()> cancelled = [] { return false; };
  // The site's data table as loaded at start (read-only; study.restore).
  const CsvTable* data_table = nullptr;
  // The federation CA (and CRL) that signed round messages are checked
  // against, and the site's own certificate and key that sign its round
  // messages (site_node/secure_agg.h). Empty in insecure test mode.
  std::string ca_cert_path;
  std::string crl_path;
  std::string cert_path;
  std::string key_path;
  // Verifiable rounds (site_node/verify_rounds.h): checks signed round
  // messages against the study CA, caching what it verified. The daemon
  // always sets it; a handler-level test harness that leaves it null runs
  // the handlers without transcript checks.
  rounds::Verifier* round_verifier = nullptr;
  // The signed messages the site holds for the study from earlier tasks
  // (site_node/verify_rounds.h); the task builds on them and on its own
  // Task.transcript. Null: only the task's.
  const fedrad::v1::Transcript* transcript = nullptr;
  // Set to true once the handler verified that transcript (only then does
  // the daemon keep the task's messages for later tasks).
  bool* transcript_verified = nullptr;
};

// A site's signed contribution to a verifiable round (proto/rounds.proto):
// which round, what the site computed at, and which released arrays are the
// ones summed over sites. The daemon builds the RoundMessage from the
// released payload after the privacy guard (so nothing is signed that was
// not released), signs it with the site's key, audits it and sends it in
// TaskResult.signed.
struct RoundContribution {
  std::string round_id;
  std::vector<std::string> summed;  // names of released arrays, in order
  fedrad::v1::Payload inputs;       // what the site computed at
};

struct TaskOutput {
  int64_t n_contributing = 0;
  fedrad::v1::Payload payload;
  // The patients each released aggregate rests on, by quantity; the privacy
  // guard checks them against the study's ledger (no two answers about the
  // same quantity 1..k-1 patients apart) and records them once released.
  std::vector<Population> populations;
  // A ready round message (proto/rounds.proto) the site signs and sends in
  // TaskResult.signed: secure aggregation's adverts, shares, reveals and
  // masked contributions (site_node/secure_agg.h). Takes precedence over
  // `round`: one RoundMessage per task.
  std::optional<fedrad::v1::RoundMessage> round_message;
  // Added to the task's audit record (e.g. what a secure round revealed).
  std::string audit_note;
  // Set by kinds whose result others build on (models.prepare, derivatives,
  // fit, baseline, lp_summary, combat.moments, combat.residuals); the daemon
  // builds the plain Contribution from the released payload. In a secure
  // round the masked contribution (round_message) is sent instead.
  std::optional<RoundContribution> round;
};

struct TaskKind {
  std::string kind;                           // e.g. "combat.moments"
  std::string description;
  // Names the result may hold, arrays and text fields alike; "prefix*"
  // matches a prefix.
  std::vector<std::string> releasable_arrays;
  std::function<absl::StatusOr<TaskOutput>(TaskContext&)> handler;
  // Test-only kinds run only when the site policy enables debug tasks.
  bool debug_only = false;
  // Built-in study bookkeeping (study.checkpoint, study.restore): accepted
  // whatever the policy's accepted_task_kinds; releases nothing patient-level.
  bool always_accepted = false;
  // The kind's one definition (proto/task_kinds.h), when it has one: the
  // privacy guard also checks each released name's type against it.
  const kinds::Kind* definition = nullptr;
};

// The kind `name` as proto/task_kinds.h defines it (description,
// releasable names, debug_only), run by `handler`. `name` must be defined
// there (a programming error otherwise: the process aborts).
TaskKind DefinedKind(const char* name,
                     std::function<absl::StatusOr<TaskOutput>(TaskContext&)> handler);

// The site's patient ids of ctx.table, row by row (the site's own id
// column), for TaskOutput::populations. FailedPrecondition (not public: a
// site configuration error) when the table has no such column.
absl::StatusOr<std::vector<std::string>> PatientIds(const TaskContext& ctx);

// Not thread safe for Register; Find is safe once registration is over
// (the site registers everything before it connects).
class TaskRegistry {
 public:
  // Adds `kind`, replacing a kind of the same name.
  void Register(TaskKind kind);
  // The kind called `name`, or nullptr. The pointer stays valid while the
  // registry lives and nothing else is registered.
  const TaskKind* Find(const std::string& name) const;
  // Every registered name, sorted.
  std::vector<std::string> Kinds() const;

 private:
  std::map<std::string, TaskKind> kinds_;
};

// True if `name` matches `pattern`: equal, or pattern ends with '*' and name
// starts with the rest.
bool MatchesPattern(const std::string& pattern, const std::string& name);

}  // namespace fedrad::site

#endif  // FEDRAD_SITE_NODE_TASK_REGISTRY_H_
