#include "features/filters/internal/fourier.h"

#include <fftw3.h>

#include <algorithm>

#include "features/filters/fftw_lock.h"


namespace fedrad::features::filters::fourier_internal {
namespace {

// Normalised frequency of DFT index k on an axis of n samples, on the grid
// of the IBSI-2 reference implementation (see fourier.h).
double Frequency(int k, int n) {
  if (n <= 1) return 0.0;
  const int i = (k + n / 2) % n;  // position in the centred spectrum
  const double c = (n - 1) / 2.0;
  return (i - c) / c;
}

// The smallest m >= n whose only prime factors are 2, 3, 5 and 7 (fast for
// FFTW).
int SmoothSize(int n) {
  for (int m = n;; ++m) {
    int r = m;
    for (int f : {2, 3, 5, 7}) {
      while (r % f == 0) r /= f;
    }
    if (r == 1) return m;
  }
}

}  // namespace

int DefaultMargin(const std::array<int, 3>& size, bool in_plane) {
  const int largest = std::max({size[0], size[1], in_plane ? 0 : size[2]});
  return std::min(kMaxMargin, largest / 2);
}

// The process-wide lock (features/filters/fftw_lock.h), shared with the
// Gabor filter and morphology's Moran's I.
std::mutex& FftwPlannerMutex() { return filters::FftwPlannerMutex(); }

std::vector<double> ApplyMultiplier(const std::vector<double>& in,
                                    const std::array<int, 3>& size,
                                    const FourierOptions& options,
                                    const Multiplier& multiplier) {
  const bool extend = options.padding != Padding::kPeriodic && options.margin > 0;
  std::array<int, 3> margin{0, 0, 0};
  for (int a = 0; a < 3; ++a) {
    if (extend && !(options.in_plane && a == 2)) margin[a] = options.margin;
  }
  // Extended axes get their margin on both sides, and a few more voxels on
  // the far side up to a size FFTW transforms fast.
  std::array<int, 3> n;
  for (int a = 0; a < 3; ++a) {
    n[a] = margin[a] > 0 ? SmoothSize(size[a] + 2 * margin[a]) : size[a];
  }
  const size_t real_size = static_cast<size_t>(n[0]) * n[1] * n[2];
  const int hx = n[0] / 2 + 1;
  const size_t cplx_size = static_cast<size_t>(hx) * n[1] * n[2];

  double* real = fftw_alloc_real(real_size);
  fftw_complex* spec = fftw_alloc_complex(cplx_size);
  fftw_plan forward, backward;
  {
    std::lock_guard<std::mutex> lock(FftwPlannerMutex());
    forward = fftw_plan_dft_r2c_3d(n[2], n[1], n[0], real, spec, FFTW_ESTIMATE);
    backward = fftw_plan_dft_c2r_3d(n[2], n[1], n[0], spec, real, FFTW_ESTIMATE);
  }
  for (int z = 0; z < n[2]; ++z) {
    const int sz = PaddedIndex(z - margin[2], size[2], options.padding);
    for (int y = 0; y < n[1]; ++y) {
      const int sy = PaddedIndex(y - margin[1], size[1], options.padding);
      double* row = real + (static_cast<size_t>(z) * n[1] + y) * n[0];
      for (int x = 0; x < n[0]; ++x) {
        const int sx = PaddedIndex(x - margin[0], size[0], options.padding);
        row[x] = (sx < 0 || sy < 0 || sz < 0)
                     ? 0.0
                     : in[(static_cast<size_t>(sz) * size[1] + sy) * size[0] + sx];
      }
    }
  }
  fftw_execute(forward);

  // The real part of the result is the inverse transform of the Hermitian
  // part of the product, i.e. of DFT(in) * (M(k) + conj(M(-k))) / 2; c2r
  // needs exactly that half spectrum.
  std::vector<double> fy(n[1]), fz(n[2]), fx(hx), fy_neg(n[1]), fz_neg(n[2]), fx_neg(hx);
  for (int k = 0; k < n[1]; ++k) {
    fy[k] = Frequency(k, n[1]);
    fy_neg[k] = Frequency((n[1] - k) % n[1], n[1]);
  }
  for (int k = 0; k < n[2]; ++k) {
    fz[k] = options.in_plane ? 0.0 : Frequency(k, n[2]);
    fz_neg[k] = options.in_plane ? 0.0 : Frequency((n[2] - k) % n[2], n[2]);
  }
  for (int k = 0; k < hx; ++k) {
    fx[k] = Frequency(k, n[0]);
    fx_neg[k] = Frequency((n[0] - k) % n[0], n[0]);
  }
  const double scale = 1.0 / static_cast<double>(real_size);
  for (int kz = 0; kz < n[2]; ++kz) {
    for (int ky = 0; ky < n[1]; ++ky) {
      fftw_complex* row = spec + (static_cast<size_t>(kz) * n[1] + ky) * hx;
      for (int kx = 0; kx < hx; ++kx) {
        const std::complex<double> m =
            0.5 * (multiplier({fx[kx], fy[ky], fz[kz]}) +
                   std::conj(multiplier({fx_neg[kx], fy_neg[ky], fz_neg[kz]})));
        const std::complex<double> v = std::complex<double>(row[kx][0], row[kx][1]) * m * scale;
        row[kx][0] = v.real();
        row[kx][1] = v.imag();
      }
    }
  }
  fftw_execute(backward);

  std::vector<double> out(static_cast<size_t>(size[0]) * size[1] * size[2]);
  for (int z = 0; z < size[2]; ++z) {
    for (int y = 0; y < size[1]; ++y) {
      const double* row =
          real + (static_cast<size_t>(z + margin[2]) * n[1] + y + margin[1]) * n[0] + margin[0];
      std::copy(row, row + size[0], out.begin() + (static_cast<size_t>(z) * size[1] + y) * size[0]);
    }
  }
  {
    std::lock_guard<std::mutex> lock(FftwPlannerMutex());
    fftw_destroy_plan(forward);
    fftw_destroy_plan(backward);
  }
  fftw_free(real);
  fftw_free(spec);
  return out;
}

}  // namespace fedrad::features::filters::fourier_internal
