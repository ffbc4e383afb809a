// Internal to core/secagg (fedrad::secagg_internal): what secagg.cc (keys,
// HKDF, AES-CTR, fixed point, masks) and secagg_shamir.cc (Shamir sharing)
// share. Not for use outside core/secagg*.cc.
#ifndef FEDRAD_CORE_INTERNAL_SECAGG_INTERNAL_H_
#define FEDRAD_CORE_INTERNAL_SECAGG_INTERNAL_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace fedrad::secagg_internal {

// An Internal status "secagg: <what> failed: <OpenSSL's error queue>"; clears
// the queue.
absl::Status OpenSslError(absl::string_view what);

}  // namespace fedrad::secagg_internal

#endif  // FEDRAD_CORE_INTERNAL_SECAGG_INTERNAL_H_
