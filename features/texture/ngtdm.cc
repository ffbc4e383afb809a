// NGTDM: neighbourhood grey tone difference matrix (IBSI), 2D, 2.5D and 3D.
//
// The neighbourhood sums of grey levels and of ROI voxels are separable box
// sums: the x and y passes give the in-plane (2D) sums, a further z pass the
// 3D sums, so each voxel costs O(delta) work per pass whatever the radius in
// the other axes. The centre is subtracted afterwards; only ROI voxels count.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "features/texture/internal/texture_internal.h"

namespace fedrad::features::texture_internal {
namespace {

constexpr FeatureSpec kNgtdmSpecs[kNumNgtdmFeatures] = {
    {"coarseness", "QCDE"}, {"contrast", "65HE"}, {"busyness", "NQ30"},
    {"complexity", "HDEZ"}, {"strength", "1X9X"},
};

std::vector<double> Features(const std::vector<double>& n, const std::vector<double>& s,
                             int ng) {
  std::vector<double> f(kNumNgtdmFeatures, kNaN);
  NgtdmFeatures(n.data(), s.data(), ng, f.data());
  return f;
}

}  // namespace

void AppendNgtdm(const Grid& g, const TextureOptions& o, FeatureList* out) {
  const int ng = g.num_levels;
  const int r = o.ngtdm_distance;
  const uint16_t* lv = g.level.data();
  const size_t n = g.size();
  // x pass over every row (the y pass reads rows in the padding too); only
  // [row_lo - r, row_hi + r) can be nonzero. Loops run over x innermost so
  // that they vectorise.
  std::vector<int32_t> sx(n, 0), sxy(n, 0);
  std::vector<int16_t> cx(n, 0), cxy(n, 0);
  for (int z = 0; z < g.nz; ++z) {
    for (int y = 0; y < g.ny; ++y) {
      const int r_id = g.Row(y, z);
      if (g.row_lo[r_id] == g.row_hi[r_id]) continue;
      const int lo = std::max(g.pad, g.row_lo[r_id] - r);
      const int hi = std::min(g.nx - g.pad, g.row_hi[r_id] + r);
      const int64_t row = g.Index(0, y, z);
      int32_t* s = sx.data() + row;
      int16_t* c = cx.data() + row;
      for (int k = -r; k <= r; ++k) {
        const uint16_t* l = lv + row + k;
        for (int x = lo; x < hi; ++x) {
          s[x] += l[x];
          c[x] += (l[x] != 0);
        }
      }
    }
  }
  // y pass over every slice (the z pass reads the padding slices too).
  for (int z = 0; z < g.nz; ++z) {
    for (int y = g.pad; y < g.ny - g.pad; ++y) {
      const int64_t row = g.Index(0, y, z);
      int32_t* s = sxy.data() + row;
      int16_t* c = cxy.data() + row;
      for (int k = -r; k <= r; ++k) {
        const int32_t* ks = sx.data() + row + k * g.sy;
        const int16_t* kc = cx.data() + row + k * g.sy;
        for (int x = g.pad; x < g.nx - g.pad; ++x) {
          s[x] += ks[x];
          c[x] += kc[x];
        }
      }
    }
  }

  std::vector<double> n2(ng + 1), s2(ng + 1), n25(ng + 1, 0.0), s25(ng + 1, 0.0);
  std::vector<double> n3(ng + 1, 0.0), s3(ng + 1, 0.0);
  Averager slices(kNumNgtdmFeatures);
  const bool want_2d = o.compute_2d || o.compute_25d;
  for (int z = g.pad; z < g.nz - g.pad; ++z) {
    std::fill(n2.begin(), n2.end(), 0.0);
    std::fill(s2.begin(), s2.end(), 0.0);
    for (int y = g.pad; y < g.ny - g.pad; ++y) {
      const int64_t row = g.Index(0, y, z);
      const int x1 = g.row_hi[g.Row(y, z)];
      for (int x = g.row_lo[g.Row(y, z)]; x < x1; ++x) {
        const int64_t i = row + x;
        const int v = lv[i];
        if (v == 0) continue;
        if (want_2d) {
          const int w = cxy[i] - 1;
          if (w > 0) {
            n2[v] += 1.0;
            s2[v] += std::fabs(v - static_cast<double>(sxy[i] - v) / w);
          }
        }
        if (o.compute_3d) {
          int32_t s = 0, c = 0;
          for (int k = -r; k <= r; ++k) {
            s += sxy[i + k * g.sz];
            c += cxy[i + k * g.sz];
          }
          const int w = c - 1;
          if (w > 0) {
            n3[v] += 1.0;
            s3[v] += std::fabs(v - static_cast<double>(s - v) / w);
          }
        }
      }
    }
    if (!want_2d) continue;
    double f[kNumNgtdmFeatures];
    if (o.compute_2d && NgtdmFeatures(n2.data(), s2.data(), ng, f)) slices.Add(f);
    for (int l = 1; l <= ng; ++l) {
      n25[l] += n2[l];
      s25[l] += s2[l];
    }
  }
  if (o.compute_2d) Emit("ngtdm", kNgtdmSpecs, kNumNgtdmFeatures, "2D", slices.Mean(), out);
  if (o.compute_25d) {
    Emit("ngtdm", kNgtdmSpecs, kNumNgtdmFeatures, "2.5D", Features(n25, s25, ng), out);
  }
  if (o.compute_3d) {
    Emit("ngtdm", kNgtdmSpecs, kNumNgtdmFeatures, "3D", Features(n3, s3, ng), out);
  }
}

}  // namespace fedrad::features::texture_internal
