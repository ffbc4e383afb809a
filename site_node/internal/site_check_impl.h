// Private to fedrad::site_check (`fedrad-site --check`, site_check.h): the
// Checker that runs the steps, and the types its files share. Not a public
// header; only site_node/site_check*.cc include it.
//
//   site_check.cc          Checker::Run (the order of the steps and what each
//                          needs), the report (ok, Find, format) and RunSiteCheck
//   site_check_local.cc    the local steps: config, data, storage, key, cert, ca
//   site_check_network.cc  the network steps: dns, tcp (POSIX sockets, bounded
//                          waits), tls and protocol (the daemon's own channel
//                          and certificate verifier, with a deadline)
#ifndef FEDRAD_SITE_NODE_INTERNAL_SITE_CHECK_IMPL_H_
#define FEDRAD_SITE_NODE_INTERNAL_SITE_CHECK_IMPL_H_

#include <sys/socket.h>
#include <unistd.h>

#include <functional>
#include <initializer_list>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "proto/config.pb.h"
#include "proto/fedrad.pb.h"
#include "site_node/site_check.h"

namespace grpc {
class Channel;
}  // namespace grpc

namespace fedrad::site::check_internal {

// strerror(err) (site_check.cc).
std::string Errno(int err);

// The host and port of a gRPC target: "host:port", "[v6]:port",
// "dns:///host:port", "ipv4:a.b.c.d:port", "ipv6:[v6]:port". The port
// defaults to 443 as in gRPC.
struct HostPort {
  std::string host;
  std::string port;
};

struct Resolved {
  int error = 0;  // getaddrinfo's code
  std::vector<sockaddr_storage> addrs;
  std::vector<socklen_t> lens;
  std::vector<std::string> texts;
};

// Owns a socket.
class Socket {
 public:
  explicit Socket(int fd = -1) : fd_(fd) {}
  ~Socket() {
    if (fd_ >= 0) close(fd_);
  }
  Socket(Socket&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  Socket& operator=(Socket&& o) noexcept {
    std::swap(fd_, o.fd_);
    return *this;
  }
  int fd() const { return fd_; }

 private:
  int fd_;
};

class Checker {
 public:
  Checker(std::string config_path, const SiteCheckOptions& options)
      : config_path_(std::move(config_path)), options_(options) {}

  // The order of the steps (site_check.cc).
  SiteCheckReport Run();

 private:
  // Runs `body` if every prerequisite passed; returns whether the step passed.
  bool Step(const std::string& name, std::initializer_list<bool> needs,
            const std::function<void(CheckStep&)>& body) {
    CheckStep step;
    step.name = name;
    for (size_t i = 0; i < needs.size(); ++i) {
      if (!needs.begin()[i]) {
        step.outcome = CheckOutcome::kSkipped;
        step.detail = "not run: an earlier step failed";
        report_.steps.push_back(step);
        return false;
      }
    }
    step.outcome = CheckOutcome::kOk;
    body(step);
    report_.steps.push_back(step);
    return step.outcome == CheckOutcome::kOk || step.outcome == CheckOutcome::kWarn;
  }
  void Skip(const std::string& name, const std::string& why) {
    CheckStep step;
    step.name = name;
    step.detail = why;
    report_.steps.push_back(step);
  }
  static void Fail(CheckStep& s, std::string detail, std::string advice) {
    s.outcome = CheckOutcome::kFail;
    s.detail = std::move(detail);
    s.advice = std::move(advice);
  }

  // The local steps (site_check_local.cc).
  void CheckConfig(CheckStep& s);
  void CheckData(CheckStep& s);
  void CheckStorage(CheckStep& s);
  void CheckKey(CheckStep& s);
  void CheckCert(CheckStep& s);
  void CheckCa(CheckStep& s);
  // The network steps (site_check_network.cc).
  void CheckDns(CheckStep& s);
  void CheckTcp(CheckStep& s);
  void CheckTls(CheckStep& s);
  void CheckProtocol(CheckStep& s);
  // The channel the daemon would open (its credentials, verifier and
  // settings), made once and shared by the tls and protocol steps; null
  // after failing `s` when the credentials cannot be made.
  std::shared_ptr<grpc::Channel> Channel(CheckStep& s);
  // The protocol step's last part: whose is the site's live stream (the
  // Welcome's live_*), against `own_log` (this config's audit log id).
  void DescribeLiveStream(CheckStep& s, const v1::Welcome& welcome, const std::string& own_log);

  const std::string config_path_;
  const SiteCheckOptions options_;
  SiteCheckReport report_;
  v1::SiteConfig config_;
  HostPort target_;
  std::string server_name_;
  std::string site_id_;
  Resolved resolved_;
  std::shared_ptr<grpc::Channel> channel_;
};

}  // namespace fedrad::site::check_internal

#endif  // FEDRAD_SITE_NODE_INTERNAL_SITE_CHECK_IMPL_H_
