// GLRLM: grey level run length matrices and their six IBSI aggregations.
//
// A run starts at an ROI voxel whose predecessor along the direction has a
// different level (or is outside); it is then followed to its end, so every
// voxel is visited about twice per direction. The zero padding of the grid
// ends every run at the box border. Matrices are dense (Ng+1) x (Lmax+1).
#include <algorithm>
#include <cstdint>
#include <vector>

#include "features/texture/internal/texture_internal.h"

namespace fedrad::features::texture_internal {
namespace {

constexpr FeatureSpec kGlrlmSpecs[16] = {
    {"short_runs_emphasis", "22OV"},
    {"long_runs_emphasis", "W4KF"},
    {"low_grey_level_run_emphasis", "V3SW"},
    {"high_grey_level_run_emphasis", "G3QZ"},
    {"short_run_low_grey_level_emphasis", "HTZT"},
    {"short_run_high_grey_level_emphasis", "GD3A"},
    {"long_run_low_grey_level_emphasis", "IVPO"},
    {"long_run_high_grey_level_emphasis", "3KUM"},
    {"grey_level_non_uniformity", "R5YN"},
    {"normalised_grey_level_non_uniformity", "OVBL"},
    {"run_length_non_uniformity", "W92Y"},
    {"normalised_run_length_non_uniformity", "IC23"},
    {"run_percentage", "9ZK5"},
    {"grey_level_variance", "8CE5"},
    {"run_length_variance", "SXLW"},
    {"run_entropy", "HJ9O"},
};
constexpr int kNumGlrlmFeatures = 16;

// A dense run length matrix: count(level, length), level 0..ng, length 0..lmax.
struct RunMatrix {
  int ng = 0, lmax = 0, longest = 0;
  std::vector<double> count;
  RunMatrix(int ng_, int lmax_)
      : ng(ng_), lmax(lmax_), count(static_cast<size_t>(ng_ + 1) * (lmax_ + 1), 0.0) {}
  void Clear() {
    std::fill(count.begin(), count.end(), 0.0);
    longest = 0;
  }
  void Add(const RunMatrix& o) {
    for (size_t k = 0; k < count.size(); ++k) count[k] += o.count[k];
    longest = std::max(longest, o.longest);
  }
};

// Adds the runs of slices [z_begin, z_end) along `off` (> 0 in memory, as all
// 13 directions are) to `m`. Along x, runs are read off each row directly.
// Otherwise a dynamic programme in raster order gives each voxel the length
// of the run so far, len[k] = len[k - off] + 1 while the level repeats, else 1
// (vectorisable: k - off lies in an earlier row), and a run is counted where
// the next voxel along the direction differs. `len` must hold g.size()
// entries; `tmp` is scratch of m->count.size() entries. Holes (level 0) are
// counted in row 0 of the matrix, which is ignored.
void CountRuns(const Grid& g, int z_begin, int z_end, int64_t off, std::vector<uint32_t>* len,
               std::vector<uint32_t>* tmp, RunMatrix* m) {
  uint32_t* t = tmp->data();
  std::fill(tmp->begin(), tmp->end(), 0u);
  const int stride = m->lmax + 1;
  for (int z = z_begin; z < z_end; ++z) {
    for (int y = g.pad; y < g.ny - g.pad; ++y) {
      const int r = g.Row(y, z);
      const int lo = g.row_lo[r], hi = g.row_hi[r];
      if (lo == hi) continue;
      const int64_t row = g.Index(0, y, z);
      const uint16_t* c = g.level.data() + row;
      if (off == 1) {
        for (int x = lo; x < hi;) {
          const uint16_t v = c[x];
          int e = x + 1;
          while (e < hi && c[e] == v) ++e;
          ++t[v * stride + (e - x)];
          x = e;
        }
        continue;
      }
      uint32_t* l = len->data() + row;
      const uint32_t* prev_l = l - off;
      const uint16_t* prev = c - off;
      const uint16_t* next = c + off;
      for (int x = lo; x < hi; ++x) {
        const uint32_t v = c[x];
        const uint32_t same = prev[x] == v;
        l[x] = (v != 0) * (1 + same * prev_l[x]);
      }
      for (int x = lo; x < hi; ++x) t[c[x] * stride + l[x]] += (next[x] != c[x]);
    }
  }
  int longest = m->longest;
  for (int i = 1; i <= m->ng; ++i) {
    for (int j = 1; j <= m->lmax; ++j) {
      const uint32_t c = t[i * stride + j];
      if (c == 0) continue;
      m->count[i * stride + j] += c;
      longest = std::max(longest, j);
    }
  }
  m->longest = longest;
}

// Features of one matrix; NaN when it holds no run. The run percentage uses
// Nv = sum of length x count, i.e. the voxels of all matrices merged into it.
std::vector<double> Features(const RunMatrix& m, std::vector<RunEntry>* scratch) {
  std::vector<double> f(kNumRunLikeFeatures, kNaN);
  scratch->clear();
  const int stride = m.lmax + 1;
  double nv = 0.0;
  for (int j = 1; j <= m.longest; ++j) {
    for (int i = 1; i <= m.ng; ++i) {
      const double n = m.count[i * stride + j];
      if (n == 0.0) continue;
      scratch->push_back(RunEntry{j, i, n});
      nv += n * j;
    }
  }
  if (!RunLikeFeatures(*scratch, m.ng, nv, f.data())) std::fill(f.begin(), f.end(), kNaN);
  f.resize(kNumGlrlmFeatures);
  return f;
}

}  // namespace

void AppendGlrlm(const Grid& g, const TextureOptions& o, FeatureList* out) {
  const int ng = g.num_levels;
  const int lmax = std::max({g.nx, g.ny, g.nz});
  const auto& dirs = Directions();
  std::vector<RunMatrix> volume(kNumDirections, RunMatrix(ng, lmax));
  std::vector<RunEntry> scratch;
  std::vector<uint32_t> len(g.size(), 0), tmp(volume[0].count.size());

  Averager averaged_2d(kNumGlrlmFeatures), slice_merged_2d(kNumGlrlmFeatures);
  RunMatrix slice_dir(ng, lmax), slice_all(ng, lmax);
  for (int z = g.pad; z < g.nz - g.pad; ++z) {
    slice_all.Clear();
    for (int d = 0; d < kNumInPlane; ++d) {
      slice_dir.Clear();
      CountRuns(g, z, z + 1, Offset(g, dirs[d], 1), &len, &tmp, &slice_dir);
      volume[d].Add(slice_dir);
      if (!o.compute_2d || slice_dir.longest == 0) continue;
      slice_all.Add(slice_dir);
      averaged_2d.Add(Features(slice_dir, &scratch).data());
    }
    if (o.compute_2d && slice_all.longest > 0) {
      slice_merged_2d.Add(Features(slice_all, &scratch).data());
    }
  }
  if (o.compute_2d) {
    Emit("glrlm", kGlrlmSpecs, kNumGlrlmFeatures, "2D averaged", averaged_2d.Mean(), out);
    Emit("glrlm", kGlrlmSpecs, kNumGlrlmFeatures, "2D slice-merged", slice_merged_2d.Mean(), out);
  }

  RunMatrix merged(ng, lmax);
  if (o.compute_25d) {
    Averager per_direction(kNumGlrlmFeatures);
    for (int d = 0; d < kNumInPlane; ++d) {
      if (volume[d].longest > 0) per_direction.Add(Features(volume[d], &scratch).data());
      merged.Add(volume[d]);
    }
    Emit("glrlm", kGlrlmSpecs, kNumGlrlmFeatures, "2.5D direction-merged", per_direction.Mean(),
         out);
    Emit("glrlm", kGlrlmSpecs, kNumGlrlmFeatures, "2.5D merged", Features(merged, &scratch), out);
  }

  if (o.compute_3d) {
    for (int d = kNumInPlane; d < kNumDirections; ++d) {
      CountRuns(g, g.pad, g.nz - g.pad, Offset(g, dirs[d], 1), &len, &tmp, &volume[d]);
    }
    Averager per_direction(kNumGlrlmFeatures);
    merged.Clear();
    for (int d = 0; d < kNumDirections; ++d) {
      if (volume[d].longest > 0) per_direction.Add(Features(volume[d], &scratch).data());
      merged.Add(volume[d]);
    }
    Emit("glrlm", kGlrlmSpecs, kNumGlrlmFeatures, "3D averaged", per_direction.Mean(), out);
    Emit("glrlm", kGlrlmSpecs, kNumGlrlmFeatures, "3D merged", Features(merged, &scratch), out);
  }
}

}  // namespace fedrad::features::texture_internal
