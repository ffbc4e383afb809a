// IBSI chapter 1 first-order families: intensity-based statistics (3.3),
// intensity histogram (3.4), intensity-volume histogram (3.5) and local
// intensity (3.2).
//
//   std::vector<double> hu = ...;                   // intensity-mask voxels
//   FeatureList stats = IntensityStatistics(hu);    // 18 features
//   FeatureList ih = IntensityHistogram(levels, ng);  // 23 features
//
// All functions are pure and thread safe. Empty inputs give an empty list.
#ifndef FEDRAD_FEATURES_INTENSITY_FEATURES_H_
#define FEDRAD_FEATURES_INTENSITY_FEATURES_H_

#include <vector>

#include "features/feature_value.h"
#include "features/volume.h"

namespace fedrad::features {

// The 18 intensity-based statistics (family "stat") of `values`.
FeatureList IntensityStatistics(const std::vector<double>& values);

// The 23 intensity-histogram features (family "ih") of discretised levels
// 1..num_levels (the histogram gradient runs over every level 1..num_levels,
// empty ones included).
FeatureList IntensityHistogram(const std::vector<int>& levels, int num_levels);

// Percentile with linear interpolation between order statistics (type 7 of
// Hyndman & Fan, numpy's default), p in [0, 1]. `sorted` must be sorted.
double Percentile(const std::vector<double>& sorted, double p);

// The intensity-volume histogram (family "ivh", IBSI 3.5). `values` are the
// (IVH-discretised) intensities of the intensity mask; the IVH grid runs
// from `grid_min` to `grid_max` in steps of `step` (intensity fraction
// gamma = (i - grid_min) / (grid_max - grid_min)). Returns V10, V90, I10,
// I90, V10-V90, I10-I90.
FeatureList IntensityVolumeHistogram(const std::vector<double>& values,
                                     double grid_min, double grid_max,
                                     double step);

// Local and global intensity peaks (family "loc", IBSI 3.2): the mean of all
// image voxels whose centres lie within `radius_mm` (6.2035 mm = a 1 cm^3
// sphere) of a centre voxel. Local: centred on the ROI voxel(s) of highest
// intensity (the largest such mean if several); global: the largest mean over
// every ROI voxel. `roi` flags voxels of `image`'s grid; voxels of `image`
// outside the ROI are used too (the whole image).
FeatureList LocalIntensity(const ImageVolume& image,
                           const std::vector<uint8_t>& roi, double radius_mm);

}  // namespace fedrad::features

#endif  // FEDRAD_FEATURES_INTENSITY_FEATURES_H_
