// Private to features/filters: filtering a volume by a multiplier in the
// Fourier domain (FFTW, double), used by the Simoncelli wavelet and the Riesz
// transform. Not a public interface.
#ifndef FEDRAD_FEATURES_FILTERS_INTERNAL_FOURIER_H_
#define FEDRAD_FEATURES_FILTERS_INTERNAL_FOURIER_H_

#include <array>
#include <complex>
#include <functional>
#include <mutex>
#include <vector>

#include "features/filters/padding.h"

namespace fedrad::features::filters::fourier_internal {

// FFTW's planner is not thread safe: every plan creation and destruction in
// features/filters holds this mutex.
std::mutex& FftwPlannerMutex();

// The multiplier at normalised frequency nu, each component in [-1, 1]
// (about 1 at the Nyquist frequency). The grid is the one of the IBSI-2
// reference implementation (MIRP, which produced the consensus maps 8.a.2
// and 8.a.3 to float precision): on an axis of N samples, DFT index k sits at
// position i = (k + floor(N/2)) mod N of the centred spectrum and
//   nu = (i - (N-1)/2) / ((N-1)/2).
// For odd N this is 2 k' / (N-1) (k' the signed index); for even N it is
// offset by half a bin, which makes the multiplier slightly non-Hermitian;
// the real part of the result is kept. The exact DFT frequencies 2 k' / N
// fail 8.a.2 and 8.a.3 (max differences 8.4 and 11.2 for tolerances 3.3 and
// 1.4), so this grid is part of the definition.
using Multiplier = std::function<std::complex<double>(const std::array<double, 3>& nu)>;

// The margin of a non-periodic extension: half the largest filtered axis,
// at most kMaxMargin voxels (the IBSI-2 maps 9.b.1 and 10.b.1 on 64^3
// phantoms match best with 32; a bound keeps large CT volumes fast).
constexpr int kMaxMargin = 32;
int DefaultMargin(const std::array<int, 3>& size, bool in_plane);

struct FourierOptions {
  // How the image is extended before the (circular) transform: periodic
  // means no extension; other modes extend every filtered axis by `margin`
  // voxels on each side (and the far side up to a fast FFT size) with that
  // mode, and the result is cropped back.
  Padding padding = Padding::kPeriodic;
  int margin = 0;
  // 2D: nu_z is always 0 and z is never extended, so each slice is filtered
  // on its own (the z transform is inverted exactly).
  bool in_plane = false;
};

// Real part of IDFT(DFT(in) * multiplier) on the extended grid, cropped to
// `size`. `in` holds size[0]*size[1]*size[2] values, x fastest.
std::vector<double> ApplyMultiplier(const std::vector<double>& in,
                                    const std::array<int, 3>& size,
                                    const FourierOptions& options,
                                    const Multiplier& multiplier);

}  // namespace fedrad::features::filters::fourier_internal

#endif  // FEDRAD_FEATURES_FILTERS_INTERNAL_FOURIER_H_
