// The site daemon's connection (SiteNode, site_node.h): dial out to the
// coordinator, Hello/Welcome, read tasks into the workers' queues, send
// heartbeats and results, reconnect with backoff; SiteNode::Create and the
// small public helpers (SiteIdOf, AuditLogId, NewInstanceId,
// AppendOperatorRecord). The rest of the daemon:
//   site_worker.cc  queues, workers, crash-loop guard, gate, Execute
//   site_config.cc  config normalisation and loading, the start-up checks of
//                   the site's own certificate and data table
//   internal/site_node_impl.h  the SiteNode::Impl class they share
#include "site_node/site_node.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "core/csv.h"
#include "core/log.h"
#include "core/status.h"
#include "proto/fedrad.grpc.pb.h"
#include "proto/node_audit.h"
#include "proto/transport.h"
#include "site_node/internal/site_node_impl.h"
#include "site_node/study_policy.h"

#ifndef FEDRAD_VERSION
#define FEDRAD_VERSION "0.0.0"
#endif

namespace fedrad::site {
namespace node_internal {

int64_t NowMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// A string from the wire, clipped for the site's log and audit record.
std::string Clip(const std::string& s, size_t n) {
  return s.size() <= n ? s : absl::StrCat(s.substr(0, n), "...(", s.size(), " bytes)");
}

std::string ArrayNames(const v1::Payload& payload) {
  std::vector<std::string> names;
  for (const auto& a : payload.arrays()) names.push_back(a.name());
  return names.empty() ? "none" : absl::StrJoin(names, ", ");
}

}  // namespace node_internal

using node_internal::ArrayNames;
using node_internal::Clip;
using node_internal::InstallFatalSignalHandlers;
using node_internal::NowMillis;
using node_internal::Stream;

namespace {

namespace fs = std::filesystem;

// gRPC's view of a TLS handshake the server ended: the connection opened
// (not "Connection refused") and was closed or alerted before any HTTP/2
// frame. A failure of this site's own verification of the coordinator
// ("certificate verify failed") is not the coordinator's refusal.
bool LooksLikeCertificateRefusal(const absl::Status& status) {
  if (status.code() != absl::StatusCode::kUnavailable &&
      status.code() != absl::StatusCode::kUnknown) {
    return false;
  }
  const absl::string_view m = status.message();
  if (absl::StrContains(m, "verify failed") || absl::StrContains(m, "VERIFY_FAILED")) return false;
  return absl::StrContains(m, "Socket closed") || absl::StrContains(m, "alert") ||
         absl::StrContains(m, "Connection reset by peer");
}

}  // namespace

bool SiteNode::Impl::SleepUnlessStopped(double seconds) {
  const absl::Time deadline = absl::Now() + absl::Seconds(seconds);
  absl::MutexLock lock(&mu_);
  while (!stop_.load()) {
    if (cv_.WaitWithDeadline(&mu_, deadline)) break;  // timed out
  }
  return !stop_.load();
}

void SiteNode::Impl::Shutdown() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
    cv_.SignalAll();
  }
  absl::MutexLock lock(&stream_mu_);
  if (context_ != nullptr) context_->TryCancel();
}

absl::Status SiteNode::Impl::Run() {
  InstallFatalSignalHandlers();
  std::vector<std::thread> workers;
  for (int i = 0; i < config_.policy().max_concurrent_studies(); ++i) {
    workers.emplace_back([this, i] { WorkerLoop(i); });
  }
  std::mt19937 rng(std::random_device{}());
  double backoff = config_.reconnect_initial_seconds();
  absl::Status fatal;
  while (!stop_) {
    bool welcomed = false;
    absl::Status status = RunOneStream(&welcomed);
    if (stop_) break;
    if (status.code() == absl::StatusCode::kFailedPrecondition &&
        absl::StrContains(status.message(), "protocol version")) {
      FEDRAD_LOG(ERROR) << "coordinator refused this site: " << status.message();
      fatal = status;
      break;
    }
    if (welcomed) backoff = config_.reconnect_initial_seconds();
    double delay = backoff * std::uniform_real_distribution<double>(0.8, 1.2)(rng);
    // gRPC's text (OpenSSL, c-ares) said as the config field to fix; the
    // raw status code stays for whoever reads logs by it.
    const std::string why = transport::ExplainConnectionFailure(
        status, config_.coordinator_address(), transport::TakeLastServerRefusal());
    const bool refused_by_coordinator =
        absl::StartsWith(why, "the coordinator refused this site's certificate") ||
        (why == status.message() && LooksLikeCertificateRefusal(status));
    if (!welcomed && refused_by_coordinator) {
      // The TCP connection opened and the coordinator closed it in the TLS
      // handshake: it does not accept this site's certificate. Say so, with
      // this site's own view of its certificate (it may have expired or been
      // revoked since start-up).
      absl::Status own = CheckOwnCertificate(config_);
      FEDRAD_LOG(ERROR) << "the coordinator refused this site's certificate ("
                        << status.message()
                        << (own.ok() ? std::string("; it passes this site's own checks, so the "
                                                   "coordinator's CRL or CA differs")
                                     : absl::StrCat("; ", own.message()))
                        << "); run fedrad-site --check; retrying in "
                        << absl::StrFormat("%.1f", delay) << " s";
    } else {
      FEDRAD_LOG(WARNING) << "connection to coordinator " << config_.coordinator_address()
                          << (welcomed ? " lost: " : " failed: ") << why << " ("
                          << absl::StatusCodeToString(status.code()) << "); retrying in "
                          << absl::StrFormat("%.1f", delay) << " s";
    }
    if (!SleepUnlessStopped(delay)) break;
    backoff = std::min(backoff * 2, config_.reconnect_max_seconds());
  }
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
    cv_.SignalAll();
  }
  for (auto& w : workers) w.join();
  audit_->Close();
  FEDRAD_LOG(INFO) << "site node stopped";
  return fatal;
}

absl::Status SiteNode::Impl::RunOneStream(bool* welcomed) {
  auto channel = transport::MakeChannel(config_.coordinator_address(), creds_,
                                        config_.coordinator_name());
  auto stub = v1::Federation::NewStub(channel);
  grpc::ClientContext context;
  if (config_.tls().insecure_for_tests()) {
    transport::SetInsecureIdentity(&context, site_id_, "site");
  }
  {
    absl::MutexLock lock(&stream_mu_);
    if (stop_) return absl::CancelledError("shutting down");
    context_ = &context;
  }
  auto clear_context = [&] {
    absl::MutexLock lock(&stream_mu_);
    stream_ = nullptr;
    context_ = nullptr;
  };
  std::unique_ptr<Stream> stream = stub->Connect(&context);

  v1::SiteMessage hello_msg;
  v1::Hello* hello = hello_msg.mutable_hello();
  hello->set_protocol_version(transport::kProtocolVersion);
  hello->set_software_version(FEDRAD_VERSION);
  for (const auto& kind : guard_.AcceptedKinds(registry_)) {
    hello->add_accepted_task_kinds(kind);
  }
  hello->set_min_cell_count(config_.policy().min_cell_count());
  hello->set_instance_id(instance_id_);
  hello->set_audit_log_id(audit_log_id_);
  v1::CoordinatorMessage msg;
  if (!stream->Write(hello_msg) || !stream->Read(&msg)) {
    grpc::Status s = stream->Finish();
    clear_context();
    absl::Status status = transport::FromGrpcStatus(s);
    return status.ok() ? absl::UnavailableError("stream closed before the welcome") : status;
  }
  if (!msg.has_welcome()) {
    context.TryCancel();
    stream->Finish();
    clear_context();
    return absl::UnavailableError("coordinator did not answer the hello with a welcome");
  }
  const v1::Welcome& welcome = msg.welcome();
  if (welcome.protocol_version() != transport::kProtocolVersion) {
    context.TryCancel();
    stream->Finish();
    clear_context();
    return absl::FailedPreconditionError(absl::StrCat(
        "protocol version mismatch: this site speaks ", transport::kProtocolVersion,
        ", the coordinator speaks ", welcome.protocol_version()));
  }
  *welcomed = true;
  coordinator_id_ = welcome.coordinator_id().empty() ? "coordinator" : welcome.coordinator_id();
  FEDRAD_LOG(INFO) << "connected to " << coordinator_id_ << " at "
                   << config_.coordinator_address() << " as site '" << welcome.site_id()
                   << "' (instance " << instance_id_ << ")";
  {
    absl::MutexLock lock(&stream_mu_);
    stream_ = stream.get();
  }
  std::atomic<bool> ended{false};
  std::thread heartbeat([&] { HeartbeatLoop(&ended); });
  while (stream->Read(&msg)) {
    if (!msg.has_task()) continue;
    const v1::Task& task = msg.task();
    // The record of what was asked: the task's digest, and a summary of its
    // params an auditor can read (study_policy.h: SummarizeParams).
    audit_->Received(Clip(task.study_id()), Clip(task.task_id()), coordinator_id_,
                     Clip(task.kind()), WireDigest(task),
                     absl::StrCat("task ", Clip(task.kind()), "; ", SummarizeParams(task.params())));
    FEDRAD_LOG(INFO) << "task " << Clip(task.task_id()) << " (" << Clip(task.kind())
                     << ") received";
    Enqueue(task);
  }
  {
    absl::MutexLock lock(&stream_mu_);
    stream_ = nullptr;
  }
  {
    absl::MutexLock lock(&mu_);
    ended = true;
    cv_.SignalAll();
  }
  heartbeat.join();
  grpc::Status s = stream->Finish();
  clear_context();
  absl::Status status = transport::FromGrpcStatus(s);
  return status.ok() ? absl::UnavailableError("coordinator closed the stream") : status;
}

void SiteNode::Impl::HeartbeatLoop(std::atomic<bool>* ended) {
  while (true) {
    {
      const absl::Time next = absl::Now() + absl::Seconds(config_.heartbeat_seconds());
      absl::MutexLock lock(&mu_);
      while (!stop_.load() && !ended->load()) {
        if (cv_.WaitWithDeadline(&mu_, next)) break;  // time for a heartbeat
      }
    }
    if (stop_ || *ended) return;
    v1::SiteMessage beat;
    beat.mutable_heartbeat()->set_unix_millis(NowMillis());
    absl::MutexLock lock(&stream_mu_);
    if (stream_ != nullptr) stream_->Write(beat);
  }
}

void SiteNode::Impl::Deliver(const v1::TaskResult& result) {
  v1::SiteMessage msg;
  *msg.mutable_result() = result;
  absl::MutexLock lock(&stream_mu_);
  if (stream_ == nullptr || !stream_->Write(msg)) {
    FEDRAD_LOG(WARNING) << "result of task " << result.task_id()
                        << " not delivered (no stream); it is kept and sent again "
                           "when the coordinator repeats the task";
    return;
  }
  audit_->Sent(result.study_id(), result.task_id(), coordinator_id_, result.kind(),
               WireDigest(result),
               result.status_code() == 0
                   ? absl::StrCat("result: n=", result.n_contributing(),
                                  ", arrays: ", ArrayNames(result.payload()))
                   : absl::StrCat("status ",
                                  absl::StatusCodeToString(
                                      static_cast<absl::StatusCode>(result.status_code())),
                                  ": ", result.status_message()));
}

SiteNode::SiteNode(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SiteNode::~SiteNode() = default;

absl::StatusOr<std::unique_ptr<SiteNode>> SiteNode::Create(
    const v1::SiteConfig& raw_config) {
  FEDRAD_ASSIGN_OR_RETURN(v1::SiteConfig config, NormalizeSiteConfig(raw_config));
  // The data first: its errors (file, row, column) are what an operator
  // most needs to see.
  FEDRAD_ASSIGN_OR_RETURN(CsvTable table, LoadSiteTable(config.data_csv(), config.id_column()));
  // Its own identity before any network: a site whose certificate cannot
  // work stops here with the reason instead of retrying forever.
  FEDRAD_RETURN_IF_ERROR(CheckOwnCertificate(config));
  FEDRAD_ASSIGN_OR_RETURN(std::string site_id, SiteIdOf(config));
  transport::TlsFiles tls{config.tls().ca_cert(), config.tls().cert(), config.tls().key(),
                          config.tls().crl(), config.tls().insecure_for_tests(),
                          "site:" + site_id};
  FEDRAD_ASSIGN_OR_RETURN(auto creds, transport::MakeChannelCredentials(tls, "coordinator"));
  std::error_code ec;
  fs::create_directories(fs::path(config.audit_log()).parent_path(), ec);
  fs::create_directories(config.output_dir(), ec);
  fs::create_directories(config.state_dir(), ec);
  FEDRAD_ASSIGN_OR_RETURN(
      auto audit, NodeAudit::Open({config.audit_log(), "site:" + site_id, config.tls().key(),
                                   config.tls().cert()}));
  FEDRAD_LOG(INFO) << "site '" << site_id << "': " << table.num_rows() << " patients in "
                   << config.data_csv() << "; k=" << config.policy().min_cell_count();
  auto impl = std::make_unique<Impl>(std::move(config), site_id, std::move(table),
                                     std::move(audit), std::move(creds));
  impl->ScanStudies();
  return std::unique_ptr<SiteNode>(new SiteNode(std::move(impl)));
}

std::string AuditLogId(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return "";
  std::string line;
  char buf[4096];
  while (line.size() < (1 << 20) && line.find('\n') == std::string::npos) {
    const size_t n = std::fread(buf, 1, sizeof(buf), f);
    if (n == 0) break;
    line.append(buf, n);
  }
  std::fclose(f);
  line = line.substr(0, line.find('\n'));
  // "hash" is the last key of a record (core/audit_log.h).
  const std::string key = "\"hash\":\"";
  const size_t at = line.rfind(key);
  if (at == std::string::npos) return "";
  std::string hash = line.substr(at + key.size(), 64);
  if (hash.size() != 64 || hash.find_first_not_of("0123456789abcdef") != std::string::npos) {
    return "";
  }
  return hash;
}

std::string NewInstanceId() {
  std::random_device rd;
  std::string id;
  for (int i = 0; i < 4; ++i) absl::StrAppend(&id, absl::StrFormat("%08x", rd()));
  return id;
}

absl::StatusOr<std::string> SiteIdOf(const v1::SiteConfig& config) {
  std::string site_id;
  if (!config.tls().cert().empty()) {
    FEDRAD_ASSIGN_OR_RETURN(std::string pem, ReadFileToString(config.tls().cert()));
    FEDRAD_ASSIGN_OR_RETURN(transport::PeerIdentity me, transport::DescribeCertificate(pem));
    site_id = me.common_name;
  }
  if (site_id.empty()) site_id = "insecure-site";
  return site_id;
}

absl::Status AppendOperatorRecord(const v1::SiteConfig& config, const std::string& study,
                                  const std::string& kind, const std::string& summary,
                                  const std::string& digest) {
  FEDRAD_ASSIGN_OR_RETURN(std::string site_id, SiteIdOf(config));
  std::error_code ec;
  fs::create_directories(fs::path(config.audit_log()).parent_path(), ec);
  // Fails (FailedPrecondition) while the running site holds the log.
  FEDRAD_ASSIGN_OR_RETURN(
      auto audit, NodeAudit::Open({config.audit_log(), "site:" + site_id, config.tls().key(),
                                   config.tls().cert()}));
  audit->Decision(study, "", "operator", kind, summary, digest);
  audit->Close();
  return absl::OkStatus();
}

absl::Status SiteNode::Run() { return impl_->Run(); }
void SiteNode::Shutdown() { impl_->Shutdown(); }

}  // namespace fedrad::site
