// The coordinator's Admin service (fedrad.v1.Admin) on gRPC's callback API:
// submit, status, watch, results, cancel and list, each call authorised by
// the caller's certificate (role admin, or auditor for reading; a revoked
// certificate is refused). Calls go to Coordinator::Impl
// (internal/coordinator_impl.h).
//
// The unary calls are short and answer on the gRPC thread that receives
// them. WatchStudy holds no thread: its reactor (StudyWatch) registers with
// the study as a StatusWatcher, and the study runner hands it each new
// status as it happens (Impl::UpdateStatus); a CRL that revokes the
// watcher's certificate, or the coordinator's shutdown, ends it.
#include <cstdint>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "coordinator/internal/coordinator_impl.h"
#include "core/log.h"
#include "core/status.h"
#include "proto/fedrad.grpc.pb.h"
#include "proto/transport.h"

namespace fedrad::coordinator {

using internal::IsTerminal;

namespace {

// Who may make a call: `write` calls need role admin, reading ones admin or
// auditor; a certificate the current CRL revokes is refused. Sets *who (for
// logs and audit records) and *serial.
grpc::Status Authorize(Coordinator::Impl* impl, const grpc::CallbackServerContext& context,
                       bool write, std::string* who, std::string* serial = nullptr) {
  auto id = transport::GetPeerIdentity(context, impl->insecure());
  if (!id.ok()) {
    FEDRAD_LOG(WARNING) << "admin call from " << context.peer()
                        << " refused: " << id.status().message();
    return transport::ToGrpcStatus(id.status());
  }
  *who = absl::StrCat(id->common_name, " (", id->role, ")");
  if (serial != nullptr) *serial = id->serial_hex;
  impl->CheckRevocations();
  if (std::string revoked = impl->RevokedReason(id->serial_hex); !revoked.empty()) {
    std::string why = absl::StrCat("certificate CN=", id->common_name, " (", id->role, ") ",
                                   revoked);
    FEDRAD_LOG(WARNING) << "admin call refused: " << why;
    impl->audit()->Decision("", "", id->common_name, "admin.revoked",
                            absl::StrCat("admin call refused: ", why));
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, why);
  }
  bool allowed = id->role == "admin" || (!write && id->role == "auditor");
  if (!allowed) {
    std::string why = absl::StrCat("certificate CN=", id->common_name, " has role '", id->role,
                                   "'; this call needs ", write ? "admin" : "admin or auditor");
    FEDRAD_LOG(WARNING) << "admin call refused: " << why;
    return grpc::Status(grpc::StatusCode::PERMISSION_DENIED, why);
  }
  return grpc::Status::OK;
}

// One WatchStudy call: writes the study's status each time it changes
// (the latest one when several changes come during a write) and finishes
// after a terminal state is written. Deletes itself in OnDone.
class StudyWatch : public grpc::ServerWriteReactor<v1::StudyStatus>, public StatusWatcher {
 public:
  StudyWatch(Coordinator::Impl* impl, grpc::CallbackServerContext* context,
             const v1::StudyRef* request)
      : impl_(impl), study_id_(request->study_id()) {
    std::string who;
    std::string serial;
    if (grpc::Status s = Authorize(impl, *context, false, &who, &serial); !s.ok()) {
      FinishOnce(s);
      return;
    }
    {
      absl::MutexLock lock(&mu_);
      serial_ = serial;
    }
    if (absl::Status s = impl_->AddWatcher(study_id_, this); !s.ok()) {
      FinishOnce(transport::ToGrpcStatus(s));
      return;
    }
    absl::MutexLock lock(&mu_);
    registered_ = true;
  }

  // StatusWatcher (called under the coordinator's studies lock).
  void OnStatus(const v1::StudyStatus& status, int64_t version) override {
    absl::MutexLock lock(&mu_);
    if (finished_ || finishing_) return;
    next_ = status;
    next_version_ = version;
    if (!writing_) WriteNextLocked();
  }
  void OnEnd(const absl::Status& why) override { FinishOnce(transport::ToGrpcStatus(why)); }
  std::string serial() const override {
    absl::MutexLock lock(&mu_);
    return serial_;
  }

  void OnWriteDone(bool ok) override {
    absl::MutexLock lock(&mu_);
    writing_ = false;
    if (finished_) return;
    if (finishing_) {  // a finish waited for this write
      finished_ = true;
      Finish(final_status_);
      return;
    }
    if (!ok) {  // the client went away
      FinishLocked(grpc::Status::OK);
      return;
    }
    if (IsTerminal(sent_.state())) {
      FinishLocked(grpc::Status::OK);
      return;
    }
    if (next_version_ > sent_version_) WriteNextLocked();
  }

  void OnCancel() override { FinishOnce(grpc::Status(grpc::StatusCode::CANCELLED, "watch cancelled")); }

  void OnDone() override {
    bool registered;
    {
      absl::MutexLock lock(&mu_);
      registered = registered_;
    }
    // After RemoveWatcher returns the coordinator calls this watcher no more.
    if (registered) impl_->RemoveWatcher(study_id_, this);
    delete this;
  }

 private:
  void WriteNextLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    sent_ = next_;
    sent_version_ = next_version_;
    writing_ = true;
    StartWrite(&sent_);
  }
  void FinishOnce(const grpc::Status& status) {
    absl::MutexLock lock(&mu_);
    FinishLocked(status);
  }
  // Finishes now, or after the write in flight (no Finish during a write).
  void FinishLocked(const grpc::Status& status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_ || finishing_) return;
    if (writing_) {
      finishing_ = true;
      final_status_ = status;
      return;
    }
    finished_ = true;
    Finish(status);
  }

  Coordinator::Impl* const impl_;
  const std::string study_id_;
  mutable absl::Mutex mu_;
  std::string serial_ ABSL_GUARDED_BY(mu_);
  bool registered_ ABSL_GUARDED_BY(mu_) = false;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  bool finishing_ ABSL_GUARDED_BY(mu_) = false;  // Finish(final_status_) after the write
  grpc::Status final_status_ ABSL_GUARDED_BY(mu_);
  v1::StudyStatus next_ ABSL_GUARDED_BY(mu_);  // the latest status handed over
  int64_t next_version_ ABSL_GUARDED_BY(mu_) = -1;
  v1::StudyStatus sent_ ABSL_GUARDED_BY(mu_);  // the one being (or last) written
  int64_t sent_version_ ABSL_GUARDED_BY(mu_) = -1;
};

class AdminService : public v1::Admin::CallbackService {
 public:
  explicit AdminService(Coordinator::Impl* impl) : impl_(impl) {}

  grpc::ServerUnaryReactor* SubmitStudy(grpc::CallbackServerContext* context,
                                        const v1::SubmitStudyRequest* request,
                                        v1::SubmitStudyResponse* response) override {
    return Answer(context, /*write=*/true, [&](const std::string& who) -> absl::Status {
      FEDRAD_ASSIGN_OR_RETURN(std::string id, impl_->SubmitStudy(request->study(), who));
      response->set_study_id(id);
      return absl::OkStatus();
    });
  }
  grpc::ServerUnaryReactor* GetStatus(grpc::CallbackServerContext* context,
                                      const v1::StudyRef* request,
                                      v1::StudyStatus* response) override {
    return Answer(context, /*write=*/false, [&](const std::string&) -> absl::Status {
      FEDRAD_ASSIGN_OR_RETURN(*response, impl_->GetStatus(request->study_id()));
      return absl::OkStatus();
    });
  }
  grpc::ServerWriteReactor<v1::StudyStatus>* WatchStudy(grpc::CallbackServerContext* context,
                                                        const v1::StudyRef* request) override {
    return new StudyWatch(impl_, context, request);
  }
  grpc::ServerUnaryReactor* GetResults(grpc::CallbackServerContext* context,
                                       const v1::StudyRef* request,
                                       v1::ResultsResponse* response) override {
    return Answer(context, /*write=*/false, [&](const std::string&) -> absl::Status {
      FEDRAD_ASSIGN_OR_RETURN(std::string json, impl_->GetResults(request->study_id()));
      response->set_study_id(request->study_id());
      response->set_results_json(std::move(json));
      return absl::OkStatus();
    });
  }
  grpc::ServerUnaryReactor* CancelStudy(grpc::CallbackServerContext* context,
                                        const v1::StudyRef* request,
                                        v1::StudyStatus* response) override {
    return Answer(context, /*write=*/true, [&](const std::string& who) -> absl::Status {
      FEDRAD_ASSIGN_OR_RETURN(*response, impl_->CancelStudy(request->study_id(), who));
      return absl::OkStatus();
    });
  }
  grpc::ServerUnaryReactor* ListStudies(grpc::CallbackServerContext* context, const v1::Empty*,
                                        v1::ListStudiesResponse* response) override {
    return Answer(context, /*write=*/false, [&](const std::string&) -> absl::Status {
      for (auto& s : impl_->ListStudies()) *response->add_studies() = s;
      return absl::OkStatus();
    });
  }

 private:
  // Authorizes, runs `call` with the caller's name and finishes the call
  // with its status.
  template <typename Call>
  grpc::ServerUnaryReactor* Answer(grpc::CallbackServerContext* context, bool write,
                                   Call&& call) {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    std::string who;
    grpc::Status status = Authorize(impl_, *context, write, &who);
    if (status.ok()) status = transport::ToGrpcStatus(call(who));
    reactor->Finish(status);
    return reactor;
  }

  Coordinator::Impl* impl_;
};

}  // namespace

std::unique_ptr<grpc::Service> internal::NewAdminService(Coordinator::Impl* impl) {
  return std::make_unique<AdminService>(impl);
}

}  // namespace fedrad::coordinator
