#include "features/filters/riesz.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "features/filters/internal/fourier.h"

namespace fedrad::features::filters {
namespace {

constexpr int kMaxOrder = 8;

double Factorial(int n) {
  double f = 1.0;
  for (int i = 2; i <= n; ++i) f *= i;
  return f;
}

}  // namespace

absl::StatusOr<ImageVolume> RieszResponse(const ImageVolume& base, const RieszParams& p) {
  const auto& o = p.order;
  if (o[0] < 0 || o[1] < 0 || o[2] < 0 || o[0] + o[1] + o[2] > kMaxOrder) {
    return absl::InvalidArgumentError(absl::StrCat(
        "riesz order (", o[0], ",", o[1], ",", o[2],
        ") is not valid; give three non-negative integers summing to at most ", kMaxOrder));
  }
  if (p.in_plane && o[2] != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "riesz order (", o[0], ",", o[1], ",", o[2],
        ") has an order along z but the filter is in_plane (2D); set the third order to 0"));
  }
  const auto& size = base.geometry.size;
  if (size[0] < 1 || size[1] < 1 || size[2] < 1 ||
      base.voxels.size() != base.geometry.NumVoxels()) {
    return absl::InvalidArgumentError(
        "riesz transform: the base response is empty or its voxels do not match its size");
  }
  if (!p.in_plane && size[2] == 1) {
    return absl::InvalidArgumentError(
        "riesz transform: a 3D transform on an image of one slice; set in_plane "
        "(2D) for single-slice images");
  }
  const int total = o[0] + o[1] + o[2];
  if (total == 0) return base;
  const double norm =
      std::sqrt(Factorial(total) / (Factorial(o[0]) * Factorial(o[1]) * Factorial(o[2])));
  // (-i)^L
  static const std::complex<double> kPowers[4] = {{1, 0}, {0, -1}, {-1, 0}, {0, 1}};
  const std::complex<double> prefactor = kPowers[total % 4] * norm;
  const bool in_plane = p.in_plane;
  const std::array<int, 3> order = o;
  const fourier_internal::Multiplier riesz = [=](const std::array<double, 3>& nu) {
    const double r2 = nu[0] * nu[0] + nu[1] * nu[1] + (in_plane ? 0.0 : nu[2] * nu[2]);
    if (r2 == 0.0) return std::complex<double>(0.0, 0.0);
    // prod nu_a^l_a / ||nu||^L with integer powers (std::pow is slow).
    double m = 1.0;
    for (int a = 0; a < 3; ++a) {
      for (int k = 0; k < order[a]; ++k) m *= nu[a];
    }
    const double r = std::sqrt(r2);
    for (int k = 0; k < total; ++k) m /= r;
    return prefactor * m;
  };
  fourier_internal::FourierOptions options;
  options.padding = p.padding;
  options.in_plane = p.in_plane;
  options.margin = fourier_internal::DefaultMargin(size, p.in_plane);
  const std::vector<double> in(base.voxels.begin(), base.voxels.end());
  const std::vector<double> out = fourier_internal::ApplyMultiplier(in, size, options, riesz);
  ImageVolume response;
  response.geometry = base.geometry;
  response.voxels.assign(out.begin(), out.end());
  return response;
}

}  // namespace fedrad::features::filters
