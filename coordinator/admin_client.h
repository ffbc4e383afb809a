// A small client for the coordinator's Admin service, shared by
// `fedrad study ...`, `fedrad sandbox` and `fedrad demo`. Wraps the stub and
// returns StatusOr; every unary call carries a deadline.
//
//   FEDRAD_ASSIGN_OR_RETURN(auto client, AdminClient::Connect(config));
//   FEDRAD_ASSIGN_OR_RETURN(std::string id, client->Submit(study));
#ifndef FEDRAD_COORDINATOR_ADMIN_CLIENT_H_
#define FEDRAD_COORDINATOR_ADMIN_CLIENT_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "proto/config.pb.h"
#include "proto/fedrad.grpc.pb.h"

namespace fedrad::coordinator {

class AdminClient {
 public:
  static absl::StatusOr<std::unique_ptr<AdminClient>> Connect(
      const v1::AdminClientConfig& config);

  absl::StatusOr<std::string> Submit(const v1::Study& study);
  absl::StatusOr<v1::StudyStatus> Status(const std::string& id);
  absl::StatusOr<std::string> Results(const std::string& id);
  absl::StatusOr<v1::StudyStatus> Cancel(const std::string& id);
  absl::StatusOr<v1::ListStudiesResponse> List();
  // Streams status changes to `on_status` until the study ends (returns its
  // last status) or `should_stop()` becomes true (Cancelled).
  absl::StatusOr<v1::StudyStatus> Watch(
      const std::string& id, const std::function<void(const v1::StudyStatus&)>& on_status,
      const std::function<bool()>& should_stop = [] { return false; });

 private:
  explicit AdminClient(v1::AdminClientConfig config, std::unique_ptr<v1::Admin::Stub> stub)
      : config_(std::move(config)), stub_(std::move(stub)) {}
  void Prepare(grpc::ClientContext* context, double deadline_seconds);
  v1::AdminClientConfig config_;
  std::unique_ptr<v1::Admin::Stub> stub_;
};

// One line describing a status: "RUNNING  cohort summary 50%  S1=answered ...".
std::string FormatStatus(const v1::StudyStatus& status);

// Turns the statuses a watch receives (one per round and per progress step)
// into the lines a person follows, one per real change:
//  - site states that change every round ("working on ...", "answered",
//    "connected", "waiting") are left out; any other (excluded, ...) shows;
//  - progress alone prints a line each time it passes another 5%;
//  - each new notice (StudyStatus.notices) prints once, as "notice: ...".
// Not thread safe (one per watch).
//
//   StatusLines lines;
//   client->Watch(id, [&](const v1::StudyStatus& s) {
//     for (const std::string& line : lines.Next(s)) std::cout << line << "\n";
//   });
class StatusLines {
 public:
  // The lines to print for `status`, possibly none.
  std::vector<std::string> Next(const v1::StudyStatus& status);

 private:
  std::string last_text_;  // the last line printed, without its progress
  int last_step_ = -1;     // progress printed, in 5% steps
  int notices_seen_ = 0;
};

}  // namespace fedrad::coordinator

#endif  // FEDRAD_COORDINATOR_ADMIN_CLIENT_H_
