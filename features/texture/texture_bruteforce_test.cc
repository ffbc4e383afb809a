// Cross-checks the fast matrix construction (branchless counting, run-based
// zone union-find, box sums) against straightforward per-voxel reference
// implementations written here, on seeded random volumes with holes and with
// non-default distances and alpha. The per-matrix formulas are shared (they
// are checked against IBSI in texture_ibsi_test.cc); this test checks that the
// matrices fed to them are right.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "features/texture/internal/texture_internal.h"
#include "features/texture/texture.h"
#include "features/texture/texture_testutil.h"
#include "gtest/gtest.h"

namespace fedrad::features {
namespace {

using texture_internal::RunEntry;

// A random volume: levels 1..ng with runs of repeated values (so zones and
// runs are longer than one voxel), about 15% holes.
DiscreteVolume RandomVolume(int nx, int ny, int nz, int ng, uint32_t seed) {
  DiscreteVolume v;
  v.nx = nx, v.ny = ny, v.nz = nz;
  v.num_levels = ng;
  v.levels.resize(static_cast<size_t>(nx) * ny * nz);
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> level(1, ng);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  int last = 1;
  for (int32_t& l : v.levels) {
    if (u(rng) < 0.15) {
      l = 0;
    } else {
      last = u(rng) < 0.5 ? last : level(rng);
      l = last;
    }
  }
  return v;
}

struct Ref {
  const DiscreteVolume& v;
  int At(int x, int y, int z) const {
    if (x < 0 || y < 0 || z < 0 || x >= v.nx || y >= v.ny || z >= v.nz) return 0;
    return v.levels[v.Index(x, y, z)];
  }
};

std::vector<double> Compare3D(const FeatureList& list, const std::string& family) {
  std::vector<double> values;
  for (const FeatureValue& f : list) {
    if (f.family == family &&
        f.aggregation == (family == "glcm" || family == "glrlm" ? "3D merged" : "3D")) {
      values.push_back(f.value);
    }
  }
  return values;
}

void ExpectNear(const std::vector<double>& got, const double* want, int n, const char* what) {
  ASSERT_EQ(static_cast<int>(got.size()), n) << what;
  for (int k = 0; k < n; ++k) {
    EXPECT_NEAR(got[k], want[k], 1e-9 * std::max(1.0, std::fabs(want[k]))) << what << " #" << k;
  }
}

class BruteForce : public ::testing::TestWithParam<uint32_t> {};

TEST_P(BruteForce, Glcm3DMergedAtDistanceTwo) {
  const DiscreteVolume v = RandomVolume(9, 8, 7, 5, GetParam());
  const Ref ref{v};
  const int ng = v.num_levels, d = 2;
  std::vector<double> counts((ng + 1) * (ng + 1), 0.0);
  for (const auto& m : texture_internal::Directions()) {
    for (int z = 0; z < v.nz; ++z)
      for (int y = 0; y < v.ny; ++y)
        for (int x = 0; x < v.nx; ++x) {
          const int a = ref.At(x, y, z), b = ref.At(x + d * m.dx, y + d * m.dy, z + d * m.dz);
          if (a > 0 && b > 0) counts[a * (ng + 1) + b] += 1.0;
        }
  }
  double want[texture_internal::kNumGlcmFeatures];
  ASSERT_TRUE(texture_internal::GlcmFeatures(counts.data(), ng, true, want));
  TextureOptions o;
  o.glcm_distance = d;
  ExpectNear(Compare3D(*ComputeGlcmFeatures(v, o), "glcm"), want,
             texture_internal::kNumGlcmFeatures, "glcm");
}

TEST_P(BruteForce, Glrlm3DMerged) {
  const DiscreteVolume v = RandomVolume(9, 8, 7, 4, GetParam());
  const Ref ref{v};
  std::vector<RunEntry> entries;
  double nv = 0.0;
  for (const auto& m : texture_internal::Directions()) {
    for (int z = 0; z < v.nz; ++z)
      for (int y = 0; y < v.ny; ++y)
        for (int x = 0; x < v.nx; ++x) {
          const int a = ref.At(x, y, z);
          if (a == 0 || ref.At(x - m.dx, y - m.dy, z - m.dz) == a) continue;
          int len = 1;
          while (ref.At(x + len * m.dx, y + len * m.dy, z + len * m.dz) == a) ++len;
          entries.push_back(RunEntry{len, a, 1.0});
          nv += len;
        }
  }
  texture_internal::CanonicalizeEntries(&entries);
  double want[texture_internal::kNumRunLikeFeatures];
  ASSERT_TRUE(texture_internal::RunLikeFeatures(entries, v.num_levels, nv, want));
  ExpectNear(Compare3D(*ComputeGlrlmFeatures(v, {}), "glrlm"), want, 16, "glrlm");
}

TEST_P(BruteForce, GlszmAndGldzm3DByFloodFill) {
  DiscreteVolume v = RandomVolume(10, 9, 8, 3, GetParam());
  const Ref ref{v};
  // The morphological mask: the ROI plus its holes' neighbourhood, so that
  // distances differ from the intensity mask's.
  v.morph_mask.assign(v.levels.size(), 0);
  for (size_t k = 0; k < v.levels.size(); ++k) v.morph_mask[k] = v.levels[k] > 0 || k % 3 == 0;
  // City-block distance to the nearest voxel outside the morph mask (the
  // image border counts as outside): brute force over all outside positions.
  auto inside = [&](int x, int y, int z) {
    if (x < 0 || y < 0 || z < 0 || x >= v.nx || y >= v.ny || z >= v.nz) return false;
    return v.morph_mask[v.Index(x, y, z)] != 0;
  };
  auto distance = [&](int x, int y, int z) {
    int best = 1 << 20;
    for (int c = -1; c <= v.nz; ++c)
      for (int b = -1; b <= v.ny; ++b)
        for (int a = -1; a <= v.nx; ++a)
          if (!inside(a, b, c))
            best = std::min(best, std::abs(a - x) + std::abs(b - y) + std::abs(c - z));
    return best;
  };
  std::vector<int> seen(v.levels.size(), 0);
  std::vector<RunEntry> sizes, dists;
  for (int z = 0; z < v.nz; ++z)
    for (int y = 0; y < v.ny; ++y)
      for (int x = 0; x < v.nx; ++x) {
        const int a = ref.At(x, y, z);
        if (a == 0 || seen[v.Index(x, y, z)]) continue;
        std::vector<std::array<int, 3>> todo = {{x, y, z}};
        seen[v.Index(x, y, z)] = 1;
        int64_t size = 0;
        int dmin = 1 << 20;
        while (!todo.empty()) {
          auto [px, py, pz] = todo.back();
          todo.pop_back();
          ++size;
          dmin = std::min(dmin, distance(px, py, pz));
          for (int dz = -1; dz <= 1; ++dz)
            for (int dy = -1; dy <= 1; ++dy)
              for (int dx = -1; dx <= 1; ++dx) {
                const int qx = px + dx, qy = py + dy, qz = pz + dz;
                if (ref.At(qx, qy, qz) != a || seen[v.Index(qx, qy, qz)]) continue;
                seen[v.Index(qx, qy, qz)] = 1;
                todo.push_back({qx, qy, qz});
              }
        }
        sizes.push_back(RunEntry{size, a, 1.0});
        dists.push_back(RunEntry{dmin, a, 1.0});
      }
  double nv = 0;
  for (int32_t l : v.levels) nv += l > 0;
  texture_internal::CanonicalizeEntries(&sizes);
  texture_internal::CanonicalizeEntries(&dists);
  double want_size[texture_internal::kNumRunLikeFeatures],
      want_dist[texture_internal::kNumRunLikeFeatures];
  ASSERT_TRUE(texture_internal::RunLikeFeatures(sizes, v.num_levels, nv, want_size));
  ASSERT_TRUE(texture_internal::RunLikeFeatures(dists, v.num_levels, nv, want_dist));
  ExpectNear(Compare3D(*ComputeGlszmFeatures(v, {}), "glszm"), want_size, 16, "glszm");
  ExpectNear(Compare3D(*ComputeGldzmFeatures(v, {}), "gldzm"), want_dist, 16, "gldzm");
}

TEST_P(BruteForce, GlszmAndGldzm25DByInPlaneFloodFill) {
  DiscreteVolume v = RandomVolume(11, 10, 5, 3, GetParam() + 100);
  const Ref ref{v};
  v.morph_mask.assign(v.levels.size(), 0);
  for (size_t k = 0; k < v.levels.size(); ++k) v.morph_mask[k] = v.levels[k] > 0 || k % 4 == 1;
  // In-plane city-block distance to the nearest non-mask pixel of the slice.
  auto distance = [&](int x, int y, int z) {
    int best = 1 << 20;
    for (int b = -1; b <= v.ny; ++b)
      for (int a = -1; a <= v.nx; ++a) {
        const bool in =
            a >= 0 && b >= 0 && a < v.nx && b < v.ny && v.morph_mask[v.Index(a, b, z)] != 0;
        if (!in) best = std::min(best, std::abs(a - x) + std::abs(b - y));
      }
    return best;
  };
  std::vector<int> seen(v.levels.size(), 0);
  std::vector<RunEntry> sizes, dists;
  for (int z = 0; z < v.nz; ++z)
    for (int y = 0; y < v.ny; ++y)
      for (int x = 0; x < v.nx; ++x) {
        const int a = ref.At(x, y, z);
        if (a == 0 || seen[v.Index(x, y, z)]) continue;
        std::vector<std::array<int, 2>> todo = {{x, y}};
        seen[v.Index(x, y, z)] = 1;
        int64_t size = 0;
        int dmin = 1 << 20;
        while (!todo.empty()) {
          auto [px, py] = todo.back();
          todo.pop_back();
          ++size;
          dmin = std::min(dmin, distance(px, py, z));
          for (int dy = -1; dy <= 1; ++dy)
            for (int dx = -1; dx <= 1; ++dx) {
              const int qx = px + dx, qy = py + dy;
              if (ref.At(qx, qy, z) != a || seen[v.Index(qx, qy, z)]) continue;
              seen[v.Index(qx, qy, z)] = 1;
              todo.push_back({qx, qy});
            }
        }
        sizes.push_back(RunEntry{size, a, 1.0});
        dists.push_back(RunEntry{dmin, a, 1.0});
      }
  double nv = 0;
  for (int32_t l : v.levels) nv += l > 0;
  texture_internal::CanonicalizeEntries(&sizes);
  texture_internal::CanonicalizeEntries(&dists);
  double want_size[texture_internal::kNumRunLikeFeatures],
      want_dist[texture_internal::kNumRunLikeFeatures];
  ASSERT_TRUE(texture_internal::RunLikeFeatures(sizes, v.num_levels, nv, want_size));
  ASSERT_TRUE(texture_internal::RunLikeFeatures(dists, v.num_levels, nv, want_dist));
  auto merged25 = [](const FeatureList& list) {
    std::vector<double> values;
    for (const FeatureValue& f : list)
      if (f.aggregation == "2.5D") values.push_back(f.value);
    return values;
  };
  ExpectNear(merged25(*ComputeGlszmFeatures(v, {})), want_size, 16, "glszm 2.5D");
  ExpectNear(merged25(*ComputeGldzmFeatures(v, {})), want_dist, 16, "gldzm 2.5D");
}

TEST_P(BruteForce, Ngtdm3DAtDistanceTwo) {
  const DiscreteVolume v = RandomVolume(9, 8, 7, 6, GetParam());
  const Ref ref{v};
  const int r = 2, ng = v.num_levels;
  std::vector<double> n(ng + 1, 0.0), s(ng + 1, 0.0);
  for (int z = 0; z < v.nz; ++z)
    for (int y = 0; y < v.ny; ++y)
      for (int x = 0; x < v.nx; ++x) {
        const int a = ref.At(x, y, z);
        if (a == 0) continue;
        double sum = 0;
        int w = 0;
        for (int dz = -r; dz <= r; ++dz)
          for (int dy = -r; dy <= r; ++dy)
            for (int dx = -r; dx <= r; ++dx) {
              const int b = ref.At(x + dx, y + dy, z + dz);
              if ((dx || dy || dz) && b > 0) sum += b, ++w;
            }
        if (w == 0) continue;
        n[a] += 1;
        s[a] += std::fabs(a - sum / w);
      }
  double want[texture_internal::kNumNgtdmFeatures];
  ASSERT_TRUE(texture_internal::NgtdmFeatures(n.data(), s.data(), ng, want));
  TextureOptions o;
  o.ngtdm_distance = r;
  ExpectNear(Compare3D(*ComputeNgtdmFeatures(v, o), "ngtdm"), want,
             texture_internal::kNumNgtdmFeatures, "ngtdm");
}

TEST_P(BruteForce, Ngldm3DAtDistanceTwoAlphaOne) {
  const DiscreteVolume v = RandomVolume(9, 8, 7, 6, GetParam());
  const Ref ref{v};
  const int r = 2, alpha = 1;
  std::vector<RunEntry> entries;
  double nv = 0;
  for (int z = 0; z < v.nz; ++z)
    for (int y = 0; y < v.ny; ++y)
      for (int x = 0; x < v.nx; ++x) {
        const int a = ref.At(x, y, z);
        if (a == 0) continue;
        int j = 1;
        for (int dz = -r; dz <= r; ++dz)
          for (int dy = -r; dy <= r; ++dy)
            for (int dx = -r; dx <= r; ++dx) {
              const int b = ref.At(x + dx, y + dy, z + dz);
              if ((dx || dy || dz) && b > 0 && std::abs(b - a) <= alpha) ++j;
            }
        entries.push_back(RunEntry{j, a, 1.0});
        ++nv;
      }
  texture_internal::CanonicalizeEntries(&entries);
  double want[texture_internal::kNumRunLikeFeatures];
  ASSERT_TRUE(texture_internal::RunLikeFeatures(entries, v.num_levels, nv, want));
  TextureOptions o;
  o.ngldm_distance = r;
  o.ngldm_alpha = alpha;
  ExpectNear(Compare3D(*ComputeNgldmFeatures(v, o), "ngldm"), want,
             texture_internal::kNumRunLikeFeatures, "ngldm");
}

INSTANTIATE_TEST_SUITE_P(Seeds, BruteForce, ::testing::Values(1u, 2u, 3u, 4u));

}  // namespace
}  // namespace fedrad::features
