#include "coordinator/study_context.h"

#include <algorithm>
#include <chrono>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/log.h"
#include "core/status.h"

namespace fedrad::coordinator {

double TaskTimeoutSeconds(const v1::Study& study) {
  double t = study.quorum().task_timeout_seconds();
  return t > 0 ? t : 120;
}

StudyContext::StudyContext(std::string study_id, v1::Study study,
                           std::vector<std::string> sites, StudyHost* host)
    : study_id_(std::move(study_id)),
      study_(std::move(study)),
      initial_sites_(std::move(sites)),
      host_(host) {
  std::sort(initial_sites_.begin(), initial_sites_.end());
  active_ = initial_sites_;
}

std::vector<std::string> StudyContext::active_sites() const { return active_; }

int StudyContext::required_sites() const {
  int min_sites = study_.quorum().min_sites();
  return min_sites > 0 ? min_sites : static_cast<int>(initial_sites_.size());
}

void StudyContext::ExcludeSite(const std::string& site, const std::string& reason) {
  auto it = std::find(active_.begin(), active_.end(), site);
  if (it == active_.end()) return;
  active_.erase(it);
  excluded_[site] = reason;
  (*results_.mutable_study()->mutable_excluded_sites())[site] = reason;
  FEDRAD_LOG(WARNING) << "study " << study_id_ << ": site " << site
                      << " excluded: " << reason;
  host_->OnSiteState(site, "excluded: " + reason);
}

absl::Status StudyContext::CheckQuorum(const std::string& kind) const {
  if (static_cast<int>(active_.size()) >= required_sites() && !active_.empty()) {
    return absl::OkStatus();
  }
  std::vector<std::string> reasons;
  for (const auto& [site, reason] : excluded_) {
    reasons.push_back(absl::StrCat(site, ": ", reason));
  }
  return absl::FailedPreconditionError(absl::StrCat(
      "quorum lost during '", kind, "': ", active_.size(), " of ",
      initial_sites_.size(), " sites remain, the quorum needs ", required_sites(),
      ". Excluded: ", absl::StrJoin(reasons, "; ")));
}

absl::StatusOr<std::map<std::string, v1::TaskResult>> StudyContext::RunRound(
    const std::string& kind, const std::map<std::string, v1::Payload>& params_by_site) {
  return RunRound(kind, params_by_site, {});
}

absl::StatusOr<std::map<std::string, v1::TaskResult>> StudyContext::RunRound(
    const std::string& kind, const std::map<std::string, v1::Payload>& params_by_site,
    const std::map<std::string, v1::Transcript>& transcripts) {
  if (host_->Cancelled()) return absl::CancelledError("study cancelled");
  if (absl::Status q = CheckQuorum(kind); !q.ok()) return q;
  ++round_;
  double timeout = TaskTimeoutSeconds(study_);
  int64_t deadline =
      std::chrono::duration_cast<std::chrono::milliseconds>(
          std::chrono::system_clock::now().time_since_epoch())
          .count() +
      static_cast<int64_t>(timeout * 1000);
  std::map<std::string, v1::Task> tasks;
  for (const auto& site : active_) {
    v1::Task task;
    task.set_task_id(absl::StrCat(study_id_, "/e", epoch_, "/", round_, "/", site));
    task.set_study_id(study_id_);
    task.set_kind(kind);
    auto it = params_by_site.find(site);
    if (it != params_by_site.end()) *task.mutable_params() = it->second;
    *task.mutable_study() = study_;
    task.set_deadline_unix_millis(deadline);
    auto tr = transcripts.find(site);
    if (tr != transcripts.end()) *task.mutable_transcript() = tr->second;
    tasks.emplace(site, std::move(task));
  }
  const size_t active_before = active_.size();
  auto answers = host_->Exchange(tasks, timeout);
  if (host_->Cancelled()) return absl::CancelledError("study cancelled");
  std::map<std::string, v1::TaskResult> ok;
  // The sites' own errors, to tell a spec error every site reports (e.g. a
  // column that exists nowhere) from sites dropping out one by one.
  std::set<std::pair<int, std::string>> site_errors;
  bool every_site_answered_an_error = !tasks.empty();
  for (const auto& [site, task] : tasks) {
    auto it = answers.find(site);
    std::string reason;
    if (it == answers.end() || !it->second.ok()) {
      reason = it == answers.end() ? "no answer" : std::string(it->second.status().message());
      every_site_answered_an_error = false;
    } else if (it->second->status_code() != 0) {
      auto code = static_cast<absl::StatusCode>(it->second->status_code());
      reason = absl::StrCat(code == absl::StatusCode::kPermissionDenied ? "refused '" : "failed '",
                            kind, "' (", absl::StatusCodeToString(code), "): ",
                            it->second->status_message());
      site_errors.emplace(it->second->status_code(), it->second->status_message());
    } else {
      ok.emplace(site, std::move(*it->second));
      every_site_answered_an_error = false;
      continue;
    }
    ExcludeSite(site, reason);
  }
  absl::Status quorum = CheckQuorum(kind);
  if (!quorum.ok() && every_site_answered_an_error && site_errors.size() == 1) {
    // One error from every site asked (e.g. a column that exists nowhere):
    // that is the study's error, not a quorum lost site by site.
    const auto code = static_cast<absl::StatusCode>(site_errors.begin()->first);
    std::vector<std::string> asked;
    for (const auto& [site, task] : tasks) asked.push_back(site);
    const std::string who =
        asked.size() == active_before
            ? std::string("every site")
            : absl::StrCat("every site asked (", absl::StrJoin(asked, ", "), ")");
    const std::string what = absl::StrCat(
        who, code == absl::StatusCode::kPermissionDenied ? " refused '" : " failed '", kind,
        "' (", absl::StatusCodeToString(code), "): ", site_errors.begin()->second);
    const bool usable = code != absl::StatusCode::kCancelled && code != absl::StatusCode::kOk &&
                        code != absl::StatusCode::kUnknown;
    return absl::Status(usable ? code : absl::StatusCode::kFailedPrecondition, what);
  }
  FEDRAD_RETURN_IF_ERROR(quorum);
  return ok;
}

absl::StatusOr<std::map<std::string, v1::TaskResult>> StudyContext::Broadcast(
    const std::string& kind, const v1::Payload& params) {
  std::map<std::string, v1::Payload> by_site;
  for (const auto& site : active_) by_site[site] = params;
  return RunRound(kind, by_site);
}

void StudyContext::Restore(v1::Results results,
                           const std::map<std::string, std::string>& excluded, int64_t rounds,
                           int64_t epoch) {
  results_ = std::move(results);
  round_ = rounds;
  epoch_ = epoch;
  for (const auto& [site, reason] : excluded) {
    auto it = std::find(active_.begin(), active_.end(), site);
    if (it != active_.end()) active_.erase(it);
    excluded_[site] = reason;
    (*results_.mutable_study()->mutable_excluded_sites())[site] = reason;
  }
}

void StudyContext::BeginStep(int index, int count) {
  step_index_ = index;
  step_count_ = std::max(count, 1);
  shown_fraction_ = static_cast<double>(index) / step_count_;
}

void StudyContext::SetProgress(const std::string& step, double fraction_done,
                               const std::string& message) {
  const double within = std::clamp(fraction_done, 0.0, 1.0);
  shown_fraction_ = std::max(shown_fraction_, (step_index_ + within) / step_count_);
  host_->OnProgress(step, shown_fraction_, message);
}

}  // namespace fedrad::coordinator
