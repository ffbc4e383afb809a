#include "features/regions.h"

#include <random>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/testing/status_matchers.h"
#include "features/features_testutil.h"

namespace fedrad::features {
namespace {

using features::testutil::MakeBall;
using features::testutil::MakeGeometry;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

int Count(const std::vector<uint8_t>& m) {
  int n = 0;
  for (auto v : m) n += v;
  return n;
}

TEST(PlanRegions, ConnectedComponentsAreLesionsOrderedBySize) {
  Geometry g = MakeGeometry(30, 20, 20);
  LabelVolume lesions = MakeBall(g, {6, 10, 10}, 2);
  LabelVolume big = MakeBall(g, {20, 10, 10}, 4);
  for (size_t i = 0; i < big.voxels.size(); ++i) lesions.voxels[i] |= big.voxels[i];
  auto plan = PlanRegions(lesions, nullptr, RegionOptions{});
  ASSERT_OK(plan);
  EXPECT_THAT(plan->names, ElementsAre("lesion_1", "lesion_2", "lesions"));
  ASSERT_EQ(plan->lesions.size(), 2u);
  EXPECT_GT(plan->lesions[0].voxels, plan->lesions[1].voxels);
  EXPECT_EQ(Count(plan->Mask("lesion_1")), plan->lesions[0].voxels);
  EXPECT_EQ(Count(plan->Mask("lesions")), plan->lesions[0].voxels + plan->lesions[1].voxels);
  EXPECT_DOUBLE_EQ(plan->total_lesion_volume_mm3,
                   static_cast<double>(plan->lesions[0].voxels + plan->lesions[1].voxels));
}

TEST(PlanRegions, DistinctLabelsAreLesionsEvenWhenTouching) {
  Geometry g = MakeGeometry(10, 4, 4);
  LabelVolume lesions{g, std::vector<int32_t>(g.NumVoxels(), 0)};
  for (int x = 0; x < 3; ++x) lesions.at(x, 1, 1) = 5;
  for (int x = 3; x < 5; ++x) lesions.at(x, 1, 1) = 2;
  auto plan = PlanRegions(lesions, nullptr, RegionOptions{});
  ASSERT_OK(plan);
  ASSERT_EQ(plan->lesions.size(), 2u);
  EXPECT_EQ(plan->lesions[0].voxels, 3);
  RegionOptions components;
  components.split = RegionOptions::LesionSplit::kConnectedComponents;
  auto merged = PlanRegions(lesions, nullptr, components);
  EXPECT_EQ(merged->lesions.size(), 1u);
}

TEST(PlanRegions, BkgIsLiverMinusLesionsMinusMargin) {
  Geometry g = MakeGeometry(30, 30, 30);
  LabelVolume liver = MakeBall(g, {15, 15, 15}, 12);
  LabelVolume lesion = MakeBall(g, {15, 15, 15}, 3);
  auto plan = PlanRegions(lesion, &liver, RegionOptions{});
  ASSERT_OK(plan);
  EXPECT_THAT(plan->names, ElementsAre("lesion_1", "lesions", "liver", "bkg"));
  int n_liver = Count(plan->Mask("liver")), n_lesion = Count(plan->Mask("lesions"));
  EXPECT_EQ(Count(plan->Mask("bkg")), n_liver - n_lesion);
  RegionOptions margin;
  margin.bkg_margin_mm = 2;
  auto with_margin = PlanRegions(lesion, &liver, margin);
  auto bkg = with_margin->Mask("bkg");
  EXPECT_LT(Count(bkg), n_liver - n_lesion);
  // Lesion voxel (18,15,15): (20,15,15) is 2 mm away (excluded), (21,15,15)
  // 3 mm (kept).
  EXPECT_EQ(bkg[g.Index(20, 15, 15)], 0);
  EXPECT_EQ(bkg[g.Index(21, 15, 15)], 1);
}

TEST(DilateByBall, UsesPhysicalDistance) {
  Geometry g = MakeGeometry(11, 11, 11, {1, 1, 3});
  std::vector<uint8_t> m(g.NumVoxels(), 0);
  m[g.Index(5, 5, 5)] = 1;
  auto d = DilateByBall(g, m, 3.0);
  EXPECT_EQ(d[g.Index(8, 5, 5)], 1);  // 3 mm along x
  EXPECT_EQ(d[g.Index(5, 5, 6)], 1);  // 3 mm along z (one slice)
  EXPECT_EQ(d[g.Index(5, 5, 7)], 0);  // 6 mm
  EXPECT_EQ(d[g.Index(7, 7, 5)], 1);  // 2.83 mm
  EXPECT_EQ(d[g.Index(8, 6, 5)], 0);  // 3.16 mm
}

TEST(PlanRegions, LiverGeometryMismatchNamesTheField) {
  Geometry g = MakeGeometry(8, 8, 8);
  LabelVolume lesion = MakeBall(g, {4, 4, 4}, 1);
  Geometry other = g;
  other.spacing[2] = 2.5;
  LabelVolume liver = MakeBall(other, {4, 4, 4}, 3);
  auto plan = PlanRegions(lesion, &liver, RegionOptions{});
  EXPECT_EQ(plan.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(plan.status().message()), HasSubstr("spacing"));
}

TEST(PlanRegions, EmptyLesionMaskIsAnError) {
  Geometry g = MakeGeometry(4, 4, 4);
  LabelVolume empty{g, std::vector<int32_t>(64, 0)};
  auto plan = PlanRegions(empty, nullptr, RegionOptions{});
  EXPECT_EQ(plan.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(plan.status().message()), HasSubstr("empty"));
}

// Reference for the run-based labelling (issue 15): a voxel flood fill in
// raster order (the implementation before), then IBSI lesion order.
std::vector<std::vector<uint8_t>> FloodFillLesions(const LabelVolume& m) {
  const Geometry& g = m.geometry;
  std::vector<int> id(m.voxels.size(), 0);
  std::vector<int64_t> counts{0};
  for (size_t s = 0; s < m.voxels.size(); ++s) {
    if (!m.voxels[s] || id[s]) continue;
    counts.push_back(0);
    const int k = static_cast<int>(counts.size()) - 1;
    std::vector<size_t> stack{s};
    id[s] = k;
    while (!stack.empty()) {
      size_t i = stack.back();
      stack.pop_back();
      ++counts[k];
      int x = i % g.size[0], y = (i / g.size[0]) % g.size[1], z = i / (g.size[0] * g.size[1]);
      for (int dz = -1; dz <= 1; ++dz)
        for (int dy = -1; dy <= 1; ++dy)
          for (int dx = -1; dx <= 1; ++dx) {
            int xx = x + dx, yy = y + dy, zz = z + dz;
            if (xx < 0 || yy < 0 || zz < 0 || xx >= g.size[0] || yy >= g.size[1] ||
                zz >= g.size[2])
              continue;
            size_t j = g.Index(xx, yy, zz);
            if (m.voxels[j] && !id[j]) {
              id[j] = k;
              stack.push_back(j);
            }
          }
    }
  }
  std::vector<int> order;
  for (int k = 1; k < static_cast<int>(counts.size()); ++k) order.push_back(k);
  std::stable_sort(order.begin(), order.end(),
                   [&](int a, int b) { return counts[a] > counts[b]; });
  std::vector<std::vector<uint8_t>> out;
  for (int k : order) {
    std::vector<uint8_t> mask(m.voxels.size());
    for (size_t i = 0; i < mask.size(); ++i) mask[i] = id[i] == k;
    out.push_back(mask);
  }
  return out;
}

TEST(PlanRegions, RunBasedComponentsEqualAVoxelFloodFill) {
  // Random masks from sparse (many small, diagonal-touching lesions and ties
  // in size) to near the 26-connected percolation threshold (large, winding
  // ones).
  const Geometry g = MakeGeometry(23, 17, 11);
  std::mt19937 rng(7);
  for (double density : {0.01, 0.03, 0.06, 0.09}) {
    LabelVolume m{g, std::vector<int32_t>(g.NumVoxels(), 0)};
    std::bernoulli_distribution on(density);
    for (auto& v : m.voxels) v = on(rng);
    RegionOptions o;
    o.split = RegionOptions::LesionSplit::kConnectedComponents;
    ASSERT_OK_AND_ASSIGN(auto plan, PlanRegions(m, nullptr, o));
    auto reference = FloodFillLesions(m);
    ASSERT_EQ(plan.lesions.size(), reference.size()) << density;
    EXPECT_GT(reference.size(), 1u);
    for (size_t k = 0; k < reference.size(); ++k) {
      ASSERT_EQ(plan.Mask("lesion_" + std::to_string(k + 1)), reference[k])
          << "density " << density << " lesion " << k + 1;
    }
  }
}

}  // namespace
}  // namespace fedrad::features
