#include "features/filters/convolution.h"

#include <algorithm>
#include <thread>

#include "absl/strings/str_cat.h"
#include "features/threads.h"

namespace fedrad::features::filters {

Grid ToGrid(const Volume<float>& image) {
  Grid g;
  g.size = image.geometry.size;
  g.v.assign(image.voxels.begin(), image.voxels.end());
  return g;
}

Volume<float> ToImage(const Grid& grid, const Geometry& geometry) {
  Volume<float> out;
  out.geometry = geometry;
  out.voxels.assign(grid.v.begin(), grid.v.end());
  return out;
}

void ParallelFor(int n, const std::function<void(int, int)>& fn) {
  if (n <= 0) return;
  // The caller's thread budget (features/threads.h), so that a cohort's
  // workers and their filters share --threads instead of each taking all.
  int threads = std::max(1, std::min({ThreadBudget(), 8, n}));
  if (threads == 1) {
    fn(0, n);
    return;
  }
  std::vector<std::thread> pool;
  const int chunk = (n + threads - 1) / threads;
  for (int t = 0; t < threads; ++t) {
    const int b = t * chunk, e = std::min(n, b + chunk);
    if (b >= e) break;
    pool.emplace_back([&fn, b, e] { fn(b, e); });
  }
  for (auto& t : pool) t.join();
}

namespace {

int Symmetry(const std::vector<double>& kernel) {
  const int k = static_cast<int>(kernel.size());
  bool even = true, odd = true;  // w[j] = w[k-1-j] / w[j] = -w[k-1-j]
  for (int j = 0; j < k; ++j) {
    even &= kernel[j] == kernel[k - 1 - j];
    odd &= kernel[j] == -kernel[k - 1 - j];
  }
  return even ? 1 : odd ? -1 : 0;
}

void AddRow(double* dst, const double* in, double w, int nx) {
  for (int x = 0; x < nx; ++x) dst[x] += w * in[x];
}


// Along x: each line is gathered with its padding, then convolved; a
// symmetric or antisymmetric kernel (Gaussian, LoG, most Laws kernels)
// takes half the multiplications.
void ConvolveX(Grid* grid, const std::vector<double>& kernel, Padding padding) {
  const int k = static_cast<int>(kernel.size()), r = k / 2;
  const int n = grid->size[0];
  const int symmetry = Symmetry(kernel);
  const int lines = grid->size[1] * grid->size[2];
  ParallelFor(lines, [&](int begin, int end) {
    std::vector<double> buf(n + 2 * r);
    for (int line = begin; line < end; ++line) {
      double* v = grid->v.data() + static_cast<size_t>(line) * n;
      for (int i = -r; i < n + r; ++i) {
        const int j = PaddedIndex(i, n, padding);
        buf[i + r] = j < 0 ? 0.0 : v[j];
      }
      // out[i] = sum_j w[j] in[i + r - j], in[m] = buf[m + r]: centre buf[i + r].
      for (int i = 0; i < n; ++i) {
        const double* c = buf.data() + i + r;
        double acc = kernel[r] * c[0];
        if (symmetry == 1) {
          for (int j = 1; j <= r; ++j) acc += kernel[r - j] * (c[j] + c[-j]);
        } else if (symmetry == -1) {
          for (int j = 1; j <= r; ++j) acc += kernel[r - j] * (c[j] - c[-j]);
        } else {
          for (int j = 0; j < k; ++j) acc += kernel[j] * c[r - j];
        }
        v[i] = acc;
      }
    }
  });
}

// Along y or z: every output row (x varying) is a weighted sum of input rows,
// so the inner loop runs over contiguous x and vectorises.
void ConvolveRows(Grid* grid, int axis, const std::vector<double>& kernel, Padding padding) {
  const int k = static_cast<int>(kernel.size()), r = k / 2;
  const std::array<int, 3> s = grid->size;
  const int nx = s[0], n = s[axis];
  const int symmetry = Symmetry(kernel);
  const int other = axis == 1 ? s[2] : s[1];  // the axis that is neither x nor `axis`
  const auto row = [&](int along, int across) -> size_t {
    return axis == 1 ? grid->Index(0, along, across) : grid->Index(0, across, along);
  };
  std::vector<double>& out = grid->scratch;
  out.resize(grid->v.size());
  ParallelFor(other, [&](int begin, int end) {
    for (int o = begin; o < end; ++o) {
      for (int i = 0; i < n; ++i) {
        double* dst = out.data() + row(i, o);
        std::fill(dst, dst + nx, 0.0);
        int j = 0;
        if (symmetry != 0) {
          // w[j] in[i + r - j] + w[k-1-j] in[i - r + j], w[k-1-j] = +-w[j].
          for (; j < r; ++j) {
            const double w = kernel[j];
            if (w == 0.0) continue;
            const int s1 = PaddedIndex(i + r - j, n, padding);
            const int s2 = PaddedIndex(i - r + j, n, padding);
            if (s1 < 0 || s2 < 0) {
              if (s1 >= 0) AddRow(dst, grid->v.data() + row(s1, o), w, nx);
              if (s2 >= 0) AddRow(dst, grid->v.data() + row(s2, o), symmetry * w, nx);
              continue;
            }
            const double* a = grid->v.data() + row(s1, o);
            const double* b = grid->v.data() + row(s2, o);
            if (symmetry == 1) {
              for (int x = 0; x < nx; ++x) dst[x] += w * (a[x] + b[x]);
            } else {
              for (int x = 0; x < nx; ++x) dst[x] += w * (a[x] - b[x]);
            }
          }
        }
        for (; j < (symmetry != 0 ? r + 1 : k); ++j) {
          const double w = kernel[j];
          if (w == 0.0) continue;
          const int src = PaddedIndex(i + r - j, n, padding);
          if (src < 0) continue;
          AddRow(dst, grid->v.data() + row(src, o), w, nx);
        }
      }
    }
  });
  grid->v.swap(out);
}

}  // namespace

void ConvolveAxis(Grid* grid, int axis, std::vector<double> kernel, Padding padding) {
  if (kernel.size() % 2 == 0) kernel.push_back(0.0);
  if (grid->size[axis] == 0) return;
  if (axis == 0) {
    ConvolveX(grid, kernel, padding);
  } else {
    ConvolveRows(grid, axis, kernel, padding);
  }
}

absl::Status CheckKernelFits(const std::string& what, const std::array<int, 3>& kernel_size,
                             const Geometry& geometry) {
  static const char* const kAxis[] = {"x", "y", "z"};
  for (int a = 0; a < 3; ++a) {
    if (kernel_size[a] > 1 && kernel_size[a] > geometry.size[a]) {
      return absl::InvalidArgumentError(absl::StrCat(
          what, ": the kernel (", kernel_size[a], " voxels along ", kAxis[a],
          ") is larger than the image (", geometry.size[a], " voxels)"
          "; use a smaller support / sigma, or a larger image or crop"));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckFilterInput(const std::string& what, const Volume<float>& image, bool in_plane) {
  const Geometry& g = image.geometry;
  if (g.size[0] < 1 || g.size[1] < 1 || g.size[2] < 1 || image.voxels.size() != g.NumVoxels()) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": the image is empty or its voxel count does not match its size"));
  }
  for (int a = 0; a < 3; ++a) {
    if (!(g.spacing[a] > 0)) {
      return absl::InvalidArgumentError(absl::StrCat(what, ": the image spacing must be > 0"));
    }
  }
  if (!in_plane && g.size[2] == 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        what, ": a 3D filter needs more than one slice; this image has one. Set in_plane: true "
              "to filter slice by slice (2D)"));
  }
  return absl::OkStatus();
}

}  // namespace fedrad::features::filters
