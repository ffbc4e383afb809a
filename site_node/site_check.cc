#include "site_node/site_check.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <functional>
#include <future>
#include <iostream>
#include <memory>
#include <sstream>
#include <thread>

#include <grpcpp/grpcpp.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/match.h"
#include "absl/time/time.h"
#include "core/audit_log.h"
#include "core/csv.h"
#include "core/pki.h"
#include "proto/config.pb.h"
#include "proto/fedrad.grpc.pb.h"
#include "proto/textproto.h"
#include "proto/transport.h"
#include "site_node/site_node.h"

#ifndef FEDRAD_VERSION
#define FEDRAD_VERSION "unknown"
#endif

namespace fedrad::site {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// ---------------------------------------------------------------------------
// Small helpers

std::string Errno(int err) { return std::strerror(err); }

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

// The host and port of a gRPC target: "host:port", "[v6]:port",
// "dns:///host:port", "ipv4:a.b.c.d:port", "ipv6:[v6]:port". The port
// defaults to 443 as in gRPC.
struct HostPort {
  std::string host;
  std::string port;
};

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

bool IsIpLiteral(const std::string& host) {
  unsigned char buf[sizeof(in6_addr)];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 ||
         inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

std::string ProxyInUse() {
  for (const char* var : {"grpc_proxy", "https_proxy", "http_proxy"}) {
    const char* v = std::getenv(var);
    if (v != nullptr && *v != '\0') return absl::StrCat(var, "=", v);
  }
  return "";
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

// ---------------------------------------------------------------------------
// Network helpers (POSIX sockets and OpenSSL; every wait is bounded)

struct Resolved {
  int error = 0;  // getaddrinfo's code
  std::vector<sockaddr_storage> addrs;
  std::vector<socklen_t> lens;
  std::vector<std::string> texts;
};

std::string AddrText(const sockaddr* sa) {
  char host[INET6_ADDRSTRLEN] = "?";
  int port = 0;
  if (sa->sa_family == AF_INET) {
    auto* in = reinterpret_cast<const sockaddr_in*>(sa);
    inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
    port = ntohs(in->sin_port);
    return absl::StrCat(host, ":", port);
  }
  auto* in6 = reinterpret_cast<const sockaddr_in6*>(sa);
  inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
  port = ntohs(in6->sin6_port);
  return absl::StrCat("[", host, "]:", port);
}

// getaddrinfo in a helper thread so that a hung resolver cannot block the
// check past its timeout (the thread is left to finish on its own).
absl::StatusOr<Resolved> Resolve(const HostPort& hp, double timeout_seconds) {
  auto task = std::make_shared<std::packaged_task<Resolved()>>([hp] {
    Resolved r;
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    r.error = getaddrinfo(hp.host.c_str(), hp.port.c_str(), &hints, &res);
    if (r.error != 0) return r;
    for (addrinfo* a = res; a != nullptr; a = a->ai_next) {
      sockaddr_storage ss{};
      std::memcpy(&ss, a->ai_addr, a->ai_addrlen);
      r.addrs.push_back(ss);
      r.lens.push_back(a->ai_addrlen);
      r.texts.push_back(AddrText(a->ai_addr));
    }
    freeaddrinfo(res);
    return r;
  });
  std::future<Resolved> result = task->get_future();
  std::thread([task] { (*task)(); }).detach();
  if (result.wait_for(std::chrono::duration<double>(timeout_seconds)) !=
      std::future_status::ready) {
    return absl::DeadlineExceededError(
        absl::StrCat("no answer from the DNS resolver in ", timeout_seconds, " s"));
  }
  return result.get();
}

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

double SecondsLeft(Clock::time_point deadline) {
  return std::chrono::duration<double>(deadline - Clock::now()).count();
}

// Waits until fd is readable/writable or the deadline passes. Returns false on
// timeout.
bool WaitFd(int fd, short events, Clock::time_point deadline) {
  while (true) {
    double left = SecondsLeft(deadline);
    if (left <= 0) return false;
    pollfd p{fd, events, 0};
    int n = poll(&p, 1, static_cast<int>(left * 1000) + 1);
    if (n > 0) return true;
    if (n == 0) continue;
    if (errno != EINTR) return true;  // let the caller see the error
  }
}

// Non-blocking connect bounded by `timeout_seconds`. On failure returns the
// errno (ETIMEDOUT on timeout).
int ConnectWithTimeout(const sockaddr_storage& addr, socklen_t len,
                       double timeout_seconds, Socket* out) {
  Socket s(socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (s.fd() < 0) return errno;
  if (connect(s.fd(), reinterpret_cast<const sockaddr*>(&addr), len) != 0) {
    if (errno != EINPROGRESS) return errno;
    auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                       std::chrono::duration<double>(timeout_seconds));
    if (!WaitFd(s.fd(), POLLOUT, deadline)) return ETIMEDOUT;
    int err = 0;
    socklen_t err_len = sizeof(err);
    getsockopt(s.fd(), SOL_SOCKET, SO_ERROR, &err, &err_len);
    if (err != 0) return err;
  }
  *out = std::move(s);
  return 0;
}

std::string OpenSslErrors() {
  std::vector<std::string> parts;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof(buf));
    // "error:0A000418:SSL routines::tlsv1 alert unknown ca" -> the reason.
    std::string text = buf;
    size_t colon = text.rfind(':');
    parts.push_back(colon == std::string::npos ? text : text.substr(colon + 1));
  }
  return parts.empty() ? "" : absl::StrJoin(parts, "; ");
}

std::string CertPem(X509* cert) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
  if (!bio || PEM_write_bio_X509(bio.get(), cert) != 1) return "";
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, len);
}

// Accepts every certificate during the handshake, so that it completes and
// the check can name the coordinator's certificate in its report;
// transport::CheckServerCertificate then judges it exactly as the service
// does, and a refused one is closed before any data is sent.
int AcceptForInspection(int, X509_STORE_CTX*) { return 1; }

// Blocks SIGPIPE in this thread while alive (a write to a connection the
// coordinator closed must fail with EPIPE, not kill the process), then
// discards any SIGPIPE that arrived meanwhile.
class ScopedNoSigpipe {
 public:
  ScopedNoSigpipe() {
    sigemptyset(&pipe_);
    sigaddset(&pipe_, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_, &old_);
  }
  ~ScopedNoSigpipe() {
    timespec zero{0, 0};
    while (sigtimedwait(&pipe_, nullptr, &zero) > 0) {
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  ScopedNoSigpipe(const ScopedNoSigpipe&) = delete;
  ScopedNoSigpipe& operator=(const ScopedNoSigpipe&) = delete;

 private:
  sigset_t pipe_, old_;
};

struct TlsOutcome {
  CheckOutcome outcome = CheckOutcome::kFail;
  std::string detail, advice;
};

// A mutual TLS handshake over `sock` as gRPC would do it (ALPN h2), then an
// HTTP/2 connection preface: a coordinator that refuses the site's
// certificate closes the connection or sends an alert instead of its
// SETTINGS frame.
TlsOutcome TlsHandshake(const Socket& sock, const v1::SiteConfig& config,
                        const std::string& server_name, const HostPort& hp,
                        double timeout_seconds) {
  TlsOutcome out;
  ScopedNoSigpipe no_sigpipe;
  auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                     std::chrono::duration<double>(timeout_seconds));
  const std::string where = absl::StrCat(hp.host, ":", hp.port);
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx(SSL_CTX_new(TLS_client_method()),
                                                        SSL_CTX_free);
  if (!ctx) {
    out.detail = "cannot create a TLS context: " + OpenSslErrors();
    return out;
  }
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
  if (SSL_CTX_use_certificate_chain_file(ctx.get(), config.tls().cert().c_str()) != 1 ||
      SSL_CTX_use_PrivateKey_file(ctx.get(), config.tls().key().c_str(), SSL_FILETYPE_PEM) !=
          1 ||
      SSL_CTX_load_verify_locations(ctx.get(), config.tls().ca_cert().c_str(), nullptr) !=
          1) {
    out.detail = "cannot load the TLS files: " + OpenSslErrors();
    out.advice = "fix the key, cert and ca steps above first";
    return out;
  }
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, AcceptForInspection);
  static const unsigned char kAlpn[] = {2, 'h', '2'};
  SSL_CTX_set_alpn_protos(ctx.get(), kAlpn, sizeof(kAlpn));
  std::unique_ptr<SSL, decltype(&SSL_free)> ssl(SSL_new(ctx.get()), SSL_free);
  SSL_set_fd(ssl.get(), sock.fd());
  if (!IsIpLiteral(server_name)) SSL_set_tlsext_host_name(ssl.get(), server_name.c_str());

  ERR_clear_error();
  while (true) {
    int rc = SSL_connect(ssl.get());
    if (rc == 1) break;
    int err = SSL_get_error(ssl.get(), rc);
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
      if (!WaitFd(sock.fd(), err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline)) {
        out.detail = absl::StrCat("no TLS answer from ", where, " in ", timeout_seconds, " s");
        out.advice =
            "something between this site and the coordinator (a proxy or a TLS-inspecting "
            "firewall) holds the connection: ask the hospital network team to let TLS to "
            "this address pass untouched";
        return out;
      }
      continue;
    }
    std::string why = OpenSslErrors();
    if (why.empty()) why = err == SSL_ERROR_SYSCALL ? "connection closed" : "handshake failed";
    out.detail = absl::StrCat("TLS handshake with ", where, " failed: ", why);
    if (absl::StrContains(why, "wrong version number") ||
        absl::StrContains(why, "packet length too long") ||
        absl::StrContains(why, "record layer failure")) {
      out.advice = "the server at this address does not speak TLS: check the port in "
                   "coordinator_address";
    } else if (absl::StrContains(why, "alert")) {
      out.advice =
          "the coordinator refused this site's certificate (revoked, expired, or issued by "
          "another study's CA): ask the study coordinator, whose log names the reason";
    } else {
      out.advice = "a TLS-inspecting proxy or firewall may be in the way; otherwise ask the "
                   "study coordinator to look at the coordinator's log";
    }
    return out;
  }

  X509* peer = SSL_get0_peer_certificate(ssl.get());
  std::string peer_pem = peer != nullptr ? CertPem(peer) : "";
  std::string peer_desc = "no certificate";
  if (!peer_pem.empty()) {
    if (auto info = pki::ParseCertificatePem(peer_pem); info.ok()) peer_desc = info->subject;
  }
  if (peer_pem.empty()) {
    out.detail = absl::StrCat(where, " presented no certificate");
    out.advice = "coordinator_address points at something that is not the coordinator";
    return out;
  }
  // The service's own check (transport::CheckServerCertificate), in the same
  // order and words: the chain first, then the CRL, the role and the name.
  if (absl::Status s = transport::CheckServerCertificate(
          peer_pem, config.tls().ca_cert(), config.tls().crl(), server_name, "coordinator");
      !s.ok()) {
    const std::string why(s.message());
    out.detail = why;
    if (absl::StartsWith(why, "tls.ca_cert:")) {
      out.advice = "ca_cert must be this study's CA certificate, the one the coordinator's "
                   "certificate was issued by; ask the study coordinator for it";
    } else if (absl::StartsWith(why, "tls.crl:")) {
      out.advice = absl::StrContains(why, "revoked")
                       ? "the coordinator's certificate is revoked: tell the study coordinator"
                       : "tls.crl must be this study's current crl.pem: fetch a new one from "
                         "the study coordinator";
    } else if (absl::StartsWith(why, "coordinator_address:")) {
      out.advice = "coordinator_address points at something that is not the coordinator";
    } else if (absl::StartsWith(why, "coordinator_name:")) {
      out.advice =
          "if this is the study's coordinator, set coordinator_name to one of its names; "
          "otherwise coordinator_address points at another server";
    } else {
      out.advice = "tell the study coordinator; check this machine's clock too (timedatectl)";
    }
    return out;
  }
  const unsigned char* alpn = nullptr;
  unsigned int alpn_len = 0;
  SSL_get0_alpn_selected(ssl.get(), &alpn, &alpn_len);
  if (alpn_len != 2 || std::memcmp(alpn, "h2", 2) != 0) {
    out.detail = absl::StrCat(where, " completed TLS but did not agree to HTTP/2 (ALPN h2)");
    out.advice = "a proxy or load balancer that terminates TLS is in the way; the coordinator "
                 "must receive the TLS connection itself (TCP pass-through)";
    return out;
  }

  // HTTP/2 client preface + an empty SETTINGS frame; the server answers with
  // its SETTINGS unless it refused our certificate (TLS 1.3 reports that
  // after the client's handshake is done).
  static const char kPreface[] =
      "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00";
  const int preface_len = 24 + 9;
  int written = 0;
  while (written < preface_len) {
    int rc = SSL_write(ssl.get(), kPreface + written, preface_len - written);
    if (rc > 0) {
      written += rc;
      continue;
    }
    int err = SSL_get_error(ssl.get(), rc);
    if ((err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) &&
        WaitFd(sock.fd(), err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline)) {
      continue;
    }
    break;
  }
  char buf[64];
  while (true) {
    int rc = SSL_read(ssl.get(), buf, sizeof(buf));
    if (rc > 0) break;
    int err = SSL_get_error(ssl.get(), rc);
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
      if (WaitFd(sock.fd(), err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline)) continue;
      out.detail = absl::StrCat("the coordinator did not answer over TLS in ", timeout_seconds,
                                " s");
      out.advice = "ask the study coordinator whether the coordinator is overloaded or stuck";
      return out;
    }
    std::string why = OpenSslErrors();
    out.detail = absl::StrCat("the coordinator refused this site's certificate",
                              why.empty() ? " (it closed the connection)" : ": " + why);
    out.advice =
        "the certificate is revoked, expired, or issued by another study's CA, as the "
        "coordinator sees it: ask the study coordinator (their log says why), then see "
        "docs/deployment.md, Rotate a certificate";
    return out;
  }
  out.outcome = CheckOutcome::kOk;
  out.detail = absl::StrCat(SSL_get_version(ssl.get()), " with ", where, "; coordinator ",
                            peer_desc, "; this site's certificate accepted");
  return out;
}

// ---------------------------------------------------------------------------
// The steps

class Checker {
 public:
  Checker(std::string config_path, const SiteCheckOptions& options)
      : config_path_(std::move(config_path)), options_(options) {}

  SiteCheckReport Run() {
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

  void CheckConfig(CheckStep& s) {
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

  void CheckData(CheckStep& s) {
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

  void CheckStorage(CheckStep& s) {
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

  void CheckKey(CheckStep& s) {
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

  void CheckCert(CheckStep& s) {
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

  void CheckCa(CheckStep& s) {
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
              ? "this certificate was revoked: enrol again with a new key "
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

  void CheckDns(CheckStep& s) {
    if (IsIpLiteral(target_.host)) {
      auto r = Resolve(target_, options_.network_timeout_seconds);
      if (r.ok() && r->error == 0) resolved_ = *r;
      s.detail = absl::StrCat(target_.host, " is an IP address (no lookup)");
      return;
    }
    auto r = Resolve(target_, options_.network_timeout_seconds);
    if (!r.ok()) {
      Fail(s, std::string(r.status().message()),
           "check /etc/resolv.conf and that the hospital's DNS resolver answers");
      return;
    }
    if (r->error != 0 || r->addrs.empty()) {
      Fail(s,
           absl::StrCat("cannot resolve '", target_.host,
                        "': ", r->error != 0 ? gai_strerror(r->error) : "no address"),
           "check the host name in coordinator_address; the hospital's DNS may not resolve "
           "external names (ask for it, or use the IP address and set coordinator_name)");
      return;
    }
    resolved_ = *r;
    s.detail = absl::StrCat(target_.host, " -> ", absl::StrJoin(r->texts, ", "));
  }

  void CheckTcp(CheckStep& s) {
    if (resolved_.addrs.empty()) {
      Fail(s, "no address to connect to", "fix the dns step first");
      return;
    }
    std::vector<std::string> errors;
    int last = 0;
    for (size_t i = 0; i < resolved_.addrs.size(); ++i) {
      Socket sock;
      int err = ConnectWithTimeout(resolved_.addrs[i], resolved_.lens[i],
                                   options_.network_timeout_seconds, &sock);
      if (err == 0) {
        socket_ = std::move(sock);
        s.detail = absl::StrCat("connected to ", resolved_.texts[i]);
        return;
      }
      last = err;
      errors.push_back(absl::StrCat(resolved_.texts[i], ": ",
                                    err == ETIMEDOUT ? "timed out" : Errno(err)));
    }
    std::string where = absl::StrCat(target_.host, ":", target_.port);
    std::string advice;
    if (last == ECONNREFUSED) {
      advice = absl::StrCat("nothing listens at ", where,
                            ": is the coordinator running, and is the port right?");
    } else if (last == ETIMEDOUT) {
      advice = absl::StrCat("a firewall drops the connection: allow outbound TCP to ", where,
                            " (the site needs no inbound rule)");
    } else if (last == ENETUNREACH || last == EHOSTUNREACH) {
      advice = "this machine has no route to the coordinator: check its network settings "
               "and the hospital's outbound routing";
    } else {
      advice = absl::StrCat("check the network path to ", where);
    }
    Fail(s, absl::StrCat("cannot connect: ", absl::StrJoin(errors, "; ")), advice);
  }

  void CheckTls(CheckStep& s) {
    TlsOutcome t = TlsHandshake(socket_, config_, server_name_, target_,
                                options_.network_timeout_seconds);
    socket_ = Socket();
    s.outcome = t.outcome;
    s.detail = t.detail;
    s.advice = t.advice;
  }

  void CheckProtocol(CheckStep& s) {
    transport::TlsFiles files{config_.tls().ca_cert(), config_.tls().cert(),
                              config_.tls().key(),     config_.tls().crl(),
                              config_.tls().insecure_for_tests(), "site-check"};
    auto creds = transport::MakeChannelCredentials(files, "coordinator");
    if (!creds.ok()) {
      Fail(s, std::string(creds.status().message()), "fix the key, cert and ca steps first");
      return;
    }
    auto channel =
        transport::MakeChannel(config_.coordinator_address(), *creds, config_.coordinator_name());
    auto stub = v1::Federation::NewStub(channel);
    grpc::ClientContext context;
    transport::SetDeadline(&context, options_.network_timeout_seconds);
    if (config_.tls().insecure_for_tests()) {
      transport::SetInsecureIdentity(&context, site_id_.empty() ? "insecure-site" : site_id_,
                                     "site");
    }
    auto stream = stub->Connect(&context);
    v1::SiteMessage hello_msg;
    v1::Hello* hello = hello_msg.mutable_hello();
    hello->set_protocol_version(transport::kProtocolVersion);
    hello->set_software_version(absl::StrCat(FEDRAD_VERSION, " (site --check)"));
    hello->set_min_cell_count(config_.policy().min_cell_count());
    // Asks about the live stream without taking it (fedrad.proto Hello).
    const std::string own_log = AuditLogId(config_.audit_log());
    hello->set_instance_id(NewInstanceId());
    hello->set_audit_log_id(own_log);
    hello->set_check_only(true);
    v1::CoordinatorMessage msg;
    bool got = stream->Write(hello_msg) && stream->Read(&msg);
    if (!got || !msg.has_welcome()) {
      // After a failed Read the stream has ended with the coordinator's
      // status; cancelling first would replace it with CANCELLED.
      if (got) context.TryCancel();
      absl::Status st = transport::FromGrpcStatus(stream->Finish());
      std::string why = st.ok() ? "the coordinator closed the stream without a Welcome"
                                : transport::ExplainConnectionFailure(
                                      st, config_.coordinator_address(),
                                      transport::TakeLastServerRefusal());
      if (st.code() == absl::StatusCode::kAlreadyExists) {
        // The coordinator checks the protocol version before it looks for an
        // existing stream: the path, the identity and the version are fine,
        // and this site's service is already connected.
        s.outcome = CheckOutcome::kOk;
        s.detail = absl::StrCat("the coordinator accepted this site (protocol version ",
                                transport::kProtocolVersion,
                                ") and already has its stream: the service is connected");
        return;
      }
      std::string advice;
      switch (st.code()) {
        case absl::StatusCode::kFailedPrecondition:
          advice = "the site and the coordinator speak different protocol versions: upgrade "
                   "the older one (docs/deployment.md, Upgrade)";
          break;
        case absl::StatusCode::kPermissionDenied:
        case absl::StatusCode::kUnauthenticated:
          advice = "the coordinator does not accept this site's identity: ask the study "
                   "coordinator (is the site named in the study? is its certificate revoked?)";
          break;
        case absl::StatusCode::kDeadlineExceeded:
          advice = "the coordinator did not answer in time: ask the study coordinator "
                   "whether it is running and healthy";
          break;
        default:
          advice = "see the message above; the tcp and tls steps tell where the path breaks";
      }
      Fail(s, absl::StrCat("no Welcome: ", why), advice);
      return;
    }
    const v1::Welcome& welcome = msg.welcome();
    context.TryCancel();
    stream->Finish();
    if (welcome.protocol_version() != transport::kProtocolVersion) {
      Fail(s,
           absl::StrCat("protocol version mismatch: this site speaks ",
                        transport::kProtocolVersion, ", the coordinator speaks ",
                        welcome.protocol_version()),
           "upgrade the older side so both speak the same version (docs/deployment.md, "
           "Upgrade)");
      return;
    }
    if (!site_id_.empty() && welcome.site_id() != site_id_) {
      Fail(s,
           absl::StrCat("the coordinator sees this site as '", welcome.site_id(),
                        "', its certificate says '", site_id_, "'"),
           "a proxy may be re-signing the connection; ask the hospital network team");
      return;
    }
    s.detail = absl::StrCat("Welcome from '", welcome.coordinator_id(), "', protocol version ",
                            welcome.protocol_version(), ", site id '", welcome.site_id(), "'");
    // Whose is the site's live stream (a coordinator before check_only
    // answers without live_*, as when no stream is live).
    const std::string live_instance = welcome.live_instance_id().substr(0, 12);
    const std::string live_log = welcome.live_audit_log_id();
    if (welcome.live_since_unix_millis() == 0) {
      absl::StrAppend(&s.detail, "; no stream of this site is live now");
      return;
    }
    const std::string since = absl::FormatTime(
        "%Y-%m-%dT%H:%M:%SZ", absl::FromUnixMillis(welcome.live_since_unix_millis()),
        absl::UTCTimeZone());
    if (!live_log.empty() && live_log == own_log) {
      absl::StrAppend(&s.detail, "; the live stream belongs to the service writing this "
                                 "config's audit log (instance ",
                      live_instance, ", since ", since, ")");
      return;
    }
    if (live_log.empty()) {
      s.outcome = CheckOutcome::kWarn;
      absl::StrAppend(&s.detail, "; a process that does not say which audit log it writes (an "
                                 "older fedrad-site, instance ",
                      live_instance.empty() ? "unknown" : live_instance,
                      ") holds the live stream since ", since);
      s.advice = "make sure it is this site's own service: each site runs one fedrad-site";
      return;
    }
    Fail(s,
         absl::StrCat("the live stream of site '", welcome.site_id(),
                      "' belongs to another process (instance ", live_instance, ", audit log ",
                      live_log.substr(0, 12), ", since ", since, "), not to a service writing ",
                      config_.audit_log(), " (audit log ",
                      own_log.empty() ? std::string("not started") : own_log.substr(0, 12), ")"),
         "another fedrad-site process (another folder or host) uses this site's certificate: "
         "stop the one that should not run. The coordinator refuses a second process while the "
         "first is connected; one that takes over later splits the site's audit trail over two "
         "logs");
  }

  const std::string config_path_;
  const SiteCheckOptions options_;
  SiteCheckReport report_;
  v1::SiteConfig config_;
  HostPort target_;
  std::string server_name_;
  std::string site_id_;
  Resolved resolved_;
  Socket socket_;
};

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
  return Checker(config_path, options).Run();
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
