// Signing and checking the messages of verifiable rounds (proto/rounds.proto,
// issue 12).
//
// A site signs every RoundMessage it contributes with the private key of its
// certificate; anyone holding the federation CA certificate (and its CRL)
// can check who said what in which round of which approved study:
//
//   FEDRAD_ASSIGN_OR_RETURN(v1::SignedMessage signed,
//                           rounds::Sign(message, *site_key, site_cert_pem));
//   ...
//   rounds::Expectation expect{.study_id = id, .spec_sha256 = hash,
//                              .signers = {"C1", "C2", "C3"}};
//   FEDRAD_ASSIGN_OR_RETURN(v1::RoundMessage m,
//                           rounds::Verify(signed, trust, expect));
//
// The signature covers "fedrad-round-v1\0" followed by the message's
// deterministic serialisation (the bytes in SignedMessage.body), so a
// signature can never be mistaken for one over an audit checkpoint or any
// other signed text. Thread safe; stateless apart from the key.
#ifndef FEDRAD_PROTO_ROUND_SIGNING_H_
#define FEDRAD_PROTO_ROUND_SIGNING_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/pki.h"
#include "proto/rounds.pb.h"

namespace fedrad::rounds {

// Serialises `message` deterministically, signs it and attaches the signer's
// certificate. InvalidArgument if message.site is empty.
absl::StatusOr<v1::SignedMessage> Sign(const v1::RoundMessage& message,
                                       const pki::PrivateKey& key,
                                       const std::string& certificate_pem);

// The bytes a signature covers: "fedrad-round-v1", a NUL, then `body`.
std::string SignedBytesOf(const std::string& body);

// Where certificates are checked against.
struct Trust {
  std::string ca_cert_path;  // the federation CA certificate
  std::string crl_path;      // its CRL; empty: not checked
  // Judge certificate validity at this time (seconds since the epoch);
  // 0: now. An auditor replays old logs at the time they were written.
  int64_t at_unix = 0;
};

// What a verified message must say. Empty fields are not checked.
struct Expectation {
  std::string study_id;
  std::string spec_sha256;
  std::vector<std::string> signers;  // the sites allowed to sign
  std::string round_id;
};

// Checks, in order: the certificate (issued by the CA, valid, not revoked,
// role site), the signature over the body, the body parses, its `site`
// equals the certificate's common name, and the expectation. Returns the
// message, or Unauthenticated (certificate, signature, signer) /
// InvalidArgument (malformed) / PermissionDenied (wrong study, spec, signer
// or round) with a text naming the signer and the round.
absl::StatusOr<v1::RoundMessage> Verify(const v1::SignedMessage& signed_message,
                                        const Trust& trust, const Expectation& expect);

}  // namespace fedrad::rounds

#endif  // FEDRAD_PROTO_ROUND_SIGNING_H_
