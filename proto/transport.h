// fedrad's transport layer: the one place that knows about gRPC channels,
// TLS credentials, deadlines and the conversion between absl::Status and
// grpc::Status. The daemons (site_node/, coordinator/) and the CLI use it;
// nothing else includes gRPC.
//
//   fedrad::transport::TlsFiles tls{.ca_cert = "ca.crt", .cert = "s1.crt",
//                                   .key = "s1.key", .crl = "crl.pem"};
//   FEDRAD_ASSIGN_OR_RETURN(auto creds, fedrad::transport::MakeChannelCredentials(tls));
//   auto channel = fedrad::transport::MakeChannel("coord:7443", creds, "coord");
//
// Security model (docs/architecture.md): mutual TLS on every connection. The
// server asks every client for a certificate and checks it itself, on every
// handshake, against the study CA and the CA's CRL (re-read from disk each
// time), so that every refusal has a log line saying why ("no client
// certificate", "expired on ...", "revoked", "not issued by this study's
// CA"). A peer's identity is its certificate's CN and its role the OU.
// Clients (sites, the admin CLI) pin the server too: its certificate must
// carry the coordinator role and the name dialled (CN or subjectAltName).
#ifndef FEDRAD_PROTO_TRANSPORT_H_
#define FEDRAD_PROTO_TRANSPORT_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include <grpcpp/grpcpp.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace fedrad::transport {

// The wire protocol version sent in every Hello and Welcome. A site and a
// coordinator with different versions refuse each other, naming both.
inline constexpr int kProtocolVersion = 1;

// Largest message either side accepts or sends: 256 MiB, deliberately raised
// from gRPC's 4 MiB default so that a Hessian of a few thousand features fits
// in one TaskResult (1000 features = 8 MB).
inline constexpr int kMaxMessageBytes = 256 * 1024 * 1024;

// Deadline of unary admin calls (submit, status, results), seconds.
inline constexpr double kDefaultUnaryDeadlineSeconds = 30;

// A node's TLS material (PEM file paths). See proto/config.proto TlsConfig.
struct TlsFiles {
  std::string ca_cert;
  std::string cert;
  std::string key;
  std::string crl;  // may be empty: no revocation check
  // Development only: plaintext. Identity then comes from metadata.
  bool insecure_for_tests = false;
  // For log lines: which node checks ("coordinator", "site").
  std::string node_name = "node";
};

// Server credentials for mutual TLS: presents cert/key, requests a client
// certificate and verifies it on every handshake (chain to ca_cert, validity
// dates, CRL). InvalidArgument/NotFound naming the file when a file is
// missing or unreadable. Thread safe.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    const TlsFiles& files);

// Channel credentials for mutual TLS: presents cert/key and verifies the
// server on every handshake: chain to ca_cert first, then dates and the CRL
// (when given, re-read each time), that its role is `expected_server_role`
// (e.g. "coordinator"; empty: any role), and that its CN or a
// subjectAltName is the name the channel dials (MakeChannel's server_name,
// default the host of the address). A refusal is logged with the expected
// and the presented name/role and kept for TakeLastServerRefusal().
absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>>
MakeChannelCredentials(const TlsFiles& files,
                       const std::string& expected_server_role = "coordinator");

// A channel with fedrad's settings (message limits, keepalive). When
// `server_name` is not empty the server certificate must be valid for that
// name instead of the address's host.
std::shared_ptr<grpc::Channel> MakeChannel(
    const std::string& address,
    const std::shared_ptr<grpc::ChannelCredentials>& credentials,
    const std::string& server_name = "");

// Applies fedrad's server settings (message limits, keepalive policy).
void ConfigureServerBuilder(grpc::ServerBuilder* builder);

// Sets a deadline `seconds` from now.
void SetDeadline(grpc::ClientContext* context, double seconds);

// Client metadata that carries the identity in insecure_for_tests mode.
void SetInsecureIdentity(grpc::ClientContext* context,
                         const std::string& common_name,
                         const std::string& role);

// Status conversion at the edge (same canonical codes on both sides).
grpc::Status ToGrpcStatus(const absl::Status& status);
absl::Status FromGrpcStatus(const grpc::Status& status);

// Who is on the other end of a server call.
struct PeerIdentity {
  std::string common_name;  // the certificate's CN: a site's id
  std::string role;         // the certificate's OU: site|coordinator|admin|auditor
  std::string serial_hex;
};

// The verified identity of the caller, read from the TLS auth context (never
// from a field the peer sends). Unauthenticated when there is no verified
// client certificate. With `insecure` (tests only) the identity comes from
// the x-fedrad-insecure-* metadata.
absl::StatusOr<PeerIdentity> GetPeerIdentity(
    const grpc::ServerContextBase& context, bool insecure);

// Verifies a PEM certificate against a CA certificate file (one or more
// CAs) and, when crl_path is not empty, that CA's CRL, with
// pki::VerifyCertificatePem (core/pki.h: the one implementation of these
// checks): the chain and validity dates first, then the CRL (signed by that
// CA, current), then revocation. The error says why: "no client
// certificate", "certificate CN=S1 expired on ...", "certificate CN=S1
// revoked (serial ...)", "certificate CN=S1 not issued by this study's CA
// (issuer ...)". Unauthenticated for a missing, unparseable or refused
// certificate; FailedPrecondition when this node's CA or CRL file cannot be
// read or used (the CRL is not the CA's, has expired: "the CRL '...' ...";
// fail closed). Thread safe.
absl::Status VerifyPeerCertificate(absl::string_view cert_pem,
                                   const std::string& ca_cert_path,
                                   const std::string& crl_path);

// The whole check a client (site, admin CLI, fedrad-site --check) makes of
// the coordinator's certificate, in this order: chain to ca_cert_path, dates,
// the CRL (VerifyPeerCertificate); role `expected_role` (empty: any); CN or
// a subjectAltName equal to `expected_name` (case-insensitive; an IP
// address compares as an address; empty: no name check). The error names
// the config field to fix and what was presented: "tls.ca_cert: the
// coordinator's certificate is not signed by this CA (...)", "tls.crl: ...",
// "coordinator_address: certificate CN=x has role 'site', expected
// 'coordinator' ...", "coordinator_name: expected a certificate for 'a', the
// server presented CN=b (role coordinator, names b, localhost, ...)".
// Thread safe.
absl::Status CheckServerCertificate(absl::string_view cert_pem, const std::string& ca_cert_path,
                                    const std::string& crl_path,
                                    const std::string& expected_name,
                                    const std::string& expected_role);

// Why this process's client side last refused a server's certificate,
// prefixed with the config field to fix ("tls.ca_cert: ...", "tls.crl: ...",
// "coordinator_name: ...", "coordinator_address: ..."), then cleared; empty
// if none since the last call. Thread safe.
std::string TakeLastServerRefusal();

// A failed connection to the coordinator at `address`, said in terms of the
// config field involved instead of gRPC's/OpenSSL's/c-ares' text:
// `server_refusal` (TakeLastServerRefusal()) when not empty; otherwise
// "coordinator_address: cannot resolve host ...", "... nothing listens at
// ...", "... does not speak TLS", or "the coordinator refused this site's
// certificate (...); run fedrad-site --check" for a handshake the
// coordinator broke off. Anything else: the status message unchanged.
std::string ExplainConnectionFailure(const absl::Status& status, const std::string& address,
                                     const std::string& server_refusal);

// What a CRL revokes. Serials are spelled as PeerIdentity::serial_hex.
struct RevocationList {
  int64_t crl_number = 0;
  std::map<std::string, std::string> reasons;  // serial -> reason name ("" if none)
};

// Reads the CRL at crl_path after checking that the CA in ca_cert_path
// signed it. FailedPrecondition naming the file when it cannot be read, is
// not a PEM CRL, or is not that CA's. Thread safe.
absl::StatusOr<RevocationList> ReadRevocationList(const std::string& crl_path,
                                                  const std::string& ca_cert_path);

// CN, OU and serial of a PEM certificate (no verification).
absl::StatusOr<PeerIdentity> DescribeCertificate(absl::string_view cert_pem);

}  // namespace fedrad::transport

#endif  // FEDRAD_PROTO_TRANSPORT_H_
