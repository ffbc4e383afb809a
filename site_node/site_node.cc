#include "site_node/site_node.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "core/csv.h"
#include "core/log.h"
#include "core/status.h"
#include "proto/fedrad.grpc.pb.h"
#include "proto/node_audit.h"
#include "proto/transport.h"
#include "site_node/builtin_tasks.h"
#include "site_node/privacy_guard.h"
#include "site_node/study_checkpoint.h"

#ifndef FEDRAD_VERSION
#define FEDRAD_VERSION "0.0.0"
#endif

namespace fedrad::site {
namespace {

namespace fs = std::filesystem;
using Stream = grpc::ClientReaderWriter<v1::SiteMessage, v1::CoordinatorMessage>;

std::string HostOf(const std::string& address) {
  auto colon = address.rfind(':');
  std::string host = colon == std::string::npos ? address : address.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  return host;
}

int64_t NowMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string ArrayNames(const v1::Payload& payload) {
  std::vector<std::string> names;
  for (const auto& a : payload.arrays()) names.push_back(a.name());
  return names.empty() ? "none" : absl::StrJoin(names, ", ");
}

}  // namespace

absl::StatusOr<v1::SiteConfig> NormalizeSiteConfig(v1::SiteConfig config) {
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
                           config_.policy().enable_debug_tasks()}) {
    RegisterBuiltinTasks(registry_);
    RegisterStudyTasks(registry_);
  }

  absl::Status Run();
  void Shutdown();

 private:
  absl::Status RunOneStream(bool* welcomed);
  void WorkerLoop();
  v1::TaskResult Execute(const v1::Task& task);
  void Deliver(const v1::TaskResult& result);
  void HeartbeatLoop(std::atomic<bool>* ended);
  bool SleepUnlessStopped(double seconds);

  const v1::SiteConfig config_;
  const std::string site_id_;
  const CsvTable table_;
  std::unique_ptr<NodeAudit> audit_;
  std::shared_ptr<grpc::ChannelCredentials> creds_;
  TaskRegistry registry_;
  PrivacyGuard guard_;

  std::atomic<bool> stop_{false};
  std::mutex mu_;  // guards queue_, done_
  std::condition_variable cv_;
  std::deque<v1::Task> queue_;
  std::map<std::string, v1::TaskResult> done_;  // results by task id (idempotent retries)

  struct StudyState {
    CsvTable table;
    std::map<std::string, std::string> kv;
    std::string output_dir;
    // Results of tasks that changed the state since the last checkpoint
    // (task id -> serialized TaskResult; in the working snapshot).
    std::map<std::string, std::string> answered;
  };
  // The study's state, created on its first task; a study this process has
  // not seen but that has a working snapshot or checkpoints on disk (the
  // site restarted mid-study) is loaded from them. Worker thread only.
  StudyState& StudyFor(const v1::Task& task);
  std::map<std::string, StudyState> studies_;  // worker thread only

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
  std::thread worker([this] { WorkerLoop(); });
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
    FEDRAD_LOG(WARNING) << "connection to coordinator " << config_.coordinator_address()
                        << (welcomed ? " lost: " : " failed: ") << status.message()
                        << " (" << absl::StatusCodeToString(status.code())
                        << "); retrying in " << absl::StrFormat("%.1f", delay) << " s";
    if (!SleepUnlessStopped(delay)) break;
    backoff = std::min(backoff * 2, config_.reconnect_max_seconds());
  }
  stop_ = true;
  cv_.notify_all();
  worker.join();
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
                   << "'";
  {
    std::lock_guard<std::mutex> lock(stream_mu_);
    stream_ = stream.get();
  }
  std::atomic<bool> ended{false};
  std::thread heartbeat([&] { HeartbeatLoop(&ended); });
  while (stream->Read(&msg)) {
    if (!msg.has_task()) continue;
    const v1::Task& task = msg.task();
    audit_->Received(task.study_id(), task.task_id(), coordinator_id_, task.kind(),
                     WireDigest(task), absl::StrCat("task ", task.kind()));
    FEDRAD_LOG(INFO) << "task " << task.task_id() << " (" << task.kind() << ") received";
    {
      std::lock_guard<std::mutex> lock(mu_);
      queue_.push_back(task);
    }
    cv_.notify_all();
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

void SiteNode::Impl::WorkerLoop() {
  while (true) {
    v1::Task task;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return stop_.load() || !queue_.empty(); });
      if (stop_) return;
      task = std::move(queue_.front());
      queue_.pop_front();
    }
    v1::TaskResult result = Execute(task);
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

SiteNode::Impl::StudyState& SiteNode::Impl::StudyFor(const v1::Task& task) {
  auto [it, inserted] = studies_.try_emplace(task.study_id());
  StudyState& study = it->second;
  if (!inserted) return study;
  study.table = table_;
  study.output_dir = (fs::path(config_.output_dir()) / task.study_id()).string();
  std::error_code ec;
  fs::create_directories(study.output_dir, ec);
  if (ec) {
    FEDRAD_LOG(ERROR) << "cannot create " << study.output_dir << ": " << ec.message();
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

v1::TaskResult SiteNode::Impl::Execute(const v1::Task& task) {
  // A known kind: make sure the study's state is there (a restarted site
  // loads it, and the answers it kept, from disk) before looking up answers.
  StudyState* study_ptr = registry_.Find(task.kind()) != nullptr ? &StudyFor(task) : nullptr;
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
    result.set_status_code(static_cast<int>(status.code()));
    result.set_status_message(std::string(status.message()));
    result.clear_payload();
    result.set_n_contributing(0);
  };

  const TaskKind* kind = registry_.Find(task.kind());
  absl::Status status;
  bool study_changed = false;  // the task changed the study's table or state
  if (kind == nullptr) {
    status = absl::UnimplementedError(
        absl::StrCat("this site's software has no task kind '", task.kind(), "'"));
  } else {
    status = guard_.CheckAccepted(*kind);
  }
  if (!status.ok()) {
    FEDRAD_LOG(WARNING) << "refused task " << task.task_id() << ": " << status.message();
    audit_->Decision(task.study_id(), task.task_id(), coordinator_id_, task.kind(),
                     absl::StrCat("refused task: ", status.message()));
    fail(status);
  } else {
    StudyState& study = *study_ptr;
    const bool bookkeeping = absl::StartsWith(task.kind(), "study.");
    CsvTable table_before;
    std::map<std::string, std::string> kv_before;
    if (!bookkeeping) {
      table_before = study.table;
      kv_before = study.kv;
    }
    TaskContext ctx;
    ctx.site_id = site_id_;
    ctx.task = &task;
    ctx.table = &study.table;
    ctx.output_dir = study.output_dir;
    ctx.min_cell_count = guard_.EffectiveMinCellCount(task.study().min_cell_count());
    ctx.state = &study.kv;
    ctx.id_column = task.study().id_column().empty() ? config_.id_column()
                                                     : task.study().id_column();
    ctx.cancelled = [this] { return stop_.load(); };
    ctx.data_table = &table_;
    ctx.data_dir = fs::absolute(config_.data_csv()).parent_path().string();
    ctx.extraction_threads = config_.extraction_threads();
    absl::StatusOr<TaskOutput> output;
    try {
      output = kind->handler(ctx);
    } catch (const std::exception& e) {
      output = absl::InternalError(absl::StrCat("task handler threw: ", e.what()));
    } catch (...) {
      output = absl::InternalError("task handler threw an unknown exception");
    }
    study_changed = !bookkeeping && (study.kv != kv_before ||
                                     study.table.header() != table_before.header() ||
                                     study.table.rows() != table_before.rows());
    if (!output.ok()) {
      FEDRAD_LOG(ERROR) << "task " << task.task_id() << " (" << task.kind()
                        << ") failed: " << output.status();
      audit_->Decision(task.study_id(), task.task_id(), coordinator_id_, task.kind(),
                       absl::StrCat("computation failed, nothing released: ",
                                    output.status().message()));
      fail(output.status());
    } else if (absl::Status guard = guard_.CheckRelease(*kind, *output, task.study().min_cell_count());
               !guard.ok()) {
      FEDRAD_LOG(WARNING) << "privacy guard refused the result of task " << task.task_id()
                          << ": " << guard.message();
      audit_->Decision(task.study_id(), task.task_id(), coordinator_id_, task.kind(),
                       absl::StrCat("privacy guard refused release: ", guard.message()));
      fail(guard);
    } else {
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
  if (study_ptr != nullptr && kind != nullptr && status.ok()) {
    StudyState& study = *study_ptr;
    if (absl::StartsWith(task.kind(), "study.")) {
      if (result.status_code() == 0) study.answered.clear();  // a checkpoint or restore
    } else if (study_changed) {
      // Keep the changed state and this answer on disk before the answer
      // leaves: a site killed now resumes from here and re-sends it.
      study.answered[task.task_id()] = result.SerializeAsString();
      absl::Status saved =
          WriteWorkingState(study.output_dir, study.table, study.kv, study.answered);
      if (!saved.ok()) {
        FEDRAD_LOG(ERROR) << "study " << task.study_id()
                          << ": cannot write the working snapshot: " << saved
                          << " (a restart of this site would lose this task's change)";
      } else {
        FEDRAD_LOG(INFO) << "study " << task.study_id() << ": working snapshot written after task "
                         << task.task_id() << " (" << task.kind() << ") changed the study's state";
      }
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
  std::string site_id;
  if (!config.tls().cert().empty()) {
    FEDRAD_ASSIGN_OR_RETURN(std::string pem, ReadFileToString(config.tls().cert()));
    FEDRAD_ASSIGN_OR_RETURN(transport::PeerIdentity me, transport::DescribeCertificate(pem));
    site_id = me.common_name;
  }
  if (site_id.empty()) site_id = "insecure-site";
  transport::TlsFiles tls{config.tls().ca_cert(), config.tls().cert(), config.tls().key(),
                          config.tls().crl(), config.tls().insecure_for_tests(),
                          "site:" + site_id};
  FEDRAD_ASSIGN_OR_RETURN(auto creds, transport::MakeChannelCredentials(tls, "coordinator"));
  std::error_code ec;
  fs::create_directories(fs::path(config.audit_log()).parent_path(), ec);
  fs::create_directories(config.output_dir(), ec);
  FEDRAD_ASSIGN_OR_RETURN(
      auto audit, NodeAudit::Open({config.audit_log(), "site:" + site_id, config.tls().key(),
                                   config.tls().cert()}));
  FEDRAD_LOG(INFO) << "site '" << site_id << "': " << table.num_rows() << " patients in "
                   << config.data_csv() << "; k=" << config.policy().min_cell_count();
  return std::unique_ptr<SiteNode>(new SiteNode(std::make_unique<Impl>(
      std::move(config), site_id, std::move(table), std::move(audit), std::move(creds))));
}

absl::Status SiteNode::Run() { return impl_->Run(); }
void SiteNode::Shutdown() { impl_->Shutdown(); }

}  // namespace fedrad::site
