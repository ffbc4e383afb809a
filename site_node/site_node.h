// The site daemon (fedrad-site): dials out to the coordinator, keeps one
// long-lived bidirectional stream, reconnects with backoff, sends heartbeats
// and answers tasks from the site's local data table, every result passing
// the privacy guard and the audit log.
//
//   FEDRAD_ASSIGN_OR_RETURN(auto node, fedrad::site::SiteNode::Create(config));
//   std::thread stopper([&] { WaitForSignal(); node->Shutdown(); });
//   absl::Status s = node->Run();   // returns after Shutdown()
//
// Run() returns OK after Shutdown(), or an error that retrying cannot fix
// (the coordinator speaks another protocol version). Create() fails with
// InvalidArgument naming the file, row and column when the data table is
// empty or has duplicate patient ids.
#ifndef FEDRAD_SITE_NODE_SITE_NODE_H_
#define FEDRAD_SITE_NODE_SITE_NODE_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "core/csv.h"
#include "proto/config.pb.h"

namespace fedrad::site {

class SiteNode {
 public:
  static absl::StatusOr<std::unique_ptr<SiteNode>> Create(
      const fedrad::v1::SiteConfig& config);
  ~SiteNode();
  SiteNode(const SiteNode&) = delete;
  SiteNode& operator=(const SiteNode&) = delete;

  // Connects and serves until Shutdown(). Blocks.
  absl::Status Run();
  // Thread safe; makes Run() return soon.
  void Shutdown();

 private:
  class Impl;
  explicit SiteNode(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The site's id: the common name of its certificate ("insecure-site"
// without one).
absl::StatusOr<std::string> SiteIdOf(const fedrad::v1::SiteConfig& config);

// Appends one operator decision (approve, withdraw, reset-study) to the
// site's audit log, for the operator's commands. FailedPrecondition while the
// running site holds the log (the site then writes the record itself).
absl::Status AppendOperatorRecord(const fedrad::v1::SiteConfig& config, const std::string& study,
                                  const std::string& kind, const std::string& summary,
                                  const std::string& digest = "");

// The id of an audit log: the hash of its first record (64 hex digits), or
// "" when the file is missing, empty or its first line carries no hash. It
// names the log (its folder), not the process: the site sends it in its
// Hello so that the coordinator can tell when a site is served from another
// log than before, and `fedrad-site --check` compares it with the live
// stream's. Reads at most the first 1 MiB. Thread safe.
std::string AuditLogId(const std::string& path);

// A new random process instance id (32 hex digits), sent in every Hello of
// this process. Thread safe.
std::string NewInstanceId();

// Fills defaults and checks a site config (k >= 1, paths set; output_dir
// must contain neither the audit log's folder, the data table's folder nor
// state_dir). When base_dir is not empty, every relative path (data_csv,
// output_dir, audit_log, state_dir, tls.ca_cert/cert/key/crl, defaults
// included) is made absolute against it; an absolute path is kept.
absl::StatusOr<fedrad::v1::SiteConfig> NormalizeSiteConfig(
    fedrad::v1::SiteConfig config, const std::string& base_dir = "");

// What the daemon and every `fedrad-site` command read: the config file at
// config_path, its relative paths resolved against the file's own folder
// (not the working directory), then NormalizeSiteConfig. Errors name the
// file.
absl::StatusOr<fedrad::v1::SiteConfig> LoadSiteConfig(const std::string& config_path);

// The site's own identity, checked before it dials out (the daemon at
// start-up; `--check` makes the same checks as its key, cert and ca steps):
// tls.key readable, tls.cert a site certificate within its validity dates,
// matching the key, issued by the CA in tls.ca_cert, and not revoked by
// tls.crl (when set; the CRL must be signed by that CA and current). The
// chain is checked before the CRL. OK with insecure_for_tests. Otherwise
// FailedPrecondition naming the config field and file, and the reason.
absl::Status CheckOwnCertificate(const fedrad::v1::SiteConfig& config);

// Reads and checks the site's data table: not empty, has the id column, ids
// unique. Errors name the file, row and column.
absl::StatusOr<CsvTable> LoadSiteTable(const std::string& path,
                                       const std::string& id_column);

}  // namespace fedrad::site

#endif  // FEDRAD_SITE_NODE_SITE_NODE_H_
