// GLSZM and GLDZM: zones (connected voxels of one grey level; 26-connected in
// 3D, 8-connected within a slice in 2D) found by flood fill with an explicit
// stack, once for both families. GLDZM's distance map is a two-pass city-block
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

// Flood-fills every zone of slices [z_begin, z_end) with neighbour offsets
// `nbrs`, calling on_zone(level, size, min_distance) once per zone.
template <typename OnZone>
void LabelZones(const Grid& g, int z_begin, int z_end, const std::vector<int64_t>& nbrs,
                uint8_t stamp, const int32_t* dist, std::vector<uint8_t>* seen,
                std::vector<int64_t>* stack, OnZone on_zone) {
  const uint16_t* lv = g.level.data();
  uint8_t* s = seen->data();
  for (int z = z_begin; z < z_end; ++z) {
    for (int y = g.pad; y < g.ny - g.pad; ++y) {
      const int64_t row = g.Index(0, y, z);
      for (int x = g.pad; x < g.nx - g.pad; ++x) {
        const int64_t start = row + x;
        const uint16_t v = lv[start];
        if (v == 0 || s[start] == stamp) continue;
        s[start] = stamp;
        stack->push_back(start);
        int64_t size = 0;
        int32_t min_dist = INT32_MAX;
        while (!stack->empty()) {
          const int64_t p = stack->back();
          stack->pop_back();
          ++size;
          if (dist != nullptr) min_dist = std::min(min_dist, dist[p]);
          for (int64_t off : nbrs) {
            const int64_t q = p + off;
            if (lv[q] == v && s[q] != stamp) {
              s[q] = stamp;
              stack->push_back(q);
            }
          }
        }
        on_zone(v, size, min_dist);
      }
    }
  }
}

}  // namespace

void AppendZones(const Grid& g, const TextureOptions& o, bool glszm, bool gldzm,
                 FeatureList* out) {
  const int ng = g.num_levels;
  std::vector<int64_t> nbrs2d, nbrs3d;
  for (int dz = -1; dz <= 1; ++dz) {
    for (int dy = -1; dy <= 1; ++dy) {
      for (int dx = -1; dx <= 1; ++dx) {
        if (dx == 0 && dy == 0 && dz == 0) continue;
        const int64_t off = dx + dy * g.sy + dz * g.sz;
        nbrs3d.push_back(off);
        if (dz == 0) nbrs2d.push_back(off);
      }
    }
  }
  std::vector<uint8_t> seen(g.size(), 0);
  std::vector<int64_t> stack;
  std::vector<RunEntry> scratch;
  std::vector<std::vector<double>> size_rows, dist_rows;  // per aggregation
  std::vector<const char*> labels;

  if (o.compute_2d || o.compute_25d) {
    std::vector<int32_t> dist2d;
    if (gldzm) dist2d = DistanceMap(g, /*in_plane=*/true);
    Histogram2D slice_size(ng), slice_dist(ng), all_size(ng), all_dist(ng);
    Averager size_avg(kNumZoneFeatures), dist_avg(kNumZoneFeatures);
    double total_voxels = 0.0;
    for (int z = g.pad; z < g.nz - g.pad; ++z) {
      slice_size.Clear();
      slice_dist.Clear();
      int64_t voxels = 0;
      LabelZones(g, z, z + 1, nbrs2d, 1, gldzm ? dist2d.data() : nullptr, &seen, &stack,
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
    LabelZones(g, g.pad, g.nz - g.pad, nbrs3d, 2, gldzm ? dist3d.data() : nullptr, &seen, &stack,
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
