// The audit log's record format (core/internal/audit_internal.h): key order,
// canonical JSON, hashes, signed bytes and record times.
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "core/hash.h"
#include "core/internal/audit_internal.h"

namespace fedrad::audit_internal {
namespace {

constexpr char kSignaturePrefix[] = "fedrad-audit-v1\n";

// The record without the given keys.
Json Without(const Json& j, std::initializer_list<const char*> keys) {
  Json out = j;
  for (const char* k : keys) out.erase(k);
  return out;
}

}  // namespace

const std::vector<std::string>& KeysFor(const std::string& type) {
  static const std::vector<std::string> kOpen = {"seq",  "time", "node",      "type", "summary",
                                                 "cert", "prev", "signature", "hash"};
  static const std::vector<std::string> kEvent = {
      "seq",  "time", "node",           "type",    "direction", "study", "task",
      "peer", "kind", "payload_sha256", "summary", "prev",      "hash"};
  static const std::vector<std::string> kSigned = {"seq",     "time", "node",      "type",
                                                   "summary", "prev", "signature", "hash"};
  static const std::vector<std::string> kNone;
  if (type == "open") return kOpen;
  if (type == "event") return kEvent;
  if (type == "checkpoint" || type == "close") return kSigned;
  return kNone;
}

bool IsSignedType(const std::string& type) {
  return type == "open" || type == "checkpoint" || type == "close";
}

std::string Dump(const Json& j) { return j.dump(-1, ' ', false, Json::error_handler_t::replace); }

std::string HashOf(const Json& record) { return Sha256Hex(Dump(Without(record, {"hash"}))); }

std::string SignedBytes(const Json& record) {
  return absl::StrCat(kSignaturePrefix, Dump(Without(record, {"signature", "hash"})));
}

bool IsHexDigest(absl::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

// absl::FormatTime's %E6S is the seconds with six fractional digits,
// truncated (not rounded), as the writer has always written them.
std::string NowRfc3339() {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ", absl::Now(), absl::UTCTimeZone());
}

// Whole seconds: a fraction of any length is accepted and dropped.
int64_t ParseRfc3339(const std::string& s) {
  absl::Time t;
  std::string error;
  if (!absl::ParseTime("%Y-%m-%dT%H:%M:%E*SZ", s, absl::UTCTimeZone(), &t, &error)) return -1;
  return absl::ToUnixSeconds(t);
}

}  // namespace fedrad::audit_internal
