// Private building blocks of features/texture: the padded grey-level grid all
// families scan, the 13 IBSI directions, the per-matrix feature formulas and
// one entry point per family. Not part of the public API.
//
//   FEDRAD_ASSIGN_OR_RETURN(Grid grid, MakeGrid(volume, /*pad=*/1, false));
//   FeatureList out;
//   AppendGlcm(grid, options, &out);
#ifndef FEDRAD_FEATURES_TEXTURE_INTERNAL_TEXTURE_INTERNAL_H_
#define FEDRAD_FEATURES_TEXTURE_INTERNAL_TEXTURE_INTERNAL_H_

#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "absl/status/statusor.h"
#include "features/discrete_volume.h"
#include "features/feature_value.h"
#include "features/texture/texture.h"

namespace fedrad::features::texture_internal {

// Texture matrices are dense: GLCM keeps 13 (Ng+1)^2 matrices, GLRLM 13
// (Ng+1) x (longest run + 1). Ng is capped so that they stay ~100 MB at most.
inline constexpr int kMaxLevels = 1024;

// The ROI's bounding box (union of the intensity and morphological masks),
// copied with `pad` voxels of zero on every side so that neighbour offsets
// never need bounds checks. x is contiguous; interior coordinates run over
// [pad, n - pad).
struct Grid {
  int nx = 0, ny = 0, nz = 0;  // padded sizes
  int pad = 0;
  int64_t sy = 0, sz = 0;  // strides of y and z (x stride is 1)
  int num_levels = 0;
  int64_t roi_voxels = 0;       // voxels with level > 0
  std::vector<uint16_t> level;  // 0 = outside the intensity mask
  std::vector<uint8_t> morph;   // 1 = inside the morphological mask (may be empty)
  // Per row (index z * ny + y): x range [row_lo, row_hi) holding every ROI
  // voxel of the row; empty rows have row_lo == row_hi.
  std::vector<int32_t> row_lo, row_hi;

  int64_t Index(int x, int y, int z) const { return z * sz + y * sy + x; }
  int Row(int y, int z) const { return z * ny + y; }
  size_t size() const { return level.size(); }
};

// Checks the grid size, array sizes and num_levels of a DiscreteVolume;
// MakeGrid checks the levels themselves and the ROI (see texture.h).
absl::Status ValidateVolume(const DiscreteVolume& volume);
absl::Status ValidateOptions(const TextureOptions& options);

// Builds the padded grid; `with_morph` also copies the morphological mask
// (the intensity mask when `volume.morph_mask` is empty). Validates the
// volume completely; InvalidArgument as listed in texture.h.
absl::StatusOr<Grid> MakeGrid(const DiscreteVolume& volume, int pad, bool with_morph);

struct Direction {
  int dx, dy, dz;
};
// The 13 unique IBSI directions; the first kNumInPlane lie in the (x, y) plane.
inline constexpr int kNumDirections = 13;
inline constexpr int kNumInPlane = 4;
const std::array<Direction, kNumDirections>& Directions();
inline int64_t Offset(const Grid& g, const Direction& d, int distance) {
  return distance * (d.dx + d.dy * g.sy + d.dz * g.sz);
}

inline constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Running mean of fixed-length feature vectors; Mean() is NaN when nothing
// was added.
class Averager {
 public:
  explicit Averager(int n) : sum_(n, 0.0) {}
  void Add(const double* values) {
    for (size_t k = 0; k < sum_.size(); ++k) sum_[k] += values[k];
    ++count_;
  }
  std::vector<double> Mean() const {
    std::vector<double> m(sum_.size(), kNaN);
    if (count_ > 0)
      for (size_t k = 0; k < sum_.size(); ++k) m[k] = sum_[k] / count_;
    return m;
  }

 private:
  std::vector<double> sum_;
  int64_t count_ = 0;
};

struct FeatureSpec {
  const char* name;
  const char* code;
};
// Appends one FeatureValue per spec; `values` has `n` entries.
void Emit(const char* family, const FeatureSpec* specs, int n, const char* aggregation,
          const std::vector<double>& values, FeatureList* out);

// --- Per-matrix formulas ----------------------------------------------------

inline constexpr int kNumGlcmFeatures = 25;
// GLCM features (IBSI order) of the count matrix `counts`, laid out
// (ng+1) x (ng+1) row-major with row/column 0 ignored (they absorb pairs with
// an outside voxel). `symmetric` adds the transpose. Returns false (and leaves
// `out` untouched) when the matrix holds no pair.
bool GlcmFeatures(const double* counts, int ng, bool symmetric, double* out);

// One (grey level i, run length / zone size / distance / dependence j) cell of
// a sparse matrix. Entries passed to RunLikeFeatures are unique per (j, i) and
// sorted by j.
struct RunEntry {
  int64_t j;
  int32_t i;
  double n;
};
// Sorts and merges duplicate (j, i) entries in place.
void CanonicalizeEntries(std::vector<RunEntry>* entries);

inline constexpr int kNumRunLikeFeatures = 17;
// The 16 features shared by GLRLM, GLSZM, GLDZM and NGLDM, in IBSI order
// (short/small/low-dependence emphasis, ..., percentage, grey level variance,
// j variance, j entropy) plus j energy (NGLDM only) as the 17th. `nv` is the
// voxel count used by the percentage. Returns false when no entry is nonzero.
bool RunLikeFeatures(const std::vector<RunEntry>& entries, int ng, double nv, double* out);

inline constexpr int kNumNgtdmFeatures = 5;
// NGTDM features from per-level voxel counts n[i] and sums s[i], i = 1..ng
// (index 0 unused). Returns false when no voxel had a valid neighbourhood.
bool NgtdmFeatures(const double* n, const double* s, int ng, double* out);

// --- Families ---------------------------------------------------------------
// Each appends its features for the aggregations selected in `options`.
// Grid padding must be at least the family's distance (1 for zones, runs).

void AppendGlcm(const Grid& grid, const TextureOptions& options, FeatureList* out);
void AppendGlrlm(const Grid& grid, const TextureOptions& options, FeatureList* out);
// GLSZM and GLDZM share one zone labelling. GLDZM needs grid.morph.
void AppendZones(const Grid& grid, const TextureOptions& options, bool glszm, bool gldzm,
                 FeatureList* out);
void AppendNgtdm(const Grid& grid, const TextureOptions& options, FeatureList* out);
void AppendNgldm(const Grid& grid, const TextureOptions& options, FeatureList* out);

}  // namespace fedrad::features::texture_internal

#endif  // FEDRAD_FEATURES_TEXTURE_INTERNAL_TEXTURE_INTERNAL_H_
