#include "tests/fuzz/site_harness.h"

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "coordinator/analyses.h"
#include "core/status.h"
#include "proto/textproto.h"
#include "site_node/builtin_tasks.h"
#include "site_node/secure_agg.h"
#include "site_node/study_checkpoint.h"
#include "site_node/study_policy.h"
#include "tests/fuzz/fuzz_util.h"

namespace fedrad::fuzz {

namespace {
[[noreturn]] void Die(const std::string& what, const absl::Status& status) {
  std::cerr << "fuzz harness: " << what << ": " << status << "\n";
  std::abort();
}
}  // namespace

const v1::Study& FuzzStudy() {
  static const v1::Study* study = [] {
    auto* s = new v1::Study;
    const std::string path = std::string(FEDRAD_SOURCE_DIR) + "/tests/fuzz/fixtures/study.textproto";
    if (absl::Status st = ReadTextProto(path, s); !st.ok()) Die(path, st);
    return s;
  }();
  return *study;
}

const std::map<std::string, CsvTable>& FuzzTables() {
  static const auto* tables = [] {
    auto* t = new std::map<std::string, CsvTable>;
    for (const char* site : {"A", "B", "C"}) {
      const std::string path =
          absl::StrCat(FEDRAD_SOURCE_DIR, "/models/testdata/site_", site, ".csv");
      absl::StatusOr<CsvTable> table = ReadCsv(path);
      if (!table.ok()) Die(path, table.status());
      t->emplace(site, *std::move(table));
    }
    return t;
  }();
  return *tables;
}

FuzzSite::FuzzSite(std::string site_id, CsvTable t)
    : table(t),
      site_id_(std::move(site_id)),
      data_table_(std::move(t)),
      guard_(site::GuardPolicy{kSiteMinCellCount, {}, false}) {
  site::RegisterBuiltinTasks(registry_);
  site::RegisterStudyTasks(registry_);
}

// SiteNode::Impl::Gate without the approval and the crash-loop guard
// (site_harness.h says why).
absl::Status FuzzSite::Gate(const v1::Task& task, const site::TaskKind** kind) const {
  *kind = nullptr;
  FEDRAD_RETURN_IF_ERROR(site::CheckTaskSize(task));
  FEDRAD_RETURN_IF_ERROR(site::CheckPlainName(task.study_id(), "study_id"));
  *kind = registry_.Find(task.kind());
  if (*kind == nullptr) return absl::UnimplementedError("no such task kind");
  FEDRAD_RETURN_IF_ERROR(guard_.CheckAccepted(**kind));
  FEDRAD_RETURN_IF_ERROR(site::CheckKindNeeded(task.study(), task.kind(), false));
  FEDRAD_RETURN_IF_ERROR(site::CheckSpecPatterns(task.study()));
  FEDRAD_RETURN_IF_ERROR(site::CheckSpecRoles(task.study(), "patient_id"));
  return absl::OkStatus();
}

v1::TaskResult FuzzSite::Run(const v1::Task& task) {
  v1::TaskResult result;
  result.set_task_id(task.task_id());
  result.set_study_id(task.study_id());
  result.set_kind(task.kind());
  auto fail = [&](const absl::Status& status) {
    const absl::Status wire = site::ForTheWire(status, task.kind());
    result.set_status_code(static_cast<int>(wire.code()));
    result.set_status_message(std::string(wire.message()));
    result.clear_payload();
    result.set_n_contributing(0);
    return result;
  };
  const site::TaskKind* kind = nullptr;
  if (absl::Status gate = Gate(task, &kind); !gate.ok()) return fail(gate);

  const std::string output_dir =
      (std::filesystem::path(ScratchDir()) / site_id_ / task.study_id()).string();
  std::error_code ec;
  std::filesystem::create_directories(site::StudyStateDir(output_dir), ec);
  CsvTable table_before = table;
  std::map<std::string, std::string> kv_before = kv;
  // The daemon's deadline is the policy's max_task_seconds; here
  // task_deadline (site_harness.h).
  const auto deadline = std::chrono::steady_clock::now() + task_deadline;

  site::TaskContext ctx;
  ctx.site_id = site_id_;
  ctx.task = &task;
  ctx.table = &table;
  ctx.output_dir = output_dir;
  ctx.min_cell_count = guard_.EffectiveMinCellCount(task.study().min_cell_count());
  ctx.state = &kv;
  ctx.id_column = "patient_id";
  ctx.cancelled = [deadline] { return std::chrono::steady_clock::now() >= deadline; };
  ctx.data_table = &data_table_;
  ctx.data_dir = ScratchDir();
  ctx.extraction_threads = 1;

  absl::StatusOr<site::TaskOutput> output;
  try {
    output = kind->handler(ctx);
  } catch (const std::exception& e) {
    output = absl::InternalError(absl::StrCat("task handler threw: ", e.what()));
  }
  absl::Status status = output.status();
  if (status.ok()) {
    status = guard_.CheckRelease(*kind, *output, task.study().min_cell_count(), &ledger);
  }
  if (status.ok() && site::IsSecureRound(task)) status = site::MaskOutput(ctx, &*output);
  if (!status.ok()) {
    table = std::move(table_before);
    kv = std::move(kv_before);
    return fail(status);
  }
  ledger.Record(output->populations);
  result.set_status_code(0);
  result.set_n_contributing(output->n_contributing);
  *result.mutable_payload() = std::move(output->payload);
  return result;
}

Federation::Federation() {
  for (const auto& [name, table] : FuzzTables()) {
    sites.emplace(name, std::make_unique<FuzzSite>(name, table));
  }
}

std::map<std::string, absl::StatusOr<v1::TaskResult>> Federation::Exchange(
    const std::map<std::string, v1::Task>& tasks_by_site, double) {
  std::map<std::string, absl::StatusOr<v1::TaskResult>> out;
  for (const auto& [site, task] : tasks_by_site) {
    v1::TaskResult result = sites.at(site)->Run(task);
    log.emplace_back(task, result);
    out.emplace(site, std::move(result));
  }
  return out;
}

absl::Status Federation::RunStudy() {
  for (auto& [name, site] : sites) site->task_deadline = std::chrono::minutes(2);
  coordinator::StudyContext ctx("fuzz", FuzzStudy(), {"A", "B", "C"}, this);
  absl::Status status = coordinator::RunAnalyses(ctx);
  results = ctx.results();
  for (auto& [name, site] : sites) site->task_deadline = std::chrono::seconds(2);
  return status;
}

}  // namespace fedrad::fuzz
