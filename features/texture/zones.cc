// GLSZM and GLDZM: zones (connected voxels of one grey level; 26-connected in
// 3D, 8-connected within a slice in 2D) found by union-find over same-level
// runs, once for both families. GLDZM's distance map is a two-pass city-block
// distance transform of the morphological mask (exact for the L1 metric,
// which with 6-/4-connectivity equals the IBSI step count to the ROI edge).
#include <algorithm>
#include <climits>
#include <cstdint>
#include <vector>

#include "features/texture/internal/texture_internal.h"

namespace fedrad::features::texture_internal {
namespace {

constexpr int kNumZoneFeatures = 16;
constexpr FeatureSpec kGlszmSpecs[kNumZoneFeatures] = {
    {"small_zone_emphasis", "5QRC"},
    {"large_zone_emphasis", "48P8"},
    {"low_grey_level_zone_emphasis", "XMSY"},
    {"high_grey_level_zone_emphasis", "5GN9"},
    {"small_zone_low_grey_level_emphasis", "5RAI"},
    {"small_zone_high_grey_level_emphasis", "HW1V"},
    {"large_zone_low_grey_level_emphasis", "YH51"},
    {"large_zone_high_grey_level_emphasis", "J17V"},
    {"grey_level_non_uniformity", "JNSA"},
    {"normalised_grey_level_non_uniformity", "Y1RO"},
    {"zone_size_non_uniformity", "4JP3"},
    {"normalised_zone_size_non_uniformity", "VB3A"},
    {"zone_percentage", "P30P"},
    {"grey_level_variance", "BYLV"},
    {"zone_size_variance", "3NSA"},
    {"zone_size_entropy", "GU8N"},
};
constexpr FeatureSpec kGldzmSpecs[kNumZoneFeatures] = {
    {"small_distance_emphasis", "0GBI"},
    {"large_distance_emphasis", "MB4I"},
    {"low_grey_level_zone_emphasis", "S1RA"},
    {"high_grey_level_zone_emphasis", "K26C"},
    {"small_distance_low_grey_level_emphasis", "RUVG"},
    {"small_distance_high_grey_level_emphasis", "DKNJ"},
    {"large_distance_low_grey_level_emphasis", "A7WM"},
    {"large_distance_high_grey_level_emphasis", "KLTH"},
    {"grey_level_non_uniformity", "VFT7"},
    {"normalised_grey_level_non_uniformity", "7HP3"},
    {"zone_distance_non_uniformity", "V294"},
    {"normalised_zone_distance_non_uniformity", "IATH"},
    {"zone_percentage", "VIWW"},
    {"grey_level_variance", "QK93"},
    {"zone_distance_variance", "7WT1"},
    {"zone_distance_entropy", "GBDU"},
};

// Counts (level, j) pairs: dense for small j, a list for the rare large j.
class Histogram2D {
 public:
  explicit Histogram2D(int ng) : ng_(ng), dense_(static_cast<size_t>(ng + 1) * kDenseJ, 0.0) {}
  void Add(int level, int64_t j) {
    if (j < kDenseJ) {
      dense_[j * (ng_ + 1) + level] += 1.0;
      max_j_ = std::max(max_j_, j);
    } else {
      large_.push_back(RunEntry{j, level, 1.0});
    }
  }
  void Clear() {
    std::fill(dense_.begin(), dense_.begin() + (max_j_ + 1) * (ng_ + 1), 0.0);
    max_j_ = 0;
    large_.clear();
  }
  bool empty() const { return max_j_ == 0 && large_.empty(); }
  // Sorted unique entries.
  void Entries(std::vector<RunEntry>* out) const {
    out->clear();
    for (int64_t j = 1; j <= max_j_; ++j) {
      for (int i = 1; i <= ng_; ++i) {
        const double n = dense_[j * (ng_ + 1) + i];
        if (n != 0.0) out->push_back(RunEntry{j, i, n});
      }
    }
    if (!large_.empty()) {
      std::vector<RunEntry> big = large_;
      CanonicalizeEntries(&big);
      out->insert(out->end(), big.begin(), big.end());
    }
  }

 private:
  static constexpr int64_t kDenseJ = 512;
  int ng_;
  std::vector<double> dense_;
  int64_t max_j_ = 0;
  std::vector<RunEntry> large_;
};

std::vector<double> Features(const Histogram2D& h, int ng, double nv,
                             std::vector<RunEntry>* scratch) {
  std::vector<double> f(kNumRunLikeFeatures, kNaN);
  h.Entries(scratch);
  if (!RunLikeFeatures(*scratch, ng, nv, f.data())) std::fill(f.begin(), f.end(), kNaN);
  f.resize(kNumZoneFeatures);
  return f;
}

// City-block distance to the nearest voxel outside the morphological mask,
// in 3D (6-connectivity) or within each slice (4-connectivity). 0 outside.
std::vector<int32_t> DistanceMap(const Grid& g, bool in_plane) {
  std::vector<int32_t> d(g.size());
  for (size_t k = 0; k < d.size(); ++k) d[k] = g.morph[k] ? INT32_MAX / 2 : 0;
  const int64_t sy = g.sy, sz = g.sz;
  for (int z = g.pad; z < g.nz - g.pad; ++z) {
    for (int y = g.pad; y < g.ny - g.pad; ++y) {
      int64_t i = g.Index(g.pad, y, z);
      for (int x = g.pad; x < g.nx - g.pad; ++x, ++i) {
        if (d[i] == 0) continue;
        int32_t m = std::min(d[i - 1], d[i - sy]);
        if (!in_plane) m = std::min(m, d[i - sz]);
        d[i] = std::min(d[i], m + 1);
      }
    }
  }
  for (int z = g.nz - g.pad - 1; z >= g.pad; --z) {
    for (int y = g.ny - g.pad - 1; y >= g.pad; --y) {
      int64_t i = g.Index(g.nx - g.pad - 1, y, z);
      for (int x = g.nx - g.pad - 1; x >= g.pad; --x, --i) {
        if (d[i] == 0) continue;
        int32_t m = std::min(d[i + 1], d[i + sy]);
        if (!in_plane) m = std::min(m, d[i + sz]);
        d[i] = std::min(d[i], m + 1);
      }
    }
  }
  return d;
}

// Zones by union-find over runs: each row of the box is split into runs of
// one grey level; a run joins the runs of the same level in the rows before it
// (the previous row of its slice, and in 3D the three rows of the previous
// slice) whose x extents touch, diagonals included (8-connectivity in a slice,
// 26 in 3D). Work is per run, not per voxel and neighbour, so it is fast on
// realistic images, and needs no recursion or stack.
class ZoneFinder {
 public:
  explicit ZoneFinder(const Grid& g) : g_(g) {
    row_begin_.assign(static_cast<size_t>(g.ny) * g.nz + 1, 0);
    runs_.reserve(static_cast<size_t>(g.roi_voxels));
    for (int z = 0; z < g.nz; ++z) {
      for (int y = 0; y < g.ny; ++y) {
        const int r = g.Row(y, z);
        row_begin_[r] = static_cast<int32_t>(runs_.size());
        const uint16_t* lv = g.level.data() + g.Index(0, y, z);
        const int x1 = g.row_hi[r];
        for (int x = g.row_lo[r]; x < x1;) {
          const uint16_t v = lv[x];
          int e = x + 1;
          while (e < x1 && lv[e] == v) ++e;
          if (v != 0) runs_.push_back(Run{x, e, v});
          x = e;
        }
      }
    }
    row_begin_.back() = static_cast<int32_t>(runs_.size());
    parent_.resize(runs_.size());
  }

  // Resets the runs of slice z and links them within the slice
  // (8-connectivity): afterwards they form the slice's 2D zones.
  void LinkInPlane(int z) {
    const int32_t first = row_begin_[g_.Row(0, z)], last = row_begin_[g_.Row(0, z + 1)];
    for (int32_t k = first; k < last; ++k) parent_[k] = k;
    for (int y = g_.pad; y < g_.ny - g_.pad; ++y) Join(g_.Row(y, z), g_.Row(y - 1, z));
  }
  // Links every slice with the previous one (the 9 voxels below each voxel);
  // after LinkInPlane of every slice this gives the 26-connected 3D zones.
  void LinkAcrossSlices() {
    for (int z = g_.pad + 1; z < g_.nz - g_.pad; ++z) {
      for (int y = g_.pad; y < g_.ny - g_.pad; ++y) {
        for (int dy = -1; dy <= 1; ++dy) Join(g_.Row(y, z), g_.Row(y + dy, z - 1));
      }
    }
  }

  // Calls on_zone(level, size, min_distance) once per zone of slices
  // [z_begin, z_end) as linked so far; `dist` may be null.
  template <typename OnZone>
  void Collect(int z_begin, int z_end, const int32_t* dist, OnZone on_zone) {
    const int32_t first = row_begin_[g_.Row(0, z_begin)];
    const int32_t last = row_begin_[g_.Row(0, z_end)];
    // Accumulate each run into its zone's root (the zone's smallest run index).
    size_.assign(last - first, 0);
    min_dist_.assign(last - first, INT32_MAX);
    for (int z = z_begin; z < z_end; ++z) {
      for (int y = g_.pad; y < g_.ny - g_.pad; ++y) {
        const int r = g_.Row(y, z);
        const int64_t row = g_.Index(0, y, z);
        for (int32_t k = row_begin_[r]; k < row_begin_[r + 1]; ++k) {
          const int32_t root = Find(k) - first;
          const Run& run = runs_[k];
          size_[root] += run.x1 - run.x0;
          if (dist != nullptr) {
            int32_t m = min_dist_[root];
            for (int x = run.x0; x < run.x1; ++x) m = std::min(m, dist[row + x]);
            min_dist_[root] = m;
          }
        }
      }
    }
    for (int32_t k = first; k < last; ++k) {
      if (parent_[k] == k) on_zone(runs_[k].level, size_[k - first], min_dist_[k - first]);
    }
  }

 private:
  struct Run {
    int32_t x0, x1;  // [x0, x1)
    uint16_t level;
  };

  int32_t Find(int32_t k) {
    while (parent_[k] != k) {
      parent_[k] = parent_[parent_[k]];
      k = parent_[k];
    }
    return k;
  }
  // Joins the runs of row `r` with touching same-level runs of row `s`. The
  // root of the current run is kept across its candidates; the smaller root
  // index wins, so a zone's root is its first run.
  void Join(int r, int s) {
    int32_t j = row_begin_[s];
    const int32_t j_end = row_begin_[s + 1];
    if (j == j_end) return;
    for (int32_t i = row_begin_[r]; i < row_begin_[r + 1]; ++i) {
      const Run& a = runs_[i];
      while (j < j_end && runs_[j].x1 < a.x0) ++j;  // ends left of a's left diagonal
      int32_t root_a = -1;
      for (int32_t k = j; k < j_end && runs_[k].x0 <= a.x1; ++k) {
        if (runs_[k].level != a.level) continue;
        if (root_a < 0) root_a = Find(i);
        const int32_t root_k = Find(k);
        if (root_a == root_k) continue;
        if (root_a < root_k) {
          parent_[root_k] = root_a;
        } else {
          parent_[root_a] = root_k;
          root_a = root_k;
        }
      }
    }
  }

  const Grid& g_;
  std::vector<Run> runs_;
  std::vector<int32_t> row_begin_;  // per row, plus one end marker
  std::vector<int32_t> parent_;
  std::vector<int64_t> size_;
  std::vector<int32_t> min_dist_;
};

}  // namespace

void AppendZones(const Grid& g, const TextureOptions& o, bool glszm, bool gldzm, FeatureList* out) {
  const int ng = g.num_levels;
  ZoneFinder finder(g);
  std::vector<RunEntry> scratch;
  std::vector<std::vector<double>> size_rows, dist_rows;  // per aggregation
  std::vector<const char*> labels;

  // 2D zones slice by slice; they are also the first step of the 3D zones.
  {
    const bool want_2d = o.compute_2d || o.compute_25d;
    std::vector<int32_t> dist2d;
    if (gldzm && want_2d) dist2d = DistanceMap(g, /*in_plane=*/true);
    Histogram2D slice_size(ng), slice_dist(ng), all_size(ng), all_dist(ng);
    Averager size_avg(kNumZoneFeatures), dist_avg(kNumZoneFeatures);
    double total_voxels = 0.0;
    for (int z = g.pad; z < g.nz - g.pad; ++z) {
      finder.LinkInPlane(z);
      if (!want_2d) continue;
      slice_size.Clear();
      slice_dist.Clear();
      int64_t voxels = 0;
      finder.Collect(z, z + 1, gldzm ? dist2d.data() : nullptr,
                     [&](int level, int64_t size, int32_t d) {
                       voxels += size;
                       if (glszm) {
                         slice_size.Add(level, size);
                         all_size.Add(level, size);
                       }
                       if (gldzm) {
                         slice_dist.Add(level, d);
                         all_dist.Add(level, d);
                       }
                     });
      if (voxels == 0) continue;  // slices without ROI voxels are skipped
      total_voxels += voxels;
      if (!o.compute_2d) continue;
      if (glszm) size_avg.Add(Features(slice_size, ng, voxels, &scratch).data());
      if (gldzm) dist_avg.Add(Features(slice_dist, ng, voxels, &scratch).data());
    }
    if (o.compute_2d) {
      labels.push_back("2D");
      size_rows.push_back(size_avg.Mean());
      dist_rows.push_back(dist_avg.Mean());
    }
    if (o.compute_25d) {
      labels.push_back("2.5D");
      size_rows.push_back(Features(all_size, ng, total_voxels, &scratch));
      dist_rows.push_back(Features(all_dist, ng, total_voxels, &scratch));
    }
  }
  if (o.compute_3d) {
    std::vector<int32_t> dist3d;
    if (gldzm) dist3d = DistanceMap(g, /*in_plane=*/false);
    Histogram2D size_h(ng), dist_h(ng);
    finder.LinkAcrossSlices();
    finder.Collect(g.pad, g.nz - g.pad, gldzm ? dist3d.data() : nullptr,
                   [&](int level, int64_t size, int32_t d) {
                     if (glszm) size_h.Add(level, size);
                     if (gldzm) dist_h.Add(level, d);
                   });
    const double nv = static_cast<double>(g.roi_voxels);
    labels.push_back("3D");
    size_rows.push_back(Features(size_h, ng, nv, &scratch));
    dist_rows.push_back(Features(dist_h, ng, nv, &scratch));
  }
  for (size_t a = 0; glszm && a < labels.size(); ++a) {
    Emit("glszm", kGlszmSpecs, kNumZoneFeatures, labels[a], size_rows[a], out);
  }
  for (size_t a = 0; gldzm && a < labels.size(); ++a) {
    Emit("gldzm", kGldzmSpecs, kNumZoneFeatures, labels[a], dist_rows[a], out);
  }
}

}  // namespace fedrad::features::texture_internal
