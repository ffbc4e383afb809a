#include "proto/round_signing.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "core/status.h"
#include "proto/node_audit.h"

namespace fedrad::rounds {
namespace {

constexpr char kContext[] = "fedrad-round-v1";

// The signed bytes: the context string, a NUL, then the body.
std::string SignedBytes(const std::string& body) {
  std::string data(kContext, sizeof(kContext));  // includes the NUL
  data += body;
  return data;
}

}  // namespace

std::string SignedBytesOf(const std::string& body) { return SignedBytes(body); }

absl::StatusOr<v1::SignedMessage> Sign(const v1::RoundMessage& message,
                                       const pki::PrivateKey& key,
                                       const std::string& certificate_pem) {
  if (message.site().empty()) {
    return absl::InvalidArgumentError("a round message needs the signing site's name");
  }
  v1::SignedMessage out;
  out.set_body(DeterministicBytes(message));
  FEDRAD_ASSIGN_OR_RETURN(std::string signature, key.Sign(SignedBytes(out.body())));
  out.set_signature(std::move(signature));
  out.set_certificate_pem(certificate_pem);
  return out;
}

absl::StatusOr<v1::RoundMessage> Verify(const v1::SignedMessage& signed_message,
                                        const Trust& trust, const Expectation& expect) {
  const std::string& pem = signed_message.certificate_pem();
  absl::Status chain =
      trust.at_unix > 0
          ? pki::VerifyCertificatePemAt(pem, trust.ca_cert_path, trust.crl_path, trust.at_unix)
          : pki::VerifyCertificatePem(pem, trust.ca_cert_path, trust.crl_path);
  if (!chain.ok()) {
    return absl::UnauthenticatedError(
        absl::StrCat("a signed round message's certificate: ", chain.message()));
  }
  FEDRAD_ASSIGN_OR_RETURN(pki::CertificateInfo info, pki::ParseCertificatePem(pem));
  if (info.is_ca || info.role != pki::Role::kSite) {
    return absl::UnauthenticatedError(absl::StrCat("round message signed by '", info.common_name,
                                                   "', whose certificate is not a site's"));
  }
  absl::Status sig = pki::VerifyWithCertificatePem(pem, SignedBytes(signed_message.body()),
                                                   signed_message.signature());
  if (!sig.ok()) {
    return absl::UnauthenticatedError(absl::StrCat(
        "round message from '", info.common_name, "': the signature does not match (", sig.message(),
        ")"));
  }
  v1::RoundMessage message;
  if (!message.ParseFromString(signed_message.body())) {
    return absl::InvalidArgumentError(
        absl::StrCat("round message from '", info.common_name, "' does not parse"));
  }
  if (message.site() != info.common_name) {
    return absl::UnauthenticatedError(absl::StrCat("round message claims site '", message.site(),
                                                   "' but is signed by '", info.common_name, "'"));
  }
  const std::string where = absl::StrCat("round message from '", message.site(), "' (round '",
                                         message.round_id(), "')");
  if (!expect.study_id.empty() && message.study_id() != expect.study_id) {
    return absl::PermissionDeniedError(absl::StrCat(where, " belongs to study '",
                                                    message.study_id(), "', not '",
                                                    expect.study_id, "'"));
  }
  if (!expect.spec_sha256.empty() && message.spec_sha256() != expect.spec_sha256) {
    return absl::PermissionDeniedError(
        absl::StrCat(where, " was made under another spec (sha256 ",
                     message.spec_sha256().substr(0, 12), "…)"));
  }
  if (!expect.signers.empty() &&
      std::find(expect.signers.begin(), expect.signers.end(), message.site()) ==
          expect.signers.end()) {
    return absl::PermissionDeniedError(
        absl::StrCat(where, ": that site has no part in this round"));
  }
  if (!expect.round_id.empty() && message.round_id() != expect.round_id) {
    return absl::PermissionDeniedError(
        absl::StrCat(where, " was expected for round '", expect.round_id, "'"));
  }
  return message;
}

}  // namespace fedrad::rounds
