// The canonical hash of a study spec: what a site operator approves
// (`fedrad-site approve`), what a site checks on every task (Task.study) and
// what the coordinator publishes (results.json provenance.spec_approval_sha256,
// its log at submission), so that all three name a study the same way.
//
//   std::string hash = StudySpecHash(study);   // 64 lower-case hex digits
#ifndef FEDRAD_PROTO_SPEC_HASH_H_
#define FEDRAD_PROTO_SPEC_HASH_H_

#include <string>

#include "proto/study.pb.h"

namespace fedrad {

// The spec as it is hashed: a nameless spec is named "study" (as the
// coordinator names it when it is submitted); nothing else is changed.
v1::Study CanonicalStudy(v1::Study study);
// SHA-256 (lower-case hex) of the deterministic protobuf serialisation of
// CanonicalStudy(study). Stable for one schema; any changed field changes it.
std::string StudySpecHash(const v1::Study& study);

}  // namespace fedrad

#endif  // FEDRAD_PROTO_SPEC_HASH_H_
