#include "proto/transport.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include <chrono>
#include <cstdlib>
#include <memory>
#include <utility>
#include <vector>

#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_certificate_verifier.h>
#include <grpcpp/security/tls_credentials_options.h>

#include "absl/strings/str_cat.h"
#include "core/csv.h"
#include "core/log.h"

namespace fedrad::transport {
namespace {

constexpr char kInsecureIdKey[] = "x-fedrad-insecure-id";
constexpr char kInsecureRoleKey[] = "x-fedrad-insecure-role";

struct BioFree { void operator()(BIO* b) const { BIO_free(b); } };
struct X509Free { void operator()(X509* x) const { X509_free(x); } };
struct X509CrlFree { void operator()(X509_CRL* c) const { X509_CRL_free(c); } };
struct StoreFree { void operator()(X509_STORE* s) const { X509_STORE_free(s); } };
struct StoreCtxFree {
  void operator()(X509_STORE_CTX* c) const { X509_STORE_CTX_free(c); }
};
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

std::string AsnTimeText(const ASN1_TIME* t) {
  std::unique_ptr<BIO, BioFree> bio(BIO_new(BIO_s_mem()));
  if (!bio || ASN1_TIME_print(bio.get(), t) != 1) return "?";
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, len);
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

// Checks the peer certificate on every handshake, so that the CRL is read
// fresh each time and every refusal is logged with its reason.
class PeerVerifier : public grpc::experimental::ExternalCertificateVerifier {
 public:
  PeerVerifier(std::string ca_path, std::string crl_path, std::string node,
               std::string required_role)
      : ca_path_(std::move(ca_path)),
        crl_path_(std::move(crl_path)),
        node_(std::move(node)),
        required_role_(std::move(required_role)) {}

  bool Verify(grpc::experimental::TlsCustomVerificationCheckRequest* request,
              std::function<void(grpc::Status)> callback,
              grpc::Status* sync_status) override {
    grpc::string_ref pem = request->peer_cert();
    absl::string_view cert(pem.data(), pem.size());
    absl::Status status = VerifyPeerCertificate(cert, ca_path_, crl_path_);
    PeerIdentity who;
    if (status.ok()) {
      auto id = DescribeCertificate(cert);
      if (id.ok()) who = *id;
      if (!required_role_.empty() && who.role != required_role_) {
        status = absl::PermissionDeniedError(
            absl::StrCat("certificate CN=", who.common_name, " has role '",
                         who.role, "', expected '", required_role_, "'"));
      }
    }
    if (!status.ok()) {
      auto id = DescribeCertificate(cert);
      FEDRAD_LOG(WARNING) << node_ << ": refused TLS peer"
                          << (id.ok() ? " CN=" + id->common_name : "")
                          << ": " << status.message();
      *sync_status = grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                                  std::string(status.message()));
    } else {
      FEDRAD_LOG(DEBUG) << node_ << ": accepted TLS peer CN="
                        << who.common_name << " role=" << who.role;
      *sync_status = grpc::Status::OK;
    }
    return true;  // synchronous
  }

  void Cancel(grpc::experimental::TlsCustomVerificationCheckRequest*) override {}

 private:
  const std::string ca_path_, crl_path_, node_, required_role_;
};

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
          files.ca_cert, files.crl, files.node_name, ""));
  return grpc::experimental::TlsServerCredentials(options);
}

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>>
MakeChannelCredentials(const TlsFiles& files,
                       const std::string& expected_server_role) {
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
  options.set_verify_server_certs(true);
  options.set_certificate_verifier(
      grpc::experimental::ExternalCertificateVerifier::Create<PeerVerifier>(
          files.ca_cert, files.crl, files.node_name, expected_server_role));
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
  X509Ptr cert = ParsePem(cert_pem);
  if (!cert) {
    return absl::UnauthenticatedError("unparseable peer certificate");
  }
  auto ca_text = ReadFileToString(ca_cert_path);
  if (!ca_text.ok()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "cannot read the CA certificate '", ca_cert_path, "'"));
  }
  std::unique_ptr<X509_STORE, StoreFree> store(X509_STORE_new());
  {
    std::unique_ptr<BIO, BioFree> bio(
        BIO_new_mem_buf(ca_text->data(), static_cast<int>(ca_text->size())));
    int added = 0;
    while (X509* ca = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
      X509_STORE_add_cert(store.get(), ca);
      X509_free(ca);
      ++added;
    }
    ERR_clear_error();
    if (added == 0) {
      return absl::FailedPreconditionError(absl::StrCat(
          "no certificate in the CA file '", ca_cert_path, "'"));
    }
  }
  if (!crl_path.empty()) {
    auto crl_text = ReadFileToString(crl_path);
    if (!crl_text.ok()) {
      // Fail closed: a CRL that was configured but cannot be read.
      return absl::FailedPreconditionError(
          absl::StrCat("cannot read the CRL '", crl_path, "'"));
    }
    std::unique_ptr<BIO, BioFree> bio(BIO_new_mem_buf(
        crl_text->data(), static_cast<int>(crl_text->size())));
    std::unique_ptr<X509_CRL, X509CrlFree> crl(
        PEM_read_bio_X509_CRL(bio.get(), nullptr, nullptr, nullptr));
    if (!crl) {
      ERR_clear_error();
      return absl::FailedPreconditionError(
          absl::StrCat("the CRL '", crl_path, "' is not a PEM CRL"));
    }
    X509_STORE_add_crl(store.get(), crl.get());
    X509_STORE_set_flags(store.get(), X509_V_FLAG_CRL_CHECK);
  }
  std::unique_ptr<X509_STORE_CTX, StoreCtxFree> ctx(X509_STORE_CTX_new());
  X509_STORE_CTX_init(ctx.get(), store.get(), cert.get(), nullptr);
  int ok = X509_verify_cert(ctx.get());
  if (ok == 1) return absl::OkStatus();
  int err = X509_STORE_CTX_get_error(ctx.get());
  ERR_clear_error();
  X509_NAME* subject = X509_get_subject_name(cert.get());
  std::string who = absl::StrCat("CN=", NameEntry(subject, NID_commonName));
  switch (err) {
    case X509_V_ERR_CERT_HAS_EXPIRED:
      return absl::UnauthenticatedError(
          absl::StrCat("certificate ", who, " expired on ",
                       AsnTimeText(X509_get0_notAfter(cert.get()))));
    case X509_V_ERR_CERT_NOT_YET_VALID:
      return absl::UnauthenticatedError(
          absl::StrCat("certificate ", who, " is not valid before ",
                       AsnTimeText(X509_get0_notBefore(cert.get()))));
    case X509_V_ERR_CERT_REVOKED:
      return absl::UnauthenticatedError(
          absl::StrCat("certificate ", who, " revoked (serial ",
                       SerialHex(cert.get()), ")"));
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_CERT_SIGNATURE_FAILURE:
      return absl::UnauthenticatedError(absl::StrCat(
          "certificate ", who, " not issued by this study's CA (issuer ",
          NameEntry(X509_get_issuer_name(cert.get()), NID_commonName), ")"));
    default:
      return absl::UnauthenticatedError(
          absl::StrCat("certificate ", who, " refused: ",
                       X509_verify_cert_error_string(err)));
  }
}

}  // namespace fedrad::transport
