// Boundary handling shared by the convolutional filters of IBSI chapter 2
// (features/filters/): how a filter reads "outside" the image.
//
//   const int x = filters::PaddedIndex(i - r, size, filters::Padding::kMirror);
//   const double v = x < 0 ? 0.0 : image[x];   // -1 only for kConstant
//
// IBSI-2 (arXiv:2006.05470, section 2.3) names four modes; for an index i
// outside [0, n):
//   constant  the value 0 (PaddedIndex returns -1),
//   nearest   the edge voxel,
//   periodic  i mod n (the image repeats),
//   mirror    reflection that repeats the edge voxel (... 2 1 0 | 0 1 2 ...
//             ... n-2 n-1 | n-1 n-2 ...), with period 2n (numpy "symmetric").
//             Checked against IBSI-2 case 1.a.4 (mean filter, mirror padding)
//             by the phase-1 test.
#ifndef FEDRAD_FEATURES_FILTERS_PADDING_H_
#define FEDRAD_FEATURES_FILTERS_PADDING_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace fedrad::features::filters {

enum class Padding { kConstant, kNearest, kPeriodic, kMirror };

// "constant", "nearest", "periodic", "mirror" (also "zero", "wrap",
// "reflect", "symmetric" as synonyms). InvalidArgument naming the valid modes.
absl::StatusOr<Padding> ParsePadding(absl::string_view name);
std::string PaddingName(Padding padding);

// The index inside [0, n) that `i` reads under `padding`, or -1 when it
// reads the constant 0. n must be at least 1.
inline int PaddedIndex(int i, int n, Padding padding) {
  if (i >= 0 && i < n) return i;
  switch (padding) {
    case Padding::kConstant:
      return -1;
    case Padding::kNearest:
      return i < 0 ? 0 : n - 1;
    case Padding::kPeriodic: {
      const int m = i % n;
      return m < 0 ? m + n : m;
    }
    case Padding::kMirror: {
      const int period = 2 * n;
      int m = i % period;
      if (m < 0) m += period;
      return m < n ? m : period - 1 - m;
    }
  }
  return -1;
}

}  // namespace fedrad::features::filters

#endif  // FEDRAD_FEATURES_FILTERS_PADDING_H_
