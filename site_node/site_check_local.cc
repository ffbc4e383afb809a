// `fedrad-site --check`: the local steps (config, data, storage, key, cert,
// ca), which need no network. The order of the steps is Checker::Run in
// site_check.cc; the network steps are in site_check_network.cc.
#include "site_node/internal/site_check_impl.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/audit_log.h"
#include "core/csv.h"
#include "core/pki.h"
#include "proto/config.pb.h"
#include "proto/textproto.h"
#include "site_node/site_node.h"

namespace fedrad::site::check_internal {
namespace {

namespace fs = std::filesystem;

std::string OctalMode(mode_t mode) {
  char buf[8];
  std::snprintf(buf, sizeof(buf), "%04o", static_cast<unsigned>(mode & 07777));
  return buf;
}

int64_t NowUnix() { return static_cast<int64_t>(std::time(nullptr)); }

std::string DaysText(int64_t seconds) {
  int64_t days = seconds / 86400;
  return absl::StrCat(days, days == 1 ? " day" : " days");
}

absl::StatusOr<HostPort> ParseTarget(std::string target) {
  for (const char* prefix : {"dns:///", "dns:", "ipv4:", "ipv6:"}) {
    if (absl::StartsWith(target, prefix)) {
      target = target.substr(std::strlen(prefix));
      break;
    }
  }
  HostPort hp;
  if (!target.empty() && target[0] == '[') {
    size_t close = target.find(']');
    if (close == std::string::npos) {
      return absl::InvalidArgumentError(absl::StrCat("bad address '", target, "'"));
    }
    hp.host = target.substr(1, close - 1);
    std::string rest = target.substr(close + 1);
    hp.port = absl::StartsWith(rest, ":") ? rest.substr(1) : "443";
  } else {
    size_t colon = target.rfind(':');
    if (colon == std::string::npos) {
      hp.host = target;
      hp.port = "443";
    } else if (target.find(':') != colon) {
      hp.host = target;  // a bare IPv6 address
      hp.port = "443";
    } else {
      hp.host = target.substr(0, colon);
      hp.port = target.substr(colon + 1);
    }
  }
  if (hp.host.empty() || hp.port.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("bad address '", target, "': expected host:port"));
  }
  return hp;
}

// A writable location: the path itself if it exists, else the nearest
// existing ancestor (where the daemon would create the folders).
std::string CheckWritable(const fs::path& path, bool is_file) {
  std::error_code ec;
  fs::path probe = path;
  if (is_file && fs::exists(probe, ec)) {
    if (access(probe.c_str(), W_OK) != 0) {
      return absl::StrCat(probe.string(), " exists but is not writable: ", Errno(errno));
    }
    return "";
  }
  if (is_file) probe = probe.parent_path();
  if (probe.empty()) probe = ".";
  while (!fs::exists(probe, ec)) {
    fs::path parent = probe.parent_path();
    if (parent.empty() || parent == probe) {
      parent = ".";
      if (probe == parent) break;
    }
    probe = parent;
  }
  if (!fs::is_directory(probe, ec)) {
    return absl::StrCat(probe.string(), " is not a folder");
  }
  if (access(probe.c_str(), W_OK | X_OK) != 0) {
    return absl::StrCat(probe.string(), " is not writable: ", Errno(errno));
  }
  return "";
}

}  // namespace

void Checker::CheckConfig(CheckStep& s) {
  v1::SiteConfig raw;
  if (absl::Status st = ReadTextProto(config_path_, &raw); !st.ok()) {
    Fail(s, std::string(st.message()),
         absl::IsNotFound(st)
             ? "pass the right --config path (the service uses /etc/fedrad/site.textproto)"
             : "fix the line named above; every field is described in "
               "docs/site-operator.md");
    return;
  }
  // As the daemon reads it: relative paths against the file's folder.
  auto normalized =
      NormalizeSiteConfig(raw, fs::absolute(config_path_).parent_path().string());
  if (!normalized.ok()) {
    Fail(s, std::string(normalized.status().message()),
         "set the field named above (docs/site-operator.md)");
    return;
  }
  config_ = *normalized;
  auto hp = ParseTarget(config_.coordinator_address());
  if (!hp.ok()) {
    Fail(s, absl::StrCat("coordinator_address: ", hp.status().message()),
         "write it as host:port, e.g. \"fedrad.example.org:7443\"");
    return;
  }
  target_ = *hp;
  server_name_ =
      config_.coordinator_name().empty() ? target_.host : config_.coordinator_name();
  s.detail = absl::StrCat(config_path_, ": coordinator ", config_.coordinator_address(),
                          " (name ", server_name_, "), k=",
                          config_.policy().min_cell_count());
  if (config_.tls().insecure_for_tests()) {
    s.outcome = CheckOutcome::kWarn;
    s.advice = "tls.insecure_for_tests is for tests only: remove it and configure tls { }";
  }
  if (config_.policy().enable_debug_tasks()) {
    s.outcome = CheckOutcome::kWarn;
    s.advice = "policy.enable_debug_tasks is for tests only: remove it in production";
  }
}

void Checker::CheckData(CheckStep& s) {
  const std::string& path = config_.data_csv();
  if (access(path.c_str(), R_OK) != 0 && errno == EACCES) {
    Fail(s, absl::StrCat("cannot read ", path, ": permission denied"),
         "make the file readable by the service user (e.g. chgrp fedrad FILE; chmod g+r "
         "FILE, and g+x on its folders), and run --check as that user (sudo -u fedrad)");
    return;
  }
  auto table = LoadSiteTable(path, config_.id_column());
  if (!table.ok()) {
    Fail(s, std::string(table.status().message()),
         absl::IsNotFound(table.status())
             ? "put the data table at data_csv, or point data_csv at it"
             : "fix the table at the row/column named above (one row per patient, a "
               "unique id_column)");
    return;
  }
  s.detail = absl::StrCat(path, ": ", table->num_rows(), " patients, ", table->num_columns(),
                          " columns");
  if (static_cast<int64_t>(table->num_rows()) < config_.policy().min_cell_count()) {
    s.outcome = CheckOutcome::kWarn;
    s.advice = absl::StrCat("fewer patients than k=", config_.policy().min_cell_count(),
                            ": the privacy guard will refuse every result");
  }
}

void Checker::CheckStorage(CheckStep& s) {
  std::vector<std::string> problems;
  if (std::string p = CheckWritable(config_.audit_log(), /*is_file=*/true); !p.empty()) {
    problems.push_back(absl::StrCat("audit log: ", p));
  }
  if (std::string p = CheckWritable(config_.output_dir(), /*is_file=*/false); !p.empty()) {
    problems.push_back(absl::StrCat("output: ", p));
  }
  if (!problems.empty()) {
    Fail(s, absl::StrJoin(problems, "; "),
         "the service user must be able to write there (the systemd unit allows only "
         "/var/lib/fedrad); run --check as that user");
    return;
  }
  s.detail = absl::StrCat("audit log ", config_.audit_log(), " and output ",
                          config_.output_dir(), " writable");
  // The verification the service makes before it appends to the log.
  absl::Status log = audit::CheckLogBeforeOpen(config_.audit_log());
  if (absl::IsFailedPrecondition(log)) {
    absl::StrAppend(&s.detail, "; the audit log is held by a running fedrad-site (it "
                               "verified the log when it opened it)");
  } else if (!log.ok()) {
    Fail(s, std::string(log.message()),
         absl::IsDataLoss(log)
             ? "the service refuses to start on a damaged log: keep the file for the auditor "
               "(fedrad audit verify names the damaged lines), move it aside and start again"
             : "the service user must be able to read and write the audit log");
    return;
  } else if (fs::exists(config_.audit_log())) {
    absl::StrAppend(&s.detail, "; its records verify");
  }
}

void Checker::CheckKey(CheckStep& s) {
  const std::string& key = config_.tls().key();
  struct stat st {};
  if (stat(key.c_str(), &st) != 0) {
    Fail(s, absl::StrCat("cannot find the key ", key, ": ", Errno(errno)),
         "make the key at the site with `fedrad pki request` (docs/deployment.md, Enrol), "
         "or fix tls.key");
    return;
  }
  if (access(key.c_str(), R_OK) != 0) {
    Fail(s, absl::StrCat("cannot read the key ", key, ": ", Errno(errno)),
         "run --check as the service user (sudo -u fedrad ...); the key must be owned by "
         "it: chown fedrad KEY; chmod 600 KEY");
    return;
  }
  if ((st.st_mode & S_IRWXO) != 0) {
    Fail(s, absl::StrCat(key, " is accessible by every user (mode ", OctalMode(st.st_mode),
                         ")"),
         absl::StrCat("chmod 600 ", key, "; if others could read it, treat it as leaked: "
                                         "revoke and re-enrol"));
    return;
  }
  auto loaded = pki::PrivateKey::Load(key);
  if (!loaded.ok()) {
    Fail(s, std::string(loaded.status().message()),
         "tls.key must be the PEM private key `fedrad pki request` made");
    return;
  }
  s.detail = absl::StrCat(key, " (mode ", OctalMode(st.st_mode), ")");
}

void Checker::CheckCert(CheckStep& s) {
  const std::string& cert = config_.tls().cert();
  auto info = pki::ReadCertificate(cert);
  if (!info.ok()) {
    Fail(s, std::string(info.status().message()),
         absl::IsNotFound(info.status())
             ? "put the certificate the study coordinator sent back (after `fedrad pki "
               "sign`) at tls.cert"
             : "tls.cert must be the PEM certificate `fedrad pki sign` made for this site");
    return;
  }
  if (info->is_ca || info->role != pki::Role::kSite) {
    Fail(s, absl::StrCat(cert, " (", info->subject, ") is not a site certificate"),
         "ask for a certificate with role site: the CSR must come from `fedrad pki request "
         "--role site`");
    return;
  }
  site_id_ = info->common_name;
  int64_t now = NowUnix();
  if (now < info->not_before_unix) {
    Fail(s, absl::StrCat(cert, " is not valid before ", pki::FormatUnixTime(info->not_before_unix)),
         "check this machine's clock (timedatectl), or wait until then");
    return;
  }
  if (now >= info->not_after_unix) {
    Fail(s, absl::StrCat(cert, " expired on ", pki::FormatUnixTime(info->not_after_unix)),
         "ask the study coordinator for a new certificate (docs/deployment.md, Rotate a "
         "certificate); check this machine's clock too");
    return;
  }
  if (absl::Status m = pki::CheckKeyMatchesCertificate(config_.tls().key(), cert); !m.ok()) {
    Fail(s, std::string(m.message()),
         "tls.cert and tls.key are not a pair: use the certificate signed for the CSR this "
         "key made (or make a new key and CSR and enrol again)");
    return;
  }
  int64_t left = info->not_after_unix - now;
  s.detail = absl::StrCat("site '", site_id_, "', serial ", info->serial_hex, ", valid until ",
                          pki::FormatUnixTime(info->not_after_unix), " (", DaysText(left),
                          "), matches the key");
  if (left < int64_t{options_.renew_warning_days} * 86400) {
    s.outcome = CheckOutcome::kWarn;
    s.advice = "expires soon: rotate it now (docs/deployment.md, Rotate a certificate)";
  }
}

void Checker::CheckCa(CheckStep& s) {
  const std::string& ca = config_.tls().ca_cert();
  auto ca_info = pki::ReadCertificate(ca);
  if (!ca_info.ok() || !ca_info->is_ca) {
    Fail(s,
         ca_info.ok() ? absl::StrCat(ca, " (", ca_info->subject, ") is not a CA certificate")
                      : std::string(ca_info.status().message()),
         "tls.ca_cert must be the study CA's certificate (ca.crt) from the study "
         "coordinator");
    return;
  }
  auto pem = ReadFileToString(config_.tls().cert());
  if (!pem.ok()) {
    Fail(s, std::string(pem.status().message()), "fix the cert step first");
    return;
  }
  const std::string& crl = config_.tls().crl();
  if (!crl.empty() && access(crl.c_str(), R_OK) != 0) {
    Fail(s, absl::StrCat("cannot read the CRL ", crl, ": ", Errno(errno)),
         "copy the study's current crl.pem from the study coordinator to tls.crl");
    return;
  }
  // The chain before the CRL (as the daemon checks at start-up): a CA
  // from another study is named as such, not blamed on the CRL.
  absl::Status v = pki::VerifyCertificatePem(*pem, ca, "");
  if (v.ok() && !crl.empty()) v = pki::VerifyCertificatePem(*pem, ca, crl);
  if (!v.ok()) {
    std::string why(v.message());
    std::string advice =
        absl::StrContains(why, "revoked")
            ? "this certificate is revoked: enrol again with a new key "
              "(docs/deployment.md, Rotate a certificate)"
        : absl::StrContains(why, "CRL")
            ? "fetch a current crl.pem from the study coordinator (the CA re-signs it "
              "before its next update)"
            : "tls.ca_cert and tls.cert must come from the same study CA; ask the study "
              "coordinator for its ca.crt";
    Fail(s, why, advice);
    return;
  }
  // The daemon's own start-up check must agree with this step.
  if (absl::Status own = CheckOwnCertificate(config_); !own.ok()) {
    Fail(s, std::string(own.message()), "the service refuses to start with this; fix it first");
    return;
  }
  s.detail = absl::StrCat("issued by ", ca_info->subject);
  if (crl.empty()) {
    s.outcome = CheckOutcome::kWarn;
    s.detail += "; no CRL configured";
    s.advice = "set tls.crl to the study's crl.pem so that revoked coordinators are refused";
    return;
  }
  auto crl_info = pki::ReadCrl(crl);
  if (crl_info.ok()) {
    int64_t left = crl_info->next_update_unix - NowUnix();
    absl::StrAppend(&s.detail, "; CRL #", crl_info->crl_number, " (",
                    crl_info->revoked.size(), " revoked), next update ",
                    pki::FormatUnixTime(crl_info->next_update_unix));
    if (crl_info->next_update_unix > 0 &&
        left < int64_t{options_.crl_warning_days} * 86400) {
      s.outcome = CheckOutcome::kWarn;
      s.advice = absl::StrCat("the CRL expires in ", DaysText(left),
                              ": get a fresh crl.pem from the study coordinator");
    }
  }
}

}  // namespace fedrad::site::check_internal
