#include "features/filters/gabor.h"

#include <fftw3.h>

#include <algorithm>
#include <cmath>
#include <complex>
#include <mutex>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/status.h"
#include "features/filters/convolution.h"
#include "features/filters/fftw_lock.h"

namespace fedrad::features::filters {
namespace {

constexpr double kPi = 3.14159265358979323846;

// FFTW buffer owner.
struct FftBuffer {
  explicit FftBuffer(size_t n) : data(fftw_alloc_complex(n)), size(n) {}
  ~FftBuffer() { fftw_free(data); }
  FftBuffer(const FftBuffer&) = delete;
  FftBuffer& operator=(const FftBuffer&) = delete;
  fftw_complex* data;
  size_t size;
};

// One family of parallel planes: `rows` x `cols` pixels per plane, `count`
// planes; pixel (row, col) of plane k is voxel index
// k * plane_stride + row * row_stride + col * col_stride.
struct PlaneLayout {
  int rows, cols, count;
  size_t row_stride, col_stride, plane_stride;
  double spacing;  // the larger in-plane spacing
};

PlaneLayout Layout(const Geometry& g, int normal_axis) {
  const size_t sx = 1, sy = g.size[0], sz = static_cast<size_t>(g.size[0]) * g.size[1];
  switch (normal_axis) {
    case 2:  // axial: rows y, cols x
      return {g.size[1], g.size[0], g.size[2], sy, sx, sz, std::max(g.spacing[0], g.spacing[1])};
    case 1:  // coronal: rows z, cols x
      return {g.size[2], g.size[0], g.size[1], sz, sx, sy, std::max(g.spacing[0], g.spacing[2])};
    default:  // sagittal: rows z, cols y
      return {g.size[2], g.size[1], g.size[0], sz, sy, sx, std::max(g.spacing[1], g.spacing[2])};
  }
}

// Adds (or max-pools) the Gabor moduli of every plane of `layout` for every
// angle in `thetas` into `acc`.
void FilterPlanes(const std::vector<double>& image, const PlaneLayout& L, const GaborParams& p,
                  const std::vector<double>& thetas, std::vector<double>* acc, bool first) {
  const int r = GaborRadius(p, L.spacing, std::max(L.rows, L.cols));
  const int pr = L.rows + 2 * r, pc = L.cols + 2 * r;  // padded plane = FFT size
  const size_t n = static_cast<size_t>(pr) * pc;
  const double sigma = p.sigma_mm / L.spacing, lambda = p.lambda_mm / L.spacing;
  // Kernel spectra, one per angle: kernel centre at (0, 0) (wrapped), so the
  // circular convolution of the padded plane is the linear one in the middle.
  std::vector<std::vector<std::complex<double>>> spectra;
  FftBuffer kbuf(n), work(n);
  fftw_plan forward, backward;
  {
    std::lock_guard<std::mutex> lock(FftwPlannerMutex());
    forward = fftw_plan_dft_2d(pr, pc, kbuf.data, kbuf.data, FFTW_FORWARD, FFTW_ESTIMATE);
    backward = fftw_plan_dft_2d(pr, pc, work.data, work.data, FFTW_BACKWARD, FFTW_ESTIMATE);
  }
  for (double theta_deg : thetas) {
    const double t = theta_deg * kPi / 180.0, c = std::cos(t), s = std::sin(t);
    std::fill(reinterpret_cast<double*>(kbuf.data), reinterpret_cast<double*>(kbuf.data) + 2 * n,
              0.0);
    for (int u = -r; u <= r; ++u) {
      for (int v = -r; v <= r; ++v) {
        const double yr = -c * u + s * v, xr = s * u + c * v;
        const double env = std::exp(-(xr * xr + p.gamma * p.gamma * yr * yr) / (2 * sigma * sigma));
        const double ph = 2 * kPi * xr / lambda;
        const size_t idx = static_cast<size_t>((u + pr) % pr) * pc + (v + pc) % pc;
        kbuf.data[idx][0] = env * std::cos(ph);
        kbuf.data[idx][1] = env * std::sin(ph);
      }
    }
    fftw_execute_dft(forward, kbuf.data, kbuf.data);
    spectra.emplace_back(n);
    for (size_t i = 0; i < n; ++i) spectra.back()[i] = {kbuf.data[i][0], kbuf.data[i][1]};
  }
  const double scale = 1.0 / static_cast<double>(n);
  ParallelFor(L.count, [&](int begin, int end) {
    FftBuffer in(n), out(n);
    std::vector<double> pooled(static_cast<size_t>(L.rows) * L.cols);
    for (int k = begin; k < end; ++k) {
      const size_t base = k * L.plane_stride;
      for (int i = 0; i < pr; ++i) {
        const int row = PaddedIndex(i - r, L.rows, p.padding);
        for (int j = 0; j < pc; ++j) {
          const int col = PaddedIndex(j - r, L.cols, p.padding);
          const size_t idx = static_cast<size_t>(i) * pc + j;
          in.data[idx][0] = (row < 0 || col < 0)
                                ? 0.0
                                : image[base + row * L.row_stride + col * L.col_stride];
          in.data[idx][1] = 0.0;
        }
      }
      fftw_execute_dft(forward, in.data, in.data);
      for (size_t a = 0; a < spectra.size(); ++a) {
        for (size_t i = 0; i < n; ++i) {
          const std::complex<double> z =
              std::complex<double>(in.data[i][0], in.data[i][1]) * spectra[a][i];
          out.data[i][0] = z.real();
          out.data[i][1] = z.imag();
        }
        fftw_execute_dft(backward, out.data, out.data);
        for (int row = 0; row < L.rows; ++row) {
          for (int col = 0; col < L.cols; ++col) {
            const size_t idx = static_cast<size_t>(row + r) * pc + (col + r);
            const double m = std::hypot(out.data[idx][0], out.data[idx][1]) * scale;
            double& q = pooled[static_cast<size_t>(row) * L.cols + col];
            q = a == 0 ? m : (p.max_pooling ? std::max(q, m) : q + m);
          }
        }
      }
      for (int row = 0; row < L.rows; ++row) {
        for (int col = 0; col < L.cols; ++col) {
          double& dst = (*acc)[base + row * L.row_stride + col * L.col_stride];
          const double m = pooled[static_cast<size_t>(row) * L.cols + col];
          dst = first ? m : (p.max_pooling ? std::max(dst, m) : dst + m);
        }
      }
    }
  });
  std::lock_guard<std::mutex> lock(FftwPlannerMutex());
  fftw_destroy_plan(forward);
  fftw_destroy_plan(backward);
}

}  // namespace

int GaborRadius(const GaborParams& p, double spacing_mm, int plane_max_dim) {
  const double sigma = p.sigma_mm / spacing_mm;
  const double r = std::ceil(p.truncation * sigma / std::min(p.gamma, 1.0));
  const double capped = std::min(r, static_cast<double>(plane_max_dim / 2));
  return std::max(1, static_cast<int>(std::min(capped, 1e8)));  // NaN -> 1
}

absl::StatusOr<ImageVolume> GaborResponse(const ImageVolume& image, const GaborParams& p) {
  FEDRAD_RETURN_IF_ERROR(CheckFilterInput("Gabor filter", image, !p.orthogonal_planes));
  auto positive = [](double x) { return x > 0 && std::isfinite(x); };
  if (!positive(p.sigma_mm) || !positive(p.lambda_mm) || !positive(p.gamma) ||
      !positive(p.truncation)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "Gabor filter: sigma_mm, lambda_mm, gamma and truncation must be > 0 (got ", p.sigma_mm,
        ", ", p.lambda_mm, ", ", p.gamma, ", ", p.truncation, ")"));
  }
  if (p.theta_step_deg < 0 || !std::isfinite(p.theta_step_deg) || !std::isfinite(p.theta_deg)) {
    return absl::InvalidArgumentError("Gabor filter: theta_step_deg must be >= 0 (0 = one angle)");
  }
  std::vector<double> thetas{p.theta_deg};
  if (p.theta_step_deg > 0) {
    if (360.0 / p.theta_step_deg > 360) {
      return absl::InvalidArgumentError("Gabor filter: theta_step_deg must be >= 1 degree");
    }
    thetas.clear();
    for (double t = 0; t < 360.0 - 1e-9; t += p.theta_step_deg) thetas.push_back(p.theta_deg + t);
  }
  const std::vector<double> source(image.voxels.begin(), image.voxels.end());
  std::vector<double> acc(source.size(), 0.0);
  std::vector<int> normals{2};
  if (p.orthogonal_planes) normals = {2, 1, 0};
  for (size_t i = 0; i < normals.size(); ++i) {
    FilterPlanes(source, Layout(image.geometry, normals[i]), p, thetas, &acc, i == 0);
  }
  const double count = static_cast<double>(thetas.size() * normals.size());
  ImageVolume out;
  out.geometry = image.geometry;
  out.voxels.resize(acc.size());
  for (size_t i = 0; i < acc.size(); ++i) {
    out.voxels[i] = static_cast<float>(p.max_pooling ? acc[i] : acc[i] / count);
  }
  return out;
}

}  // namespace fedrad::features::filters
