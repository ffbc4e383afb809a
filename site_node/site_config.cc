// The site's configuration and identity at start-up: NormalizeSiteConfig,
// LoadSiteConfig, CheckOwnCertificate and LoadSiteTable (site_node.h). The
// daemon itself is in site_node.cc and site_worker.cc.
#include <algorithm>
#include <ctime>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/csv.h"
#include "core/pki.h"
#include "core/status.h"
#include "proto/textproto.h"
#include "site_node/internal/site_node_impl.h"
#include "site_node/site_node.h"

namespace fedrad::site {
namespace {

namespace fs = std::filesystem;
using node_internal::kMaxWorkers;

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

}  // namespace fedrad::site
