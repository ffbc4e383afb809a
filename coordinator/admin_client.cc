#include "coordinator/admin_client.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <map>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/status.h"
#include "proto/transport.h"

namespace fedrad::coordinator {

absl::StatusOr<std::unique_ptr<AdminClient>> AdminClient::Connect(
    const v1::AdminClientConfig& config) {
  if (config.coordinator_address().empty()) {
    return absl::InvalidArgumentError("the coordinator address is not set (--coordinator)");
  }
  transport::TlsFiles tls{config.tls().ca_cert(), config.tls().cert(), config.tls().key(),
                          config.tls().crl(), config.tls().insecure_for_tests(), "admin"};
  FEDRAD_ASSIGN_OR_RETURN(auto creds, transport::MakeChannelCredentials(tls, "coordinator"));
  auto channel = transport::MakeChannel(config.coordinator_address(), creds,
                                        config.coordinator_name());
  return std::unique_ptr<AdminClient>(new AdminClient(config, v1::Admin::NewStub(channel)));
}

void AdminClient::Prepare(grpc::ClientContext* context, double deadline_seconds) {
  if (deadline_seconds > 0) transport::SetDeadline(context, deadline_seconds);
  if (config_.tls().insecure_for_tests()) {
    transport::SetInsecureIdentity(context, "insecure-admin", "admin");
  }
}

absl::StatusOr<std::string> AdminClient::Submit(const v1::Study& study) {
  grpc::ClientContext context;
  Prepare(&context, transport::kDefaultUnaryDeadlineSeconds);
  v1::SubmitStudyRequest request;
  *request.mutable_study() = study;
  v1::SubmitStudyResponse response;
  FEDRAD_RETURN_IF_ERROR(transport::FromGrpcStatus(stub_->SubmitStudy(&context, request, &response)));
  return response.study_id();
}

absl::StatusOr<v1::StudyStatus> AdminClient::Status(const std::string& id) {
  grpc::ClientContext context;
  Prepare(&context, transport::kDefaultUnaryDeadlineSeconds);
  v1::StudyRef ref;
  ref.set_study_id(id);
  v1::StudyStatus response;
  FEDRAD_RETURN_IF_ERROR(transport::FromGrpcStatus(stub_->GetStatus(&context, ref, &response)));
  return response;
}

absl::StatusOr<std::string> AdminClient::Results(const std::string& id) {
  grpc::ClientContext context;
  Prepare(&context, transport::kDefaultUnaryDeadlineSeconds);
  v1::StudyRef ref;
  ref.set_study_id(id);
  v1::ResultsResponse response;
  FEDRAD_RETURN_IF_ERROR(transport::FromGrpcStatus(stub_->GetResults(&context, ref, &response)));
  return response.results_json();
}

absl::StatusOr<v1::StudyStatus> AdminClient::Cancel(const std::string& id) {
  grpc::ClientContext context;
  Prepare(&context, transport::kDefaultUnaryDeadlineSeconds);
  v1::StudyRef ref;
  ref.set_study_id(id);
  v1::StudyStatus response;
  FEDRAD_RETURN_IF_ERROR(transport::FromGrpcStatus(stub_->CancelStudy(&context, ref, &response)));
  return response;
}

absl::StatusOr<v1::ListStudiesResponse> AdminClient::List() {
  grpc::ClientContext context;
  Prepare(&context, transport::kDefaultUnaryDeadlineSeconds);
  v1::ListStudiesResponse response;
  FEDRAD_RETURN_IF_ERROR(transport::FromGrpcStatus(stub_->ListStudies(&context, v1::Empty(), &response)));
  return response;
}

absl::StatusOr<v1::StudyStatus> AdminClient::Watch(
    const std::string& id, const std::function<void(const v1::StudyStatus&)>& on_status,
    const std::function<bool()>& should_stop) {
  // The stream lives as long as the study; no deadline, but a cancel when
  // the caller wants to stop (polled between messages and by a watchdog).
  grpc::ClientContext context;
  Prepare(&context, 0);
  v1::StudyRef ref;
  ref.set_study_id(id);
  std::atomic<bool> done{false};
  std::thread watchdog([&] {
    while (!done) {
      if (should_stop()) {
        context.TryCancel();
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  });
  auto reader = stub_->WatchStudy(&context, ref);
  v1::StudyStatus status, last;
  bool any = false;
  while (reader->Read(&status)) {
    last = status;
    any = true;
    on_status(status);
  }
  grpc::Status s = reader->Finish();
  done = true;
  watchdog.join();
  if (should_stop()) return absl::CancelledError("watch interrupted");
  if (!s.ok()) return transport::FromGrpcStatus(s);
  if (!any) return absl::UnavailableError("the watch stream ended without a status");
  return last;
}

std::string FormatStatus(const v1::StudyStatus& status) {
  std::string line = absl::StrFormat("%-9s %3.0f%%  %s", status.state(),
                                     100 * status.fraction_done(), status.step());
  if (!status.message().empty()) {
    absl::StrAppend(&line, status.step().empty() ? "" : ": ", status.message());
  }
  std::map<std::string, std::string> sites(status.sites().begin(), status.sites().end());
  if (!sites.empty()) {
    absl::StrAppend(&line, "  [");
    bool first = true;
    for (const auto& [site, state] : sites) {
      absl::StrAppend(&line, first ? "" : ", ", site, ": ", state);
      first = false;
    }
    absl::StrAppend(&line, "]");
  }
  return line;
}

std::vector<std::string> StatusLines::Next(const v1::StudyStatus& status) {
  std::vector<std::string> lines;
  for (int i = notices_seen_; i < status.notices_size(); ++i) {
    lines.push_back(absl::StrCat("notice: ", status.notices(i)));
  }
  notices_seen_ = std::max(notices_seen_, status.notices_size());
  v1::StudyStatus shown = status;
  shown.clear_notices();
  shown.mutable_sites()->clear();
  for (const auto& [site, state] : status.sites()) {
    if (!absl::StartsWith(state, "working on") && state != "answered" && state != "connected" &&
        state != "waiting") {
      (*shown.mutable_sites())[site] = state;
    }
  }
  const int step = static_cast<int>(std::floor(status.fraction_done() * 20 + 1e-9));
  v1::StudyStatus text = shown;
  text.set_fraction_done(0);
  const std::string without_progress = FormatStatus(text);
  if (without_progress != last_text_ || step > last_step_) {
    lines.push_back(FormatStatus(shown));
    last_text_ = without_progress;
    last_step_ = std::max(last_step_, step);
  }
  return lines;
}

}  // namespace fedrad::coordinator
