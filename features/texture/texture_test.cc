// Behaviour of features/texture beyond the IBSI phantom values
// (texture_ibsi_test.cc): invariances, degenerate ROIs, option flags and
// error paths.
#include "features/texture/texture.h"

#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "core/testing/status_matchers.h"
#include "features/texture/texture_testutil.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fedrad::features {
namespace {

using ::fedrad::testing::StatusIs;

using testing::FindFeature;
using ::testing::HasSubstr;

std::map<std::string, double> ByKey(const FeatureList& list) {
  std::map<std::string, double> m;
  for (const FeatureValue& f : list)
    m[f.family + "|" + f.ibsi_code + "|" + f.aggregation] = f.value;
  return m;
}

FeatureList MustCompute(const DiscreteVolume& v, const TextureOptions& o = {}) {
  absl::StatusOr<FeatureList> r = ComputeTextureFeatures(v, o);
  EXPECT_OK(r);
  return r.ok() ? *r : FeatureList{};
}

// Expects equal values (NaN == NaN) for every key whose aggregation passes `keep`.
template <typename Keep>
void ExpectSameFeatures(const FeatureList& a, const FeatureList& b, Keep keep) {
  auto ma = ByKey(a), mb = ByKey(b);
  ASSERT_EQ(ma.size(), mb.size());
  int compared = 0;
  for (const auto& [key, va] : ma) {
    if (!keep(key)) continue;
    ASSERT_TRUE(mb.count(key)) << key;
    const double vb = mb[key];
    if (std::isnan(va) || std::isnan(vb)) {
      EXPECT_EQ(std::isnan(va), std::isnan(vb)) << key;
    } else {
      EXPECT_NEAR(va, vb, 1e-9 * std::max(1.0, std::fabs(va))) << key;
    }
    ++compared;
  }
  EXPECT_GT(compared, 0);
}

bool Is3D(const std::string& key) { return key.find("|3D") != std::string::npos; }
bool IsSliceWise(const std::string& key) { return !Is3D(key); }
bool Any(const std::string&) { return true; }

DiscreteVolume Phantom() {
  absl::StatusOr<DiscreteVolume> v = testing::LoadDigitalPhantom();
  EXPECT_OK(v);
  return *v;
}

// Applies `map(x, y, z) -> (x', y', z')` into a grid of size (nx', ny', nz').
template <typename Map>
DiscreteVolume Remap(const DiscreteVolume& v, int nx, int ny, int nz, Map map) {
  DiscreteVolume out = v;
  out.nx = nx, out.ny = ny, out.nz = nz;
  out.levels.assign(static_cast<size_t>(nx) * ny * nz, 0);
  out.morph_mask.assign(v.morph_mask.empty() ? 0 : out.levels.size(), 0);
  for (int z = 0; z < v.nz; ++z)
    for (int y = 0; y < v.ny; ++y)
      for (int x = 0; x < v.nx; ++x) {
        int a, b, c;
        map(x, y, z, &a, &b, &c);
        out.levels[out.Index(a, b, c)] = v.levels[v.Index(x, y, z)];
        if (!v.morph_mask.empty())
          out.morph_mask[out.Index(a, b, c)] = v.morph_mask[v.Index(x, y, z)];
      }
  return out;
}

TEST(Texture, EmitsEveryFamilyAndAggregationOnce) {
  FeatureList f = MustCompute(Phantom());
  // 25*6 + 16*6 + 16*3 + 16*3 + 5*3 + 17*3 = 408, as in the IBSI table.
  EXPECT_EQ(f.size(), 408u);
  EXPECT_EQ(ByKey(f).size(), 408u);
}

TEST(Texture, ReversingSliceOrderLeavesEveryFeatureUnchanged) {
  DiscreteVolume v = testing::MakeCtLikeSphere(20, 8.5, 8, 3);
  DiscreteVolume r = Remap(v, v.nx, v.ny, v.nz, [&](int x, int y, int z, int* a, int* b, int* c) {
    *a = x, *b = y, *c = v.nz - 1 - z;
  });
  ExpectSameFeatures(MustCompute(v), MustCompute(r), Any);
}

TEST(Texture, PermutingSlicesLeaves2DAnd25DFeaturesUnchanged) {
  DiscreteVolume v = Phantom();
  const int perm[4] = {2, 0, 3, 1};
  DiscreteVolume p = Remap(v, v.nx, v.ny, v.nz, [&](int x, int y, int z, int* a, int* b, int* c) {
    *a = x, *b = y, *c = perm[z];
  });
  ExpectSameFeatures(MustCompute(v), MustCompute(p), IsSliceWise);
}

TEST(Texture, SwappingXAndYLeavesEveryFeatureUnchanged) {
  DiscreteVolume v = Phantom();
  DiscreteVolume t = Remap(v, v.ny, v.nx, v.nz, [](int x, int y, int z, int* a, int* b, int* c) {
    *a = y, *b = x, *c = z;
  });
  ExpectSameFeatures(MustCompute(v), MustCompute(t), Any);
}

TEST(Texture, MirroringLeavesSymmetricFeaturesUnchanged) {
  DiscreteVolume v = testing::MakeCtLikeSphere(16, 6.5, 6, 11);
  DiscreteVolume m = Remap(v, v.nx, v.ny, v.nz, [&](int x, int y, int z, int* a, int* b, int* c) {
    *a = v.nx - 1 - x, *b = y, *c = z;
  });
  ExpectSameFeatures(MustCompute(v), MustCompute(m), Any);
}

TEST(Texture, EmbeddingInALargerGridChangesNothing) {
  DiscreteVolume v = Phantom();
  DiscreteVolume big = Remap(v, 11, 9, 7, [](int x, int y, int z, int* a, int* b, int* c) {
    *a = x + 3, *b = y + 2, *c = z + 1;
  });
  ExpectSameFeatures(MustCompute(v), MustCompute(big), Any);
}

TEST(Texture, SymmetricGlcmEqualsAsymmetricGlcmOfVolumeAndItsMirror) {
  // A symmetric GLCM counts each pair both ways; an asymmetric one of a volume
  // whose reversed copy follows it along x (with a gap) counts the same pairs.
  DiscreteVolume v = Phantom();
  const int gap = 2;
  DiscreteVolume both = v;
  both.nx = 2 * v.nx + gap;
  both.levels.assign(static_cast<size_t>(both.nx) * v.ny * v.nz, 0);
  both.morph_mask.clear();
  for (int z = 0; z < v.nz; ++z)
    for (int y = 0; y < v.ny; ++y)
      for (int x = 0; x < v.nx; ++x) {
        const int32_t l = v.levels[v.Index(x, y, z)];
        both.levels[both.Index(x, y, z)] = l;
        both.levels[both.Index(both.nx - 1 - x, v.ny - 1 - y, v.nz - 1 - z)] = l;
      }
  TextureOptions sym, asym;
  asym.glcm_symmetric = false;
  FeatureList a = *ComputeGlcmFeatures(both, asym);
  FeatureList s = *ComputeGlcmFeatures(both, sym);
  for (const char* agg : {"2.5D merged", "3D merged"}) {
    for (const char* code : {"GYBY", "NI2N", "TU9B", "7NFM"}) {
      EXPECT_NEAR(FindFeature(a, "glcm", code, agg), FindFeature(s, "glcm", code, agg), 1e-12)
          << code << " " << agg;
    }
  }
  // ...while on the phantom alone asymmetric counting differs.
  FeatureList pa = *ComputeGlcmFeatures(v, asym), ps = *ComputeGlcmFeatures(v, sym);
  EXPECT_NE(FindFeature(pa, "glcm", "7NFM", "3D merged"),
            FindFeature(ps, "glcm", "7NFM", "3D merged"));
}

TEST(Texture, PerFamilyFunctionsMatchTheCombinedCall) {
  DiscreteVolume v = testing::MakeCtLikeSphere(18, 7.5, 10, 5);
  auto all = ByKey(MustCompute(v));
  using Fn = absl::StatusOr<FeatureList> (*)(const DiscreteVolume&, const TextureOptions&);
  const std::vector<std::pair<std::string, Fn>> fns = {
      {"glcm", ComputeGlcmFeatures},   {"glrlm", ComputeGlrlmFeatures},
      {"glszm", ComputeGlszmFeatures}, {"gldzm", ComputeGldzmFeatures},
      {"ngtdm", ComputeNgtdmFeatures}, {"ngldm", ComputeNgldmFeatures}};
  size_t total = 0;
  for (const auto& [family, fn] : fns) {
    absl::StatusOr<FeatureList> r = fn(v, TextureOptions{});
    ASSERT_OK(r);
    for (const FeatureValue& f : *r) {
      EXPECT_EQ(f.family, family);
      EXPECT_TRUE(std::isfinite(f.value)) << f.family << " " << f.feature << " " << f.aggregation;
      EXPECT_DOUBLE_EQ(f.value, all[f.family + "|" + f.ibsi_code + "|" + f.aggregation]);
    }
    total += r->size();
  }
  EXPECT_EQ(total, all.size());
}

TEST(Texture, AggregationFlagsSelectLabels) {
  TextureOptions o;
  o.compute_2d = false;
  o.compute_25d = false;
  for (const FeatureValue& f : MustCompute(Phantom(), o)) {
    EXPECT_THAT(f.aggregation, ::testing::StartsWith("3D"));
  }
  o.compute_3d = false;
  o.compute_2d = true;
  FeatureList only2d = MustCompute(Phantom(), o);
  EXPECT_EQ(only2d.size(), 25u * 2 + 16u * 2 + 16 + 16 + 5 + 17);
  // The 2D values do not depend on which other aggregations were requested.
  auto full = ByKey(MustCompute(Phantom()));
  for (const FeatureValue& f : only2d) {
    EXPECT_DOUBLE_EQ(f.value, full[f.family + "|" + f.ibsi_code + "|" + f.aggregation]);
  }
}

TEST(Texture, SlicesWithoutRoiAreSkippedIn2DAveraging) {
  DiscreteVolume v = Phantom();
  // Insert an empty slice between z=1 and z=2: 2D averages must not change.
  DiscreteVolume gap = Remap(
      v, v.nx, v.ny, v.nz + 1,
      [](int x, int y, int z, int* a, int* b, int* c) { *a = x, *b = y, *c = z < 2 ? z : z + 1; });
  ExpectSameFeatures(MustCompute(v), MustCompute(gap), IsSliceWise);
}

TEST(Texture, SingleGreyLevelHasDocumentedValues) {
  DiscreteVolume v;
  v.nx = v.ny = v.nz = 3;
  v.num_levels = 4;
  v.levels.assign(27, 2);
  FeatureList f = MustCompute(v);
  for (const char* agg : {"2D averaged", "3D merged"}) {
    EXPECT_DOUBLE_EQ(FindFeature(f, "glcm", "GYBY", agg), 1.0);  // joint maximum
    EXPECT_DOUBLE_EQ(FindFeature(f, "glcm", "NI2N", agg), 1.0);  // correlation, by convention
    EXPECT_DOUBLE_EQ(FindFeature(f, "glcm", "R8DG", agg), 0.0);  // information correlation 1
    EXPECT_DOUBLE_EQ(FindFeature(f, "glcm", "JN9H", agg), 0.0);  // information correlation 2
    EXPECT_DOUBLE_EQ(FindFeature(f, "glcm", "ACUI", agg), 0.0);  // contrast
  }
  // One 3D zone of 27 voxels at distance 1 (it touches the image border).
  EXPECT_DOUBLE_EQ(FindFeature(f, "glszm", "48P8", "3D"), 27.0 * 27.0);
  EXPECT_DOUBLE_EQ(FindFeature(f, "glszm", "P30P", "3D"), 1.0 / 27.0);
  EXPECT_DOUBLE_EQ(FindFeature(f, "gldzm", "0GBI", "3D"), 1.0);
  // NGTDM: every voxel equals its neighbourhood mean, so s_i = 0.
  EXPECT_DOUBLE_EQ(FindFeature(f, "ngtdm", "QCDE", "3D"), 1e6);
  EXPECT_DOUBLE_EQ(FindFeature(f, "ngtdm", "65HE", "3D"), 0.0);
  EXPECT_DOUBLE_EQ(FindFeature(f, "ngtdm", "NQ30", "3D"), 0.0);
  EXPECT_DOUBLE_EQ(FindFeature(f, "ngtdm", "1X9X", "3D"), 0.0);
  EXPECT_DOUBLE_EQ(FindFeature(f, "ngldm", "6XV8", "3D"), 1.0);  // every voxel counted
}

TEST(Texture, LargeZonesOfEqualSizeAreMergedIntoOneColumn) {
  // Two 6x12x12 halves of levels 1 and 2: two zones of 864 voxels (beyond the
  // dense part of the zone histogram), same size, different levels.
  DiscreteVolume v;
  v.nx = v.ny = v.nz = 12;
  v.num_levels = 2;
  v.levels.resize(12 * 12 * 12);
  for (int z = 0; z < 12; ++z)
    for (int y = 0; y < 12; ++y)
      for (int x = 0; x < 12; ++x) v.levels[v.Index(x, y, z)] = x < 6 ? 1 : 2;
  FeatureList f = *ComputeGlszmFeatures(v, TextureOptions{});
  EXPECT_DOUBLE_EQ(FindFeature(f, "glszm", "48P8", "3D"), 864.0 * 864.0);  // large zone emphasis
  EXPECT_DOUBLE_EQ(FindFeature(f, "glszm", "JNSA", "3D"), 1.0);  // grey level non-uniformity
  EXPECT_DOUBLE_EQ(FindFeature(f, "glszm", "4JP3", "3D"), 2.0);  // zone size non-uniformity
  EXPECT_DOUBLE_EQ(FindFeature(f, "glszm", "GU8N", "3D"), 1.0);  // zone size entropy
  // 2.5D: 24 zones of 72 voxels.
  EXPECT_DOUBLE_EQ(FindFeature(f, "glszm", "48P8", "2.5D"), 72.0 * 72.0);
  EXPECT_DOUBLE_EQ(FindFeature(f, "glszm", "4JP3", "2.5D"), 24.0);
}

TEST(Texture, OneVoxelRoiGivesNaNWhereNoMatrixExists) {
  DiscreteVolume v;
  v.nx = v.ny = v.nz = 3;
  v.num_levels = 3;
  v.levels.assign(27, 0);
  v.levels[v.Index(1, 1, 1)] = 2;
  FeatureList f = MustCompute(v);
  EXPECT_EQ(f.size(), 408u);
  EXPECT_TRUE(std::isnan(FindFeature(f, "glcm", "GYBY", "3D merged")));  // no voxel pair
  EXPECT_TRUE(std::isnan(FindFeature(f, "ngtdm", "QCDE", "3D")));        // no neighbour
  EXPECT_DOUBLE_EQ(FindFeature(f, "glrlm", "22OV", "3D merged"), 1.0);   // runs of length 1
  EXPECT_DOUBLE_EQ(FindFeature(f, "glrlm", "9ZK5", "3D merged"), 1.0);
  EXPECT_DOUBLE_EQ(FindFeature(f, "glszm", "5QRC", "2D"), 1.0);
  EXPECT_DOUBLE_EQ(FindFeature(f, "gldzm", "0GBI", "3D"), 1.0);
  EXPECT_DOUBLE_EQ(FindFeature(f, "ngldm", "SODN", "3D"), 1.0);  // dependence count 1
}

TEST(Texture, HandComputedLineOfThreeVoxels) {
  // Levels 1 1 2 along x in one slice. GLRLM along x: runs (1, length 2) and
  // (2, length 1); in the other 3 in-plane directions every voxel is its own
  // run. 2D slice-merged matrix: (1,2) x1, (1,1) x6, (2,1) x4 -> 11 runs over
  // 12 voxel-directions: run percentage 11/12, short runs emphasis
  // (1/4 + 10)/11.
  DiscreteVolume v;
  v.nx = 3, v.ny = 1, v.nz = 1;
  v.num_levels = 2;
  v.levels = {1, 1, 2};
  FeatureList f = MustCompute(v);
  EXPECT_NEAR(FindFeature(f, "glrlm", "9ZK5", "2D slice-merged"), 11.0 / 12.0, 1e-12);
  EXPECT_NEAR(FindFeature(f, "glrlm", "22OV", "2D slice-merged"), (0.25 + 10.0) / 11.0, 1e-12);
  // GLCM along x only has pairs (1,1) and (1,2); symmetric: p11 = 1/2,
  // p12 = p21 = 1/4 -> joint maximum 0.5, contrast 0.5.
  EXPECT_NEAR(FindFeature(f, "glcm", "GYBY", "3D merged"), 0.5, 1e-12);
  EXPECT_NEAR(FindFeature(f, "glcm", "ACUI", "3D merged"), 0.5, 1e-12);
  // Two zones: {1,1} of size 2 and {2} of size 1.
  EXPECT_NEAR(FindFeature(f, "glszm", "5QRC", "3D"), (0.25 + 1.0) / 2.0, 1e-12);
  // NGTDM: voxel 1 (level 1) sees {1}: |1-1| = 0; voxel 2 sees {1,2}: 0.5;
  // voxel 3 (level 2) sees {1}: 1. n = (2, 1), s = (0.5, 1).
  // Coarseness = 1 / (2/3 * 0.5 + 1/3 * 1) = 1.5.
  EXPECT_NEAR(FindFeature(f, "ngtdm", "QCDE", "3D"), 1.5, 1e-12);
  // NGLDM alpha 0: counts 2, 2, 1 -> low dependence emphasis (1/4+1/4+1)/3.
  EXPECT_NEAR(FindFeature(f, "ngldm", "SODN", "3D"), 1.5 / 3.0, 1e-12);
}

TEST(Texture, GldzmDistanceUsesMorphologicalMask) {
  // A 5x5x1 slab: the intensity mask is the centre voxel only, the
  // morphological mask the whole slab. In 2D the centre is 3 steps from the
  // slab border (distance 3); in 3D the slab is one voxel thick (distance 1).
  DiscreteVolume v;
  v.nx = 5, v.ny = 5, v.nz = 1;
  v.num_levels = 1;
  v.levels.assign(25, 0);
  v.levels[v.Index(2, 2, 0)] = 1;
  v.morph_mask.assign(25, 1);
  FeatureList f = *ComputeGldzmFeatures(v, TextureOptions{});
  EXPECT_DOUBLE_EQ(FindFeature(f, "gldzm", "MB4I", "2D"), 9.0);  // large distance emphasis = d^2
  EXPECT_DOUBLE_EQ(FindFeature(f, "gldzm", "MB4I", "3D"), 1.0);
}

TEST(Texture, RejectsInvalidInput) {
  DiscreteVolume good = Phantom();
  auto expect_invalid = [](const DiscreteVolume& v, const TextureOptions& o, const char* text) {
    absl::StatusOr<FeatureList> r = ComputeTextureFeatures(v, o);
    ASSERT_THAT(r, StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(text))) << text;
  };
  DiscreteVolume v = good;
  std::fill(v.levels.begin(), v.levels.end(), 0);
  expect_invalid(v, {}, "ROI is empty");
  v = good;
  v.levels[3] = 7;
  expect_invalid(v, {}, "grey level 7 at (x=3, y=0, z=0)");
  v = good;
  v.levels[5] = -1;
  expect_invalid(v, {}, "grey level -1");
  v = good;
  v.levels.pop_back();
  expect_invalid(v, {}, "levels has 79 values");
  v = good;
  v.morph_mask.resize(3);
  expect_invalid(v, {}, "morph_mask has 3 values");
  v = good;
  v.num_levels = 0;
  expect_invalid(v, {}, "num_levels must be in 1..1024, got 0");
  v.num_levels = 1025;
  expect_invalid(v, {}, "num_levels must be in 1..1024, got 1025");
  v = good;
  v.nz = 0;
  expect_invalid(v, {}, "grid size");
  TextureOptions o;
  o.glcm_distance = 0;
  expect_invalid(good, o, "distances must be >= 1");
  o = TextureOptions{};
  o.ngldm_alpha = -1;
  expect_invalid(good, o, "ngldm_alpha");
  v = good;
  v.morph_mask[0] = 0;  // (0,0,0) has grey level 1
  expect_invalid(v, {}, "morphological mask");
  // Without GLDZM the same volume is fine.
  TextureOptions no_gldzm;
  no_gldzm.gldzm = false;
  EXPECT_OK(ComputeTextureFeatures(v, no_gldzm));
}

TEST(Texture, LargerDistancesRunAndDiffer) {
  DiscreteVolume v = testing::MakeCtLikeSphere(20, 8.5, 8, 9);
  TextureOptions o;
  o.glcm_distance = 2;
  o.ngtdm_distance = 2;
  o.ngldm_distance = 2;
  o.ngldm_alpha = 1;
  FeatureList far = MustCompute(v, o), near = MustCompute(v);
  for (const FeatureValue& f : far) EXPECT_TRUE(std::isfinite(f.value)) << f.feature;
  EXPECT_NE(FindFeature(far, "glcm", "ACUI", "3D merged"),
            FindFeature(near, "glcm", "ACUI", "3D merged"));
  EXPECT_NE(FindFeature(far, "ngtdm", "QCDE", "3D"), FindFeature(near, "ngtdm", "QCDE", "3D"));
  EXPECT_NE(FindFeature(far, "ngldm", "IMOQ", "3D"), FindFeature(near, "ngldm", "IMOQ", "3D"));
}

}  // namespace
}  // namespace fedrad::features
