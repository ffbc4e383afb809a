#include "features/filters/convolution.h"

#include <algorithm>
#include <thread>

#include "absl/strings/str_cat.h"

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
  int threads = static_cast<int>(std::thread::hardware_concurrency());
  threads = std::max(1, std::min({threads, 8, n}));
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

void ConvolveAxis(Grid* grid, int axis, std::vector<double> kernel, Padding padding) {
  if (kernel.size() % 2 == 0) kernel.push_back(0.0);
  const int k = static_cast<int>(kernel.size());
  const int r = k / 2;
  const std::array<int, 3> s = grid->size;
  const int n = s[axis];
  if (n == 0) return;
  // Lines along `axis`: the other two axes enumerate them.
  const int a1 = axis == 0 ? 1 : 0, a2 = axis == 2 ? 1 : 2;
  const size_t stride = axis == 0 ? 1 : axis == 1 ? s[0] : static_cast<size_t>(s[0]) * s[1];
  const int lines = s[a1] * s[a2];
  ParallelFor(lines, [&](int begin, int end) {
    std::vector<double> buf(n + 2 * r), out(n);
    for (int line = begin; line < end; ++line) {
      std::array<int, 3> p{0, 0, 0};
      p[a1] = line % s[a1];
      p[a2] = line / s[a1];
      const size_t base = grid->Index(p[0], p[1], p[2]);
      double* v = grid->v.data() + base;
      for (int i = -r; i < n + r; ++i) {
        const int j = PaddedIndex(i, n, padding);
        buf[i + r] = j < 0 ? 0.0 : v[j * stride];
      }
      // out[i] = sum_j w[j] in[i + r - j]; in[m] = buf[m + r].
      for (int i = 0; i < n; ++i) {
        double acc = 0;
        const double* b = buf.data() + i + 2 * r;
        for (int j = 0; j < k; ++j) acc += kernel[j] * b[-j];
        out[i] = acc;
      }
      for (int i = 0; i < n; ++i) v[i * stride] = out[i];
    }
  });
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
