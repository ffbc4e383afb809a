#include "proto/spec_hash.h"

#include "core/hash.h"
#include "proto/node_audit.h"

namespace fedrad {

v1::Study CanonicalStudy(v1::Study study) {
  if (study.name().empty()) study.set_name("study");
  return study;
}

std::string StudySpecHash(const v1::Study& study) {
  return Sha256Hex(DeterministicBytes(CanonicalStudy(study)));
}

}  // namespace fedrad
