// `fedrad-site --check`: checks, from the hospital's side, every step a site
// node needs before it can take part in a study, and says for each which
// passed, which failed and what to do. Run it after installing, after each
// certificate rotation and whenever the site does not appear as connected.
//
//   $ fedrad-site --config /etc/fedrad/site.textproto --check
//   [ OK ] config       /etc/fedrad/site.textproto: coordinator fedrad.example.org:7443, k=10
//   [ OK ] data         /srv/fedrad/data/cohort.csv: 212 patients, 41 columns
//   ...
//   [FAIL] tcp          cannot connect to 192.0.2.7:7443: connection timed out
//                       -> allow outbound TCP to fedrad.example.org:7443 in the hospital firewall
//   [SKIP] tls          not run: needs tcp
//
// Steps, in order (a step whose prerequisite failed is skipped):
//   config     the file parses and its values are valid
//   data       the data table is readable, has the id column, unique ids
//   storage    the audit log and output folders exist or can be made, and are
//              writable; the audit log's records verify as the daemon verifies
//              them before appending (or it is held by the running daemon)
//   key        the private key is readable and not readable by others
//   cert       the certificate parses, has the site role, is within its
//              validity dates (warns 30 days before expiry), matches the key
//   ca         the CA file holds the study CA; the certificate chains to it;
//              the CRL (when configured) is signed by it, current, and does
//              not revoke this certificate (the chain first; the daemon makes
//              the same checks at start-up, CheckOwnCertificate)
//   dns        the coordinator's host name resolves
//   tcp        a TCP connection to the coordinator opens
//   tls        a mutual TLS handshake: the coordinator's certificate is from
//              the study CA, valid for coordinator_name, role coordinator,
//              not revoked; the coordinator accepts this site's certificate
//   protocol   a Hello/Welcome exchange on the Federation stream: same
//              protocol version, and the coordinator sees this site's id
//
// The protocol step opens the same stream the daemon uses (and closes it at
// once; no task is accepted), so a coordinator briefly sees the site as
// connected. When an HTTP proxy is configured (grpc_proxy, https_proxy,
// http_proxy), gRPC connects through it: the direct tcp and tls steps are
// skipped and the protocol step tests the path through the proxy.
#ifndef FEDRAD_SITE_NODE_SITE_CHECK_H_
#define FEDRAD_SITE_NODE_SITE_CHECK_H_

#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

namespace fedrad::site {

struct SiteCheckOptions {
  // Timeout of each network step (dns, tcp, tls, protocol), seconds.
  double network_timeout_seconds = 10;
  // Only the local steps (config .. ca); the network steps are reported as
  // skipped. For unit tests and for checking a machine before it may connect.
  bool offline = false;
  // Warn when the certificate expires within this many days. Default 30.
  int renew_warning_days = 30;
  // Warn when the CRL's nextUpdate is within this many days. Default 14.
  int crl_warning_days = 14;
};

enum class CheckOutcome { kOk, kWarn, kFail, kSkipped };

struct CheckStep {
  std::string name;    // "config", "data", ...
  CheckOutcome outcome = CheckOutcome::kSkipped;
  std::string detail;  // what was found, e.g. "212 patients, 41 columns"
  std::string advice;  // what to do; empty when the step passed
};

struct SiteCheckReport {
  std::vector<CheckStep> steps;
  // True when no step failed (warnings and skips pass).
  bool ok() const;
  // The step with this name, or nullptr.
  const CheckStep* Find(const std::string& name) const;
};

// Runs every step against the configuration file at `config_path` (relative
// paths in it are relative to the file's folder, as for the daemon). Never
// throws; every problem is a failed step. Blocks up to about four times
// network_timeout_seconds. Thread compatible (no shared state).
SiteCheckReport CheckSite(const std::string& config_path,
                          const SiteCheckOptions& options = {});

// One line per step ("[ OK ] name  detail"), failed and warned steps followed
// by an indented "-> advice" line, then a summary line.
std::string FormatSiteCheckReport(const SiteCheckReport& report);

// What `fedrad-site --config PATH --check` does: checks, prints the report
// to `out`, returns the process exit code (0 if report.ok(), else 1).
int RunSiteCheck(const std::string& config_path, std::ostream& out,
                 const SiteCheckOptions& options = {});
int RunSiteCheck(const std::string& config_path);  // prints to std::cout

}  // namespace fedrad::site

#endif  // FEDRAD_SITE_NODE_SITE_CHECK_H_
