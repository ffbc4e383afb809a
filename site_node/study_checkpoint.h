// Site checkpoints: a study's working state at a site (its working table and
// key/value state, e.g. the ComBat estimates fitted so far) saved on the
// site's own disk after every completed study step, so that a restarted site
// or a restarted coordinator resumes from the last completed step. Nothing of
// it leaves the site. Layout, per study:
//
//   OUTPUT_DIR/<study>/.state/checkpoints/step-0003/table.csv   the working table
//   OUTPUT_DIR/<study>/.state/checkpoints/step-0003/state.txt   key/value state
//                                               (base64 key, space, base64 value per line)
//   OUTPUT_DIR/<study>/.state/checkpoints/step-0003/step.txt    the step's name
//
// Everything study-internal lives under OUTPUT_DIR/<study>/.state/, which no
// task-chosen file name can reach (plain names never start with '.'): the
// checkpoints, the release ledger (release-ledger.tsv), and the crash-loop
// guard's markers (running, interrupted, crashed, failed; see below).
//
// A checkpoint folder is written under a temporary name and renamed when
// complete, so a site killed while writing leaves no half checkpoint.
//
// Between step checkpoints, a task that changes the study's table or state
// (e.g. combat.fit, which harmonises the table) is followed by a *working*
// snapshot, written before its result is sent:
//
//   OUTPUT_DIR/<study>/.state/checkpoints/working/{table.csv,state.txt,answered.txt}
//
// answered.txt holds the results of such tasks since the last checkpoint
// (base64 task id, space, base64 serialized TaskResult), so that a site
// killed after the change but before the coordinator got the answer sends
// the stored answer when the task comes again, instead of applying the
// change twice. study.checkpoint and study.restore remove it.
//
// A site process that receives a task for a study it has no state for
// loads the working snapshot if there is one, else the latest step
// checkpoint. Contract for task handlers: a task's answer depends only on
// the study's state and its own params (so re-running an unanswered task
// after a restart gives the same answer).
//
// Task kinds (registered by RegisterStudyTasks; always accepted by the
// privacy guard, whatever the policy's accepted_task_kinds, since they
// release nothing but the row count "n"):
//   study.checkpoint  params: "step" (index), strings "step_name". Writes the
//                     checkpoint of that step.
//   study.restore     params: "step" (index of the last completed step; -1:
//                     none). Sets the study's state to that checkpoint (-1:
//                     the data table as loaded, empty state) and removes
//                     checkpoints of later steps.
//
//   fedrad::site::TaskRegistry registry;
//   fedrad::site::RegisterStudyTasks(registry);
//   int latest = fedrad::site::LatestCheckpoint(study_output_dir);   // -1: none
#ifndef FEDRAD_SITE_NODE_STUDY_CHECKPOINT_H_
#define FEDRAD_SITE_NODE_STUDY_CHECKPOINT_H_

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/csv.h"
#include "site_node/task_registry.h"

namespace fedrad::site {

// Writes the checkpoint of `step` under study_dir/checkpoints (replacing one
// of the same step).
absl::Status WriteCheckpoint(const std::string& study_dir, int step, const std::string& step_name,
                             const CsvTable& table, const std::map<std::string, std::string>& kv);
// Loads the checkpoint of `step`; `source` names the table in later errors
// (the site's data file). NotFound naming the folder if there is none.
absl::Status LoadCheckpoint(const std::string& study_dir, int step, const std::string& source,
                            CsvTable* table, std::map<std::string, std::string>* kv);
// The highest step with a checkpoint, or -1.
int LatestCheckpoint(const std::string& study_dir);
// Removes the checkpoints of steps after `step`.
void RemoveCheckpointsAfter(const std::string& study_dir, int step);

// The working snapshot (see above). `answered`: task id -> serialized
// TaskResult.
absl::Status WriteWorkingState(const std::string& study_dir, const CsvTable& table,
                               const std::map<std::string, std::string>& kv,
                               const std::map<std::string, std::string>& answered);
bool HasWorkingState(const std::string& study_dir);
absl::Status LoadWorkingState(const std::string& study_dir, const std::string& source,
                              CsvTable* table, std::map<std::string, std::string>* kv,
                              std::map<std::string, std::string>* answered);
void RemoveWorkingState(const std::string& study_dir);

void RegisterStudyTasks(TaskRegistry& registry);

// ---- Study-internal state locations -------------------------------------------
// OUTPUT_DIR/<study>/.state: `study_dir` is OUTPUT_DIR/<study>.
std::string StudyStateDir(const std::string& study_dir);
// The study's release ledger (site_rules.h: ReleaseLedger).
std::string LedgerPath(const std::string& study_dir);

// ---- The crash-loop guard ------------------------------------------------------
// The site writes .state/running ("task_id<TAB>kind") before a task's handler
// runs and removes it after. A fatal signal in the worker writes
// .state/crashed (site_worker.cc). At start-up, ScanInterruptedStudies finds the
// studies with a leftover `running`: one whose worker crashed, or that was
// already interrupted once before (.state/interrupted), is stopped at this
// site (.state/failed); otherwise the interruption is noted (a site killed
// mid-task, e.g. by its operator, resumes once). `fedrad-site reset-study`
// (ResetStudy) removes the markers.
absl::Status WriteRunningMarker(const std::string& study_dir, const std::string& task_id,
                                const std::string& kind);
void RemoveRunningMarker(const std::string& study_dir);
std::string RunningMarkerPath(const std::string& study_dir);
std::string CrashedMarkerPath(const std::string& study_dir);

struct StudyStop {
  std::string task_id, kind;  // the task the worker died on
};
// The stop recorded for the study, if it is stopped at this site.
std::optional<StudyStop> StudyStopped(const std::string& study_dir);

struct InterruptedStudy {
  std::string study_id, task_id, kind;
  bool crashed = false;  // a fatal signal was caught
  bool failed = false;   // the study is now stopped at this site
};
// Scans OUTPUT_DIR's study folders (see above); returns what it found.
std::vector<InterruptedStudy> ScanInterruptedStudies(const std::string& output_dir);
// Removes the study's crash-loop markers; true if there were any.
absl::StatusOr<bool> ResetStudy(const std::string& output_dir, const std::string& study_id);

}  // namespace fedrad::site

#endif  // FEDRAD_SITE_NODE_STUDY_CHECKPOINT_H_
