// The coordinator's durable study store: one SQLite database,
// DATA_DIR/coordinator.db, holding every study's spec, state and progress so
// that a coordinator killed mid-study resumes it from the last completed step
// when it starts again (docs/study-coordinator.md, "Coordinator restarts").
//
//   FEDRAD_ASSIGN_OR_RETURN(auto store, StudyStore::Open(data_dir + "/coordinator.db"));
//   StoredStudy s;
//   s.id = "crlm-20261127T030000-1"; s.spec_text = ToTextProto(spec); s.state = "RUNNING";
//   FEDRAD_RETURN_IF_ERROR(store->Put(s));          // after every completed step
//   FEDRAD_ASSIGN_OR_RETURN(auto all, store->List());  // at start: resume RUNNING ones
//
// Schema (table `studies`, one row per study; `schema_version` holds 1):
//   id TEXT PRIMARY KEY      the study id
//   name TEXT                Study.name
//   spec TEXT                the study spec, text-format fedrad.v1.Study
//   state TEXT               PENDING, RUNNING, SUCCEEDED, FAILED, CANCELLED
//   message TEXT             the last status message
//   next_step INTEGER        index (in EnabledSteps order) of the next step to run;
//                            steps before it completed and were checkpointed at the sites
//   results_json TEXT        results.json so far (the whole file once the study ended)
//   excluded_sites TEXT      JSON object site -> reason
//   sites TEXT               JSON array: the sites the study started with
//   rounds INTEGER           task rounds sent so far (continues the task numbering)
//   epoch INTEGER            0 on submit; +1 each time a coordinator resumes the study
//                            (part of every task id, so ids never repeat across runs)
//   submitted_at, updated_at TEXT  UTC, ISO 8601
//
// Writes are transactions (a SIGKILL leaves the last committed row). Thread
// safe: one connection behind a mutex.
#ifndef FEDRAD_COORDINATOR_STUDY_STORE_H_
#define FEDRAD_COORDINATOR_STUDY_STORE_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

struct sqlite3;

namespace fedrad::coordinator {

struct StoredStudy {
  std::string id;
  std::string name;
  std::string spec_text;
  std::string state;
  std::string message;
  int next_step = 0;
  std::string results_json = "{}";
  std::map<std::string, std::string> excluded_sites;
  std::vector<std::string> sites;
  int64_t rounds = 0;
  int64_t epoch = 0;
  std::string submitted_at;  // set by Put on first insert when empty
  std::string updated_at;    // set by Put
};

class StudyStore {
 public:
  // Opens (creating if needed) the database at `path`. FailedPrecondition
  // naming the file if it cannot be opened or is not a fedrad study store.
  static absl::StatusOr<std::unique_ptr<StudyStore>> Open(const std::string& path);
  ~StudyStore();
  StudyStore(const StudyStore&) = delete;
  StudyStore& operator=(const StudyStore&) = delete;

  // Inserts or replaces the study's row (one transaction).
  absl::Status Put(const StoredStudy& study);
  // NotFound if there is no study `id`.
  absl::StatusOr<StoredStudy> Get(const std::string& id) const;
  // Every study, by id.
  absl::StatusOr<std::vector<StoredStudy>> List() const;

  const std::string& path() const { return path_; }

 private:
  StudyStore(std::string path, sqlite3* db) : path_(std::move(path)), db_(db) {}
  absl::Status Exec(const std::string& sql) const;

  const std::string path_;
  sqlite3* db_;
  mutable absl::Mutex mu_;
};

}  // namespace fedrad::coordinator

#endif  // FEDRAD_COORDINATOR_STUDY_STORE_H_
