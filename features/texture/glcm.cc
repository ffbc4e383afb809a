// GLCM: grey level co-occurrence matrices and their six IBSI aggregations.
//
// One pass per direction: in-plane directions are counted slice by slice
// (giving the 2D matrices; their sum over slices is both the 2.5D per-direction
// matrix and the 3D matrix of that direction), the 9 out-of-plane directions
// over the whole box. Counting is branchless: the count matrix has a row and
// a column for level 0 that absorb pairs touching an outside voxel.
#include <cstdint>
#include <vector>

#include "features/texture/internal/texture_internal.h"

namespace fedrad::features::texture_internal {
namespace {

constexpr FeatureSpec kGlcmSpecs[kNumGlcmFeatures] = {
    {"joint_maximum", "GYBY"},
    {"joint_average", "60VM"},
    {"joint_variance", "UR99"},
    {"joint_entropy", "TU9B"},
    {"difference_average", "TF7R"},
    {"difference_variance", "D3YU"},
    {"difference_entropy", "NTRS"},
    {"sum_average", "ZGXS"},
    {"sum_variance", "OEEB"},
    {"sum_entropy", "P6QZ"},
    {"angular_second_moment", "8ZQL"},
    {"contrast", "ACUI"},
    {"dissimilarity", "8S9J"},
    {"inverse_difference", "IB1Z"},
    {"normalised_inverse_difference", "NDRX"},
    {"inverse_difference_moment", "WF0Z"},
    {"normalised_inverse_difference_moment", "1QCO"},
    {"inverse_variance", "E8JP"},
    {"correlation", "NI2N"},
    {"autocorrelation", "QWB0"},
    {"cluster_tendency", "DG8W"},
    {"cluster_shade", "7NFM"},
    {"cluster_prominence", "AE86"},
    {"information_correlation_1", "R8DG"},
    {"information_correlation_2", "JN9H"},
};

// Adds the co-occurrences of slice z (or of all slices when z < 0) along
// offset `off` to `m` ((ng+1)^2, row = level of the voxel, column = level of
// the voxel at +off).
template <typename Count>
void CountPairs(const Grid& g, int z_begin, int z_end, int64_t off, Count* m) {
  const int w = g.num_levels + 1;
  for (int z = z_begin; z < z_end; ++z) {
    for (int y = g.pad; y < g.ny - g.pad; ++y) {
      const uint16_t* row = g.level.data() + g.Index(0, y, z);
      const uint16_t* nb = row + off;
      const int x1 = g.row_hi[g.Row(y, z)];
      for (int x = g.row_lo[g.Row(y, z)]; x < x1; ++x) ++m[row[x] * w + nb[x]];
    }
  }
}

std::vector<double> Features(const std::vector<double>& m, int ng, bool symmetric) {
  std::vector<double> f(kNumGlcmFeatures, kNaN);
  GlcmFeatures(m.data(), ng, symmetric, f.data());
  return f;
}

}  // namespace

void AppendGlcm(const Grid& g, const TextureOptions& o, FeatureList* out) {
  const int ng = g.num_levels;
  const size_t msize = static_cast<size_t>(ng + 1) * (ng + 1);
  const auto& dirs = Directions();
  const bool sym = o.glcm_symmetric;
  std::vector<std::vector<double>> volume(kNumDirections, std::vector<double>(msize, 0.0));

  // In-plane directions, slice by slice.
  Averager averaged_2d(kNumGlcmFeatures), slice_merged_2d(kNumGlcmFeatures);
  std::vector<uint32_t> slice_counts(msize);
  std::vector<double> slice_dir(msize), slice_all(msize);
  double f[kNumGlcmFeatures];
  for (int z = g.pad; z < g.nz - g.pad; ++z) {
    if (o.compute_2d) std::fill(slice_all.begin(), slice_all.end(), 0.0);
    for (int d = 0; d < kNumInPlane; ++d) {
      std::fill(slice_counts.begin(), slice_counts.end(), 0u);
      CountPairs(g, z, z + 1, Offset(g, dirs[d], o.glcm_distance), slice_counts.data());
      std::vector<double>& vol = volume[d];
      for (size_t k = 0; k < msize; ++k) {
        slice_dir[k] = slice_counts[k];
        vol[k] += slice_dir[k];
      }
      if (!o.compute_2d) continue;
      for (size_t k = 0; k < msize; ++k) slice_all[k] += slice_dir[k];
      if (GlcmFeatures(slice_dir.data(), ng, sym, f)) averaged_2d.Add(f);
    }
    if (o.compute_2d && GlcmFeatures(slice_all.data(), ng, sym, f)) slice_merged_2d.Add(f);
  }
  if (o.compute_2d) {
    Emit("glcm", kGlcmSpecs, kNumGlcmFeatures, "2D averaged", averaged_2d.Mean(), out);
    Emit("glcm", kGlcmSpecs, kNumGlcmFeatures, "2D slice-merged", slice_merged_2d.Mean(), out);
  }

  std::vector<double> merged(msize, 0.0);
  if (o.compute_25d) {
    Averager per_direction(kNumGlcmFeatures);
    for (int d = 0; d < kNumInPlane; ++d) {
      if (GlcmFeatures(volume[d].data(), ng, sym, f)) per_direction.Add(f);
      for (size_t k = 0; k < msize; ++k) merged[k] += volume[d][k];
    }
    Emit("glcm", kGlcmSpecs, kNumGlcmFeatures, "2.5D direction-merged", per_direction.Mean(), out);
    Emit("glcm", kGlcmSpecs, kNumGlcmFeatures, "2.5D merged", Features(merged, ng, sym), out);
  }

  if (o.compute_3d) {
    std::vector<uint64_t> counts(msize);
    for (int d = kNumInPlane; d < kNumDirections; ++d) {
      std::fill(counts.begin(), counts.end(), uint64_t{0});
      CountPairs(g, g.pad, g.nz - g.pad, Offset(g, dirs[d], o.glcm_distance), counts.data());
      for (size_t k = 0; k < msize; ++k) volume[d][k] = static_cast<double>(counts[k]);
    }
    Averager per_direction(kNumGlcmFeatures);
    std::fill(merged.begin(), merged.end(), 0.0);
    for (int d = 0; d < kNumDirections; ++d) {
      if (GlcmFeatures(volume[d].data(), ng, sym, f)) per_direction.Add(f);
      for (size_t k = 0; k < msize; ++k) merged[k] += volume[d][k];
    }
    Emit("glcm", kGlcmSpecs, kNumGlcmFeatures, "3D averaged", per_direction.Mean(), out);
    Emit("glcm", kGlcmSpecs, kNumGlcmFeatures, "3D merged", Features(merged, ng, sym), out);
  }
}

}  // namespace fedrad::features::texture_internal
