// SHA-256 digests (OpenSSL EVP), used for audit records, payload digests and
// content-addressed caches.
//
//   std::string hex = Sha256Hex(payload);   // 64 lowercase hex characters
#ifndef FEDRAD_CORE_HASH_H_
#define FEDRAD_CORE_HASH_H_

#include <array>
#include <cstdint>
#include <string>
#include "absl/strings/string_view.h"

#include "absl/status/statusor.h"

namespace fedrad {

using Sha256Digest = std::array<uint8_t, 32>;

Sha256Digest Sha256(absl::string_view data);
std::string Sha256Hex(absl::string_view data);
std::string ToHex(const uint8_t* data, size_t size);

// Incremental hashing for large inputs (files). Not thread safe.
class Sha256Hasher {
 public:
  Sha256Hasher();
  ~Sha256Hasher();
  Sha256Hasher(const Sha256Hasher&) = delete;
  Sha256Hasher& operator=(const Sha256Hasher&) = delete;
  void Update(absl::string_view data);
  // Finishes and returns the lowercase hex digest; the hasher is then spent.
  std::string FinalHex();

 private:
  void* ctx_;  // EVP_MD_CTX*, kept out of the header
};

// SHA-256 of a file's bytes, streamed. NotFound if it cannot be read.
absl::StatusOr<std::string> Sha256FileHex(const std::string& path);

}  // namespace fedrad

#endif  // FEDRAD_CORE_HASH_H_
