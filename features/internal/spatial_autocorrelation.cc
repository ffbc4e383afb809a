// Moran's I and Geary's C for features/morphology: the direct pair sum and
// the exact FFT (FFTW) form.
#include "features/internal/spatial_autocorrelation.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <mutex>
#include <vector>

#include <fftw3.h>

#include "features/filters/fftw_lock.h"
#include "features/internal/marching_cubes.h"  // MaskBox

namespace fedrad::features::morphology_internal {

// Moran's I and Geary's C (IBSI 3.1.24 / 3.1.25) with weights 1/distance.
void SpatialAutocorrelation(const std::vector<std::array<float, 3>>& pos,
                            const std::vector<float>& val, double* moran,
                            double* geary) {
  const size_t n = pos.size();
  double mean = 0;
  for (float v : val) mean += v;
  mean /= n;
  double denom = 0;
  for (float v : val) denom += (v - mean) * (v - mean);
  std::vector<float> px(n), py(n), pz(n), dv(n), rv(n);
  for (size_t i = 0; i < n; ++i) {
    px[i] = pos[i][0];
    py[i] = pos[i][1];
    pz[i] = pos[i][2];
    dv[i] = static_cast<float>(val[i] - mean);
    rv[i] = val[i];
  }
  // Each pair i < j once. The sums are accumulated per column j (element-wise
  // updates the compiler vectorises; a per-row float sum would force
  // sequential adds):
  //   sw = sum_j sum_i w_ij,  sm = sum_j d_j sum_i d_i w_ij,
  //   sg = sum_j sum_i w_ij (r_i - r_j)^2.
  std::vector<float> col_w(n, 0.0f), col_m(n, 0.0f), col_g(n, 0.0f);
  for (size_t i = 0; i + 1 < n; ++i) {
    const float xi = px[i], yi = py[i], zi = pz[i], di = dv[i], ri = rv[i];
    for (size_t j = i + 1; j < n; ++j) {
      float dx = xi - px[j], dy = yi - py[j], dz = zi - pz[j];
      float w = 1.0f / std::sqrt(dx * dx + dy * dy + dz * dz);
      float dr = ri - rv[j];
      col_w[j] += w;
      col_m[j] += di * w;
      col_g[j] += w * dr * dr;
    }
  }
  double sw = 0, sm = 0, sg = 0;
  for (size_t j = 0; j < n; ++j) {
    sw += col_w[j];
    sm += dv[j] * static_cast<double>(col_m[j]);
    sg += col_g[j];
  }
  // Pairs were counted once; both sums and the weight total double alike.
  if (denom <= 0 || sw <= 0) {
    *moran = std::numeric_limits<double>::quiet_NaN();
    *geary = std::numeric_limits<double>::quiet_NaN();
    return;
  }
  *moran = static_cast<double>(n) / (2 * sw) * (2 * sm) / denom;
  *geary = static_cast<double>(n - 1) * (2 * sg) / (2 * (2 * sw) * denom);
}

// Exact Moran's I and Geary's C by FFT convolution. With D = (x - mean) on
// the intensity mask and M the mask, and K(o) = 1/|o| (mm) for o != 0:
//   sum_{i!=j} w_ij          = sum_i M_i (K*M)_i
//   sum_{i!=j} w_ij d_i d_j  = sum_i D_i (K*D)_i
//   sum_{i!=j} w_ij (d_i-d_j)^2 = 2 sum_i D_i^2 (K*M)_i - 2 sum_i D_i (K*D)_i
// computed with linear (zero-padded) convolutions of size >= 2n - 1.
namespace {

// FFTW's planner is not thread safe: one lock for the whole process, shared
// with the filters (features/filters/fftw_lock.h).
using filters::FftwPlannerMutex;

int NiceFftSize(int n) {
  for (int m = n;; ++m) {
    int r = m;
    for (int p : {2, 3, 5, 7}) while (r % p == 0) r /= p;
    if (r == 1) return m;
  }
}

// The FFT grid: the mask's bounding box padded to p (>= 2n - 1 per axis),
// with its FFTW buffers (zeroed), freed on destruction.
struct FftGrid {
  FftGrid(const std::array<int, 3>& padded) : px(padded[0]), py(padded[1]), pz(padded[2]) {
    real_size = static_cast<size_t>(px) * py * pz;
    cplx_size = static_cast<size_t>(pz) * py * (px / 2 + 1);  // r2c halves x
    k = fftw_alloc_real(real_size);
    m = fftw_alloc_real(real_size);
    dv = fftw_alloc_real(real_size);
    kf = fftw_alloc_complex(cplx_size);
    mf = fftw_alloc_complex(cplx_size);
    df = fftw_alloc_complex(cplx_size);
    std::fill(m, m + real_size, 0.0);
    std::fill(dv, dv + real_size, 0.0);
    std::fill(k, k + real_size, 0.0);
  }
  ~FftGrid() {
    fftw_free(k);
    fftw_free(m);
    fftw_free(dv);
    fftw_free(kf);
    fftw_free(mf);
    fftw_free(df);
  }
  FftGrid(const FftGrid&) = delete;
  FftGrid& operator=(const FftGrid&) = delete;

  size_t Index(int x, int y, int z) const { return (static_cast<size_t>(z) * py + y) * px + x; }

  const int px, py, pz;
  size_t real_size, cplx_size;
  double* k;   // the kernel 1/distance; then the convolution of m
  double* m;   // 1 inside the mask
  double* dv;  // value - mean inside the mask
  fftw_complex *kf, *mf, *df;
};

// Fills grid.m and grid.dv from the mask's box [lo, hi]; returns the sum of
// squared deviations and sets *count to the mask's voxels.
double FillDeviations(const Geometry& g, const std::vector<uint8_t>& mask,
                      const std::vector<float>& values, const std::array<int, 3>& lo,
                      const std::array<int, 3>& hi, FftGrid& grid, size_t* count) {
  double sum = 0;
  *count = 0;
  for (int z = lo[2]; z <= hi[2]; ++z)
    for (int y = lo[1]; y <= hi[1]; ++y)
      for (int x = lo[0]; x <= hi[0]; ++x) {
        size_t i = g.Index(x, y, z);
        if (mask[i]) {
          sum += values[i];
          ++*count;
        }
      }
  const double mean = sum / *count;
  double denom = 0;
  for (int z = lo[2]; z <= hi[2]; ++z)
    for (int y = lo[1]; y <= hi[1]; ++y)
      for (int x = lo[0]; x <= hi[0]; ++x) {
        size_t i = g.Index(x, y, z);
        if (!mask[i]) continue;
        size_t j = grid.Index(x - lo[0], y - lo[1], z - lo[2]);
        grid.m[j] = 1.0;
        grid.dv[j] = values[i] - mean;
        denom += grid.dv[j] * grid.dv[j];
      }
  return denom;
}

// The kernel 1/distance on offsets -(n-1)..(n-1), stored circularly in grid.k.
void FillKernel(const Geometry& g, const std::array<int, 3>& n, FftGrid& grid) {
  const int px = grid.px, py = grid.py, pz = grid.pz;
  for (int oz = -(n[2] - 1); oz <= n[2] - 1; ++oz)
    for (int oy = -(n[1] - 1); oy <= n[1] - 1; ++oy)
      for (int ox = -(n[0] - 1); ox <= n[0] - 1; ++ox) {
        if (ox == 0 && oy == 0 && oz == 0) continue;
        double dx = ox * g.spacing[0], dy = oy * g.spacing[1], dz = oz * g.spacing[2];
        grid.k[grid.Index((ox + px) % px, (oy + py) % py, (oz + pz) % pz)] =
            1.0 / std::sqrt(dx * dx + dy * dy + dz * dz);
      }
}

// The kernel's circular convolutions with m and dv (by FFT), summed over the
// mask: sw = sum w_ij, sm = sum w_ij dv_i dv_j, sg = sum w_ij (dv_i - dv_j)^2.
struct PairSums {
  double sw = 0, sm = 0, sg = 0;
};
PairSums ConvolveKernel(FftGrid& grid) {
  const int px = grid.px, py = grid.py, pz = grid.pz;
  fftw_plan fk, fm, fd, bm, bd;
  {
    std::lock_guard<std::mutex> lock(FftwPlannerMutex());
    fk = fftw_plan_dft_r2c_3d(pz, py, px, grid.k, grid.kf, FFTW_ESTIMATE);
    fm = fftw_plan_dft_r2c_3d(pz, py, px, grid.m, grid.mf, FFTW_ESTIMATE);
    fd = fftw_plan_dft_r2c_3d(pz, py, px, grid.dv, grid.df, FFTW_ESTIMATE);
  }
  // r2c keeps its input (FFTW_PRESERVE_INPUT is the default but for c2r),
  // so m and dv stay as they are; the inverse transforms write into the
  // kernel's arrays, which are free by then (no copies of m and dv: about
  // a quarter less memory, same arithmetic).
  fftw_execute(fk);
  fftw_execute(fm);
  fftw_execute(fd);
  fftw_complex *kf = grid.kf, *mf = grid.mf, *df = grid.df;
  for (size_t i = 0; i < grid.cplx_size; ++i) {
    double kr = kf[i][0], ki = kf[i][1];
    double a = mf[i][0], b = mf[i][1];
    mf[i][0] = a * kr - b * ki;
    mf[i][1] = a * ki + b * kr;
    a = df[i][0];
    b = df[i][1];
    df[i][0] = a * kr - b * ki;
    df[i][1] = a * ki + b * kr;
  }
  {
    std::lock_guard<std::mutex> lock(FftwPlannerMutex());
    // kf holds pz * py * hx complex values, i.e. >= px * py * pz doubles.
    bm = fftw_plan_dft_c2r_3d(pz, py, px, mf, grid.k, FFTW_ESTIMATE);
    bd = fftw_plan_dft_c2r_3d(pz, py, px, df, reinterpret_cast<double*>(kf), FFTW_ESTIMATE);
  }
  fftw_execute(bm);
  fftw_execute(bd);
  const double* conv_m = grid.k;
  const double* conv_d = reinterpret_cast<const double*>(kf);
  const double scale = 1.0 / static_cast<double>(grid.real_size);
  double sw = 0, sm = 0, sg2 = 0;
  for (size_t i = 0; i < grid.real_size; ++i) {
    if (grid.m[i] == 0) continue;
    double km = conv_m[i] * scale, kd = conv_d[i] * scale;
    sw += km;
    sm += grid.dv[i] * kd;
    sg2 += grid.dv[i] * grid.dv[i] * km;
  }
  {
    std::lock_guard<std::mutex> lock(FftwPlannerMutex());
    for (fftw_plan pl : {fk, fm, fd, bm, bd}) fftw_destroy_plan(pl);
  }
  PairSums sums;
  sums.sw = sw;
  sums.sm = sm;
  sums.sg = 2 * sg2 - 2 * sm;
  return sums;
}

}  // namespace

bool SpatialAutocorrelationFft(const Geometry& g, const std::vector<uint8_t>& mask,
                               const std::vector<float>& values, int64_t max_cells,
                               double* moran, double* geary) {
  // Bounding box of the mask.
  std::array<int, 3> lo, hi;
  MaskBox(g, mask, &lo, &hi);
  if (hi[0] < 0) return false;
  std::array<int, 3> n, p;
  int64_t cells = 1;
  for (int d = 0; d < 3; ++d) {
    n[d] = hi[d] - lo[d] + 1;
    p[d] = NiceFftSize(2 * n[d] - 1);
    cells *= p[d];
  }
  if (cells > max_cells) return false;
  FftGrid grid(p);
  size_t count = 0;
  const double denom = FillDeviations(g, mask, values, lo, hi, grid, &count);
  FillKernel(g, n, grid);
  const PairSums sums = ConvolveKernel(grid);
  const double nn = static_cast<double>(count);
  if (denom <= 0 || sums.sw <= 0) {
    *moran = *geary = std::numeric_limits<double>::quiet_NaN();
  } else {
    *moran = nn / sums.sw * sums.sm / denom;
    *geary = (nn - 1) * sums.sg / (2 * sums.sw * denom);
  }
  return true;
}

}  // namespace fedrad::features::morphology_internal
