#include "proto/node_audit.h"

#include <mutex>

#include "core/audit_log.h"
#include "core/hash.h"
#include "core/log.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"

namespace fedrad {

std::string DeterministicBytes(const google::protobuf::MessageLite& message) {
  std::string out;
  {
    google::protobuf::io::StringOutputStream stream(&out);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    message.SerializeToCodedStream(&coded);
  }
  return out;
}

std::string WireDigest(const google::protobuf::MessageLite& message) {
  return Sha256Hex(DeterministicBytes(message));
}

struct NodeAudit::Impl {
  std::unique_ptr<audit::AuditLog> log;
  void Append(audit::Direction d, const std::string& study,
              const std::string& task, const std::string& peer,
              const std::string& kind, const std::string& digest,
              const std::string& summary) {
    std::lock_guard<std::mutex> lock(mu);
    if (closed) return;
    audit::AuditEvent e;
    e.direction = d;
    e.study_id = study;
    e.task_id = task;
    e.peer = peer;
    e.kind = kind;
    e.payload_sha256 = digest;
    e.summary = summary;
    absl::Status s = log->Append(e);
    if (!s.ok()) {
      FEDRAD_LOG(ERROR) << "audit log append failed: " << s;
    }
  }
  std::mutex mu;
  bool closed = false;
};

NodeAudit::NodeAudit(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
NodeAudit::~NodeAudit() { Close(); }

absl::StatusOr<std::unique_ptr<NodeAudit>> NodeAudit::Open(
    const NodeAuditOptions& options) {
  auto impl = std::make_unique<Impl>();
  audit::AuditLogOptions o;
  o.path = options.path;
  o.node_id = options.node_id;
  o.key_path = options.key_path;
  o.cert_path = options.cert_path;
  auto log = audit::AuditLog::Open(o);
  if (!log.ok()) return log.status();
  impl->log = std::move(*log);
  return std::unique_ptr<NodeAudit>(new NodeAudit(std::move(impl)));
}

void NodeAudit::Sent(const std::string& study, const std::string& task,
                     const std::string& peer, const std::string& kind,
                     const std::string& digest, const std::string& summary) {
  impl_->Append(audit::Direction::kSent, study, task, peer, kind, digest,
                summary);
}

void NodeAudit::Received(const std::string& study, const std::string& task,
                         const std::string& peer, const std::string& kind,
                         const std::string& digest,
                         const std::string& summary) {
  impl_->Append(audit::Direction::kReceived, study, task, peer, kind, digest,
                summary);
}

void NodeAudit::Decision(const std::string& study, const std::string& task,
                         const std::string& peer, const std::string& kind,
                         const std::string& summary,
                         const std::string& digest) {
  impl_->Append(audit::Direction::kDecision, study, task, peer, kind, digest,
                summary);
}

std::string NodeAudit::HeadHash() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->log->head_hash();
}

void NodeAudit::Close() {
  if (!impl_) return;
  std::lock_guard<std::mutex> lock(impl_->mu);
  if (impl_->closed) return;
  impl_->closed = true;
  absl::Status s = impl_->log->Close();
  if (!s.ok()) {
    FEDRAD_LOG(ERROR) << "audit log close failed: " << s;
  }
}

}  // namespace fedrad
