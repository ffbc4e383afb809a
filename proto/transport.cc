#include "proto/transport.h"

#include <arpa/inet.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <utility>
#include <vector>

#include <grpc/support/log.h>
#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_certificate_verifier.h>
#include <grpcpp/security/tls_credentials_options.h>

#include "absl/base/call_once.h"
#include "absl/base/thread_annotations.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "core/csv.h"
#include "core/log.h"
#include "core/pki.h"
#include "core/status.h"

namespace fedrad::transport {
namespace {

constexpr char kInsecureIdKey[] = "x-fedrad-insecure-id";
constexpr char kInsecureRoleKey[] = "x-fedrad-insecure-role";

struct BioFree { void operator()(BIO* b) const { BIO_free(b); } };
struct X509Free { void operator()(X509* x) const { X509_free(x); } };
using X509Ptr = std::unique_ptr<X509, X509Free>;

X509Ptr ParsePem(absl::string_view pem) {
  std::unique_ptr<BIO, BioFree> bio(
      BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return nullptr;
  return X509Ptr(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
}

std::string NameEntry(X509_NAME* name, int nid) {
  if (name == nullptr) return "";
  char buf[512];
  int n = X509_NAME_get_text_by_NID(name, nid, buf, sizeof(buf));
  return n > 0 ? std::string(buf, n) : "";
}

// pki's spelling of a serial (lower case, no leading zeros) as SerialHex
// below spells it for PeerIdentity (OpenSSL's BN_bn2hex: upper case, whole
// bytes), so that a RevocationList's keys match PeerIdentity::serial_hex.
std::string PeerSerialSpelling(absl::string_view pki_serial) {
  std::string out = absl::AsciiStrToUpper(pki_serial);
  const size_t sign = absl::StartsWith(out, "-") ? 1 : 0;
  if (out != "0" && (out.size() - sign) % 2 == 1) out.insert(sign, "0");
  return out;
}

std::string SerialHex(X509* cert) {
  BIGNUM* bn = ASN1_INTEGER_to_BN(X509_get_serialNumber(cert), nullptr);
  if (bn == nullptr) return "";
  char* hex = BN_bn2hex(bn);
  std::string out = hex ? hex : "";
  OPENSSL_free(hex);
  BN_free(bn);
  return out;
}

// The last server certificate this process's client side refused, in the
// words of the config field to fix (TakeLastServerRefusal).
absl::Mutex g_refusal_mu;
std::string* g_last_refusal ABSL_GUARDED_BY(g_refusal_mu) = nullptr;

void RecordServerRefusal(std::string text) {
  absl::MutexLock lock(&g_refusal_mu);
  if (g_last_refusal == nullptr) g_last_refusal = new std::string;
  *g_last_refusal = std::move(text);
}

// The host part of a gRPC target name ("host:port", "[v6]:port", "host").
std::string HostOfTarget(absl::string_view target) {
  if (absl::StartsWith(target, "[")) {
    size_t close = target.find(']');
    return std::string(target.substr(1, close == absl::string_view::npos ? target.size() - 1
                                                                          : close - 1));
  }
  size_t colon = target.find(':');
  if (colon != absl::string_view::npos && target.find(':', colon + 1) == absl::string_view::npos) {
    return std::string(target.substr(0, colon));
  }
  return std::string(target);  // a bare name or an unbracketed IPv6 literal
}

bool IsIpLiteral(const std::string& host) {
  unsigned char buf[16];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

// Checks the peer certificate on every handshake, so that the CRL is read
// fresh each time and every refusal is logged with its reason. On the client
// side (`server_name_check`) the whole check is CheckServerCertificate's:
// the server's certificate must also carry the role and the name the
// channel was opened for (the host of the address, or its override:
// coordinator_name / --server-name).
class PeerVerifier : public grpc::experimental::ExternalCertificateVerifier {
 public:
  PeerVerifier(std::string ca_path, std::string crl_path, std::string node,
               std::string required_role, bool server_name_check)
      : ca_path_(std::move(ca_path)),
        crl_path_(std::move(crl_path)),
        node_(std::move(node)),
        required_role_(std::move(required_role)),
        server_name_check_(server_name_check) {}

  // Synchronous (returns true with *sync_status set), so gRPC's completion
  // callback for an asynchronous check is never called.
  bool Verify(grpc::experimental::TlsCustomVerificationCheckRequest* request,
              std::function<void(grpc::Status)> /*callback*/,
              grpc::Status* sync_status) override {
    grpc::string_ref pem = request->peer_cert();
    absl::string_view cert(pem.data(), pem.size());
    absl::Status status;
    if (server_name_check_) {
      const std::string expected = HostOfTarget(
          absl::string_view(request->target_name().data(), request->target_name().size()));
      status = CheckServerCertificate(cert, ca_path_, crl_path_, expected, required_role_);
    } else {
      status = VerifyPeerCertificate(cert, ca_path_, crl_path_);
      if (status.ok() && !required_role_.empty()) {
        auto id = DescribeCertificate(cert);
        if (id.ok() && id->role != required_role_) {
          status = absl::PermissionDeniedError(
              absl::StrCat("certificate CN=", id->common_name, " has role '", id->role,
                           "', expected '", required_role_, "'"));
        }
      }
    }
    auto id = DescribeCertificate(cert);
    if (!status.ok()) {
      FEDRAD_LOG(WARNING) << node_ << ": refused TLS peer"
                          << (id.ok() ? " CN=" + id->common_name : "")
                          << ": " << status.message();
      if (server_name_check_) RecordServerRefusal(std::string(status.message()));
      *sync_status = grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                                  std::string(status.message()));
    } else {
      FEDRAD_LOG(DEBUG) << node_ << ": accepted TLS peer CN="
                        << (id.ok() ? id->common_name : "") << " role="
                        << (id.ok() ? id->role : "");
      *sync_status = grpc::Status::OK;
    }
    return true;  // synchronous
  }

  void Cancel(grpc::experimental::TlsCustomVerificationCheckRequest*) override {}

 private:
  const std::string ca_path_, crl_path_, node_, required_role_;
  const bool server_name_check_;
};

// The DNS and IP subjectAltNames of a certificate, in order.
std::vector<std::string> SubjectAltNames(X509* cert) {
  std::vector<std::string> out;
  auto* names = static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  if (names == nullptr) return out;
  for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names, i);
    if (name->type == GEN_DNS) {
      const ASN1_IA5STRING* dns = name->d.dNSName;
      out.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(dns)),
                       ASN1_STRING_length(dns));
    } else if (name->type == GEN_IPADD) {
      const ASN1_OCTET_STRING* ip = name->d.iPAddress;
      char text[INET6_ADDRSTRLEN] = {0};
      int len = ASN1_STRING_length(ip);
      if ((len == 4 || len == 16) &&
          inet_ntop(len == 4 ? AF_INET : AF_INET6, ASN1_STRING_get0_data(ip), text,
                    sizeof(text)) != nullptr) {
        out.emplace_back(text);
      }
    }
  }
  GENERAL_NAMES_free(names);
  return out;
}

// The same IP address in two spellings ("::1" and "0:0::1").
bool SameIp(const std::string& a, const std::string& b) {
  unsigned char x[16] = {0}, y[16] = {0};
  for (int family : {AF_INET, AF_INET6}) {
    if (inet_pton(family, a.c_str(), x) == 1 && inet_pton(family, b.c_str(), y) == 1) {
      return std::memcmp(x, y, family == AF_INET ? 4 : 16) == 0;
    }
  }
  return false;
}

struct Pems {
  std::string ca, cert, key;
};

absl::StatusOr<Pems> ReadPems(const TlsFiles& files) {
  Pems p;
  for (auto [path, out, what] :
       {std::tuple<const std::string*, std::string*, const char*>{
            &files.ca_cert, &p.ca, "CA certificate"},
        {&files.cert, &p.cert, "certificate"},
        {&files.key, &p.key, "private key"}}) {
    if (path->empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("TLS ", what, " path is not set (tls { ... } in the config)"));
    }
    auto text = ReadFileToString(*path);
    if (!text.ok()) {
      return absl::Status(text.status().code(),
                          absl::StrCat("cannot read TLS ", what, " '", *path,
                                       "': ", text.status().message()));
    }
    *out = std::move(*text);
  }
  if (!files.crl.empty()) {
    auto crl = ReadFileToString(files.crl);
    if (!crl.ok()) {
      return absl::Status(crl.status().code(),
                          absl::StrCat("cannot read CRL '", files.crl,
                                       "': ", crl.status().message()));
    }
  }
  return p;
}

// gRPC's own log lines (OpenSSL and c-ares text, one per failed handshake
// or lookup) go to fedrad's log at DEBUG: the daemons log each failure once,
// in terms of the config field involved (ExplainConnectionFailure).
// FEDRAD_LOG_LEVEL=DEBUG shows them.
void RouteGrpcLogs() {
  static absl::once_flag once;
  absl::call_once(once, [] {
    gpr_set_log_function([](gpr_log_func_args* args) {
      const absl::string_view file = args->file != nullptr ? args->file : "";
      const absl::string_view message = args->message != nullptr ? args->message : "";
      const bool explained_elsewhere =
          absl::StrContains(file, "ssl") || absl::StrContains(file, "tls") ||
          absl::StrContains(file, "security") || absl::StrContains(file, "dns") ||
          absl::StrContains(file, "ares") || absl::StrContains(message, "Handshake") ||
          absl::StrContains(message, "server name");
      if (explained_elsewhere || args->severity != GPR_LOG_SEVERITY_ERROR) {
        FEDRAD_LOG(DEBUG) << "grpc: " << file << ":" << args->line << " " << message;
      } else {
        FEDRAD_LOG(WARNING) << "grpc: " << file << ":" << args->line << " " << message;
      }
    });
  });
}

// Plaintext is a development aid only: it needs both the config field and
// an environment variable, so that no deployed config can turn TLS off alone.
absl::Status CheckInsecureAllowed() {
  if (std::getenv("FEDRAD_ALLOW_INSECURE_FOR_TESTS") == nullptr) {
    return absl::FailedPreconditionError(
        "tls.insecure_for_tests is set but FEDRAD_ALLOW_INSECURE_FOR_TESTS is not: "
        "fedrad refuses to run without mutual TLS");
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    const TlsFiles& files) {
  RouteGrpcLogs();
  if (files.insecure_for_tests) {
    if (absl::Status s = CheckInsecureAllowed(); !s.ok()) return s;
    FEDRAD_LOG(WARNING) << files.node_name
                        << ": INSECURE plaintext server (insecure_for_tests); "
                           "never use outside tests";
    return grpc::InsecureServerCredentials();
  }
  auto pems = ReadPems(files);
  if (!pems.ok()) return pems.status();
  std::vector<grpc::experimental::IdentityKeyCertPair> pairs = {
      {pems->key, pems->cert}};
  auto provider =
      std::make_shared<grpc::experimental::StaticDataCertificateProvider>(
          pems->ca, pairs);
  grpc::experimental::TlsServerCredentialsOptions options(provider);
  options.watch_root_certs();
  options.watch_identity_key_cert_pairs();
  // gRPC requests the certificate; PeerVerifier does the whole check (chain,
  // dates, CRL) so each refusal is logged with its reason. A client without
  // a certificate is refused by the verifier too (empty peer_cert).
  options.set_cert_request_type(
      GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_BUT_DONT_VERIFY);
  options.set_certificate_verifier(
      grpc::experimental::ExternalCertificateVerifier::Create<PeerVerifier>(
          files.ca_cert, files.crl, files.node_name, "", /*server_name_check=*/false));
  return grpc::experimental::TlsServerCredentials(options);
}

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>>
MakeChannelCredentials(const TlsFiles& files,
                       const std::string& expected_server_role) {
  RouteGrpcLogs();
  if (files.insecure_for_tests) {
    if (absl::Status s = CheckInsecureAllowed(); !s.ok()) return s;
    FEDRAD_LOG(WARNING) << files.node_name
                        << ": INSECURE plaintext channel (insecure_for_tests)";
    return grpc::InsecureChannelCredentials();
  }
  auto pems = ReadPems(files);
  if (!pems.ok()) return pems.status();
  std::vector<grpc::experimental::IdentityKeyCertPair> pairs = {
      {pems->key, pems->cert}};
  auto provider =
      std::make_shared<grpc::experimental::StaticDataCertificateProvider>(
          pems->ca, pairs);
  grpc::experimental::TlsChannelCredentialsOptions options;
  options.set_certificate_provider(provider);
  options.watch_root_certs();
  options.watch_identity_key_cert_pairs();
  // PeerVerifier does the whole check (chain first, dates, CRL, role, name)
  // so that each refusal says why and names the config field; gRPC's own
  // chain check would refuse first with OpenSSL's bare "certificate verify
  // failed". The handshake still proves the server holds the key of the
  // certificate it presents.
  options.set_verify_server_certs(false);
  options.set_certificate_verifier(
      grpc::experimental::ExternalCertificateVerifier::Create<PeerVerifier>(
          files.ca_cert, files.crl, files.node_name, expected_server_role,
          /*server_name_check=*/true));
  return grpc::experimental::TlsCredentials(options);
}

std::shared_ptr<grpc::Channel> MakeChannel(
    const std::string& address,
    const std::shared_ptr<grpc::ChannelCredentials>& credentials,
    const std::string& server_name) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(kMaxMessageBytes);
  args.SetMaxSendMessageSize(kMaxMessageBytes);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 20000);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 10000);
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  // Reconnect quickly: the site node runs its own backoff loop.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 200);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 2000);
  if (!server_name.empty()) {
    args.SetSslTargetNameOverride(server_name);
  }
  return grpc::CreateCustomChannel(address, credentials, args);
}

void ConfigureServerBuilder(grpc::ServerBuilder* builder) {
  builder->SetMaxReceiveMessageSize(kMaxMessageBytes);
  builder->SetMaxSendMessageSize(kMaxMessageBytes);
  builder->AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS,
                              10000);
  builder->AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
}

void SetDeadline(grpc::ClientContext* context, double seconds) {
  context->set_deadline(std::chrono::system_clock::now() +
                        std::chrono::milliseconds(
                            static_cast<int64_t>(seconds * 1000)));
}

void SetInsecureIdentity(grpc::ClientContext* context,
                         const std::string& common_name,
                         const std::string& role) {
  context->AddMetadata(kInsecureIdKey, common_name);
  context->AddMetadata(kInsecureRoleKey, role);
}

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  // absl and gRPC share the canonical code numbering.
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                      std::string(status.message()));
}

absl::Status FromGrpcStatus(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      status.error_message());
}

absl::StatusOr<PeerIdentity> GetPeerIdentity(
    const grpc::ServerContextBase& context, bool insecure) {
  if (insecure) {
    const auto& md = context.client_metadata();
    auto id = md.find(kInsecureIdKey);
    auto role = md.find(kInsecureRoleKey);
    if (id == md.end() || role == md.end()) {
      return absl::UnauthenticatedError(
          "insecure mode: the client sent no x-fedrad-insecure-id/role");
    }
    PeerIdentity who;
    who.common_name = std::string(id->second.data(), id->second.size());
    who.role = std::string(role->second.data(), role->second.size());
    return who;
  }
  std::shared_ptr<const grpc::AuthContext> auth = context.auth_context();
  if (auth == nullptr || !auth->IsPeerAuthenticated()) {
    // With our verifier a connection without a verified certificate never
    // gets here; this is a second line of defence.
    auto pems = auth ? auth->FindPropertyValues("x509_pem_cert")
                     : std::vector<grpc::string_ref>{};
    if (pems.empty()) {
      return absl::UnauthenticatedError("no client certificate");
    }
  }
  auto pems = auth->FindPropertyValues("x509_pem_cert");
  if (pems.empty()) {
    return absl::UnauthenticatedError("no client certificate");
  }
  return DescribeCertificate(absl::string_view(pems[0].data(), pems[0].size()));
}

absl::StatusOr<PeerIdentity> DescribeCertificate(absl::string_view cert_pem) {
  X509Ptr cert = ParsePem(cert_pem);
  if (!cert) {
    return absl::InvalidArgumentError("not a PEM certificate");
  }
  PeerIdentity who;
  X509_NAME* subject = X509_get_subject_name(cert.get());
  who.common_name = NameEntry(subject, NID_commonName);
  who.role = NameEntry(subject, NID_organizationalUnitName);
  who.serial_hex = SerialHex(cert.get());
  return who;
}

absl::Status VerifyPeerCertificate(absl::string_view cert_pem,
                                   const std::string& ca_cert_path,
                                   const std::string& crl_path) {
  if (cert_pem.empty()) {
    return absl::UnauthenticatedError("no client certificate");
  }
  if (!ParsePem(cert_pem)) {
    ERR_clear_error();
    return absl::UnauthenticatedError("unparseable peer certificate");
  }
  // The one implementation of the X.509 checks (chain, dates, CRL); its
  // Unauthenticated is the peer's certificate, and anything else is this
  // node's own CA or CRL file (FailedPrecondition: fail closed).
  absl::Status status = pki::VerifyCertificatePem(cert_pem, ca_cert_path, crl_path);
  if (status.ok() || status.code() == absl::StatusCode::kUnauthenticated) return status;
  return absl::FailedPreconditionError(status.message());
}

absl::Status CheckServerCertificate(absl::string_view cert_pem, const std::string& ca_cert_path,
                                    const std::string& crl_path,
                                    const std::string& expected_name,
                                    const std::string& expected_role) {
  // 1. The chain (tls.ca_cert), then the CRL (tls.crl).
  if (absl::Status s = VerifyPeerCertificate(cert_pem, ca_cert_path, crl_path); !s.ok()) {
    const std::string why(s.message());
    if (absl::StrContains(why, "not issued by this study's CA")) {
      return absl::UnauthenticatedError(
          absl::StrCat("tls.ca_cert: the coordinator's certificate is not signed by this CA ('",
                       ca_cert_path, "'): ", why));
    }
    if (s.code() == absl::StatusCode::kFailedPrecondition && !absl::StrContains(why, "CRL")) {
      return absl::Status(s.code(), absl::StrCat("tls.ca_cert: ", why));
    }
    if (absl::StrContains(why, "CRL") || absl::StrContains(why, "revoked")) {
      return absl::Status(s.code(), absl::StrCat("tls.crl: the coordinator's certificate is "
                                                 "refused: ", why));
    }
    return absl::Status(s.code(), absl::StrCat("the coordinator's certificate is refused: ", why,
                                               " (tell the study coordinator)"));
  }
  X509Ptr cert = ParsePem(cert_pem);
  FEDRAD_ASSIGN_OR_RETURN(PeerIdentity who, DescribeCertificate(cert_pem));
  std::vector<std::string> names;
  if (!who.common_name.empty()) names.push_back(who.common_name);
  for (std::string& n : SubjectAltNames(cert.get())) {
    if (std::find(names.begin(), names.end(), n) == names.end()) names.push_back(std::move(n));
  }
  const std::string presented = absl::StrCat(
      "CN=", who.common_name, " (role ", who.role.empty() ? "none" : who.role, ", names ",
      names.empty() ? std::string("none") : absl::StrJoin(names, ", "), ")");
  // 2. The role: a server that is not a coordinator at all.
  if (!expected_role.empty() && who.role != expected_role) {
    return absl::PermissionDeniedError(absl::StrCat(
        "coordinator_address: certificate CN=", who.common_name, " has role '", who.role,
        "', expected '", expected_role, "': the server presented ", presented));
  }
  // 3. The name: another coordinator (of this CA) than the one meant.
  if (!expected_name.empty()) {
    const bool ip = IsIpLiteral(expected_name);
    bool match = false;
    for (const std::string& n : names) {
      if (ip ? SameIp(n, expected_name) : absl::EqualsIgnoreCase(n, expected_name)) match = true;
    }
    if (!match) {
      return absl::PermissionDeniedError(absl::StrCat(
          "coordinator_name: expected a certificate for '", expected_name,
          "', the server presented ", presented));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<RevocationList> ReadRevocationList(const std::string& crl_path,
                                                  const std::string& ca_cert_path) {
  // core/pki reads and checks the CRL (the one implementation of X.509/CRL
  // reading); FailedPrecondition naming the file, as this function promises.
  FEDRAD_ASSIGN_OR_RETURN(pki::CrlInfo crl, pki::ReadCrlSignedBy(crl_path, ca_cert_path));
  RevocationList out;
  out.crl_number = crl.crl_number;
  for (const pki::RevokedEntry& e : crl.revoked) {
    if (!e.serial_hex.empty()) out.reasons[PeerSerialSpelling(e.serial_hex)] = e.reason;
  }
  return out;
}

std::string TakeLastServerRefusal() {
  absl::MutexLock lock(&g_refusal_mu);
  if (g_last_refusal == nullptr) return "";
  std::string out = std::move(*g_last_refusal);
  g_last_refusal->clear();
  return out;
}

std::string ExplainConnectionFailure(const absl::Status& status, const std::string& address,
                                     const std::string& server_refusal) {
  const std::string raw(status.message());
  if (!server_refusal.empty()) return server_refusal;
  // Other codes are the coordinator's own words (a refused hello, a
  // dropped stream): they say what they mean already.
  if (status.code() != absl::StatusCode::kUnavailable) return raw;
  const std::string host = HostOfTarget(address);
  auto has = [&](absl::string_view text) { return absl::StrContains(raw, text); };
  if (has("DNS resolution failed") || has("Domain name not found") ||
      has("C-ares status is not ARES_SUCCESS") || has("Name or service not known") ||
      has("could not resolve") || has("Could not resolve")) {
    return absl::StrCat("coordinator_address: cannot resolve host '", host,
                        "' (check the name, this machine's DNS resolver, or use the "
                        "coordinator's IP address and set coordinator_name)");
  }
  if (has("Connection refused")) {
    return absl::StrCat("coordinator_address: nothing listens at ", address,
                        " (connection refused): is the coordinator running, is the port right?");
  }
  if (has("Connection timed out") || has("Timeout occurred") || has("Deadline Exceeded")) {
    return absl::StrCat("coordinator_address: no answer from ", address,
                        " (timed out): a firewall may drop outbound connections to it");
  }
  if (has("Network is unreachable") || has("No route to host")) {
    return absl::StrCat("coordinator_address: no route to ", address);
  }
  if (has("certificate verify failed")) {
    return absl::StrCat("tls.ca_cert: the coordinator's certificate is not signed by this CA (",
                        raw, ")");
  }
  if (has("WRONG_VERSION_NUMBER") || has("wrong version number") ||
      has("packet length too long") || has("record layer failure")) {
    return absl::StrCat("coordinator_address: the server at ", address,
                        " does not speak TLS (check the port)");
  }
  // The handshake failed and this side's verifier did not refuse the
  // coordinator: the coordinator refused this node's certificate (an alert,
  // or it closed the connection during the handshake).
  if (has("alert") || has("Handshake failed") || has("handshake failed") ||
      has("Socket closed") || has("SSL_ERROR") || has("Ssl handshake")) {
    return absl::StrCat(
        "the coordinator refused this site's certificate (tls.cert: revoked, expired or issued "
        "by another study's CA, as the coordinator sees it; its log says which); run "
        "fedrad-site --check");
  }
  return raw;
}

}  // namespace fedrad::transport
