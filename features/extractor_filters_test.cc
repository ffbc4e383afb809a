// The filters in the extraction pipeline (features/extractor.h): features of
// response maps carry the filter's label, the crop keeps the margin a filter
// reads, and bad filter settings give errors naming the filter.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <map>
#include <set>

#include "core/testing/status_matchers.h"
#include "features/extractor.h"
#include "features/features_testutil.h"

namespace fedrad::features {
namespace {

using ::testing::HasSubstr;
using testutil::MakeBall;
using testutil::MakeCtLike;
using testutil::MakeGeometry;
using testutil::ToMask;

filters::FilterSetting LoG(double sigma_mm) {
  filters::FilterSetting f;
  f.kind = filters::FilterKind::kLoG;
  f.log.sigma_mm = sigma_mm;
  return f;
}

ExtractionOptions StatOnly() {
  ExtractionOptions o;
  o.families = {"stat"};
  o.resegmentation = {};
  return o;
}

TEST(ExtractorFilters, ResponseInsideTheRoiEqualsTheWholeFilteredImage) {
  // A small ROI far from the border: the extractor crops the image to the
  // ROI plus the filter's margin (the local-intensity sphere is made tiny so
  // that only the filter's margin counts). Inside the ROI, the response must
  // equal that of the whole image filtered.
  const Geometry g = MakeGeometry(48, 44, 40, {0.8, 0.8, 1.5});
  const ImageVolume ct = MakeCtLike(g, 7);
  const std::vector<uint8_t> roi = ToMask(MakeBall(g, {22, 20, 19}, 5));
  for (bool log : {true, false}) {
    ExtractionOptions o = StatOnly();
    o.local_intensity_radius_mm = 0.1;
    filters::FilterSetting f = LoG(2.0);
    if (!log) {
      f.kind = filters::FilterKind::kMean;
      f.mean.support = 9;
    }
    o.filters = {f};
    o.original = false;
    ImageVolume map;
    o.response_map_sink = [&](const std::string&, const ImageVolume& m) {
      map = m;
      return absl::OkStatus();
    };
    ASSERT_OK_AND_ASSIGN(auto features, ExtractRegionFeatures(ct, roi, o));
    const FeatureValue* mean = testutil::Find(features, "stat", "mean");
    ASSERT_NE(mean, nullptr);
    EXPECT_EQ(mean->filter, log ? "log_s2" : "mean_m9");
    for (const FeatureValue& v : features) EXPECT_EQ(v.filter, mean->filter) << v.feature;

    ASSERT_OK_AND_ASSIGN(auto whole, filters::ApplyFilter(ct, f));
    std::array<int, 3> offset;
    for (int a = 0; a < 3; ++a) {
      offset[a] = static_cast<int>(std::lround((map.geometry.origin[a] - g.origin[a]) / g.spacing[a]));
      ASSERT_GT(offset[a], 0) << "the crop should not reach the border";
    }
    int checked = 0;
    for (int z = 0; z < g.size[2]; ++z) {
      for (int y = 0; y < g.size[1]; ++y) {
        for (int x = 0; x < g.size[0]; ++x) {
          if (!roi[g.Index(x, y, z)]) continue;
          ++checked;
          ASSERT_NEAR(map.at(x - offset[0], y - offset[1], z - offset[2]), whole.at(x, y, z), 1e-3)
              << mean->filter << " at " << x << "," << y << "," << z;
        }
      }
    }
    EXPECT_GT(checked, 400);
  }
}

TEST(ExtractorFilters, OriginalAndEachFilterAreComputedAndMapsAreHandedOut) {
  const Geometry g = MakeGeometry(30, 30, 20);
  const ImageVolume ct = MakeCtLike(g, 3);
  const std::vector<uint8_t> roi = ToMask(MakeBall(g, {15, 15, 10}, 6));
  ExtractionOptions o = StatOnly();
  o.families = {"stat", "morph", "glcm"};
  filters::FilterSetting mean;
  mean.kind = filters::FilterKind::kMean;
  mean.mean.support = 3;
  mean.in_plane = true;
  o.filters = {LoG(1.0), mean};
  std::vector<std::string> maps;
  o.response_map_sink = [&](const std::string& label, const ImageVolume& map) {
    maps.push_back(label);
    EXPECT_EQ(map.voxels.size(), map.geometry.NumVoxels());
    return absl::OkStatus();
  };
  ASSERT_OK_AND_ASSIGN(auto f, ExtractRegionFeatures(ct, roi, o));
  EXPECT_EQ(maps, (std::vector<std::string>{"log_s1", "mean_m3_2d"}));
  std::map<std::string, std::set<std::string>> families;  // filter -> families
  for (const FeatureValue& v : f) families[v.filter].insert(v.family);
  EXPECT_EQ(families[""], (std::set<std::string>{"stat", "morph", "glcm"}));
  // Morphology does not change with a filter: computed once, on the image.
  EXPECT_EQ(families["log_s1"], (std::set<std::string>{"stat", "glcm"}));
  EXPECT_EQ(families["mean_m3_2d"], (std::set<std::string>{"stat", "glcm"}));
}

TEST(ExtractorFilters, BadFilterSettingsNameTheFilter) {
  const Geometry g = MakeGeometry(12, 12, 12);
  const ImageVolume ct = MakeCtLike(g, 1);
  const std::vector<uint8_t> roi = ToMask(MakeBall(g, {6, 6, 6}, 3));
  ExtractionOptions o = StatOnly();
  o.filters = {LoG(0)};
  auto zero = ExtractRegionFeatures(ct, roi, o);
  EXPECT_EQ(zero.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(zero.status().message(), HasSubstr("sigma_mm must be > 0"));
  o.filters = {LoG(6)};  // kernel of 1 + 2 floor(24.5) = 49 voxels on a 12-voxel image
  auto big = ExtractRegionFeatures(ct, roi, o);
  EXPECT_EQ(big.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(big.status().message(), HasSubstr("filter 'log_s6'"));
  EXPECT_THAT(big.status().message(), HasSubstr("larger than the image"));
  const Geometry one = MakeGeometry(20, 20, 1);
  o.filters = {LoG(1)};
  auto slice = ExtractRegionFeatures(MakeCtLike(one, 1), ToMask(MakeBall(one, {10, 10, 0}, 4)), o);
  EXPECT_THAT(slice.status().message(), HasSubstr("in_plane"));
  o.filters[0].in_plane = true;
  EXPECT_OK(ExtractRegionFeatures(MakeCtLike(one, 1), ToMask(MakeBall(one, {10, 10, 0}, 4)), o));
}

}  // namespace
}  // namespace fedrad::features
