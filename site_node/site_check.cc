// `fedrad-site --check` (site_check.h): the order of the steps and what each
// needs (Checker::Run), the report and its text. The steps themselves are in
// site_check_local.cc (config, data, storage, key, cert, ca) and
// site_check_network.cc (dns, tcp, tls, protocol); the Checker class is in
// internal/site_check_impl.h.
#include "site_node/site_check.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "site_node/internal/site_check_impl.h"

namespace fedrad::site {
namespace check_internal {
namespace {

std::string ProxyInUse() {
  for (const char* var : {"grpc_proxy", "https_proxy", "http_proxy"}) {
    const char* v = std::getenv(var);
    if (v != nullptr && *v != '\0') return absl::StrCat(var, "=", v);
  }
  return "";
}

}  // namespace

std::string Errno(int err) { return std::strerror(err); }

SiteCheckReport Checker::Run() {
  bool config_ok = Step("config", {}, [&](CheckStep& s) { CheckConfig(s); });
  Step("data", {config_ok}, [&](CheckStep& s) { CheckData(s); });
  Step("storage", {config_ok}, [&](CheckStep& s) { CheckStorage(s); });
  const bool insecure = config_ok && config_.tls().insecure_for_tests();
  const std::string no_tls = "insecure_for_tests is set: no TLS (tests only)";
  bool ca_ok = true;
  if (insecure) {
    for (const char* name : {"key", "cert", "ca"}) Skip(name, no_tls);
  } else {
    bool key_ok = Step("key", {config_ok}, [&](CheckStep& s) { CheckKey(s); });
    bool cert_ok = Step("cert", {key_ok}, [&](CheckStep& s) { CheckCert(s); });
    ca_ok = Step("ca", {cert_ok}, [&](CheckStep& s) { CheckCa(s); });
  }
  if (options_.offline) {
    for (const char* name : {"dns", "tcp", "tls", "protocol"}) {
      Skip(name, "offline check: network steps not run");
    }
    return std::move(report_);
  }
  bool dns_ok = Step("dns", {config_ok}, [&](CheckStep& s) { CheckDns(s); });
  bool path_ok = false;  // the direct tcp (+ tls) path works
  const std::string proxy = ProxyInUse();
  if (!proxy.empty() && dns_ok) {
    Skip("tcp", absl::StrCat(proxy, " is set: gRPC connects through the proxy"));
    Skip("tls", absl::StrCat(proxy, " is set: the protocol step tests the path"));
    path_ok = true;
  } else {
    bool tcp_ok = Step("tcp", {dns_ok}, [&](CheckStep& s) { CheckTcp(s); });
    if (insecure) {
      Skip("tls", no_tls);
      path_ok = tcp_ok;
    } else {
      path_ok = Step("tls", {tcp_ok, ca_ok}, [&](CheckStep& s) { CheckTls(s); });
    }
  }
  Step("protocol", {path_ok, ca_ok}, [&](CheckStep& s) { CheckProtocol(s); });
  return std::move(report_);
}

}  // namespace check_internal

namespace {

const char* Tag(CheckOutcome outcome) {
  switch (outcome) {
    case CheckOutcome::kOk:
      return "[ OK ]";
    case CheckOutcome::kWarn:
      return "[WARN]";
    case CheckOutcome::kFail:
      return "[FAIL]";
    case CheckOutcome::kSkipped:
      return "[SKIP]";
  }
  return "[ ?? ]";
}

}  // namespace

bool SiteCheckReport::ok() const {
  for (const CheckStep& s : steps) {
    if (s.outcome == CheckOutcome::kFail) return false;
  }
  return !steps.empty();
}

const CheckStep* SiteCheckReport::Find(const std::string& name) const {
  for (const CheckStep& s : steps) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

SiteCheckReport CheckSite(const std::string& config_path, const SiteCheckOptions& options) {
  return check_internal::Checker(config_path, options).Run();
}

std::string FormatSiteCheckReport(const SiteCheckReport& report) {
  std::ostringstream out;
  int failed = 0, warned = 0;
  for (const CheckStep& s : report.steps) {
    std::string name = s.name;
    name.resize(std::max<size_t>(name.size(), 9), ' ');
    out << Tag(s.outcome) << " " << name << "  " << s.detail << "\n";
    if (!s.advice.empty() &&
        (s.outcome == CheckOutcome::kFail || s.outcome == CheckOutcome::kWarn)) {
      out << "                   -> " << s.advice << "\n";
    }
    failed += s.outcome == CheckOutcome::kFail;
    warned += s.outcome == CheckOutcome::kWarn;
  }
  if (report.ok()) {
    out << "site check passed" << (warned ? absl::StrCat(" with ", warned, " warning(s)") : "")
        << "\n";
  } else {
    out << "site check FAILED: " << failed << " step(s) failed\n";
  }
  return out.str();
}

int RunSiteCheck(const std::string& config_path, std::ostream& out,
                 const SiteCheckOptions& options) {
  SiteCheckReport report = CheckSite(config_path, options);
  out << FormatSiteCheckReport(report) << std::flush;
  return report.ok() ? 0 : 1;
}

int RunSiteCheck(const std::string& config_path) {
  return RunSiteCheck(config_path, std::cout);
}

}  // namespace fedrad::site
