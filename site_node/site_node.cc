#include "site_node/site_node.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <deque>
#include <fcntl.h>
#include <filesystem>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "core/csv.h"
#include "core/log.h"
#include "core/pki.h"
#include "core/status.h"
#include "proto/fedrad.grpc.pb.h"
#include "proto/node_audit.h"
#include "proto/textproto.h"
#include "proto/transport.h"
#include "site_node/approvals.h"
#include "site_node/builtin_tasks.h"
#include "site_node/privacy_guard.h"
#include "site_node/site_rules.h"
#include "site_node/study_checkpoint.h"
#include "site_node/study_policy.h"

#ifndef FEDRAD_VERSION
#define FEDRAD_VERSION "0.0.0"
#endif

namespace fedrad::site {
namespace {

namespace fs = std::filesystem;
using Stream = grpc::ClientReaderWriter<v1::SiteMessage, v1::CoordinatorMessage>;

int64_t NowMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// A string from the wire, clipped for the site's log and audit record.
std::string Clip(const std::string& s, size_t n = 2 * kMaxNameBytes) {
  return s.size() <= n ? s : absl::StrCat(s.substr(0, n), "...(", s.size(), " bytes)");
}

// True if `inner` is `outer` or inside it (both made absolute, symlinks
// resolved as far as they exist).
bool IsInsideOrSame(const fs::path& inner, const fs::path& outer) {
  std::error_code ec;
  fs::path a = fs::weakly_canonical(fs::absolute(inner), ec);
  if (ec) a = fs::absolute(inner).lexically_normal();
  fs::path b = fs::weakly_canonical(fs::absolute(outer), ec);
  if (ec) b = fs::absolute(outer).lexically_normal();
  auto ai = a.begin();
  for (auto bi = b.begin(); bi != b.end(); ++bi, ++ai) {
    if (bi->empty()) continue;  // a trailing separator
    if (ai == a.end() || *ai != *bi) return false;
  }
  return true;
}

// ---- The crash-loop guard's signal handler ---------------------------------
// One slot per worker: the thread running a task and the file to write if a
// fatal signal hits that thread (OUTPUT_DIR/STUDY/.state/crashed).
constexpr int kMaxWorkers = 64;
struct CrashSlot {
  std::atomic<pid_t> tid{0};
  char path[4096];
  char line[2 * 256 + 4];
  size_t line_len = 0;
};
CrashSlot g_crash_slots[kMaxWorkers];

pid_t ThreadId() { return static_cast<pid_t>(::syscall(SYS_gettid)); }

void OnFatalSignal(int sig) {
  const pid_t me = ThreadId();
  for (auto& slot : g_crash_slots) {
    if (slot.tid.load() != me) continue;
    int fd = ::open(slot.path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (fd >= 0) {
      ssize_t ignored = ::write(fd, slot.line, slot.line_len);
      (void)ignored;
      ::close(fd);
    }
  }
  ::signal(sig, SIG_DFL);
  ::raise(sig);
}

void InstallFatalSignalHandlers() {
  struct sigaction sa = {};
  sa.sa_handler = OnFatalSignal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_ONSTACK | SA_RESETHAND;
  for (int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT}) sigaction(sig, &sa, nullptr);
}

// An alternate signal stack for the calling thread, so that a stack overflow
// still runs the handler. Freed when the thread ends.
class AltStack {
 public:
  AltStack() : memory_(kSize) {
    stack_t ss = {};
    ss.ss_sp = memory_.data();
    ss.ss_size = kSize;
    ss.ss_flags = 0;
    sigaltstack(&ss, nullptr);
  }
  ~AltStack() {
    stack_t ss = {};
    ss.ss_flags = SS_DISABLE;
    sigaltstack(&ss, nullptr);
  }

 private:
  static constexpr size_t kSize = 64 * 1024;
  std::vector<char> memory_;
};

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

std::string ArrayNames(const v1::Payload& payload) {
  std::vector<std::string> names;
  for (const auto& a : payload.arrays()) names.push_back(a.name());
  return names.empty() ? "none" : absl::StrJoin(names, ", ");
}

}  // namespace

absl::StatusOr<v1::SiteConfig> NormalizeSiteConfig(v1::SiteConfig config,
                                                   const std::string& base_dir) {
  if (config.coordinator_address().empty()) {
    return absl::InvalidArgumentError("site config: coordinator_address is not set");
  }
  if (config.data_csv().empty()) {
    return absl::InvalidArgumentError("site config: data_csv is not set");
  }
  if (config.id_column().empty()) config.set_id_column("patient_id");
  auto* policy = config.mutable_policy();
  if (policy->min_cell_count() == 0) policy->set_min_cell_count(10);
  if (policy->min_cell_count() < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "site config: policy.min_cell_count must be at least 1, got ",
        policy->min_cell_count()));
  }
  if (config.output_dir().empty()) config.set_output_dir("site-output");
  if (config.audit_log().empty()) config.set_audit_log("audit/site.log");
  if (config.state_dir().empty()) config.set_state_dir("site-state");
  if (!base_dir.empty()) {
    // Paths in a config file mean the same whichever folder the daemon is
    // started from: relative ones are relative to the file's folder.
    const fs::path base = fs::absolute(base_dir);
    auto resolve = [&](const std::string& path) -> std::string {
      if (path.empty() || fs::path(path).is_absolute()) return path;
      return (base / path).lexically_normal().string();
    };
    config.set_data_csv(resolve(config.data_csv()));
    config.set_output_dir(resolve(config.output_dir()));
    config.set_audit_log(resolve(config.audit_log()));
    config.set_state_dir(resolve(config.state_dir()));
    v1::TlsConfig* tls = config.mutable_tls();
    tls->set_ca_cert(resolve(tls->ca_cert()));
    tls->set_cert(resolve(tls->cert()));
    tls->set_key(resolve(tls->key()));
    tls->set_crl(resolve(tls->crl()));
  }
  if (policy->max_task_seconds() <= 0) policy->set_max_task_seconds(3600);
  if (policy->max_concurrent_studies() <= 0) policy->set_max_concurrent_studies(4);
  policy->set_max_concurrent_studies(std::min(policy->max_concurrent_studies(), kMaxWorkers));
  if (policy->max_queued_tasks_per_study() <= 0) policy->set_max_queued_tasks_per_study(64);
  // A task writes only inside OUTPUT_DIR/STUDY: neither the audit log, the
  // data table nor the site's state may be in reach of a study folder.
  const fs::path out = config.output_dir();
  const std::vector<std::pair<std::string, fs::path>> kept = {
      {"the audit log's folder", fs::absolute(config.audit_log()).parent_path()},
      {"the data table's folder", fs::absolute(config.data_csv()).parent_path()},
      {"state_dir", fs::path(config.state_dir())}};
  for (const auto& [what, folder] : kept) {
    if (IsInsideOrSame(folder, out)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "site config: output_dir ", config.output_dir(), " contains ", what, " (",
          folder.string(), "); tasks write under output_dir, so keep the audit log, the data "
          "and state_dir outside it"));
    }
  }
  if (config.heartbeat_seconds() <= 0) config.set_heartbeat_seconds(5);
  if (config.reconnect_initial_seconds() <= 0) config.set_reconnect_initial_seconds(0.2);
  if (config.reconnect_max_seconds() <= 0) config.set_reconnect_max_seconds(10);
  if (!config.tls().insecure_for_tests()) {
    if (config.tls().ca_cert().empty() || config.tls().cert().empty() ||
        config.tls().key().empty()) {
      return absl::InvalidArgumentError(
          "site config: tls { ca_cert, cert, key } must all be set");
    }
  }
  return config;
}

absl::StatusOr<v1::SiteConfig> LoadSiteConfig(const std::string& config_path) {
  v1::SiteConfig raw;
  FEDRAD_RETURN_IF_ERROR(ReadTextProto(config_path, &raw));
  std::string base = fs::absolute(config_path).parent_path().string();
  return NormalizeSiteConfig(std::move(raw), base);
}

absl::Status CheckOwnCertificate(const v1::SiteConfig& config) {
  if (config.tls().insecure_for_tests()) return absl::OkStatus();
  const std::string& key = config.tls().key();
  const std::string& cert = config.tls().cert();
  const std::string& ca = config.tls().ca_cert();
  const std::string& crl = config.tls().crl();
  auto refuse = [](absl::string_view field, absl::string_view path, absl::string_view why) {
    return absl::FailedPreconditionError(
        absl::StrCat(field, " ", path, ": ", why, "; run fedrad-site --check"));
  };
  auto loaded = pki::PrivateKey::Load(key);
  if (!loaded.ok()) return refuse("tls.key", key, loaded.status().message());
  auto info = pki::ReadCertificate(cert);
  if (!info.ok()) return refuse("tls.cert", cert, info.status().message());
  if (info->is_ca || info->role != pki::Role::kSite) {
    return refuse("tls.cert", cert,
                  absl::StrCat("\"", info->subject, "\" is not a site certificate (role ",
                               info->is_ca ? "CA" : pki::RoleName(info->role), ")"));
  }
  const int64_t now = static_cast<int64_t>(std::time(nullptr));
  if (now >= info->not_after_unix) {
    return refuse("tls.cert", cert,
                  absl::StrCat("certificate \"", info->common_name, "\" expired on ",
                               pki::FormatUnixTime(info->not_after_unix),
                               " (ask the study coordinator for a new one)"));
  }
  if (now < info->not_before_unix) {
    return refuse("tls.cert", cert,
                  absl::StrCat("certificate \"", info->common_name, "\" is not valid before ",
                               pki::FormatUnixTime(info->not_before_unix),
                               " (check this machine's clock)"));
  }
  auto pem = ReadFileToString(cert);
  if (!pem.ok()) return refuse("tls.cert", cert, pem.status().message());
  if (absl::Status m = (*loaded)->CheckMatches(*pem); !m.ok()) {
    return refuse("tls.key", key, absl::StrCat("does not match tls.cert ", cert));
  }
  auto ca_info = pki::ReadCertificate(ca);
  if (!ca_info.ok()) return refuse("tls.ca_cert", ca, ca_info.status().message());
  if (!ca_info->is_ca) {
    return refuse("tls.ca_cert", ca,
                  absl::StrCat("\"", ca_info->subject, "\" is not a CA certificate"));
  }
  // The chain first: a CA from another study is named as such, not blamed
  // on the CRL it cannot have signed.
  if (absl::Status v = pki::VerifyCertificatePem(*pem, ca, ""); !v.ok()) {
    return refuse("tls.cert", cert,
                  absl::StrCat(v.message(), " (tls.ca_cert ", ca,
                               " and tls.cert must come from the same study CA)"));
  }
  if (!crl.empty()) {
    if (absl::Status v = pki::VerifyCertificatePem(*pem, ca, crl); !v.ok()) {
      if (absl::StrContains(v.message(), "revoked")) {
        return refuse("tls.cert", cert,
                      absl::StrCat(v.message(), ": this site's certificate is revoked "
                                                "(enrol again with a new key)"));
      }
      return refuse("tls.crl", crl, v.message());
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<CsvTable> LoadSiteTable(const std::string& path,
                                       const std::string& id_column) {
  FEDRAD_ASSIGN_OR_RETURN(CsvTable table, ReadCsv(path));
  if (table.num_rows() == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": the data table has a header but no rows"));
  }
  FEDRAD_RETURN_IF_ERROR(table.RequireColumns({id_column}));
  FEDRAD_RETURN_IF_ERROR(table.RequireUnique(id_column));
  return table;
}

class SiteNode::Impl {
 public:
  Impl(v1::SiteConfig config, std::string site_id, CsvTable table,
       std::unique_ptr<NodeAudit> audit,
       std::shared_ptr<grpc::ChannelCredentials> creds)
      : config_(std::move(config)),
        site_id_(std::move(site_id)),
        table_(std::move(table)),
        audit_(std::move(audit)),
        creds_(std::move(creds)),
        guard_(GuardPolicy{config_.policy().min_cell_count(),
                           {config_.policy().accepted_task_kinds().begin(),
                            config_.policy().accepted_task_kinds().end()},
                           config_.policy().enable_debug_tasks()}),
        approvals_(config_.state_dir(), [this](const v1::StudyApproval& a, bool withdrawal) {
          audit_->Decision("", "", "operator", withdrawal ? "site.withdraw" : "site.approve",
                           ApprovalAuditSummary(a, withdrawal), a.spec_sha256());
        }) {
    RegisterBuiltinTasks(registry_);
    RegisterStudyTasks(registry_);
  }

  absl::Status Run();
  void Shutdown();
  // At start: studies whose worker died on a task (crash-loop guard).
  void ScanStudies();

 private:
  struct StudyState {
    CsvTable table;
    std::map<std::string, std::string> kv;
    std::string output_dir;
    // Results of tasks that changed the state since the last checkpoint
    // (task id -> serialized TaskResult; in the working snapshot).
    std::map<std::string, std::string> answered;
    // What this site released in the study (no differencing).
    ReleaseLedger ledger;
    bool ledger_broken = false;
  };

  absl::Status RunOneStream(bool* welcomed);
  void Enqueue(const v1::Task& task);
  void WorkerLoop(int slot);
  // Every check before a handler runs (no file is written). Sets *kind.
  absl::Status Gate(const v1::Task& task, const TaskKind** kind);
  v1::TaskResult Execute(const v1::Task& task, int slot);
  void Deliver(const v1::TaskResult& result);
  void HeartbeatLoop(std::atomic<bool>* ended);
  bool SleepUnlessStopped(double seconds);
  std::string StudyDir(const std::string& study_id) const {
    return (fs::path(config_.output_dir()) / study_id).string();
  }
  // The study's state, created on its first task; a study this process has
  // not seen but that has a working snapshot or checkpoints on disk (the
  // site restarted mid-study) is loaded from them. Only the worker holding
  // the study touches its state.
  StudyState& StudyFor(const v1::Task& task);
  v1::TaskResult Refused(const v1::Task& task, const absl::Status& status);

  const v1::SiteConfig config_;
  const std::string site_id_;
  // Hello.instance_id / Hello.audit_log_id (fedrad.proto).
  const std::string instance_id_ = NewInstanceId();
  const std::string audit_log_id_ = AuditLogId(config_.audit_log());
  const CsvTable table_;
  std::unique_ptr<NodeAudit> audit_;
  std::shared_ptr<grpc::ChannelCredentials> creds_;
  TaskRegistry registry_;
  PrivacyGuard guard_;
  ApprovalWatcher approvals_;

  std::atomic<bool> stop_{false};
  std::mutex mu_;  // guards queues_, ready_, busy_, done_, stopped_studies_
  std::condition_variable cv_;
  // One queue per study (by study id; "" for tasks the gate will refuse
  // before any study folder exists). A study is in ready_ when it has tasks
  // and no worker holds it; busy_ holds the studies a worker is running, so
  // a study's tasks run one at a time and in order, and no study waits for
  // another's (up to max_concurrent_studies at once).
  std::map<std::string, std::deque<v1::Task>> queues_;
  std::deque<std::string> ready_;
  std::set<std::string> busy_;
  std::map<std::string, v1::TaskResult> done_;  // results by task id (idempotent retries)
  std::set<std::string> stopped_studies_;       // stopped at start-up (crash-loop guard)

  std::mutex studies_mu_;  // guards the map studies_ (not the states in it)
  std::map<std::string, StudyState> studies_;

  std::mutex stream_mu_;  // guards stream_, context_; serialises writes
  Stream* stream_ = nullptr;
  grpc::ClientContext* context_ = nullptr;
  std::string coordinator_id_ = "coordinator";
};

bool SiteNode::Impl::SleepUnlessStopped(double seconds) {
  std::unique_lock<std::mutex> lock(mu_);
  return !cv_.wait_for(lock, std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000)),
                       [&] { return stop_.load(); });
}

void SiteNode::Impl::Shutdown() {
  stop_ = true;
  cv_.notify_all();
  std::lock_guard<std::mutex> lock(stream_mu_);
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
  stop_ = true;
  cv_.notify_all();
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
    std::lock_guard<std::mutex> lock(stream_mu_);
    if (stop_) return absl::CancelledError("shutting down");
    context_ = &context;
  }
  auto clear_context = [&] {
    std::lock_guard<std::mutex> lock(stream_mu_);
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
    std::lock_guard<std::mutex> lock(stream_mu_);
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
    std::lock_guard<std::mutex> lock(stream_mu_);
    stream_ = nullptr;
  }
  ended = true;
  cv_.notify_all();
  heartbeat.join();
  grpc::Status s = stream->Finish();
  clear_context();
  absl::Status status = transport::FromGrpcStatus(s);
  return status.ok() ? absl::UnavailableError("coordinator closed the stream") : status;
}

void SiteNode::Impl::HeartbeatLoop(std::atomic<bool>* ended) {
  while (true) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait_for(lock,
                   std::chrono::milliseconds(
                       static_cast<int64_t>(config_.heartbeat_seconds() * 1000)),
                   [&] { return stop_.load() || ended->load(); });
    }
    if (stop_ || *ended) return;
    v1::SiteMessage beat;
    beat.mutable_heartbeat()->set_unix_millis(NowMillis());
    std::lock_guard<std::mutex> lock(stream_mu_);
    if (stream_ != nullptr) stream_->Write(beat);
  }
}

void SiteNode::Impl::Enqueue(const v1::Task& task) {
  // Tasks the gate refuses (study_id not a plain name) share the "" lane and
  // never touch a study folder.
  const std::string key = IsPlainName(task.study_id()) ? task.study_id() : "";
  absl::Status refused;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = queues_.find(key);
    const size_t limit = static_cast<size_t>(config_.policy().max_queued_tasks_per_study());
    if (it == queues_.end() && queues_.size() >= 4 * limit) {
      refused = PublicError(absl::StatusCode::kResourceExhausted,
                            "this site has too many studies with waiting tasks (rule bounded-queue)");
    } else if (it != queues_.end() && it->second.size() >= limit) {
      refused = PublicError(absl::StatusCode::kResourceExhausted,
                            absl::StrCat("study has ", limit,
                                         " tasks waiting at this site already (rule bounded-queue)"));
    } else {
      queues_[key].push_back(task);
      if (busy_.count(key) == 0 &&
          std::find(ready_.begin(), ready_.end(), key) == ready_.end()) {
        ready_.push_back(key);
      }
    }
  }
  if (!refused.ok()) {
    Deliver(Refused(task, refused));
    return;
  }
  cv_.notify_all();
}

void SiteNode::Impl::WorkerLoop(int slot) {
  AltStack alt_stack;  // the crash handler runs even on a stack overflow
  while (true) {
    v1::Task task;
    std::string key;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return stop_.load() || !ready_.empty(); });
      if (stop_) return;
      key = ready_.front();
      ready_.pop_front();
      auto& q = queues_[key];
      task = std::move(q.front());
      q.pop_front();
      busy_.insert(key);
    }
    v1::TaskResult result = Execute(task, slot);
    {
      std::lock_guard<std::mutex> lock(mu_);
      busy_.erase(key);
      auto it = queues_.find(key);
      if (it != queues_.end() && !it->second.empty()) {
        ready_.push_back(key);
      } else if (it != queues_.end()) {
        queues_.erase(it);
      }
    }
    cv_.notify_all();
    if (stop_) return;
    Deliver(result);
  }
}

void SiteNode::Impl::Deliver(const v1::TaskResult& result) {
  v1::SiteMessage msg;
  *msg.mutable_result() = result;
  std::lock_guard<std::mutex> lock(stream_mu_);
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

v1::TaskResult SiteNode::Impl::Refused(const v1::Task& task, const absl::Status& status) {
  FEDRAD_LOG(WARNING) << "refused task " << Clip(task.task_id()) << " (" << Clip(task.kind())
                      << "): " << status.message();
  audit_->Decision(Clip(task.study_id()), Clip(task.task_id()), coordinator_id_, Clip(task.kind()),
                   absl::StrCat("refused task: ", status.message()));
  v1::TaskResult result;
  result.set_task_id(task.task_id());
  result.set_study_id(task.study_id());
  result.set_kind(task.kind());
  const absl::Status wire = ForTheWire(status, Clip(task.kind(), kMaxNameBytes));
  result.set_status_code(static_cast<int>(wire.code()));
  result.set_status_message(std::string(wire.message()));
  return result;
}

void SiteNode::Impl::ScanStudies() {
  {
    // Studies stopped by an earlier run: a later reset is audited when seen.
    std::error_code ec;
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& entry : fs::directory_iterator(config_.output_dir(), ec)) {
      if (StudyStopped(entry.path().string()).has_value()) {
        stopped_studies_.insert(entry.path().filename().string());
      }
    }
  }
  for (const InterruptedStudy& s : ScanInterruptedStudies(config_.output_dir())) {
    std::string summary;
    if (s.failed) {
      summary = absl::StrCat("study stopped at this site: its worker ",
                             s.crashed ? "crashed" : "died a second time", " on task ", s.task_id,
                             " (", s.kind, "); later tasks are refused until the operator runs "
                             "`fedrad-site reset-study`");
      std::lock_guard<std::mutex> lock(mu_);
      stopped_studies_.insert(s.study_id);
    } else {
      summary = absl::StrCat("site restarted while task ", s.task_id, " (", s.kind,
                             ") ran; the study goes on (a second interruption stops it)");
    }
    FEDRAD_LOG(WARNING) << "study " << s.study_id << ": " << summary;
    audit_->Decision(s.study_id, s.task_id, "site", "study.crash-guard", summary);
  }
}

absl::Status SiteNode::Impl::Gate(const v1::Task& task, const TaskKind** kind) {
  *kind = nullptr;
  // Sizes, unknown fields: before anything reads the task.
  FEDRAD_RETURN_IF_ERROR(CheckTaskSize(task));
  // The study id becomes a folder name: a plain name, or nothing is written.
  FEDRAD_RETURN_IF_ERROR(CheckPlainName(task.study_id(), "study_id"));
  // The operator's approval of this exact spec (re-read when the file changed).
  if (absl::Status s = approvals_.Refresh(); !s.ok()) {
    FEDRAD_LOG(ERROR) << "cannot read the approvals in " << config_.state_dir() << ": " << s;
    return absl::FailedPreconditionError(
        absl::StrCat("the site's approvals cannot be read: ", s.message()));
  }
  FEDRAD_RETURN_IF_ERROR(approvals_.Check(site_id_, task.study(), absl::Now()));
  // The crash-loop guard.
  if (auto stop = StudyStopped(StudyDir(task.study_id())); stop.has_value()) {
    return PublicError(
        absl::StatusCode::kFailedPrecondition,
        absl::StrCat("this site stopped study ", task.study_id(),
                     " after its worker crashed on a task of kind ", Clip(stop->kind, kMaxNameBytes),
                     "; the operator can reset it with `fedrad-site reset-study --config "
                     "SITE.textproto ",
                     task.study_id(), "` (rule crash-guard)"));
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopped_studies_.erase(task.study_id()) > 0) {
      audit_->Decision(task.study_id(), "", "operator", "site.reset-study",
                       "the operator reset the study after its worker crashed; it runs again");
    }
  }
  *kind = registry_.Find(task.kind());
  if (*kind == nullptr) {
    return PublicError(absl::StatusCode::kUnimplemented,
                       absl::StrCat("this site's software has no task kind '", task.kind(), "'"));
  }
  FEDRAD_RETURN_IF_ERROR(guard_.CheckAccepted(**kind));
  FEDRAD_RETURN_IF_ERROR(
      CheckKindNeeded(task.study(), task.kind(), config_.policy().enable_debug_tasks()));
  FEDRAD_RETURN_IF_ERROR(CheckSpecPatterns(task.study()));
  FEDRAD_RETURN_IF_ERROR(CheckSpecRoles(task.study(), config_.id_column()));
  return absl::OkStatus();
}

SiteNode::Impl::StudyState& SiteNode::Impl::StudyFor(const v1::Task& task) {
  StudyState* found;
  bool inserted;
  {
    std::lock_guard<std::mutex> lock(studies_mu_);
    auto [it, ins] = studies_.try_emplace(task.study_id());
    found = &it->second;
    inserted = ins;
  }
  StudyState& study = *found;
  if (!inserted) return study;
  study.table = table_;
  // The gate checked study_id is a plain name: the folder is
  // OUTPUT_DIR/<study_id>, its internal state in .state/ below it.
  study.output_dir = StudyDir(task.study_id());
  std::error_code ec;
  fs::create_directories(StudyStateDir(study.output_dir), ec);
  if (ec) {
    FEDRAD_LOG(ERROR) << "cannot create " << study.output_dir << ": " << ec.message();
  }
  auto ledger = ReleaseLedger::Load(LedgerPath(study.output_dir));
  if (ledger.ok()) {
    study.ledger = std::move(*ledger);
  } else {
    // A damaged ledger: nothing is released for this study until the
    // operator looks (a fresh ledger would forget what was released).
    FEDRAD_LOG(ERROR) << "study " << task.study_id() << ": " << ledger.status();
    study.ledger_broken = true;
  }
  if (task.kind() == "study.restore") return study;  // it sets the state itself
  absl::Status loaded;
  std::string from;
  if (HasWorkingState(study.output_dir)) {
    from = "its working snapshot (after a task that changed the study's state)";
    loaded = LoadWorkingState(study.output_dir, table_.source(), &study.table, &study.kv,
                              &study.answered);
    if (loaded.ok()) {
      std::lock_guard<std::mutex> lock(mu_);
      for (const auto& [id, bytes] : study.answered) {
        v1::TaskResult stored;
        if (stored.ParseFromString(bytes)) done_[id] = stored;
      }
    }
  } else if (int latest = LatestCheckpoint(study.output_dir); latest >= 0) {
    from = absl::StrCat("the checkpoint of step ", latest);
    loaded = LoadCheckpoint(study.output_dir, latest, table_.source(), &study.table, &study.kv);
  } else {
    return study;
  }
  if (loaded.ok()) {
    FEDRAD_LOG(INFO) << "study " << task.study_id() << ": resumed from " << from
                     << " on this site's disk";
    audit_->Decision(task.study_id(), task.task_id(), coordinator_id_, "study.resume",
                     absl::StrCat("site restarted: state loaded from ", from,
                                  " on its own disk (nothing released)"));
  } else {
    FEDRAD_LOG(ERROR) << "study " << task.study_id() << ": cannot load " << from << ": " << loaded
                      << "; starting from the data table";
    study.table = table_;
    study.kv.clear();
    study.answered.clear();
  }
  return study;
}

v1::TaskResult SiteNode::Impl::Execute(const v1::Task& task, int slot) {
  const TaskKind* kind = nullptr;
  if (absl::Status gate = Gate(task, &kind); !gate.ok()) {
    // Not kept in done_: once the operator approves, the same task runs.
    return Refused(task, gate);
  }
  // Past the gate: the study's folder and state exist (a restarted site
  // loads them, and the answers it kept, from disk) before looking up answers.
  StudyState& study = StudyFor(task);
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = done_.find(task.task_id());
    if (it != done_.end()) {
      FEDRAD_LOG(INFO) << "task " << task.task_id() << " already answered; sending the stored result";
      return it->second;
    }
  }
  v1::TaskResult result;
  result.set_task_id(task.task_id());
  result.set_study_id(task.study_id());
  result.set_kind(task.kind());
  auto fail = [&](const absl::Status& status) {
    const absl::Status wire = ForTheWire(status, task.kind());
    result.set_status_code(static_cast<int>(wire.code()));
    result.set_status_message(std::string(wire.message()));
    result.clear_payload();
    result.set_n_contributing(0);
  };

  const bool bookkeeping = absl::StartsWith(task.kind(), "study.");
  CsvTable table_before;
  std::map<std::string, std::string> kv_before;
  if (!bookkeeping) {
    table_before = study.table;
    kv_before = study.kv;
  }
  // The task's deadline: the coordinator's, capped by the site's policy.
  const int64_t now_ms = NowMillis();
  int64_t deadline_ms =
      now_ms + static_cast<int64_t>(config_.policy().max_task_seconds() * 1000);
  if (task.deadline_unix_millis() > 0) deadline_ms = std::min(deadline_ms, task.deadline_unix_millis());

  TaskContext ctx;
  ctx.site_id = site_id_;
  ctx.task = &task;
  ctx.table = &study.table;
  ctx.output_dir = study.output_dir;
  ctx.min_cell_count = guard_.EffectiveMinCellCount(task.study().min_cell_count());
  ctx.state = &study.kv;
  // The site's own id column, whatever the study or the task says.
  ctx.id_column = config_.id_column();
  ctx.cancelled = [this, deadline_ms] { return stop_.load() || NowMillis() >= deadline_ms; };
  ctx.data_table = &table_;
  ctx.data_dir = fs::absolute(config_.data_csv()).parent_path().string();
  ctx.extraction_threads = config_.extraction_threads();

  // The crash-loop guard: a marker while the handler runs; a fatal signal
  // on this thread also writes .state/crashed.
  if (absl::Status m = WriteRunningMarker(study.output_dir, task.task_id(), task.kind()); !m.ok()) {
    FEDRAD_LOG(WARNING) << "study " << task.study_id() << ": cannot write the running marker: " << m;
  }
  CrashSlot& crash = g_crash_slots[slot];
  {
    const std::string path = CrashedMarkerPath(study.output_dir);
    const std::string line = absl::StrCat(Clip(task.task_id(), 256), "\t", Clip(task.kind(), 256), "\n");
    std::snprintf(crash.path, sizeof(crash.path), "%s", path.c_str());
    crash.line_len = std::min(line.size(), sizeof(crash.line));
    std::memcpy(crash.line, line.data(), crash.line_len);
    crash.tid = ThreadId();
  }
  absl::StatusOr<TaskOutput> output;
  if (NowMillis() >= deadline_ms) {
    output = absl::DeadlineExceededError("the task's deadline passed before it started");
  } else {
    try {
      output = kind->handler(ctx);
    } catch (const std::exception& e) {
      output = absl::InternalError(absl::StrCat("task handler threw: ", e.what()));
    } catch (...) {
      output = absl::InternalError("task handler threw an unknown exception");
    }
  }
  crash.tid = 0;
  RemoveRunningMarker(study.output_dir);
  if (NowMillis() >= deadline_ms && !stop_) {
    output = absl::DeadlineExceededError(absl::StrCat(
        "the task ran past its deadline (the earlier of the coordinator's and the site's "
        "max_task_seconds=", config_.policy().max_task_seconds(), ")"));
  }

  bool released = false;
  if (!output.ok()) {
    FEDRAD_LOG(ERROR) << "task " << task.task_id() << " (" << task.kind()
                      << ") failed: " << output.status();
    audit_->Decision(task.study_id(), task.task_id(), coordinator_id_, task.kind(),
                     absl::StrCat("computation failed, nothing released: ",
                                  output.status().message()));
    fail(output.status());
  } else if (study.ledger_broken) {
    absl::Status s = absl::DataLossError("the study's release ledger is damaged");
    audit_->Decision(task.study_id(), task.task_id(), coordinator_id_, task.kind(),
                     absl::StrCat("privacy guard refused release: ", s.message()));
    fail(s);
  } else if (absl::Status guard = guard_.CheckRelease(*kind, *output, task.study().min_cell_count(),
                                                      &study.ledger);
             !guard.ok()) {
    FEDRAD_LOG(WARNING) << "privacy guard refused the result of task " << task.task_id()
                        << ": " << guard.message();
    audit_->Decision(task.study_id(), task.task_id(), coordinator_id_, task.kind(),
                     absl::StrCat("privacy guard refused release: ", guard.message()));
    fail(guard);
  } else {
    // Recorded and saved before the answer leaves.
    ReleaseLedger next = study.ledger;
    next.Record(output->populations);
    absl::Status saved = output->populations.empty()
                             ? absl::OkStatus()
                             : next.Save(LedgerPath(study.output_dir));
    if (!saved.ok()) {
      FEDRAD_LOG(ERROR) << "study " << task.study_id() << ": cannot save the release ledger: " << saved;
      audit_->Decision(task.study_id(), task.task_id(), coordinator_id_, task.kind(),
                       absl::StrCat("privacy guard refused release: the ledger cannot be saved: ",
                                    saved.message()));
      fail(absl::InternalError("the release ledger cannot be saved"));
    } else {
      study.ledger = std::move(next);
      released = true;
      audit_->Decision(task.study_id(), task.task_id(), coordinator_id_, task.kind(),
                       absl::StrCat("privacy guard released: n=", output->n_contributing,
                                    " >= k=", ctx.min_cell_count,
                                    ", arrays: ", ArrayNames(output->payload)));
      result.set_status_code(0);
      result.set_n_contributing(output->n_contributing);
      *result.mutable_payload() = std::move(output->payload);
      FEDRAD_LOG(INFO) << "task " << task.task_id() << " (" << task.kind() << ") done, n="
                       << result.n_contributing();
    }
  }
  bool study_changed = false;
  if (!bookkeeping) {
    if (!released) {
      // A failed task leaves the study as it was.
      study.table = std::move(table_before);
      study.kv = std::move(kv_before);
    } else {
      study_changed = study.kv != kv_before || study.table.header() != table_before.header() ||
                      study.table.rows() != table_before.rows();
    }
  }
  if (bookkeeping) {
    if (result.status_code() == 0) study.answered.clear();  // a checkpoint or restore
  } else if (study_changed) {
    // Keep the changed state and this answer on disk before the answer
    // leaves: a site killed now resumes from here and re-sends it.
    study.answered[task.task_id()] = result.SerializeAsString();
    absl::Status saved = WriteWorkingState(study.output_dir, study.table, study.kv, study.answered);
    if (!saved.ok()) {
      FEDRAD_LOG(ERROR) << "study " << task.study_id()
                        << ": cannot write the working snapshot: " << saved
                        << " (a restart of this site would lose this task's change)";
    } else {
      FEDRAD_LOG(INFO) << "study " << task.study_id() << ": working snapshot written after task "
                       << task.task_id() << " (" << task.kind() << ") changed the study's state";
    }
  }
  std::lock_guard<std::mutex> lock(mu_);
  done_[task.task_id()] = result;
  return result;
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
