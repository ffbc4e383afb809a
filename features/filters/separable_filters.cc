#include "features/filters/separable_filters.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "core/status.h"
#include "features/filters/convolution.h"
#include "features/filters/internal/rotations.h"

namespace fedrad::features::filters {
namespace {

constexpr double kPi = 3.14159265358979323846;

// Adds b into a.
void Accumulate(Grid* a, const Grid& b) {
  for (size_t i = 0; i < a->v.size(); ++i) a->v[i] += b.v[i];
}

// Mean filter of `m` voxels per side on x, y and (unless in_plane) z.
void BoxMean(Grid* g, int m, Padding padding, bool in_plane) {
  const std::vector<double> w(m, 1.0 / m);
  for (int axis = 0; axis < (in_plane ? 2 : 3); ++axis) ConvolveAxis(g, axis, w, padding);
}

}  // namespace

absl::StatusOr<ImageVolume> MeanResponse(const ImageVolume& image, const MeanParams& p) {
  FEDRAD_RETURN_IF_ERROR(CheckFilterInput("mean filter", image, p.in_plane));
  if (p.support < 1 || p.support % 2 == 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "mean filter: support must be an odd number of voxels >= 1, got ", p.support));
  }
  FEDRAD_RETURN_IF_ERROR(CheckKernelFits(
      "mean filter (support)", {p.support, p.support, p.in_plane ? 1 : p.support},
      image.geometry));
  Grid g = ToGrid(image);
  BoxMean(&g, p.support, p.padding, p.in_plane);
  return ToImage(g, image.geometry);
}

int LoGKernelSize(double sigma_mm, double truncation, double spacing_mm) {
  const double s = sigma_mm / spacing_mm;
  // Capped (a huge sigma then fails the "kernel larger than the image" check
  // instead of overflowing).
  const double half = std::min(std::floor(truncation * s + 0.5), 1e8);
  return 1 + 2 * static_cast<int>(half);
}

absl::StatusOr<ImageVolume> LoGResponse(const ImageVolume& image, const LoGParams& p) {
  FEDRAD_RETURN_IF_ERROR(CheckFilterInput("LoG filter", image, p.in_plane));
  if (!(p.sigma_mm > 0) || !std::isfinite(p.sigma_mm)) {
    return absl::InvalidArgumentError(
        absl::StrCat("LoG filter: sigma_mm must be > 0, got ", p.sigma_mm));
  }
  if (!(p.truncation > 0) || !std::isfinite(p.truncation)) {
    return absl::InvalidArgumentError(
        absl::StrCat("LoG filter: truncation must be > 0 (in sigma), got ", p.truncation));
  }
  const int dims = p.in_plane ? 2 : 3;
  std::array<int, 3> size{1, 1, 1};
  std::array<std::vector<double>, 3> gauss, second;
  for (int a = 0; a < dims; ++a) {
    size[a] = LoGKernelSize(p.sigma_mm, p.truncation, image.geometry.spacing[a]);
  }
  FEDRAD_RETURN_IF_ERROR(CheckKernelFits("LoG filter (sigma_mm, truncation)", size,
                                         image.geometry));
  for (int a = 0; a < dims; ++a) {
    const double s = p.sigma_mm / image.geometry.spacing[a];
    const int r = size[a] / 2;
    for (int i = -r; i <= r; ++i) {
      const double g = std::exp(-0.5 * i * i / (s * s)) / (std::sqrt(2 * kPi) * s);
      gauss[a].push_back(g);
      second[a].push_back(g * (i * i / (s * s * s * s) - 1.0 / (s * s)));
    }
  }
  // 3D: Dx Gy Gz + Gx Dy Gz + Gx Gy Dz, evaluated as
  //   Dx(Gy(A)) + Gx(Dy(A) + Gy(B)) with A = Gz(img), B = Dz(img).
  Grid a = ToGrid(image);
  Grid b;
  if (dims == 3) {
    b = a;
    ConvolveAxis(&a, 2, gauss[2], p.padding);
    ConvolveAxis(&b, 2, second[2], p.padding);
    ConvolveAxis(&b, 1, gauss[1], p.padding);
  }
  Grid c{a.size, a.v, {}};  // -> Dx(Gy(A)); without a's work buffer
  ConvolveAxis(&c, 1, gauss[1], p.padding);
  ConvolveAxis(&c, 0, second[0], p.padding);
  ConvolveAxis(&a, 1, second[1], p.padding);  // Dy(A)
  if (dims == 3) Accumulate(&a, b);
  ConvolveAxis(&a, 0, gauss[0], p.padding);
  Accumulate(&c, a);
  return ToImage(c, image.geometry);
}

absl::StatusOr<std::vector<std::vector<double>>> LawsKernels(const std::string& name,
                                                             bool in_plane) {
  const size_t dims = in_plane ? 2 : 3;
  const std::string n = absl::AsciiStrToUpper(name);
  if (n.size() != 2 * dims) {
    return absl::InvalidArgumentError(absl::StrCat(
        "Laws filter: kernel '", name, "' must name ", dims, " 1D kernels (",
        in_plane ? "2D, e.g. L5S5" : "3D, e.g. E5L5S5; L5S5-style names need in_plane: true",
        ")"));
  }
  std::vector<std::vector<double>> out;
  for (size_t i = 0; i < n.size(); i += 2) {
    const std::string k = n.substr(i, 2);
    std::vector<double> w;
    if (k == "L3") w = {1, 2, 1};
    else if (k == "E3") w = {-1, 0, 1};
    else if (k == "S3") w = {-1, 2, -1};
    else if (k == "L5") w = {1, 4, 6, 4, 1};
    else if (k == "E5") w = {-1, -2, 0, 2, 1};
    else if (k == "S5") w = {-1, 0, 2, 0, -1};
    else if (k == "W5") w = {-1, 2, 0, -2, 1};
    else if (k == "R5") w = {1, -4, 6, -4, 1};
    else {
      return absl::InvalidArgumentError(absl::StrCat(
          "Laws filter: unknown 1D kernel '", k, "' in '", name,
          "' (known: L3 E3 S3 L5 E5 S5 W5 R5)"));
    }
    double norm = 0;
    for (double x : w) norm += x * x;
    norm = std::sqrt(norm);
    for (double& x : w) x /= norm;
    out.push_back(std::move(w));
  }
  return out;
}

absl::StatusOr<ImageVolume> LawsResponse(const ImageVolume& image, const LawsParams& p) {
  FEDRAD_RETURN_IF_ERROR(CheckFilterInput("Laws filter", image, p.in_plane));
  FEDRAD_ASSIGN_OR_RETURN(auto kernels, LawsKernels(p.kernel, p.in_plane));
  if (p.energy_distance < 0 || p.energy_distance > kMaxEnergyDistance) {
    return absl::InvalidArgumentError(absl::StrCat(
        "Laws filter: energy_distance must be in [0, ", kMaxEnergyDistance,
        "] voxels (0 = no energy map), got ", p.energy_distance));
  }
  const int dims = p.in_plane ? 2 : 3;
  std::array<int, 3> size{1, 1, 1};
  int longest = 0;
  for (const auto& k : kernels) longest = std::max(longest, static_cast<int>(k.size()));
  for (int a = 0; a < dims; ++a) size[a] = std::max(longest, 2 * p.energy_distance + 1);
  FEDRAD_RETURN_IF_ERROR(CheckKernelFits("Laws filter (kernel, energy_distance)", size,
                                         image.geometry));
  // The kernel sets to apply: one, or one per distinct rotation.
  std::vector<std::vector<std::vector<double>>> sets;
  if (!p.rotation_invariant) {
    sets.push_back(kernels);
  } else {
    for (const internal::AxisRotation& r : internal::RightAngleRotations(dims)) {
      std::vector<std::vector<double>> set(dims);
      for (int a = 0; a < dims; ++a) {
        set[a] = kernels[r.source[a]];
        if (r.flip[a]) std::reverse(set[a].begin(), set[a].end());
      }
      if (std::find(sets.begin(), sets.end(), set) == sets.end()) sets.push_back(set);
    }
  }
  const Grid source = ToGrid(image);
  Grid pooled;
  for (const auto& set : sets) {
    Grid g = source;
    for (int a = dims - 1; a >= 0; --a) ConvolveAxis(&g, a, set[a], p.padding);
    if (pooled.v.empty()) {
      pooled = std::move(g);
    } else if (p.max_pooling) {
      for (size_t i = 0; i < g.v.size(); ++i) pooled.v[i] = std::max(pooled.v[i], g.v[i]);
    } else {
      Accumulate(&pooled, g);
    }
  }
  if (!p.max_pooling && sets.size() > 1) {
    for (double& x : pooled.v) x /= static_cast<double>(sets.size());
  }
  if (p.energy_distance > 0) {
    for (double& x : pooled.v) x = std::abs(x);
    BoxMean(&pooled, 2 * p.energy_distance + 1, p.padding, p.in_plane);
  }
  return ToImage(pooled, image.geometry);
}

}  // namespace fedrad::features::filters
