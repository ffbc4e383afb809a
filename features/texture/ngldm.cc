// NGLDM: neighbouring grey level dependence matrix (IBSI), 2D, 2.5D and 3D.
//
// For each ROI voxel the dependence count is 1 (the centre) plus the number
// of ROI neighbours within Chebyshev radius delta whose level differs by at
// most alpha. The in-plane neighbours give the 2D count; adding the other
// slices' neighbours gives the 3D count, so one pass serves both.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "features/texture/internal/texture_internal.h"

namespace fedrad::features::texture_internal {
namespace {

constexpr FeatureSpec kNgldmSpecs[kNumRunLikeFeatures] = {
    {"low_dependence_emphasis", "SODN"},
    {"high_dependence_emphasis", "IMOQ"},
    {"low_grey_level_count_emphasis", "TL9H"},
    {"high_grey_level_count_emphasis", "OAE7"},
    {"low_dependence_low_grey_level_emphasis", "EQ3F"},
    {"low_dependence_high_grey_level_emphasis", "JA6D"},
    {"high_dependence_low_grey_level_emphasis", "NBZI"},
    {"high_dependence_high_grey_level_emphasis", "9QMG"},
    {"grey_level_non_uniformity", "FP8K"},
    {"normalised_grey_level_non_uniformity", "5SPA"},
    {"dependence_count_non_uniformity", "Z87G"},
    {"normalised_dependence_count_non_uniformity", "OKJI"},
    {"dependence_count_percentage", "6XV8"},
    {"grey_level_variance", "1PFV"},
    {"dependence_count_variance", "DNX2"},
    {"dependence_count_entropy", "FCBV"},
    {"dependence_count_energy", "CAS9"},
};

// Dense (ng+1) x (jmax+1) dependence matrix.
struct DependenceMatrix {
  int ng, jmax;
  std::vector<double> count;
  DependenceMatrix(int ng_, int jmax_)
      : ng(ng_), jmax(jmax_), count(static_cast<size_t>(ng_ + 1) * (jmax_ + 1), 0.0) {}
  double& at(int level, int j) { return count[static_cast<size_t>(level) * (jmax + 1) + j]; }
  void Clear() { std::fill(count.begin(), count.end(), 0.0); }
  void Add(const DependenceMatrix& o) {
    for (size_t k = 0; k < count.size(); ++k) count[k] += o.count[k];
  }
};

std::vector<double> Features(const DependenceMatrix& m, double nv, std::vector<RunEntry>* scratch) {
  scratch->clear();
  for (int j = 1; j <= m.jmax; ++j) {
    for (int i = 1; i <= m.ng; ++i) {
      const double n = m.count[static_cast<size_t>(i) * (m.jmax + 1) + j];
      if (n != 0.0) scratch->push_back(RunEntry{j, i, n});
    }
  }
  std::vector<double> f(kNumRunLikeFeatures, kNaN);
  if (!RunLikeFeatures(*scratch, m.ng, nv, f.data())) std::fill(f.begin(), f.end(), kNaN);
  return f;
}

}  // namespace

void AppendNgldm(const Grid& g, const TextureOptions& o, FeatureList* out) {
  const int ng = g.num_levels;
  const int r = o.ngldm_distance;
  const int alpha = o.ngldm_alpha;
  std::vector<int64_t> in_plane, out_of_plane;
  for (int dz = -r; dz <= r; ++dz) {
    for (int dy = -r; dy <= r; ++dy) {
      for (int dx = -r; dx <= r; ++dx) {
        if (dx == 0 && dy == 0 && dz == 0) continue;
        (dz == 0 ? in_plane : out_of_plane).push_back(dx + dy * g.sy + dz * g.sz);
      }
    }
  }
  const int jmax = 1 + static_cast<int>(in_plane.size() + out_of_plane.size());
  const bool want_2d = o.compute_2d || o.compute_25d;
  DependenceMatrix slice(ng, jmax), merged(ng, jmax), volume(ng, jmax);
  Averager slices(kNumRunLikeFeatures);
  std::vector<RunEntry> scratch;
  const uint16_t* lv = g.level.data();
  double total = 0.0;
  // Per row: counts of matching neighbours, one offset at a time so the
  // inner loops vectorise.
  std::vector<uint16_t> count2d(g.nx), count3d(g.nx);
  for (int z = g.pad; z < g.nz - g.pad; ++z) {
    slice.Clear();
    int64_t voxels = 0;
    for (int y = g.pad; y < g.ny - g.pad; ++y) {
      const int r_id = g.Row(y, z);
      const int lo = g.row_lo[r_id], hi = g.row_hi[r_id];
      if (lo == hi) continue;
      const uint16_t* c = lv + g.Index(0, y, z);
      uint16_t* n2 = count2d.data();
      uint16_t* n3 = count3d.data();
      for (int x = lo; x < hi; ++x) n2[x] = 1;
      for (int64_t off : in_plane) {
        const uint16_t* nb = c + off;
        for (int x = lo; x < hi; ++x) {
          const int w = nb[x], v = c[x];
          n2[x] += (w != 0) & (std::abs(w - v) <= alpha);
        }
      }
      if (o.compute_3d) {
        for (int x = lo; x < hi; ++x) n3[x] = n2[x];
        for (int64_t off : out_of_plane) {
          const uint16_t* nb = c + off;
          for (int x = lo; x < hi; ++x) {
            const int w = nb[x], v = c[x];
            n3[x] += (w != 0) & (std::abs(w - v) <= alpha);
          }
        }
      }
      for (int x = lo; x < hi; ++x) {
        const int v = c[x];
        if (v == 0) continue;
        ++voxels;
        if (want_2d) slice.at(v, n2[x]) += 1.0;
        if (o.compute_3d) volume.at(v, n3[x]) += 1.0;
      }
    }
    if (voxels == 0 || !want_2d) continue;  // slices without ROI voxels are skipped
    total += voxels;
    if (o.compute_2d) slices.Add(Features(slice, voxels, &scratch).data());
    merged.Add(slice);
  }
  if (o.compute_2d) Emit("ngldm", kNgldmSpecs, kNumRunLikeFeatures, "2D", slices.Mean(), out);
  if (o.compute_25d) {
    Emit("ngldm", kNgldmSpecs, kNumRunLikeFeatures, "2.5D", Features(merged, total, &scratch), out);
  }
  if (o.compute_3d) {
    Emit("ngldm", kNgldmSpecs, kNumRunLikeFeatures, "3D",
         Features(volume, static_cast<double>(g.roi_voxels), &scratch), out);
  }
}

}  // namespace fedrad::features::texture_internal
