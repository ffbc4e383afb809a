#include "features/regions.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <map>

#include "absl/strings/str_cat.h"

namespace fedrad::features {
namespace {

// 26-connected components of `fg`; writes the component id per voxel into
// `out` (which must hold fg.size() zeros; 1-based ids numbered in the raster
// order of each component's first voxel), their voxel counts into
// `counts` (index 0 unused) and returns the number of components. Works on
// x-runs: each run is joined (union-find) with the overlapping runs of the
// 4 earlier neighbour rows, so the cost follows the number of runs, not of
// voxels.
int LabelComponents(const Geometry& g, const std::vector<uint8_t>& fg,
                    std::vector<int32_t>* out, std::vector<int64_t>* counts) {
  const int nx = g.size[0], ny = g.size[1], nz = g.size[2];
  struct Run {
    int x0, x1;  // inclusive
  };
  std::vector<Run> runs;
  std::vector<size_t> row_start(static_cast<size_t>(ny) * nz + 1, 0);
  for (size_t r = 0; r < static_cast<size_t>(ny) * nz; ++r) {
    row_start[r] = runs.size();
    const uint8_t* row = &fg[r * nx];
    for (int x = 0; x < nx;) {
      if (!row[x]) {
        ++x;
        continue;
      }
      const int x0 = x;
      while (x < nx && row[x]) ++x;
      runs.push_back({x0, x - 1});
    }
  }
  row_start.back() = runs.size();
  std::vector<size_t> parent(runs.size());
  for (size_t i = 0; i < parent.size(); ++i) parent[i] = i;
  auto find = [&](size_t i) {
    while (parent[i] != i) {
      parent[i] = parent[parent[i]];
      i = parent[i];
    }
    return i;
  };
  auto unite = [&](size_t a, size_t b) {
    a = find(a);
    b = find(b);
    if (a != b) parent[std::max(a, b)] = std::min(a, b);
  };
  // The earlier rows a 26-neighbour can lie in: (dy, dz).
  const int neighbours[4][2] = {{-1, -1}, {0, -1}, {1, -1}, {-1, 0}};
  for (int z = 0; z < nz; ++z) {
    for (int y = 0; y < ny; ++y) {
      const size_t r = static_cast<size_t>(z) * ny + y;
      for (int k = 0; k < 4; ++k) {
        const int yy = y + neighbours[k][0], zz = z + neighbours[k][1];
        if (yy < 0 || yy >= ny || zz < 0) continue;
        const size_t q = static_cast<size_t>(zz) * ny + yy;
        size_t j = row_start[q];
        for (size_t i = row_start[r]; i < row_start[r + 1]; ++i) {
          // Runs of row q touching [x0 - 1, x1 + 1] (26-connectivity).
          while (j < row_start[q + 1] && runs[j].x1 < runs[i].x0 - 1) ++j;
          for (size_t t = j; t < row_start[q + 1] && runs[t].x0 <= runs[i].x1 + 1; ++t) {
            unite(i, t);
          }
        }
      }
    }
  }
  std::vector<int32_t> id(runs.size(), 0);
  int next = 0;
  counts->assign(1, 0);
  for (size_t r = 0; r < static_cast<size_t>(ny) * nz; ++r) {
    for (size_t i = row_start[r]; i < row_start[r + 1]; ++i) {
      const size_t root = find(i);
      if (id[root] == 0) {
        id[root] = ++next;
        counts->push_back(0);
      }
      (*counts)[id[root]] += runs[i].x1 - runs[i].x0 + 1;
      std::fill(out->begin() + r * nx + runs[i].x0, out->begin() + r * nx + runs[i].x1 + 1,
                id[root]);
    }
  }
  return next;
}

}  // namespace

std::vector<uint8_t> DilateByBall(const Geometry& g, const std::vector<uint8_t>& mask,
                                  double radius_mm) {
  std::vector<uint8_t> out = mask;
  if (radius_mm <= 0) return out;
  const int nx = g.size[0], ny = g.size[1], nz = g.size[2];
  std::array<int, 3> r;
  for (int d = 0; d < 3; ++d) r[d] = static_cast<int>(std::floor(radius_mm / g.spacing[d]));
  std::vector<std::array<int, 3>> ball;
  for (int dz = -r[2]; dz <= r[2]; ++dz) {
    for (int dy = -r[1]; dy <= r[1]; ++dy) {
      for (int dx = -r[0]; dx <= r[0]; ++dx) {
        double d2 = std::pow(dx * g.spacing[0], 2) + std::pow(dy * g.spacing[1], 2) +
                    std::pow(dz * g.spacing[2], 2);
        if (d2 <= radius_mm * radius_mm * (1 + 1e-12)) ball.push_back({dx, dy, dz});
      }
    }
  }
  // Only boundary voxels (a 6-neighbour outside) need stamping.
  for (int z = 0; z < nz; ++z) {
    for (int y = 0; y < ny; ++y) {
      for (int x = 0; x < nx; ++x) {
        if (!mask[g.Index(x, y, z)]) continue;
        bool boundary = false;
        const int n6[6][3] = {{1, 0, 0}, {-1, 0, 0}, {0, 1, 0}, {0, -1, 0}, {0, 0, 1}, {0, 0, -1}};
        for (const auto& o : n6) {
          int xx = x + o[0], yy = y + o[1], zz = z + o[2];
          if (xx < 0 || yy < 0 || zz < 0 || xx >= nx || yy >= ny || zz >= nz ||
              !mask[g.Index(xx, yy, zz)]) {
            boundary = true;
            break;
          }
        }
        if (!boundary) continue;
        for (const auto& o : ball) {
          int xx = x + o[0], yy = y + o[1], zz = z + o[2];
          if (xx < 0 || yy < 0 || zz < 0 || xx >= nx || yy >= ny || zz >= nz) continue;
          out[g.Index(xx, yy, zz)] = 1;
        }
      }
    }
  }
  return out;
}

std::vector<uint8_t> RegionPlan::Mask(const std::string& name) const {
  std::vector<uint8_t> out;
  if (name == "liver") return liver_;
  if (name == "bkg") return bkg_;
  if (name == "lesions") {
    out.resize(lesion_id_.size());
    for (size_t i = 0; i < out.size(); ++i) out[i] = lesion_id_[i] > 0;
    return out;
  }
  if (name.rfind("lesion_", 0) == 0) {
    int k = std::atoi(name.c_str() + 7);
    if (k < 1 || k > static_cast<int>(lesions.size())) return out;
    out.resize(lesion_id_.size());
    for (size_t i = 0; i < out.size(); ++i) out[i] = lesion_id_[i] == k;
    return out;
  }
  return out;
}

absl::StatusOr<RegionPlan> PlanRegions(const LabelVolume& lesion_mask,
                                       const LabelVolume* liver,
                                       const RegionOptions& options) {
  RegionPlan plan;
  const Geometry& g = lesion_mask.geometry;
  plan.geometry_ = g;
  if (liver) {
    std::string why = GeometryMismatch(g, liver->geometry);
    if (!why.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("liver mask vs lesion mask: ", why));
    }
  }
  std::map<int32_t, int64_t> label_counts;
  std::vector<uint8_t> fg(lesion_mask.voxels.size(), 0);
  {
    // Labels below 256 are counted in an array (no map look-up per voxel).
    std::array<int64_t, 256> small{};
    for (size_t i = 0; i < fg.size(); ++i) {
      const int32_t v = lesion_mask.voxels[i];
      if (v == 0) continue;
      if (v < 0) return absl::InvalidArgumentError("lesion mask holds negative labels");
      fg[i] = 1;
      if (v < 256) {
        ++small[v];
      } else {
        ++label_counts[v];
      }
    }
    for (int v = 1; v < 256; ++v) {
      if (small[v]) label_counts[v] = small[v];
    }
  }
  // Raw ids: labels or components.
  std::vector<int32_t> raw(fg.size(), 0);
  int num_raw = 0;
  bool by_labels = options.split == RegionOptions::LesionSplit::kLabels ||
                   (options.split == RegionOptions::LesionSplit::kAuto && label_counts.size() > 1);
  std::vector<int64_t> counts;  // voxels per raw id (index 0 unused)
  if (by_labels) {
    std::map<int32_t, int> index;
    std::array<int, 256> small_index{};
    counts.assign(1, 0);
    for (auto& [label, count] : label_counts) {
      index[label] = ++num_raw;
      counts.push_back(count);
      if (label < 256) small_index[label] = num_raw;
    }
    for (size_t i = 0; i < fg.size(); ++i) {
      if (!fg[i]) continue;
      const int32_t v = lesion_mask.voxels[i];
      raw[i] = v < 256 ? small_index[v] : index[v];
    }
  } else {
    num_raw = LabelComponents(g, fg, &raw, &counts);
  }
  // Order lesions by decreasing size (ties: first seen).
  std::vector<int> order(num_raw);
  for (int k = 0; k < num_raw; ++k) order[k] = k + 1;
  std::stable_sort(order.begin(), order.end(),
                   [&](int a, int b) { return counts[a] > counts[b]; });
  std::vector<int32_t> rank(num_raw + 1, 0);
  const double voxel_volume = g.spacing[0] * g.spacing[1] * g.spacing[2];
  for (int k = 0; k < num_raw; ++k) {
    rank[order[k]] = k + 1;
    LesionInfo info{absl::StrCat("lesion_", k + 1), counts[order[k]],
                    counts[order[k]] * voxel_volume};
    plan.total_lesion_volume_mm3 += info.volume_mm3;
    plan.lesions.push_back(info);
  }
  // Renumbered in place (no second volume of ids); rank is often the
  // identity (one lesion, or lesions already in size order).
  bool identity = true;
  for (int k = 0; k <= num_raw; ++k) identity &= rank[k] == k;
  if (!identity) {
    for (int32_t& r : raw) r = rank[r];
  }
  plan.lesion_id_ = std::move(raw);

  bool want_liver = liver && (options.liver || options.bkg);
  if (num_raw == 0 && !want_liver) {
    return absl::InvalidArgumentError("the lesion mask is empty");
  }
  if (options.each_lesion) {
    for (const auto& l : plan.lesions) plan.names.push_back(l.name);
  }
  if (options.all_lesions && num_raw > 0) plan.names.push_back("lesions");
  if (liver) {
    std::vector<uint8_t> lv(liver->voxels.size());
    int64_t n_liver = 0;
    for (size_t i = 0; i < lv.size(); ++i) {
      if (liver->voxels[i] < 0) return absl::InvalidArgumentError("liver mask holds negative labels");
      lv[i] = liver->voxels[i] > 0;
      n_liver += lv[i];
    }
    if (n_liver == 0) return absl::InvalidArgumentError("the liver mask is empty");
    if (options.liver) {
      plan.liver_ = lv;
      plan.names.push_back("liver");
    }
    if (options.bkg) {
      std::vector<uint8_t> excluded = DilateByBall(g, fg, options.bkg_margin_mm);
      plan.bkg_.resize(lv.size());
      int64_t n_bkg = 0;
      for (size_t i = 0; i < lv.size(); ++i) {
        plan.bkg_[i] = lv[i] && !excluded[i];
        n_bkg += plan.bkg_[i];
      }
      if (n_bkg == 0) {
        return absl::InvalidArgumentError("the residual liver (bkg) is empty");
      }
      plan.names.push_back("bkg");
    }
  }
  return plan;
}

}  // namespace fedrad::features
