// The coordinator's Admin service (fedrad.v1.Admin): submit, status, watch,
// results, cancel and list, each call authorised by the caller's
// certificate (role admin, or auditor for reading; a revoked certificate is
// refused). Calls go to Coordinator::Impl (internal/coordinator_impl.h).
#include <cstdint>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "coordinator/internal/coordinator_impl.h"
#include "core/log.h"
#include "proto/fedrad.grpc.pb.h"
#include "proto/transport.h"

namespace fedrad::coordinator {

using internal::IsTerminal;

// ---------------------------------------------------------------------------
// Admin service (synchronous; calls are short except WatchStudy).

class AdminService : public v1::Admin::Service {
 public:
  explicit AdminService(Coordinator::Impl* impl) : impl_(impl) {}

  grpc::Status SubmitStudy(grpc::ServerContext* context, const v1::SubmitStudyRequest* request,
                           v1::SubmitStudyResponse* response) override {
    std::string who;
    if (grpc::Status s = Authorize(*context, /*write=*/true, &who); !s.ok()) return s;
    auto id = impl_->SubmitStudy(request->study(), who);
    if (!id.ok()) return transport::ToGrpcStatus(id.status());
    response->set_study_id(*id);
    return grpc::Status::OK;
  }
  grpc::Status GetStatus(grpc::ServerContext* context, const v1::StudyRef* request,
                         v1::StudyStatus* response) override {
    std::string who;
    if (grpc::Status s = Authorize(*context, false, &who); !s.ok()) return s;
    auto status = impl_->GetStatus(request->study_id());
    if (!status.ok()) return transport::ToGrpcStatus(status.status());
    *response = *status;
    return grpc::Status::OK;
  }
  grpc::Status WatchStudy(grpc::ServerContext* context, const v1::StudyRef* request,
                          grpc::ServerWriter<v1::StudyStatus>* writer) override {
    std::string who;
    if (grpc::Status s = Authorize(*context, false, &who); !s.ok()) return s;
    int64_t seen = -1;
    while (!context->IsCancelled()) {
      // A watcher whose certificate is revoked meanwhile is cut off too.
      if (grpc::Status s = Authorize(*context, false, &who); !s.ok()) return s;
      auto next = impl_->WaitStatus(request->study_id(), seen, 1.0);
      if (!next.ok()) return transport::ToGrpcStatus(next.status());
      if (next->second != seen) {
        seen = next->second;
        if (!writer->Write(next->first)) return grpc::Status::OK;
        if (IsTerminal(next->first.state())) return grpc::Status::OK;
      }
    }
    return grpc::Status(grpc::StatusCode::CANCELLED, "watch cancelled");
  }
  grpc::Status GetResults(grpc::ServerContext* context, const v1::StudyRef* request,
                          v1::ResultsResponse* response) override {
    std::string who;
    if (grpc::Status s = Authorize(*context, false, &who); !s.ok()) return s;
    auto json = impl_->GetResults(request->study_id());
    if (!json.ok()) return transport::ToGrpcStatus(json.status());
    response->set_study_id(request->study_id());
    response->set_results_json(*json);
    return grpc::Status::OK;
  }
  grpc::Status CancelStudy(grpc::ServerContext* context, const v1::StudyRef* request,
                           v1::StudyStatus* response) override {
    std::string who;
    if (grpc::Status s = Authorize(*context, true, &who); !s.ok()) return s;
    auto status = impl_->CancelStudy(request->study_id(), who);
    if (!status.ok()) return transport::ToGrpcStatus(status.status());
    *response = *status;
    return grpc::Status::OK;
  }
  grpc::Status ListStudies(grpc::ServerContext* context, const v1::Empty*,
                           v1::ListStudiesResponse* response) override {
    std::string who;
    if (grpc::Status s = Authorize(*context, false, &who); !s.ok()) return s;
    for (auto& s : impl_->ListStudies()) *response->add_studies() = s;
    return grpc::Status::OK;
  }

 private:
  grpc::Status Authorize(const grpc::ServerContext& context, bool write, std::string* who) {
    auto id = transport::GetPeerIdentity(context, impl_->insecure());
    if (!id.ok()) {
      FEDRAD_LOG(WARNING) << "admin call from " << context.peer() << " refused: " << id.status().message();
      return transport::ToGrpcStatus(id.status());
    }
    *who = absl::StrCat(id->common_name, " (", id->role, ")");
    impl_->CheckRevocations();
    if (std::string revoked = impl_->RevokedReason(id->serial_hex); !revoked.empty()) {
      std::string why = absl::StrCat("certificate CN=", id->common_name, " (", id->role, ") ",
                                     revoked);
      FEDRAD_LOG(WARNING) << "admin call refused: " << why;
      impl_->audit()->Decision("", "", id->common_name, "admin.revoked",
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

  Coordinator::Impl* impl_;
};

std::unique_ptr<grpc::Service> internal::NewAdminService(Coordinator::Impl* impl) {
  return std::make_unique<AdminService>(impl);
}

}  // namespace fedrad::coordinator
