// The coordinator daemon (fedrad-coordinator): accepts site streams
// (Federation service), runs studies submitted through the Admin service,
// and writes each study's results.json under its data dir.
//
// Studies are kept in DATA_DIR/coordinator.db (StudyStore), written on
// submit, after every completed step and at the end. Start() resumes the
// studies a previous run left RUNNING (after their last completed step, the
// sites restored to their checkpoints of it) and serves finished ones.
//
//   FEDRAD_ASSIGN_OR_RETURN(auto coord, fedrad::coordinator::Coordinator::Create(config));
//   FEDRAD_RETURN_IF_ERROR(coord->Start());      // listening on coord->port()
//   ... wait for a signal ...
//   coord->Shutdown();
//
// In-process use (benchmark, tests): WaitForSites() then NewStudyContext()
// runs rounds directly without the Admin service.
//
// Thread safe. gRPC types stay in the .cc files: coordinator.cc (Create,
// Start, Shutdown), site_hub.cc (site streams, exchange, revocation),
// admin_service.cc (Admin service), study_runner.cc (studies, results.json);
// internal/coordinator_impl.h declares the Impl they share.
#ifndef FEDRAD_COORDINATOR_COORDINATOR_H_
#define FEDRAD_COORDINATOR_COORDINATOR_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "coordinator/study_context.h"
#include "proto/config.pb.h"
#include "proto/fedrad.pb.h"

namespace fedrad::coordinator {

class Coordinator {
 public:
  // Checks the config and opens the audit log; does not listen yet.
  static absl::StatusOr<std::unique_ptr<Coordinator>> Create(
      const v1::CoordinatorConfig& config);
  ~Coordinator();  // Shutdown() if still running
  Coordinator(const Coordinator&) = delete;
  Coordinator& operator=(const Coordinator&) = delete;

  // Starts listening (writes config.port_file), then resumes the studies
  // the store holds as RUNNING. Unavailable if the address cannot be bound.
  // The study store is opened by Create (FailedPrecondition naming the file
  // if it is not usable).
  absl::Status Start();
  // The port listened on (after Start).
  int port() const;
  // Stops running studies without cancelling them (they stay RUNNING in
  // the store and resume at the next Start), stops the server, closes the
  // audit log. Idempotent.
  void Shutdown();

  // Sites connected now, sorted.
  std::vector<std::string> ConnectedSites() const;
  // True once every site in `sites` is connected (waits up to the timeout).
  bool WaitForSites(const std::vector<std::string>& sites, double timeout_seconds);
  // Same as Admin.SubmitStudy: validates, starts the study, returns its id.
  absl::StatusOr<std::string> SubmitStudy(const v1::Study& study);
  absl::StatusOr<v1::StudyStatus> GetStatus(const std::string& study_id) const;
  // A study context bound to this coordinator, for in-process rounds. The
  // context must not outlive the coordinator.
  std::unique_ptr<StudyContext> NewStudyContext(const std::string& study_id,
                                                const v1::Study& study,
                                                const std::vector<std::string>& sites);

  class Impl;

 private:
  explicit Coordinator(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Fills defaults and checks a coordinator config.
absl::StatusOr<v1::CoordinatorConfig> NormalizeCoordinatorConfig(
    v1::CoordinatorConfig config);

}  // namespace fedrad::coordinator

#endif  // FEDRAD_COORDINATOR_COORDINATOR_H_
