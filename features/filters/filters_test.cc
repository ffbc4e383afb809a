// Unit tests of the IBSI-2 spatial filters on small synthetic volumes. The
// comparison with the IBSI-2 consensus response maps is in
// features/filters/ibsi2_phase1_test.cc.
#include <cmath>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/testing/status_matchers.h"
#include "features/filters/filter.h"

namespace fedrad::features::filters {
namespace {

using ::testing::HasSubstr;

constexpr double kPi = 3.14159265358979323846;

ImageVolume Constant(int nx, int ny, int nz, float value, double spacing = 1.0) {
  ImageVolume v;
  v.geometry.size = {nx, ny, nz};
  v.geometry.spacing = {spacing, spacing, spacing};
  v.voxels.assign(v.geometry.NumVoxels(), value);
  return v;
}

ImageVolume Impulse(int n, float value, double spacing = 1.0) {
  ImageVolume v = Constant(n, n, n, 0, spacing);
  v.at(n / 2, n / 2, n / 2) = value;
  return v;
}

TEST(MeanFilter, KeepsAConstantImageUnderEveryPaddingButZero) {
  const ImageVolume img = Constant(9, 8, 7, 5.0f);
  for (Padding p : {Padding::kNearest, Padding::kPeriodic, Padding::kMirror}) {
    auto r = MeanResponse(img, {5, p, false});
    ASSERT_OK(r);
    for (float v : r->voxels) EXPECT_NEAR(v, 5.0, 1e-5) << PaddingName(p);
  }
  auto r = MeanResponse(img, {5, Padding::kConstant, false});
  ASSERT_OK(r);
  EXPECT_NEAR(r->at(0, 0, 0), 5.0 * 27 / 125, 1e-5);  // 3 x 3 x 3 of 5 x 5 x 5 inside
  EXPECT_NEAR(r->at(4, 4, 3), 5.0, 1e-5);
}

TEST(MeanFilter, InPlaneDoesNotMixSlices) {
  ImageVolume img = Constant(7, 7, 3, 0.0f);
  img.at(3, 3, 1) = 9.0f;
  auto r = MeanResponse(img, {3, Padding::kConstant, true});
  ASSERT_OK(r);
  EXPECT_NEAR(r->at(3, 3, 1), 1.0, 1e-6);
  EXPECT_NEAR(r->at(2, 2, 1), 1.0, 1e-6);
  EXPECT_EQ(r->at(3, 3, 0), 0.0f);
  EXPECT_EQ(r->at(3, 3, 2), 0.0f);
}

TEST(LoGFilter, ImpulseResponseIsTheKernelInVoxelUnits) {
  // IBSI-2 eq. for the LoG: -1/s^2 (2 pi s^2)^(-3/2) (3 - r^2/s^2) exp(-r^2 / 2 s^2).
  const double sigma_mm = 3, spacing = 2, s = sigma_mm / spacing;
  auto r = LoGResponse(Impulse(33, 1.0f, spacing), {sigma_mm, 4.0, Padding::kConstant, false});
  ASSERT_OK(r);
  for (int dx : {0, 1, 3}) {
    const double r2 = dx * dx;
    const double expect = -1.0 / (s * s) * std::pow(2 * kPi * s * s, -1.5) *
                          (3 - r2 / (s * s)) * std::exp(-r2 / (2 * s * s));
    EXPECT_NEAR(r->at(16 + dx, 16, 16), expect, 1e-7) << dx;
  }
  // Support 1 + 2 floor(4 * 1.5 + 0.5) = 13: nothing beyond 6 voxels.
  EXPECT_EQ(LoGKernelSize(sigma_mm, 4, spacing), 13);
  EXPECT_EQ(r->at(16 + 7, 16, 16), 0.0f);
  EXPECT_NE(r->at(16 + 6, 16, 16), 0.0f);
}

TEST(LawsFilter, KernelsAreNormalisedAndNamedPerAxis) {
  ASSERT_OK_AND_ASSIGN(auto k, LawsKernels("E5L5S5", false));
  ASSERT_EQ(k.size(), 3u);
  double n = 0;
  for (double w : k[1]) n += w * w;
  EXPECT_NEAR(n, 1.0, 1e-12);
  EXPECT_NEAR(k[1][2], 6 / std::sqrt(70.0), 1e-12);  // L5 = [1 4 6 4 1]
  EXPECT_THAT(LawsKernels("E5X5S5", false).status().message(), HasSubstr("X5"));
  EXPECT_THAT(LawsKernels("L5S5", false).status().message(), HasSubstr("in_plane"));
}

TEST(LawsFilter, RotationInvariantMaxIsAtLeastTheUnrotatedResponse) {
  ImageVolume img = Impulse(15, 100.0f);
  img.at(3, 4, 5) = 50.0f;
  LawsParams p{"E5L5S5", 0, false, true, Padding::kConstant, false};
  auto plain = LawsResponse(img, p);
  p.rotation_invariant = true;
  auto pooled = LawsResponse(img, p);
  ASSERT_OK(plain);
  ASSERT_OK(pooled);
  bool some_larger = false;
  for (size_t i = 0; i < plain->voxels.size(); ++i) {
    EXPECT_GE(pooled->voxels[i], plain->voxels[i] - 1e-4);
    some_larger |= pooled->voxels[i] > plain->voxels[i] + 1e-3;
  }
  EXPECT_TRUE(some_larger);
  // An impulse's pooled response is symmetric under the 24 rotations.
  EXPECT_NEAR(pooled->at(7 + 1, 7 + 2, 7), pooled->at(7 + 2, 7, 7 + 1), 1e-4);
}

TEST(GaborFilter, ImpulseModulusIsTheGaussianEnvelope) {
  GaborParams p;
  p.sigma_mm = 2;
  p.lambda_mm = 3;
  p.gamma = 0.5;
  p.theta_deg = 0;
  p.padding = Padding::kConstant;
  ImageVolume img = Constant(31, 31, 1, 0.0f);
  img.at(15, 15, 0) = 1.0f;
  ASSERT_OK_AND_ASSIGN(auto r, GaborResponse(img, p));
  // theta 0: x' = v (column offset), y' = -u (row offset).
  for (auto [du, dv] : {std::pair{0, 0}, {2, 0}, {0, 3}, {1, 1}}) {
    const double expect = std::exp(-(dv * dv + 0.25 * du * du) / (2 * 4.0));
    EXPECT_NEAR(r.at(15 + dv, 15 + du, 0), expect, 1e-5) << du << "," << dv;
  }
}

TEST(Filters, BadSettingsGiveErrorsNamingTheSetting) {
  const ImageVolume img = Constant(9, 9, 9, 1.0f);
  FilterSetting f;
  f.kind = FilterKind::kLoG;
  f.log.sigma_mm = 0;
  EXPECT_THAT(ApplyFilter(img, f).status().message(), HasSubstr("sigma_mm must be > 0"));
  f.log.sigma_mm = 5;  // 1 + 2 floor(20.5) = 41 voxels > 9
  auto s = ApplyFilter(img, f).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("log_s5"));
  EXPECT_THAT(s.message(), HasSubstr("larger than the image"));
  f.log.sigma_mm = 1e300;  // no overflow: just too large
  EXPECT_THAT(ApplyFilter(img, f).status().message(), HasSubstr("larger than the image"));
  f.kind = FilterKind::kGabor;
  f.gabor.sigma_mm = 1e300;
  f.gabor.lambda_mm = 1;
  f.gabor.gamma = 1e-300;
  EXPECT_OK(ApplyFilter(img, f));  // the kernel is capped at the image plane
  f.gabor.lambda_mm = 0;
  EXPECT_THAT(ApplyFilter(img, f).status().message(), HasSubstr("lambda_mm"));
  f.kind = FilterKind::kLaws;
  f.laws.kernel = "E5L5S5";
  f.laws.energy_distance = 2000000000;
  EXPECT_THAT(ApplyFilter(img, f).status().message(), HasSubstr("energy_distance"));
  f.laws.energy_distance = 7;  // (2 * 7 + 1) voxels > 9
  EXPECT_THAT(ApplyFilter(img, f).status().message(), HasSubstr("larger than the image"));
  f.kind = FilterKind::kMean;
  f.mean.support = 4;
  EXPECT_THAT(ApplyFilter(img, f).status().message(), HasSubstr("odd"));
  f.kind = FilterKind::kLaws;
  f.laws.kernel = "E5L5Q5";
  EXPECT_THAT(ApplyFilter(img, f).status().message(), HasSubstr("Q5"));
  f.kind = FilterKind::kWavelet;
  f.wavelet.family = "db3";
  f.wavelet.decomposition = "LXH";
  EXPECT_THAT(ValidateFilter(f).message(), HasSubstr("decomposition"));
  f.label = "Bad Label";
  EXPECT_THAT(ValidateFilter(f).message(), HasSubstr("label"));
  f.label = "glcm";
  EXPECT_THAT(ValidateFilter(f).message(), HasSubstr("family id"));
}

TEST(Filters, OneSliceImageNeedsA2dFilter) {
  const ImageVolume slice = Constant(16, 16, 1, 3.0f);
  FilterSetting f;
  f.kind = FilterKind::kMean;
  f.mean.support = 3;
  auto three_d = ApplyFilter(slice, f);
  EXPECT_EQ(three_d.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(three_d.status().message(), HasSubstr("in_plane"));
  f.in_plane = true;
  ASSERT_OK_AND_ASSIGN(auto two_d, ApplyFilter(slice, f));
  EXPECT_NEAR(two_d.at(5, 5, 0), 3.0, 1e-6);
}

TEST(Filters, LabelsFollowTheDocumentedNaming) {
  FilterSetting f;
  f.kind = FilterKind::kLoG;
  f.log.sigma_mm = 1.5;
  EXPECT_EQ(FilterLabel(f), "log_s1.5");
  f.in_plane = true;
  EXPECT_EQ(FilterLabel(f), "log_s1.5_2d");
  f.kind = FilterKind::kWavelet;
  f.in_plane = false;
  f.wavelet = {"db3", "LLH", 1, false, false};
  EXPECT_EQ(FilterLabel(f), "wavelet_db3_llh_l1");
  f.kind = FilterKind::kLaws;
  f.laws.kernel = "L5E5E5";
  f.laws.energy_distance = 7;
  f.laws.rotation_invariant = true;
  EXPECT_EQ(FilterLabel(f), "laws_l5e5e5_d7_rimax");
  f.label = "mine";
  EXPECT_EQ(FilterLabel(f), "mine");
  FilterSetting g = f;
  EXPECT_THAT(ValidateFilters({f, g}).message(), HasSubstr("distinct label"));
}

TEST(Filters, DispatchReachesEveryFilterKind) {
  // An impulse: each filter answers with a non-zero map of the same grid;
  // the Riesz transform of a LoG equals RieszResponse of LoGResponse.
  const ImageVolume img = Impulse(16, 100.0f, 2.0);
  std::vector<FilterSetting> all(7);
  all[0].kind = FilterKind::kMean;
  all[1].kind = FilterKind::kLoG;
  all[1].log.sigma_mm = 3;
  all[2].kind = FilterKind::kLaws;
  all[2].laws.kernel = "E5L5S5";
  all[3].kind = FilterKind::kGabor;
  all[3].gabor = {4, 4, 1, 30, 0, false, false, 4.0, Padding::kMirror};
  all[4].kind = FilterKind::kWavelet;
  all[4].wavelet = {"db2", "LHL", 1, false, false};
  all[5].kind = FilterKind::kSimoncelli;
  all[6].kind = FilterKind::kRiesz;
  all[6].riesz.log.sigma_mm = 3;
  all[6].riesz.order = {1, 0, 0};
  for (FilterSetting& f : all) {
    f.padding = Padding::kConstant;
    auto r = ApplyFilter(img, f);
    ASSERT_OK(r) << FilterLabel(f);
    ASSERT_EQ(r->voxels.size(), img.voxels.size());
    double energy = 0;
    for (float v : r->voxels) energy += double{v} * v;
    EXPECT_GT(energy, 1e-6) << FilterLabel(f);
  }
  LoGParams log{3, 4, Padding::kConstant, false};
  RieszParams riesz;
  riesz.order = {1, 0, 0};
  riesz.padding = Padding::kConstant;
  auto expect = RieszResponse(*LoGResponse(img, log), riesz);
  auto got = ApplyFilter(img, all[6]);
  ASSERT_OK(expect);
  ASSERT_OK(got);
  EXPECT_EQ(got->voxels, expect->voxels);
  all[4].wavelet.family = "db9";
  EXPECT_THAT(ApplyFilter(img, all[4]).status().message(), HasSubstr("'db9' is not one of"));
  all[6].in_plane = true;
  all[6].riesz.order = {0, 0, 1};
  EXPECT_THAT(ValidateFilter(all[6]).message(), HasSubstr("along z"));
}

TEST(Filters, ApplyFiltersSharesWaveletPassesWithTheSameMaps) {
  // Interleaved: two groups of wavelets (db2 level 1; db2 level 1 rotation
  // invariant) and a LoG; every map must equal ApplyFilter's, in list order.
  ImageVolume img = Impulse(14, 50.0f, 1.5);
  img.at(3, 9, 4) = -20.0f;
  std::vector<FilterSetting> list;
  for (const char* d : {"LLH", "HHL", "LHL"}) {
    FilterSetting f;
    f.kind = FilterKind::kWavelet;
    f.wavelet = {"db2", d, 1, false, false};
    list.push_back(f);
    f.wavelet.rotation_invariant = true;
    list.push_back(f);
  }
  FilterSetting log;
  log.kind = FilterKind::kLoG;
  log.log.sigma_mm = 2;
  list.insert(list.begin() + 2, log);
  std::vector<size_t> order;
  ASSERT_OK(ApplyFilters(img, list, [&](size_t i, ImageVolume map) {
    order.push_back(i);
    auto one = ApplyFilter(img, list[i]);
    EXPECT_OK(one);
    for (size_t v = 0; v < map.voxels.size(); ++v) {
      EXPECT_NEAR(map.voxels[v], one->voxels[v], 1e-5) << FilterLabel(list[i]);
    }
    return absl::OkStatus();
  }));
  EXPECT_EQ(order, (std::vector<size_t>{0, 1, 2, 3, 4, 5, 6}));
  // An error of the callback stops the run.
  int calls = 0;
  auto stop = ApplyFilters(img, list, [&](size_t, ImageVolume) {
    ++calls;
    return absl::CancelledError("stop");
  });
  EXPECT_EQ(stop.code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(calls, 1);
}

}  // namespace
}  // namespace fedrad::features::filters
