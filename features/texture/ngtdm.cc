// NGTDM: neighbourhood grey tone difference matrix (IBSI), 2D, 2.5D and 3D.
//
// The neighbourhood sums of grey levels and of ROI voxels are separable box
// sums: x and y passes give the in-plane (2D) sums of a slice, kept in a ring
// of 2*delta+1 slices; adding the ring gives the 3D sums. Each voxel costs
// O(delta) work per pass and memory stays a few slices. The centre is
// subtracted afterwards; only ROI voxels count.
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

std::vector<double> Features(const std::vector<double>& n, const std::vector<double>& s, int ng) {
  std::vector<double> f(kNumNgtdmFeatures, kNaN);
  NgtdmFeatures(n.data(), s.data(), ng, f.data());
  return f;
}

// In-plane box sums of one slice: sums of grey levels and counts of ROI
// voxels over the (2r+1)^2 square around each interior voxel (centre
// included). x pass then y pass, x innermost so that the loops vectorise;
// only [row_lo - r, row_hi + r) of a row can be nonzero in the x pass.
class SliceBoxSums {
 public:
  SliceBoxSums(const Grid& g, int r) : g_(g), r_(r), sx_(g.sz), cx_(g.sz), slots_(2 * r + 1) {
    for (Slot& s : slots_) s.sum.assign(g.sz, 0), s.count.assign(g.sz, 0);
  }

  // Computes slice z into its ring slot (z mod 2r+1).
  void Compute(int z) {
    Slot& slot = slots_[z % slots_.size()];
    std::fill(sx_.begin(), sx_.end(), 0);
    std::fill(cx_.begin(), cx_.end(), 0);
    const uint16_t* lv = g_.level.data() + g_.Index(0, 0, z);
    for (int y = 0; y < g_.ny; ++y) {
      const int r_id = g_.Row(y, z);
      if (g_.row_lo[r_id] == g_.row_hi[r_id]) continue;
      const int lo = std::max(g_.pad, g_.row_lo[r_id] - r_);
      const int hi = std::min(g_.nx - g_.pad, g_.row_hi[r_id] + r_);
      int32_t* s = sx_.data() + y * g_.sy;
      int16_t* c = cx_.data() + y * g_.sy;
      for (int k = -r_; k <= r_; ++k) {
        const uint16_t* l = lv + y * g_.sy + k;
        for (int x = lo; x < hi; ++x) {
          s[x] += l[x];
          c[x] += (l[x] != 0);
        }
      }
    }
    std::fill(slot.sum.begin(), slot.sum.end(), 0);
    std::fill(slot.count.begin(), slot.count.end(), 0);
    for (int y = g_.pad; y < g_.ny - g_.pad; ++y) {
      int32_t* s = slot.sum.data() + y * g_.sy;
      int16_t* c = slot.count.data() + y * g_.sy;
      for (int k = -r_; k <= r_; ++k) {
        const int32_t* ks = sx_.data() + (y + k) * g_.sy;
        const int16_t* kc = cx_.data() + (y + k) * g_.sy;
        for (int x = g_.pad; x < g_.nx - g_.pad; ++x) {
          s[x] += ks[x];
          c[x] += kc[x];
        }
      }
    }
  }
  const int32_t* sum(int z) const { return slots_[z % slots_.size()].sum.data(); }
  const int16_t* count(int z) const { return slots_[z % slots_.size()].count.data(); }

 private:
  struct Slot {
    std::vector<int32_t> sum;
    std::vector<int16_t> count;
  };
  const Grid& g_;
  int r_;
  std::vector<int32_t> sx_;
  std::vector<int16_t> cx_;
  std::vector<Slot> slots_;
};

}  // namespace

void AppendNgtdm(const Grid& g, const TextureOptions& o, FeatureList* out) {
  const int ng = g.num_levels;
  const int r = o.ngtdm_distance;
  const uint16_t* lv = g.level.data();
  // Slice sums in a ring of 2r+1 slices; the 3D sum of slice z adds the
  // in-plane sums of slices z-r..z+r (padding slices are all zero).
  SliceBoxSums box(g, r);
  for (int z = g.pad - r; z < g.pad + r; ++z) box.Compute(z);
  std::vector<int32_t> s3d(g.sz);
  std::vector<int16_t> c3d(g.sz);

  std::vector<double> n2(ng + 1), s2(ng + 1), n25(ng + 1, 0.0), s25(ng + 1, 0.0);
  std::vector<double> n3(ng + 1, 0.0), s3(ng + 1, 0.0);
  Averager slices(kNumNgtdmFeatures);
  const bool want_2d = o.compute_2d || o.compute_25d;
  for (int z = g.pad; z < g.nz - g.pad; ++z) {
    box.Compute(z + r);
    if (o.compute_3d) {
      std::fill(s3d.begin(), s3d.end(), 0);
      std::fill(c3d.begin(), c3d.end(), 0);
      for (int k = -r; k <= r; ++k) {
        const int32_t* ks = box.sum(z + k);
        const int16_t* kc = box.count(z + k);
        for (int64_t i = 0; i < g.sz; ++i) {
          s3d[i] += ks[i];
          c3d[i] += kc[i];
        }
      }
    }
    const int32_t* sxy = box.sum(z);
    const int16_t* cxy = box.count(z);
    const uint16_t* slice = lv + g.Index(0, 0, z);
    std::fill(n2.begin(), n2.end(), 0.0);
    std::fill(s2.begin(), s2.end(), 0.0);
    for (int y = g.pad; y < g.ny - g.pad; ++y) {
      const int x1 = g.row_hi[g.Row(y, z)];
      for (int x = g.row_lo[g.Row(y, z)]; x < x1; ++x) {
        const int64_t i = y * g.sy + x;
        const int v = slice[i];
        if (v == 0) continue;
        if (want_2d) {
          const int w = cxy[i] - 1;
          if (w > 0) {
            n2[v] += 1.0;
            s2[v] += std::fabs(v - static_cast<double>(sxy[i] - v) / w);
          }
        }
        if (o.compute_3d) {
          const int w = c3d[i] - 1;
          if (w > 0) {
            n3[v] += 1.0;
            s3[v] += std::fabs(v - static_cast<double>(s3d[i] - v) / w);
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
