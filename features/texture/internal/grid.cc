// Validation, the padded grid and the direction table shared by all texture
// families.
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "features/texture/internal/texture_internal.h"

namespace fedrad::features::texture_internal {

absl::Status ValidateVolume(const DiscreteVolume& v) {
  if (v.nx <= 0 || v.ny <= 0 || v.nz <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("texture: grid size must be positive, got ", v.nx, "x", v.ny, "x", v.nz));
  }
  const size_t n = static_cast<size_t>(v.nx) * v.ny * v.nz;
  if (v.levels.size() != n) {
    return absl::InvalidArgumentError(
        absl::StrCat("texture: levels has ", v.levels.size(), " values, expected nx*ny*nz = ", n));
  }
  if (!v.morph_mask.empty() && v.morph_mask.size() != n) {
    return absl::InvalidArgumentError(absl::StrCat("texture: morph_mask has ", v.morph_mask.size(),
                                                   " values, expected nx*ny*nz = ", n));
  }
  if (v.num_levels < 1 || v.num_levels > kMaxLevels) {
    return absl::InvalidArgumentError(
        absl::StrCat("texture: num_levels must be in 1..", kMaxLevels, ", got ", v.num_levels));
  }
  return absl::OkStatus();
}

absl::Status ValidateOptions(const TextureOptions& o) {
  if (o.glcm_distance < 1 || o.ngtdm_distance < 1 || o.ngldm_distance < 1) {
    return absl::InvalidArgumentError(absl::StrCat("texture: distances must be >= 1, got glcm ",
                                                   o.glcm_distance, ", ngtdm ", o.ngtdm_distance,
                                                   ", ngldm ", o.ngldm_distance));
  }
  if (o.glcm_distance > 64 || o.ngtdm_distance > 8 || o.ngldm_distance > 8) {
    return absl::InvalidArgumentError(
        "texture: distances above 64 (GLCM) or 8 (NGTDM, NGLDM) are not supported");
  }
  if (o.ngldm_alpha < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("texture: ngldm_alpha must be >= 0, got ", o.ngldm_alpha));
  }
  return absl::OkStatus();
}

absl::StatusOr<Grid> MakeGrid(const DiscreteVolume& v, int pad, bool with_morph) {
  absl::Status status = ValidateVolume(v);
  if (!status.ok()) return status;
  const bool has_morph = !v.morph_mask.empty();
  int x0 = v.nx, y0 = v.ny, z0 = v.nz, x1 = -1, y1 = -1, z1 = -1;
  // One pass checks the levels and finds the bounding box.
  for (int z = 0; z < v.nz; ++z) {
    for (int y = 0; y < v.ny; ++y) {
      const size_t row = v.Index(0, y, z);
      bool bad = false, any = false;
      for (int x = 0; x < v.nx; ++x) {
        const int32_t l = v.levels[row + x];
        bad |= (l < 0) | (l > v.num_levels);
        any |= (l > 0) | (with_morph && has_morph && v.morph_mask[row + x] != 0);
      }
      if (bad) {
        for (int x = 0; x < v.nx; ++x) {
          const int32_t l = v.levels[row + x];
          if (l < 0 || l > v.num_levels) {
            return absl::InvalidArgumentError(
                absl::StrCat("texture: grey level ", l, " at (x=", x, ", y=", y, ", z=", z,
                             ") is outside 0..num_levels = ", v.num_levels));
          }
        }
      }
      if (!any) continue;
      for (int x = 0; x < v.nx; ++x) {
        const bool in = v.levels[row + x] > 0 || (with_morph && has_morph && v.morph_mask[row + x]);
        if (!in) continue;
        x0 = std::min(x0, x), x1 = std::max(x1, x);
        y0 = std::min(y0, y), y1 = std::max(y1, y);
        z0 = std::min(z0, z), z1 = std::max(z1, z);
      }
    }
  }
  if (x1 < 0) return absl::InvalidArgumentError("texture: the ROI is empty");
  Grid g;
  g.pad = pad;
  g.nx = x1 - x0 + 1 + 2 * pad;
  g.ny = y1 - y0 + 1 + 2 * pad;
  g.nz = z1 - z0 + 1 + 2 * pad;
  g.sy = g.nx;
  g.sz = static_cast<int64_t>(g.nx) * g.ny;
  g.num_levels = v.num_levels;
  g.level.assign(static_cast<size_t>(g.sz) * g.nz, 0);
  if (with_morph) g.morph.assign(g.level.size(), 0);
  for (int z = z0; z <= z1; ++z) {
    for (int y = y0; y <= y1; ++y) {
      const size_t src = v.Index(0, y, z);
      const int64_t dst = g.Index(pad - x0, y - y0 + pad, z - z0 + pad);
      for (int x = x0; x <= x1; ++x) {
        const int32_t l = v.levels[src + x];
        g.level[dst + x] = static_cast<uint16_t>(l);
        g.roi_voxels += (l > 0);
        if (with_morph) {
          g.morph[dst + x] = has_morph ? (v.morph_mask[src + x] != 0) : (l > 0);
        }
      }
    }
  }
  if (g.roi_voxels == 0) return absl::InvalidArgumentError("texture: the ROI is empty");
  g.row_lo.assign(static_cast<size_t>(g.ny) * g.nz, 0);
  g.row_hi.assign(g.row_lo.size(), 0);
  for (int z = 0; z < g.nz; ++z) {
    for (int y = 0; y < g.ny; ++y) {
      const uint16_t* row = g.level.data() + g.Index(0, y, z);
      int lo = g.nx, hi = 0;
      for (int x = 0; x < g.nx; ++x) {
        if (row[x] == 0) continue;
        lo = std::min(lo, x);
        hi = x + 1;
      }
      if (hi > 0) g.row_lo[g.Row(y, z)] = lo, g.row_hi[g.Row(y, z)] = hi;
    }
  }
  return g;
}

const std::array<Direction, kNumDirections>& Directions() {
  static const std::array<Direction, kNumDirections> kDirs = {{
      {1, 0, 0},
      {1, 1, 0},
      {0, 1, 0},
      {-1, 1, 0},  // in-plane (0, 45, 90, 135 degrees)
      {0, 0, 1},
      {1, 0, 1},
      {-1, 0, 1},
      {0, 1, 1},
      {0, -1, 1},
      {1, 1, 1},
      {-1, 1, 1},
      {1, -1, 1},
      {-1, -1, 1},
  }};
  return kDirs;
}

void Emit(const char* family, const FeatureSpec* specs, int n, const char* aggregation,
          const std::vector<double>& values, FeatureList* out) {
  for (int k = 0; k < n; ++k) {
    out->push_back(FeatureValue{family, specs[k].name, specs[k].code, aggregation, values[k], ""});
  }
}

}  // namespace fedrad::features::texture_internal
