// `fedrad-site --check`: the network steps. dns and tcp on POSIX sockets
// with every wait bounded; tls and protocol on the daemon's own channel
// (transport::MakeChannelCredentials and its certificate verifier, the
// Federation stream), under the check's deadline, so that the diagnosis
// comes from the code that runs. The order of the steps is Checker::Run in
// site_check.cc; the local steps are in site_check_local.cc.
#include "site_node/internal/site_check_impl.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/notification.h"
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

// A method no server implements: the coordinator's gRPC layer answers it
// UNIMPLEMENTED, after the TLS handshake (both certificates accepted) and
// the HTTP/2 preface, without any fedrad code running on its side.
constexpr char kProbeMethod[] = "/fedrad.v1.Federation/SiteCheckProbe";

// What the coordinator's certificate says, from the call's auth context
// ("CN=coordinator, OU=coordinator, ..."); "" when unknown.
std::string ServerSubject(const grpc::ClientContext& context) {
  std::shared_ptr<const grpc::AuthContext> auth = context.auth_context();
  if (auth == nullptr) return "";
  std::vector<grpc::string_ref> pems = auth->FindPropertyValues("x509_pem_cert");
  if (pems.empty()) return "";
  auto info = pki::ParseCertificatePem(absl::string_view(pems[0].data(), pems[0].size()));
  return info.ok() ? info->subject : "";
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
      s.detail = absl::StrCat("connected to ", resolved_.texts[i]);
      return;  // the tls step opens the daemon's own connection
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

std::shared_ptr<grpc::Channel> Checker::Channel(CheckStep& s) {
  if (channel_ != nullptr) return channel_;
  transport::TlsFiles files{config_.tls().ca_cert(), config_.tls().cert(),
                            config_.tls().key(),     config_.tls().crl(),
                            config_.tls().insecure_for_tests(), "site-check"};
  auto creds = transport::MakeChannelCredentials(files, "coordinator");
  if (!creds.ok()) {
    Fail(s, std::string(creds.status().message()), "fix the key, cert and ca steps first");
    return nullptr;
  }
  channel_ =
      transport::MakeChannel(config_.coordinator_address(), *creds, config_.coordinator_name());
  return channel_;
}

// The daemon's own channel (transport::MakeChannelCredentials, whose
// verifier judges the coordinator's certificate: chain, dates, CRL, role,
// name) and one cheap call on it, under the check's deadline: its answer
// proves that both sides accepted each other's certificate (with TLS 1.3 a
// coordinator refuses the site's only after the site's side of the
// handshake is done).
void Checker::CheckTls(CheckStep& s) {
  std::shared_ptr<grpc::Channel> channel = Channel(s);
  if (channel == nullptr) return;
  const std::string where = absl::StrCat(target_.host, ":", target_.port);
  const double timeout = options_.network_timeout_seconds;
  transport::TakeLastServerRefusal();  // only this step's refusal counts
  grpc::GenericStub stub(channel);
  grpc::ClientContext context;
  transport::SetDeadline(&context, timeout);
  grpc::Slice no_bytes;  // an empty message (a ByteBuffer without a slice is no message)
  grpc::ByteBuffer request(&no_bytes, 1), response;
  absl::Notification done;
  grpc::Status status;
  stub.UnaryCall(&context, kProbeMethod, grpc::StubOptions(), &request, &response,
                 [&](grpc::Status st) {
                   status = std::move(st);
                   done.Notify();
                 });
  done.WaitForNotification();  // the call's deadline bounds it
  const std::string refusal = transport::TakeLastServerRefusal();
  if (refusal.empty() && (status.ok() || status.error_code() == grpc::StatusCode::UNIMPLEMENTED)) {
    const std::string subject = ServerSubject(context);
    s.detail = absl::StrCat("mutual TLS with ", where, "; coordinator ",
                            subject.empty() ? std::string("certificate") : subject,
                            " accepted by this site, this site's certificate accepted");
    return;
  }
  if (!refusal.empty()) {
    // This site's verifier refused the coordinator: the same words as the
    // service's log, naming the config field.
    std::string advice;
    if (absl::StartsWith(refusal, "tls.ca_cert:")) {
      advice = "ca_cert must be this study's CA certificate, the one the coordinator's "
               "certificate was issued by; ask the study coordinator for it";
    } else if (absl::StartsWith(refusal, "tls.crl:")) {
      advice = absl::StrContains(refusal, "revoked")
                   ? "the coordinator's certificate is revoked: tell the study coordinator"
                   : "tls.crl must be this study's current crl.pem: fetch a new one from "
                     "the study coordinator";
    } else if (absl::StartsWith(refusal, "coordinator_address:")) {
      advice = "coordinator_address points at something that is not the coordinator";
    } else if (absl::StartsWith(refusal, "coordinator_name:")) {
      advice = "if this is the study's coordinator, set coordinator_name to one of its names; "
               "otherwise coordinator_address points at another server";
    } else {
      advice = "tell the study coordinator; check this machine's clock too (timedatectl)";
    }
    Fail(s, refusal, advice);
    return;
  }
  if (status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
    Fail(s, absl::StrCat("no TLS answer from ", where, " in ", timeout, " s"),
         "something between this site and the coordinator (a proxy or a TLS-inspecting "
         "firewall) holds the connection: ask the hospital network team to let TLS to "
         "this address pass untouched");
    return;
  }
  const std::string why = transport::ExplainConnectionFailure(
      transport::FromGrpcStatus(status), config_.coordinator_address(), "");
  if (absl::StartsWith(why, "the coordinator refused this site's certificate")) {
    Fail(s, why,
         "the certificate is revoked, expired, or issued by another study's CA, as the "
         "coordinator sees it: ask the study coordinator (their log says why), then see "
         "docs/deployment.md, Rotate a certificate");
  } else if (absl::StrContains(why, "does not speak TLS")) {
    Fail(s, why, "check the port in coordinator_address");
  } else {
    Fail(s, absl::StrCat("TLS connection to ", where, " failed: ", why),
         "a TLS-inspecting proxy or firewall may be in the way; otherwise ask the study "
         "coordinator to look at the coordinator's log");
  }
}

void Checker::CheckProtocol(CheckStep& s) {
  std::shared_ptr<grpc::Channel> channel = Channel(s);  // the tls step's, if it ran
  if (channel == nullptr) return;
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
  DescribeLiveStream(s, welcome, own_log);
}

void Checker::DescribeLiveStream(CheckStep& s, const v1::Welcome& welcome,
                                 const std::string& own_log) {
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
