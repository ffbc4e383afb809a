#include "site_node/study_checkpoint.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <optional>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/strip.h"
#include "core/csv.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "core/log.h"
#include "core/status.h"
#include "proto/payload.h"

namespace fedrad::site {
namespace {

namespace fs = std::filesystem;

fs::path CheckpointRoot(const std::string& study_dir) {
  return fs::path(StudyStateDir(study_dir)) / "checkpoints";
}

fs::path StepDir(const std::string& study_dir, int step) {
  return CheckpointRoot(study_dir) / absl::StrFormat("step-%04d", step);
}

fs::path WorkingDir(const std::string& study_dir) { return CheckpointRoot(study_dir) / "working"; }

std::string EncodeMap(const std::map<std::string, std::string>& m) {
  std::string out;
  for (const auto& [key, value] : m) {
    absl::StrAppend(&out, absl::Base64Escape(key), " ", absl::Base64Escape(value), "\n");
  }
  return out;
}

absl::StatusOr<std::map<std::string, std::string>> DecodeMapFile(const fs::path& path) {
  FEDRAD_ASSIGN_OR_RETURN(std::string text, ReadFileToString(path.string()));
  std::map<std::string, std::string> values;
  int line_no = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    ++line_no;
    std::vector<std::string> parts = absl::StrSplit(line, ' ');
    std::string key, value;
    if (parts.size() != 2 || !absl::Base64Unescape(parts[0], &key) ||
        !absl::Base64Unescape(parts[1], &value)) {
      return absl::DataLossError(absl::StrCat(path.string(), ": line ", line_no, " is damaged"));
    }
    values[key] = value;
  }
  return values;
}

// Writes table.csv, state.txt and the extra files into `final_dir`, via a
// temporary folder renamed at the end.
absl::Status WriteSnapshot(const fs::path& final_dir, const CsvTable& table,
                           const std::map<std::string, std::string>& kv,
                           const std::map<std::string, std::string>& extra_files) {
  fs::path tmp = final_dir.string() + ".tmp";
  std::error_code ec;
  fs::remove_all(tmp, ec);
  fs::create_directories(tmp, ec);
  if (ec) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot create the checkpoint folder ", tmp.string(), ": ", ec.message()));
  }
  FEDRAD_RETURN_IF_ERROR(WriteCsv((tmp / "table.csv").string(), table));
  FEDRAD_RETURN_IF_ERROR(WriteStringToFile((tmp / "state.txt").string(), EncodeMap(kv)));
  for (const auto& [name, text] : extra_files) {
    FEDRAD_RETURN_IF_ERROR(WriteStringToFile((tmp / name).string(), text));
  }
  fs::remove_all(final_dir, ec);
  fs::rename(tmp, final_dir, ec);
  if (ec) {
    return absl::FailedPreconditionError(absl::StrCat("cannot rename ", tmp.string(), " to ",
                                                      final_dir.string(), ": ", ec.message()));
  }
  return absl::OkStatus();
}

absl::Status LoadSnapshot(const fs::path& dir, const std::string& source, CsvTable* table,
                          std::map<std::string, std::string>* kv) {
  FEDRAD_ASSIGN_OR_RETURN(std::string csv, ReadFileToString((dir / "table.csv").string()));
  FEDRAD_ASSIGN_OR_RETURN(CsvTable loaded, ParseCsv(csv, source));
  FEDRAD_ASSIGN_OR_RETURN(auto values, DecodeMapFile(dir / "state.txt"));
  *table = std::move(loaded);
  *kv = std::move(values);
  return absl::OkStatus();
}

// Step index of a folder called step-NNNN, or -1.
int StepOf(const fs::path& dir) {
  std::string name = dir.filename().string();
  int step = -1;
  if (name.size() == 9 && name.rfind("step-", 0) == 0 && absl::SimpleAtoi(name.substr(5), &step)) {
    return step;
  }
  return -1;
}

absl::StatusOr<int> StepParam(const TaskContext& ctx) {
  auto step = kinds::Get(ctx.task->params(), kinds::study_task::kStep);
  if (!step.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(ctx.task->kind(), ": the task has no 'step' parameter"));
  }
  return static_cast<int>(*step);
}

TaskOutput Ack(const TaskContext& ctx) {
  TaskOutput out;
  out.n_contributing = static_cast<int64_t>(ctx.table->num_rows());
  kinds::Put(&out.payload, kinds::study_task::kN, static_cast<double>(out.n_contributing));
  return out;
}

}  // namespace

absl::Status WriteCheckpoint(const std::string& study_dir, int step, const std::string& step_name,
                             const CsvTable& table, const std::map<std::string, std::string>& kv) {
  return WriteSnapshot(StepDir(study_dir, step), table, kv, {{"step.txt", step_name + "\n"}});
}

absl::Status LoadCheckpoint(const std::string& study_dir, int step, const std::string& source,
                            CsvTable* table, std::map<std::string, std::string>* kv) {
  fs::path dir = StepDir(study_dir, step);
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    return absl::NotFoundError(absl::StrCat("no checkpoint of step ", step, " at ", dir.string()));
  }
  return LoadSnapshot(dir, source, table, kv);
}

absl::Status WriteWorkingState(const std::string& study_dir, const CsvTable& table,
                               const std::map<std::string, std::string>& kv,
                               const std::map<std::string, std::string>& answered) {
  return WriteSnapshot(WorkingDir(study_dir), table, kv, {{"answered.txt", EncodeMap(answered)}});
}

bool HasWorkingState(const std::string& study_dir) {
  std::error_code ec;
  return fs::is_directory(WorkingDir(study_dir), ec);
}

absl::Status LoadWorkingState(const std::string& study_dir, const std::string& source,
                              CsvTable* table, std::map<std::string, std::string>* kv,
                              std::map<std::string, std::string>* answered) {
  const fs::path dir = WorkingDir(study_dir);
  FEDRAD_ASSIGN_OR_RETURN(auto done, DecodeMapFile(dir / "answered.txt"));
  FEDRAD_RETURN_IF_ERROR(LoadSnapshot(dir, source, table, kv));
  *answered = std::move(done);
  return absl::OkStatus();
}

void RemoveWorkingState(const std::string& study_dir) {
  std::error_code ec;
  fs::remove_all(WorkingDir(study_dir), ec);
}

int LatestCheckpoint(const std::string& study_dir) {
  int latest = -1;
  std::error_code ec;
  for (fs::directory_iterator it(CheckpointRoot(study_dir), ec), end; !ec && it != end;
       it.increment(ec)) {
    if (it->is_directory()) latest = std::max(latest, StepOf(it->path()));
  }
  return latest;
}

void RemoveCheckpointsAfter(const std::string& study_dir, int step) {
  std::error_code ec;
  std::vector<fs::path> doomed;
  for (fs::directory_iterator it(CheckpointRoot(study_dir), ec), end; !ec && it != end;
       it.increment(ec)) {
    if (StepOf(it->path()) > step) doomed.push_back(it->path());
  }
  for (const auto& p : doomed) fs::remove_all(p, ec);
}

void RegisterStudyTasks(TaskRegistry& registry) {
  TaskKind checkpoint = DefinedKind(kinds::study_checkpoint::kName, nullptr);
  checkpoint.always_accepted = true;
  checkpoint.handler = [](TaskContext& ctx) -> absl::StatusOr<TaskOutput> {
    FEDRAD_ASSIGN_OR_RETURN(int step, StepParam(ctx));
    if (step < 0) return absl::InvalidArgumentError("study.checkpoint: step must be >= 0");
    const std::string name = kinds::Get(ctx.task->params(), kinds::study_task::kStepName);
    FEDRAD_RETURN_IF_ERROR(WriteCheckpoint(ctx.output_dir, step, name, *ctx.table, *ctx.state));
    RemoveWorkingState(ctx.output_dir);
    FEDRAD_LOG(INFO) << "study " << ctx.task->study_id() << ": checkpoint of step " << step << " ('"
                     << name << "') written to " << StepDir(ctx.output_dir, step).string();
    return Ack(ctx);
  };
  registry.Register(std::move(checkpoint));

  TaskKind restore = DefinedKind(kinds::study_restore::kName, nullptr);
  restore.always_accepted = true;
  restore.handler = [](TaskContext& ctx) -> absl::StatusOr<TaskOutput> {
    FEDRAD_ASSIGN_OR_RETURN(int step, StepParam(ctx));
    const std::string source = ctx.data_table != nullptr ? ctx.data_table->source() : "";
    if (step < 0) {
      if (ctx.data_table == nullptr) return absl::InternalError("study.restore: no data table");
      *ctx.table = *ctx.data_table;
      ctx.state->clear();
    } else {
      FEDRAD_RETURN_IF_ERROR(LoadCheckpoint(ctx.output_dir, step, source, ctx.table, ctx.state));
    }
    RemoveCheckpointsAfter(ctx.output_dir, step);
    RemoveWorkingState(ctx.output_dir);
    FEDRAD_LOG(INFO) << "study " << ctx.task->study_id() << ": state restored "
                     << (step < 0 ? std::string("to the data table as loaded")
                                  : absl::StrCat("from the checkpoint of step ", step));
    return Ack(ctx);
  };
  registry.Register(std::move(restore));
}

std::string StudyStateDir(const std::string& study_dir) {
  return (fs::path(study_dir) / ".state").string();
}

std::string LedgerPath(const std::string& study_dir) {
  return (fs::path(StudyStateDir(study_dir)) / "release-ledger.tsv").string();
}

namespace {

fs::path StateFile(const std::string& study_dir, const char* name) {
  return fs::path(StudyStateDir(study_dir)) / name;
}

// "task_id\tkind\n" (both clipped to plain text by the caller's checks).
bool ReadMarker(const fs::path& path, std::string* task_id, std::string* kind) {
  auto text = ReadFileToString(path.string());
  if (!text.ok()) return false;
  std::vector<std::string> parts = absl::StrSplit(*text, absl::MaxSplits('\t', 1));
  *task_id = parts.empty() ? "" : parts[0];
  *kind = parts.size() > 1 ? std::string(absl::StripTrailingAsciiWhitespace(parts[1])) : "";
  return true;
}

}  // namespace

absl::Status WriteRunningMarker(const std::string& study_dir, const std::string& task_id,
                                const std::string& kind) {
  // Written in place, not through a temporary file and a rename: the marker
  // is there for every task, and what counts is that it exists (a torn
  // line only shortens the task named in the report).
  const std::string path = StateFile(study_dir, "running").string();
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0 && errno == ENOENT) {
    std::error_code ec;
    fs::create_directories(StudyStateDir(study_dir), ec);
    fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  }
  if (fd < 0) {
    return absl::PermissionDeniedError(absl::StrCat(path, ": cannot open for writing: ",
                                                    std::strerror(errno)));
  }
  const std::string line = absl::StrCat(task_id, "\t", kind, "\n");
  const bool written = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size());
  ::close(fd);
  if (!written) return absl::DataLossError(absl::StrCat(path, ": write error"));
  return absl::OkStatus();
}

void RemoveRunningMarker(const std::string& study_dir) {
  std::error_code ec;
  fs::remove(StateFile(study_dir, "running"), ec);
}

std::string RunningMarkerPath(const std::string& study_dir) {
  return StateFile(study_dir, "running").string();
}
std::string CrashedMarkerPath(const std::string& study_dir) {
  return StateFile(study_dir, "crashed").string();
}

std::optional<StudyStop> StudyStopped(const std::string& study_dir) {
  StudyStop stop;
  if (!ReadMarker(StateFile(study_dir, "failed"), &stop.task_id, &stop.kind)) return std::nullopt;
  return stop;
}

std::vector<InterruptedStudy> ScanInterruptedStudies(const std::string& output_dir) {
  std::vector<InterruptedStudy> out;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(output_dir, ec)) {
    if (!entry.is_directory(ec)) continue;
    const std::string study_dir = entry.path().string();
    const fs::path running = StateFile(study_dir, "running");
    if (!fs::exists(running, ec)) continue;
    InterruptedStudy s;
    s.study_id = entry.path().filename().string();
    ReadMarker(running, &s.task_id, &s.kind);
    const fs::path crashed = StateFile(study_dir, "crashed");
    const fs::path strike = StateFile(study_dir, "interrupted");
    s.crashed = fs::exists(crashed, ec);
    // A worker that crashed (a fatal signal caught in the task), or a second
    // task of the study that left the worker dead: the study stops here.
    s.failed = s.crashed || fs::exists(strike, ec);
    if (s.failed) {
      WriteStringToFile(StateFile(study_dir, "failed").string(),
                        absl::StrCat(s.task_id, "\t", s.kind, "\n"))
          .IgnoreError();
    } else {
      // The first interruption (e.g. the site was killed): the study goes
      // on; a second one stops it.
      WriteStringToFile(strike.string(), absl::StrCat(s.task_id, "\t", s.kind, "\n")).IgnoreError();
    }
    fs::remove(running, ec);
    fs::remove(crashed, ec);
    out.push_back(std::move(s));
  }
  return out;
}

absl::StatusOr<bool> ResetStudy(const std::string& output_dir, const std::string& study_id) {
  const std::string study_dir = (fs::path(output_dir) / study_id).string();
  std::error_code ec;
  bool any = false;
  for (const char* name : {"failed", "interrupted", "running", "crashed"}) {
    if (fs::remove(StateFile(study_dir, name), ec)) any = true;
    if (ec) {
      return absl::FailedPreconditionError(
          absl::StrCat("cannot remove ", StateFile(study_dir, name).string(), ": ", ec.message()));
    }
  }
  return any;
}

}  // namespace fedrad::site
