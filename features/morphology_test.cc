#include "features/morphology.h"

#include <cmath>
#include <map>
#include <random>

#include <gtest/gtest.h>

#include "features/features_testutil.h"

namespace fedrad::features {
namespace {

using features::testutil::Find;
using features::testutil::MakeBall;
using features::testutil::MakeGeometry;
using features::testutil::ToMask;

TEST(MarchingCubes, OneVoxelGivesTheEdgeMidpointOctahedron) {
  Geometry g = MakeGeometry(1, 1, 1, {1, 1, 1});
  Mesh mesh = MarchingCubes(g, {1});
  EXPECT_EQ(mesh.vertices.size(), 6u);
  EXPECT_EQ(mesh.triangles.size(), 8u);
  EXPECT_NEAR(mesh.Volume(), 1.0 / 6.0, 1e-12);
  EXPECT_NEAR(mesh.Area(), std::sqrt(3.0), 1e-12);
}

TEST(MarchingCubes, ScalesWithSpacing) {
  Geometry g = MakeGeometry(1, 1, 1, {2, 3, 4});
  Mesh mesh = MarchingCubes(g, {1});
  EXPECT_NEAR(mesh.Volume(), 24.0 / 6.0, 1e-12);
}

TEST(MarchingCubes, RandomMasksGiveClosedConsistentlyOrientedMeshes) {
  std::mt19937 rng(3);
  for (int trial = 0; trial < 20; ++trial) {
    Geometry g = MakeGeometry(6, 5, 4);
    std::vector<uint8_t> mask(g.NumVoxels());
    for (auto& m : mask) m = rng() % 2;
    Mesh mesh = MarchingCubes(g, mask);
    // Every directed edge appears exactly once and so does its reverse.
    std::map<std::pair<int, int>, int> edges;
    for (const auto& t : mesh.triangles) {
      for (int e = 0; e < 3; ++e) edges[{t[e], t[(e + 1) % 3]}]++;
    }
    for (const auto& [e, count] : edges) {
      ASSERT_EQ(count, 1) << "trial " << trial;
      ASSERT_EQ(edges.count({e.second, e.first}), 1u) << "trial " << trial;
    }
    int n = 0;
    for (auto m : mask) n += m;
    if (n > 0) {
      EXPECT_GT(mesh.Volume(), 0);
    }
  }
}

TEST(MarchingCubes, BallVolumeApproachesTheSphere) {
  Geometry g = MakeGeometry(41, 41, 41);
  auto mask = ToMask(MakeBall(g, {20, 20, 20}, 15));
  Mesh mesh = MarchingCubes(g, mask);
  double sphere = 4.0 / 3.0 * M_PI * 15 * 15 * 15;
  EXPECT_NEAR(mesh.Volume() / sphere, 1.0, 0.02);
  double area = 4 * M_PI * 15 * 15;
  EXPECT_NEAR(mesh.Area() / area, 1.0, 0.1);  // a staircase surface is larger
}

TEST(ConvexHull, OfABoxMeshIsTheMeshItself) {
  Geometry g = MakeGeometry(3, 4, 5);
  std::vector<uint8_t> mask(g.NumVoxels(), 1);
  Mesh mesh = MarchingCubes(g, mask);
  Hull hull = ConvexHullOfMesh(mesh, g.spacing);
  EXPECT_NEAR(hull.Volume(), mesh.Volume(), 1e-9);
  EXPECT_NEAR(hull.Area(), mesh.Area(), 1e-9);
}

TEST(ConvexHull, ContainsANonConvexMesh) {
  // An L shape: its hull is larger than the mesh.
  Geometry g = MakeGeometry(4, 4, 1);
  std::vector<uint8_t> mask = {1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 1, 1, 1};
  Mesh mesh = MarchingCubes(g, mask);
  Hull hull = ConvexHullOfMesh(mesh, g.spacing);
  EXPECT_GT(hull.Volume(), mesh.Volume() * 1.2);
  for (const auto& t : hull.triangles) {
    // Every hull face has every mesh vertex on or behind it.
    const auto& a = hull.vertices[t[0]];
    const auto& b = hull.vertices[t[1]];
    const auto& c = hull.vertices[t[2]];
    std::array<double, 3> u{b[0] - a[0], b[1] - a[1], b[2] - a[2]};
    std::array<double, 3> v{c[0] - a[0], c[1] - a[1], c[2] - a[2]};
    std::array<double, 3> n{u[1] * v[2] - u[2] * v[1], u[2] * v[0] - u[0] * v[2],
                            u[0] * v[1] - u[1] * v[0]};
    for (const auto& p : mesh.vertices) {
      double d = n[0] * (p[0] - a[0]) + n[1] * (p[1] - a[1]) + n[2] * (p[2] - a[2]);
      EXPECT_LE(d, 1e-9);
    }
  }
}

MorphologyInput BallInput(double radius, uint64_t seed, bool checkerboard = false) {
  Geometry g = MakeGeometry(2 * static_cast<int>(radius) + 5, 2 * static_cast<int>(radius) + 5,
                            2 * static_cast<int>(radius) + 5, {1, 1, 1});
  double c = radius + 2;
  MorphologyInput in;
  in.geometry = g;
  in.morph_mask = ToMask(MakeBall(g, {c, c, c}, radius));
  in.intensity_mask = in.morph_mask;
  in.intensities.resize(g.NumVoxels());
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> noise(0, 10);
  for (int z = 0; z < g.size[2]; ++z)
    for (int y = 0; y < g.size[1]; ++y)
      for (int x = 0; x < g.size[0]; ++x)
        in.intensities[g.Index(x, y, z)] =
            checkerboard ? ((x + y + z) % 2 ? 100.f : 0.f) : static_cast<float>(50 + x + noise(rng));
  return in;
}

TEST(MorphologyFeatures, BallHasSphericityNearOneAndEqualAxes) {
  MorphologyInput in = BallInput(10, 1);
  FeatureList f = MorphologyFeatures(in, MorphologyOptions{});
  ASSERT_EQ(f.size(), 25u);
  EXPECT_GT(Find(f, "morph", "sphericity")->value, 0.85);
  EXPECT_NEAR(Find(f, "morph", "elongation")->value, 1.0, 0.01);
  EXPECT_NEAR(Find(f, "morph", "flatness")->value, 1.0, 0.01);
  // Max diameter between hull vertices: about 2r + 1 (the mesh reaches half
  // a voxel beyond the outermost centres).
  EXPECT_NEAR(Find(f, "morph", "maximum_3d_diameter")->value, 21.0, 0.5);
  EXPECT_GT(Find(f, "morph", "volume_density_convex_hull")->value, 0.9);
  EXPECT_LE(Find(f, "morph", "volume_density_convex_hull")->value, 1.0);
}

TEST(MorphologyFeatures, CheckerboardHasNegativeMoransIAndGearyAboveOne) {
  MorphologyInput in = BallInput(4, 1, /*checkerboard=*/true);
  FeatureList f = MorphologyFeatures(in, MorphologyOptions{});
  EXPECT_LT(Find(f, "morph", "morans_i")->value, 0);
  EXPECT_GT(Find(f, "morph", "gearys_c")->value, 1);
}

TEST(MorphologyFeatures, SubsampledMoransIIsCloseToExact) {
  MorphologyInput in = BallInput(9, 5);  // ~3000 voxels
  MorphologyOptions exact;
  exact.spatial_autocorrelation_max_voxels = 1 << 30;
  MorphologyOptions approx;
  approx.spatial_autocorrelation_max_voxels = 1500;
  approx.spatial_autocorrelation_sample_voxels = 1500;
  approx.spatial_autocorrelation_fft_max_cells = 0;  // force subsampling
  approx.spatial_autocorrelation_repeats = 3;
  FeatureList fe = MorphologyFeatures(in, exact);
  FeatureList fa = MorphologyFeatures(in, approx);
  EXPECT_NEAR(Find(fa, "morph", "morans_i")->value, Find(fe, "morph", "morans_i")->value, 0.02);
  EXPECT_NEAR(Find(fa, "morph", "gearys_c")->value, Find(fe, "morph", "gearys_c")->value, 0.05);
}

TEST(MorphologyFeatures, FftAndPairSumGiveTheSameMoransIAndGearysC) {
  MorphologyInput in = BallInput(6, 9);
  in.geometry.spacing = {0.8, 0.9, 2.5};  // anisotropic weights
  MorphologyOptions direct;
  direct.spatial_autocorrelation_max_voxels = 1 << 30;
  direct.spatial_autocorrelation_direct_max_voxels = 1 << 30;
  MorphologyOptions fft = direct;
  fft.spatial_autocorrelation_direct_max_voxels = 0;
  FeatureList a = MorphologyFeatures(in, direct), b = MorphologyFeatures(in, fft);
  EXPECT_NEAR(Find(a, "morph", "morans_i")->value, Find(b, "morph", "morans_i")->value, 1e-6);
  EXPECT_NEAR(Find(a, "morph", "gearys_c")->value, Find(b, "morph", "gearys_c")->value, 1e-6);
}

TEST(MorphologyFeatures, OneVoxelGivesFiniteMeshValuesAndNanForUndefinedOnes) {
  MorphologyInput in;
  in.geometry = MakeGeometry(1, 1, 1, {2, 2, 2});
  in.morph_mask = {1};
  in.intensity_mask = {1};
  in.intensities = {40};
  FeatureList f = MorphologyFeatures(in, MorphologyOptions{});
  EXPECT_NEAR(Find(f, "morph", "volume_mesh")->value, 8.0 / 6.0, 1e-12);
  EXPECT_EQ(Find(f, "morph", "volume_voxel_counting")->value, 8.0);
  EXPECT_TRUE(std::isnan(Find(f, "morph", "elongation")->value));
  EXPECT_TRUE(std::isnan(Find(f, "morph", "morans_i")->value));
}

TEST(MorphologyFeatures, EmptyMaskGivesNoFeatures) {
  MorphologyInput in;
  in.geometry = MakeGeometry(2, 2, 2);
  in.morph_mask.assign(8, 0);
  in.intensity_mask.assign(8, 0);
  in.intensities.assign(8, 0);
  EXPECT_TRUE(MorphologyFeatures(in, MorphologyOptions{}).empty());
}

}  // namespace
}  // namespace fedrad::features
