// The coordinator daemon's composition: Create (config, credentials, study
// store, audit log), Impl::Start (the server with the Federation and Admin
// services, the CRL watch, the studies left from a previous run),
// Impl::Shutdown and the public Coordinator methods. The parts of
// Coordinator::Impl (declared in internal/coordinator_impl.h) live in
// site_hub.cc (site streams, exchange, revocation), admin_service.cc (the
// Admin service) and study_runner.cc (studies and results.json).
#include "coordinator/coordinator.h"

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "coordinator/internal/coordinator_impl.h"
#include "coordinator/study_store.h"
#include "core/csv.h"
#include "core/log.h"
#include "core/status.h"
#include "proto/node_audit.h"
#include "proto/transport.h"

namespace fedrad::coordinator {

namespace fs = std::filesystem;

absl::StatusOr<v1::CoordinatorConfig> NormalizeCoordinatorConfig(v1::CoordinatorConfig config) {
  if (config.listen_address().empty()) config.set_listen_address("0.0.0.0:7443");
  if (config.data_dir().empty()) config.set_data_dir("coordinator-data");
  if (config.audit_log().empty()) config.set_audit_log("audit/coordinator.log");
  if (config.site_wait_seconds() <= 0) config.set_site_wait_seconds(60);
  if (config.coordinator_id().empty()) config.set_coordinator_id("coordinator");
  if (!config.tls().insecure_for_tests() &&
      (config.tls().ca_cert().empty() || config.tls().cert().empty() ||
       config.tls().key().empty())) {
    return absl::InvalidArgumentError(
        "coordinator config: tls { ca_cert, cert, key } must all be set");
  }
  return config;
}

absl::Status Coordinator::Impl::Start() {
  direct_host_ = internal::NewDirectHost(this);
  federation_service_ = internal::NewFederationService(this);
  admin_service_ = internal::NewAdminService(this);
  grpc::ServerBuilder builder;
  transport::ConfigureServerBuilder(&builder);
  builder.AddListeningPort(config_.listen_address(), creds_, &port_);
  builder.RegisterService(federation_service_.get());
  builder.RegisterService(admin_service_.get());
  server_ = builder.BuildAndStart();
  if (server_ == nullptr || port_ == 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", config_.listen_address()));
  }
  if (!config_.tls().crl().empty() && !insecure()) {
    CheckRevocations();
    crl_thread_ = std::thread([this] { CrlWatchLoop(); });
  }
  FEDRAD_LOG(INFO) << "coordinator listening on " << config_.listen_address() << " (port "
                   << port_ << ")" << (insecure() ? " INSECURE" : ", mutual TLS");
  if (!config_.port_file().empty()) {
    FEDRAD_RETURN_IF_ERROR(WriteStringToFile(config_.port_file(), absl::StrCat(port_, "\n")));
  }
  return LoadStudies();
}

void Coordinator::Impl::Shutdown() {
  if (shut_down_) return;
  shut_down_ = true;
  stopping_ = true;
  {
    absl::MutexLock lock(&crl_mu_);
    crl_cv_.SignalAll();
  }
  if (crl_thread_.joinable()) crl_thread_.join();
  std::vector<StudyRecord*> recs;
  {
    absl::MutexLock lock(&studies_mu_);
    // Not a cancel: running studies stay RUNNING in the store (RunStudy
    // sees stopping_) and resume at the next start.
    for (auto& [id, rec] : studies_) {
      recs.push_back(rec.get());
      // Watches end now; a client watches again after the restart.
      for (StatusWatcher* w : rec->watchers) {
        w->OnEnd(absl::UnavailableError("the coordinator is shutting down; watch again when it is back"));
      }
    }
  }
  {
    absl::MutexLock lock(&mu_);
    cv_.SignalAll();
  }
  for (StudyRecord* rec : recs) {
    if (rec->thread.joinable()) rec->thread.join();
  }
  if (server_) {
    server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
    server_->Wait();
  }
  audit_->Close();
  FEDRAD_LOG(INFO) << "coordinator stopped";
}

Coordinator::Coordinator(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Coordinator::~Coordinator() { impl_->Shutdown(); }

absl::StatusOr<std::unique_ptr<Coordinator>> Coordinator::Create(
    const v1::CoordinatorConfig& raw) {
  FEDRAD_ASSIGN_OR_RETURN(v1::CoordinatorConfig config, NormalizeCoordinatorConfig(raw));
  transport::TlsFiles tls{config.tls().ca_cert(), config.tls().cert(), config.tls().key(),
                          config.tls().crl(), config.tls().insecure_for_tests(), "coordinator"};
  FEDRAD_ASSIGN_OR_RETURN(auto creds, transport::MakeServerCredentials(tls));
  std::error_code ec;
  fs::create_directories(config.data_dir(), ec);
  if (ec) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot create data_dir ", config.data_dir(), ": ", ec.message()));
  }
  fs::create_directories(fs::path(config.audit_log()).parent_path(), ec);
  FEDRAD_ASSIGN_OR_RETURN(auto store,
                          StudyStore::Open((fs::path(config.data_dir()) / "coordinator.db").string()));
  FEDRAD_ASSIGN_OR_RETURN(auto audit,
                          NodeAudit::Open({config.audit_log(), "coordinator", config.tls().key(),
                                           config.tls().cert()}));
  return std::unique_ptr<Coordinator>(new Coordinator(std::make_unique<Impl>(
      std::move(config), std::move(audit), std::move(creds), std::move(store))));
}

absl::Status Coordinator::Start() { return impl_->Start(); }
int Coordinator::port() const { return impl_->port(); }
void Coordinator::Shutdown() { impl_->Shutdown(); }
std::vector<std::string> Coordinator::ConnectedSites() const { return impl_->ConnectedSites(); }
bool Coordinator::WaitForSites(const std::vector<std::string>& sites, double timeout_seconds) {
  return impl_->WaitForSites(sites, timeout_seconds, nullptr);
}
absl::StatusOr<std::string> Coordinator::SubmitStudy(const v1::Study& study) {
  return impl_->SubmitStudy(study, "in-process");
}
absl::StatusOr<v1::StudyStatus> Coordinator::GetStatus(const std::string& id) const {
  return impl_->GetStatus(id);
}
std::unique_ptr<StudyContext> Coordinator::NewStudyContext(const std::string& study_id,
                                                           const v1::Study& study,
                                                           const std::vector<std::string>& sites) {
  return std::make_unique<StudyContext>(study_id, study, sites, impl_->direct_host());
}

}  // namespace fedrad::coordinator
