// Riesz transforms of IBSI chapter 2 (arXiv:2006.05470, section 4.7):
// higher-order directional derivatives normalised to act on direction only,
// applied in the Fourier domain to a base response map (a LoG or Simoncelli
// response), so that any base filter can feed it:
//
//   FEDRAD_ASSIGN_OR_RETURN(ImageVolume log, /* the LoG response */);
//   RieszParams r;
//   r.order = {1, 0, 0};                    // first order along x
//   FEDRAD_ASSIGN_OR_RETURN(ImageVolume riesz, RieszResponse(log, r));
//
// Definition: with L = l1 + l2 + l3 and nu the normalised frequency on the
// grid described in simoncelli.h,
//   R(nu) = (-i)^L sqrt(L! / (l1! l2! l3!)) nu_x^l1 nu_y^l2 nu_z^l3 / ||nu||^L,
//   R(0) = 0 (for L > 0),
// and the response is the real part of IDFT(DFT(base) R) (IBSI-2 section
// 4.7). x is the first image axis (NIfTI i): IBSI-2 case 9.a, order (1,0,0),
// matches only along it. Both the base filter and R are convolutions, so
// this equals the Riesz-transformed filter applied to the image up to the
// borders. Padding as in simoncelli.h (non-periodic modes extend each
// filtered axis by half the largest filtered size, at most 32 voxels). Order (0,0,0) returns
// the base unchanged. Checked against the IBSI-2 maps 9.a, 9.b.1 and 10.b.1
// by riesz_test.cc.
//
// Errors (InvalidArgument, naming the setting): a negative order, a total
// order above 8, an order along z for in_plane, an empty image, a 3D
// transform on a one-slice image. Thread safe.
#ifndef FEDRAD_FEATURES_FILTERS_RIESZ_H_
#define FEDRAD_FEATURES_FILTERS_RIESZ_H_

#include <array>

#include "absl/status/statusor.h"
#include "features/filters/padding.h"
#include "features/volume.h"

namespace fedrad::features::filters {

struct RieszParams {
  std::array<int, 3> order{0, 0, 0};  // (l1, l2, l3) along x, y, z
  Padding padding = Padding::kPeriodic;
  bool in_plane = false;  // 2D: each slice on its own; order[2] must be 0
};

absl::StatusOr<ImageVolume> RieszResponse(const ImageVolume& base, const RieszParams& p);

}  // namespace fedrad::features::filters

#endif  // FEDRAD_FEATURES_FILTERS_RIESZ_H_
