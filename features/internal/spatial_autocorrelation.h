// Private building block of features/morphology: Moran's I and Geary's C
// (IBSI 3.1.24 / 3.1.25, weights 1/distance), by the direct O(N^2) pair sum
// or exactly by FFT convolution, in features/internal/spatial_autocorrelation.cc.
// Not part of the public API.
//
//   double moran, geary;
//   if (!SpatialAutocorrelationFft(g, mask, values, max_cells, &moran, &geary))
//     SpatialAutocorrelation(positions, voxel_values, &moran, &geary);
#ifndef FEDRAD_FEATURES_INTERNAL_SPATIAL_AUTOCORRELATION_H_
#define FEDRAD_FEATURES_INTERNAL_SPATIAL_AUTOCORRELATION_H_

#include <array>
#include <cstdint>
#include <vector>

#include "features/volume.h"

namespace fedrad::features::morphology_internal {

// Pair sum over the voxels at `pos` (mm) with values `val`; NaN for both when
// the values are constant.
void SpatialAutocorrelation(const std::vector<std::array<float, 3>>& pos,
                            const std::vector<float>& val, double* moran,
                            double* geary);

// Exact, by FFT convolution over the bounding box of `mask` (values: every
// voxel of the grid). Returns false, leaving the outputs unset, when the mask
// is empty or the zero-padded box has more than `max_cells` cells. Thread safe
// (FFTW planning is serialised).
bool SpatialAutocorrelationFft(const Geometry& g, const std::vector<uint8_t>& mask,
                               const std::vector<float>& values, int64_t max_cells,
                               double* moran, double* geary);

}  // namespace fedrad::features::morphology_internal

#endif  // FEDRAD_FEATURES_INTERNAL_SPATIAL_AUTOCORRELATION_H_
