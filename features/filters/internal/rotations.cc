#include "features/filters/internal/rotations.h"

#include <algorithm>

namespace fedrad::features::filters::internal {

std::vector<AxisRotation> RightAngleRotations(int dims) {
  std::vector<AxisRotation> out;
  std::array<int, 3> perm{0, 1, 2};
  do {
    if (dims == 2 && perm[2] != 2) continue;
    // The determinant's sign: the permutation's parity times the flips'.
    int inversions = 0;
    for (int i = 0; i < dims; ++i) {
      for (int j = i + 1; j < dims; ++j) inversions += perm[i] > perm[j];
    }
    for (int flips = 0; flips < (1 << dims); ++flips) {
      int negatives = 0;
      AxisRotation r;
      for (int a = 0; a < dims; ++a) {
        r.source[a] = perm[a];
        r.flip[a] = (flips >> a) & 1;
        negatives += r.flip[a];
      }
      if ((inversions + negatives) % 2 == 0) out.push_back(r);
    }
  } while (std::next_permutation(perm.begin(), perm.end()));
  return out;
}

}  // namespace fedrad::features::filters::internal
