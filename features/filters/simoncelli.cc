#include "features/filters/simoncelli.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "features/filters/internal/fourier.h"

namespace fedrad::features::filters {
namespace {

constexpr int kMaxLevel = 8;

}  // namespace

absl::StatusOr<ImageVolume> SimoncelliResponse(const ImageVolume& image,
                                               const SimoncelliParams& p) {
  if (p.level < 1 || p.level > kMaxLevel) {
    return absl::InvalidArgumentError(absl::StrCat(
        "simoncelli level ", p.level, " is out of range; use 1 to ", kMaxLevel));
  }
  const auto& size = image.geometry.size;
  if (size[0] < 1 || size[1] < 1 || size[2] < 1 ||
      image.voxels.size() != image.geometry.NumVoxels()) {
    return absl::InvalidArgumentError(
        "simoncelli filter: the image is empty or its voxels do not match its size");
  }
  if (!p.in_plane && size[2] == 1) {
    return absl::InvalidArgumentError(
        "simoncelli filter: a 3D filter on an image of one slice; set in_plane "
        "(2D) for single-slice images");
  }
  const double nu_max = std::ldexp(1.0, -(p.level - 1));
  const bool in_plane = p.in_plane;
  const fourier_internal::Multiplier psi = [nu_max, in_plane](const std::array<double, 3>& nu) {
    const double r2 = nu[0] * nu[0] + nu[1] * nu[1] + (in_plane ? 0.0 : nu[2] * nu[2]);
    if (r2 < nu_max * nu_max / 16 || r2 > nu_max * nu_max) return std::complex<double>(0.0, 0.0);
    const double r = std::sqrt(r2);
    return std::complex<double>(std::cos(M_PI / 2 * std::log2(2 * r / nu_max)), 0.0);
  };
  fourier_internal::FourierOptions options;
  options.padding = p.padding;
  options.in_plane = p.in_plane;
  options.margin = fourier_internal::DefaultMargin(size, p.in_plane);
  const std::vector<double> in(image.voxels.begin(), image.voxels.end());
  const std::vector<double> out = fourier_internal::ApplyMultiplier(in, size, options, psi);
  ImageVolume response;
  response.geometry = image.geometry;
  response.voxels.assign(out.begin(), out.end());
  return response;
}

}  // namespace fedrad::features::filters
