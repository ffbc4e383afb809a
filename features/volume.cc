#include "features/volume.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace fedrad::features {

std::string GeometryMismatch(const Geometry& a, const Geometry& b,
                             double tolerance) {
  if (a.size != b.size) {
    return absl::StrCat("size differs: ", absl::StrJoin(a.size, "x"), " vs ",
                        absl::StrJoin(b.size, "x"));
  }
  for (int d = 0; d < 3; ++d) {
    if (std::abs(a.spacing[d] - b.spacing[d]) > tolerance * a.spacing[d]) {
      return absl::StrCat("spacing differs: ", absl::StrJoin(a.spacing, ","),
                          " vs ", absl::StrJoin(b.spacing, ","));
    }
  }
  for (int d = 0; d < 3; ++d) {
    if (std::abs(a.origin[d] - b.origin[d]) > tolerance * a.spacing[d] * 10) {
      return absl::StrCat("origin differs: ", absl::StrJoin(a.origin, ","),
                          " vs ", absl::StrJoin(b.origin, ","));
    }
  }
  for (int d = 0; d < 9; ++d) {
    if (std::abs(a.direction[d] - b.direction[d]) > tolerance) {
      return absl::StrCat("direction differs: ",
                          absl::StrJoin(a.direction, ","), " vs ",
                          absl::StrJoin(b.direction, ","));
    }
  }
  return "";
}

}  // namespace fedrad::features
