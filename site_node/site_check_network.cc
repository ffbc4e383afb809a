// `fedrad-site --check`: the network steps (dns, tcp, tls, protocol), on POSIX
// sockets and OpenSSL with every wait bounded, then on the Federation stream
// the daemon uses. The order of the steps is Checker::Run in site_check.cc;
// the local steps are in site_check_local.cc.
#include "site_node/internal/site_check_impl.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
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
#include <cstring>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "core/pki.h"
#include "proto/config.pb.h"
#include "proto/fedrad.grpc.pb.h"
#include "proto/transport.h"
#include "site_node/site_node.h"

#ifndef FEDRAD_VERSION
#define FEDRAD_VERSION "unknown"
#endif

namespace fedrad::site::check_internal {
namespace {

using Clock = std::chrono::steady_clock;

// ---------------------------------------------------------------------------
// Network helpers (POSIX sockets and OpenSSL; every wait is bounded)

bool IsIpLiteral(const std::string& host) {
  unsigned char buf[sizeof(in6_addr)];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 ||
         inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

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

}  // namespace

void Checker::CheckDns(CheckStep& s) {
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

void Checker::CheckTcp(CheckStep& s) {
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

void Checker::CheckTls(CheckStep& s) {
  TlsOutcome t = TlsHandshake(socket_, config_, server_name_, target_,
                              options_.network_timeout_seconds);
  socket_ = Socket();
  s.outcome = t.outcome;
  s.detail = t.detail;
  s.advice = t.advice;
}

void Checker::CheckProtocol(CheckStep& s) {
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

}  // namespace fedrad::site::check_internal
