// The right-angle rotations of the image axes, shared by the filters that
// are made rotation invariant by pooling over them (Laws in
// separable_filters.cc, the wavelets in wavelet.cc; IBSI-2 section 3).
#ifndef FEDRAD_FEATURES_FILTERS_INTERNAL_ROTATIONS_H_
#define FEDRAD_FEATURES_FILTERS_INTERNAL_ROTATIONS_H_

#include <array>
#include <vector>

namespace fedrad::features::filters::internal {

// One rotation: output axis a takes the kernel of input axis source[a],
// flipped when flip[a].
struct AxisRotation {
  std::array<int, 3> source{0, 1, 2};
  std::array<bool, 3> flip{false, false, false};
};

// The signed permutation matrices of determinant +1 over `dims` (2 or 3)
// axes: 4 in 2D (the z axis stays), 24 in 3D, the identity first; always in
// the same order.
std::vector<AxisRotation> RightAngleRotations(int dims);

}  // namespace fedrad::features::filters::internal

#endif  // FEDRAD_FEATURES_FILTERS_INTERNAL_ROTATIONS_H_
