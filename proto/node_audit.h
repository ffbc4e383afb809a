// The daemons' view of the audit log: one record per task or result that
// crosses the wire (with the SHA-256 of its deterministic serialisation, the
// same bytes on both sides so `fedrad audit cross-check` matches) and one
// per policy decision. Wraps fedrad::audit::AuditLog (core/audit_log.h).
//
//   FEDRAD_ASSIGN_OR_RETURN(auto audit, NodeAudit::Open(options));
//   audit->Sent(study_id, task_id, "S1", "cohort.summary", WireDigest(task), "task");
//   ...
//   audit->Close();
//
// Thread safe. An append that fails is logged as an ERROR (the node keeps
// running; the verifier will then report the gap).
#ifndef FEDRAD_PROTO_NODE_AUDIT_H_
#define FEDRAD_PROTO_NODE_AUDIT_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "google/protobuf/message_lite.h"

namespace fedrad {

// Deterministic serialisation (map entries sorted) of a message: the bytes
// whose digest goes into the audit log on both sides.
std::string DeterministicBytes(const google::protobuf::MessageLite& message);
// SHA-256 hex of DeterministicBytes(message).
std::string WireDigest(const google::protobuf::MessageLite& message);

struct NodeAuditOptions {
  std::string path;       // JSON Lines file
  std::string node_id;    // "site:S1" or "coordinator"
  std::string key_path;   // signs checkpoints
  std::string cert_path;  // embedded in the open record
};

class NodeAudit {
 public:
  static absl::StatusOr<std::unique_ptr<NodeAudit>> Open(
      const NodeAuditOptions& options);
  ~NodeAudit();
  NodeAudit(const NodeAudit&) = delete;
  NodeAudit& operator=(const NodeAudit&) = delete;

  void Sent(const std::string& study, const std::string& task,
            const std::string& peer, const std::string& kind,
            const std::string& digest, const std::string& summary);
  void Received(const std::string& study, const std::string& task,
                const std::string& peer, const std::string& kind,
                const std::string& digest, const std::string& summary);
  // `digest` (optional): a hex SHA-256 the decision is about, e.g. the
  // spec hash of a study approval.
  void Decision(const std::string& study, const std::string& task,
                const std::string& peer, const std::string& kind,
                const std::string& summary, const std::string& digest = "");
  // Hash of the last record ("" when unknown).
  std::string HeadHash() const;
  // Writes the signed closing checkpoint. Idempotent.
  void Close();

 private:
  struct Impl;
  explicit NodeAudit(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace fedrad

#endif  // FEDRAD_PROTO_NODE_AUDIT_H_
