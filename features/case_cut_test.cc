// Issue 15: a case is cut once to the box around its regions and read as
// stored; none of it may change a feature value. These tests compare, value
// by value, the cut / stored / threaded paths with the whole-image path.
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/testing/status_matchers.h"
#include "features/cohort.h"
#include "features/extractor.h"
#include "features/features_testutil.h"
#include "features/image_io.h"
#include "features/regions.h"
#include "features/threads.h"

namespace fedrad::features {
namespace {

using ::fedrad::testing::StatusIs;

namespace fs = std::filesystem;
using testutil::MakeBall;
using testutil::MakeCtLike;
using testutil::MakeGeometry;
using testutil::ToMask;

// Same values (NaN equal to NaN), same families, features and order.
void ExpectSameFeatures(const FeatureList& a, const FeatureList& b, const std::string& what) {
  ASSERT_EQ(a.size(), b.size()) << what;
  for (size_t i = 0; i < a.size(); ++i) {
    ASSERT_EQ(a[i].family + a[i].feature + a[i].aggregation + a[i].filter,
              b[i].family + b[i].feature + b[i].aggregation + b[i].filter)
        << what;
    if (std::isnan(a[i].value) && std::isnan(b[i].value)) continue;
    EXPECT_EQ(a[i].value, b[i].value) << what << ": " << a[i].family << " " << a[i].feature
                                      << " " << a[i].aggregation;
  }
}

template <typename T>
Volume<T> Crop(const Volume<T>& v, const std::array<int, 3>& lo, const std::array<int, 3>& hi) {
  Volume<T> out;
  out.geometry = v.geometry;
  for (int d = 0; d < 3; ++d) out.geometry.size[d] = hi[d] - lo[d] + 1;
  for (int d = 0; d < 3; ++d) out.geometry.origin[d] += v.geometry.spacing[d] * lo[d];
  for (int z = lo[2]; z <= hi[2]; ++z)
    for (int y = lo[1]; y <= hi[1]; ++y)
      for (int x = lo[0]; x <= hi[0]; ++x) out.voxels.push_back(v.at(x, y, z));
  return out;
}

// The ROI's box plus CaseCutMarginVoxels, clipped.
void CutBoxOf(const LabelVolume& roi, const ExtractionOptions& o, std::array<int, 3>* lo,
              std::array<int, 3>* hi) {
  const Geometry& g = roi.geometry;
  *lo = {INT32_MAX, INT32_MAX, INT32_MAX};
  *hi = {-1, -1, -1};
  for (int z = 0; z < g.size[2]; ++z)
    for (int y = 0; y < g.size[1]; ++y)
      for (int x = 0; x < g.size[0]; ++x)
        if (roi.at(x, y, z)) {
          *lo = {std::min((*lo)[0], x), std::min((*lo)[1], y), std::min((*lo)[2], z)};
          *hi = {std::max((*hi)[0], x), std::max((*hi)[1], y), std::max((*hi)[2], z)};
        }
  std::array<int, 3> m = CaseCutMarginVoxels(g, o);
  for (int d = 0; d < 3; ++d) {
    (*lo)[d] = std::max(0, (*lo)[d] - m[d]);
    (*hi)[d] = std::min(g.size[d] - 1, (*hi)[d] + m[d]);
  }
}

struct Setting {
  std::string name;
  ExtractionOptions options;
};

std::vector<Setting> Settings() {
  std::vector<Setting> s;
  s.push_back({"defaults", ExtractionOptions{}});
  ExtractionOptions linear;
  linear.resampling.enabled = true;
  linear.resampling.spacing = {2, 2, 2};
  s.push_back({"linear to 2 mm", linear});
  ExtractionOptions bspline = linear;
  bspline.resampling.image_interpolator = Interpolator::kBSpline3;
  bspline.resampling.spacing = {1.3, 1.3, 0};
  s.push_back({"B-spline in-plane", bspline});
  ExtractionOptions log;
  log.families = {"stat", "glcm", "loc"};
  filters::FilterSetting f;
  f.kind = filters::FilterKind::kLoG;
  f.log.sigma_mm = 2;
  log.filters = {f};
  s.push_back({"LoG 2 mm", log});
  ExtractionOptions wavelet = log;
  wavelet.filters[0].kind = filters::FilterKind::kWavelet;
  wavelet.filters[0].wavelet.family = "coif1";
  wavelet.filters[0].wavelet.decomposition = "LHL";
  s.push_back({"wavelet", wavelet});
  return s;
}

TEST(CaseCut, ACutWithItsMarginGivesTheWholeImagesFeatures) {
  // An ROI near a corner (the margin is clipped there) and one in the middle.
  const Geometry g = MakeGeometry(46, 40, 30, {0.9, 0.9, 1.5});
  const ImageVolume ct = MakeCtLike(g, 5);
  for (auto centre : {std::array<double, 3>{6, 5, 4}, std::array<double, 3>{24, 20, 15}}) {
    const LabelVolume ball = MakeBall(g, centre, 4);
    for (const Setting& s : Settings()) {
      auto whole = ExtractRegionFeatures(ct, ToMask(ball), s.options);
      ASSERT_OK(whole) << s.name;
      std::array<int, 3> lo, hi;
      CutBoxOf(ball, s.options, &lo, &hi);
      ImageVolume cut = Crop(ct, lo, hi);
      ASSERT_LE(cut.voxels.size(), ct.voxels.size()) << s.name;
      auto part = ExtractRegionFeatures(cut, ToMask(Crop(ball, lo, hi)), SourceWindow{g, lo},
                                        s.options);
      ASSERT_OK(part) << s.name;
      ExpectSameFeatures(*whole, *part, s.name);
    }
  }
}

TEST(CaseCut, ACutWithoutTheMarginIsReportedNotComputed) {
  const Geometry g = MakeGeometry(40, 40, 30);
  const ImageVolume ct = MakeCtLike(g, 2);
  const LabelVolume ball = MakeBall(g, {20, 20, 15}, 4);
  std::array<int, 3> lo{15, 15, 10}, hi{25, 25, 20};  // the ROI, no margin
  auto part = ExtractRegionFeatures(Crop(ct, lo, hi), ToMask(Crop(ball, lo, hi)),
                                    SourceWindow{g, lo}, ExtractionOptions{});
  ASSERT_THAT(part, StatusIs(absl::StatusCode::kInternal));
}

TEST(CaseCut, FeaturesDoNotDependOnTheThreadBudget) {
  const Geometry g = MakeGeometry(40, 36, 24, {0.8, 0.8, 2});
  const ImageVolume ct = MakeCtLike(g, 9);
  const std::vector<uint8_t> roi = ToMask(MakeBall(g, {20, 18, 12}, 7));
  for (const Setting& s : Settings()) {
    absl::StatusOr<FeatureList> one, four;
    {
      ScopedThreadBudget b(1);
      one = ExtractRegionFeatures(ct, roi, s.options);
    }
    {
      ScopedThreadBudget b(4);
      four = ExtractRegionFeatures(ct, roi, s.options);
    }
    ASSERT_OK(one) << s.name;
    ASSERT_OK(four) << s.name;
    ExpectSameFeatures(*one, *four, s.name);
  }
}

TEST(CaseCut, OtherFamiliesDoNotDependOnTheLocalIntensityMargin) {
  // Without "loc" and "morph" the crop has no margin (issue 15); the other
  // families must give what they give with the 6.2 mm margin.
  // The ROI touches the image border on one side.
  const Geometry g = MakeGeometry(40, 36, 24, {0.8, 0.8, 2});
  const ImageVolume ct = MakeCtLike(g, 4);
  const std::vector<uint8_t> roi = ToMask(MakeBall(g, {20, 3, 12}, 6));
  for (bool resample : {false, true}) {
    ExtractionOptions all;
    all.resampling.enabled = resample;
    all.resampling.spacing = {1, 1, 1};
    ExtractionOptions no_loc = all;
    for (const std::string& f : AllFamilies()) {
      if (f != "loc" && f != "morph") no_loc.families.insert(f);
    }
    auto a = ExtractRegionFeatures(ct, roi, all);
    auto b = ExtractRegionFeatures(ct, roi, no_loc);
    ASSERT_OK(a);
    ASSERT_OK(b);
    FeatureList a_no_loc;
    for (const FeatureValue& v : *a) {
      if (v.family != "loc" && v.family != "morph") a_no_loc.push_back(v);
    }
    EXPECT_GT(a->size(), a_no_loc.size());
    ExpectSameFeatures(a_no_loc, *b, resample ? "resampled" : "native grid");
  }
}

TEST(Threads, RunTasksRunsEachTaskOnceWithinTheBudget) {
  for (int budget : {1, 2, 5}) {
    ScopedThreadBudget b(budget);
    EXPECT_EQ(ThreadBudget(), budget);
    std::vector<int> runs(23, 0);
    std::vector<std::function<void()>> tasks;
    std::atomic<int> running{0}, most{0};
    for (int i = 0; i < 23; ++i) {
      tasks.push_back([&, i] {
        int now = ++running;
        int m = most.load();
        while (now > m && !most.compare_exchange_weak(m, now)) {
        }
        usleep(2000);
        ++runs[i];
        --running;
      });
    }
    RunTasks(tasks);
    EXPECT_THAT(runs, ::testing::Each(1));
    EXPECT_LE(most.load(), budget);
  }
  ScopedThreadBudget outer(3);
  { ScopedThreadBudget inner(1); EXPECT_EQ(ThreadBudget(), 1); }
  EXPECT_EQ(ThreadBudget(), 3);
}

// A NIfTI-1 file written byte by byte (ITK writes only what it is given;
// this gives int16 / uint8 voxels and a scaling slope as scanners write).
template <typename T>
void WriteRawNifti(const std::string& path, const Geometry& g, const std::vector<T>& v,
                   int16_t datatype, float slope = 0, float inter = 0) {
  char h[352] = {};
  auto put = [&](int at, auto value) { std::memcpy(h + at, &value, sizeof(value)); };
  put(0, int32_t{348});
  int16_t dim[8] = {3, int16_t(g.size[0]), int16_t(g.size[1]), int16_t(g.size[2]), 1, 1, 1, 1};
  std::memcpy(h + 40, dim, sizeof(dim));
  put(70, datatype);
  put(72, int16_t(sizeof(T) * 8));
  float pixdim[8] = {1, float(g.spacing[0]), float(g.spacing[1]), float(g.spacing[2]), 1, 1, 1, 1};
  std::memcpy(h + 76, pixdim, sizeof(pixdim));
  put(108, 352.0f);
  put(112, slope);
  put(116, inter);
  h[123] = 2;  // mm
  std::memcpy(h + 344, "n+1\0", 4);
  std::ofstream f(path, std::ios::binary);
  f.write(h, sizeof(h));
  f.write(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
}

TEST(StoredVolume, CropsEqualReadImageAndReadLabelMap) {
  const Geometry g = MakeGeometry(13, 11, 7, {0.75, 0.75, 2.5});
  const std::string dir = fs::temp_directory_path() / ("fedrad_stored_" + std::to_string(getpid()));
  fs::create_directories(dir);
  std::vector<int16_t> ct(g.NumVoxels());
  std::vector<uint8_t> mask(g.NumVoxels(), 0);
  for (size_t i = 0; i < ct.size(); ++i) ct[i] = static_cast<int16_t>((i * 7919) % 2400) - 1200;
  mask[g.Index(3, 4, 2)] = 2;
  mask[g.Index(9, 6, 5)] = 1;
  WriteRawNifti(dir + "/ct.nii", g, ct, 4);
  WriteRawNifti(dir + "/scaled.nii", g, ct, 4, 0.5f, -1024.0f);
  WriteRawNifti(dir + "/mask.nii", g, mask, 2);
  const std::array<int, 3> lo{2, 3, 1}, hi{10, 8, 6};
  for (const char* name : {"ct.nii", "scaled.nii", "mask.nii"}) {
    const std::string path = dir + "/" + name;
    ASSERT_OK_AND_ASSIGN(auto stored, ReadStored(path));
    auto image = ReadImage(path);
    auto labels = ReadLabelMap(path);
    ASSERT_OK(image);
    ASSERT_OK(labels);
    EXPECT_EQ(GeometryMismatch(stored.geometry, image->geometry, 0), "") << name;
    ImageVolume c = stored.CropImage(lo, hi);
    EXPECT_EQ(c.voxels, Crop(*image, lo, hi).voxels) << name;
    EXPECT_EQ(GeometryMismatch(c.geometry, Crop(*image, lo, hi).geometry, 1e-9), "") << name;
    ASSERT_OK_AND_ASSIGN(auto l, stored.CropLabels(lo, hi, path));
    EXPECT_EQ(l.voxels, Crop(*labels, lo, hi).voxels) << name;
  }
  // Files ITK writes (int16 and uint8 through ITK's own writer are in
  // extract_process_benchmark; here float, read by ITK, and a rotated grid).
  Geometry r = g;
  r.direction = {0, -1, 0, 1, 0, 0, 0, 0, 1};
  r.origin = {-12.5, 40.25, 7};
  LabelVolume lab = MakeBall(r, {6, 5, 3}, 2.5, 7);
  ASSERT_OK(WriteLabelMap(lab, dir + "/rot.nii.gz"));
  for (const char* name : {"rot.nii.gz", "ct.nii"}) {
    const std::string path = dir + "/" + name;
    auto stored = ReadStored(path);
    auto labels = ReadLabelMap(path);
    ASSERT_OK(stored) << name;
    ASSERT_OK(labels) << name;
    EXPECT_EQ(GeometryMismatch(stored->geometry, labels->geometry, 0), "") << name;
    auto l = stored->CropLabels({0, 0, 0}, {12, 10, 6}, path);
    ASSERT_OK(l);
    EXPECT_EQ(l->voxels, labels->voxels) << name;
  }
  ASSERT_OK_AND_ASSIGN(auto m, ReadStored(dir + "/mask.nii"));
  EXPECT_EQ(m.type, StoredVolume::Type::kUInt8);  // read as bytes, not floats
  std::array<int, 3> blo, bhi;
  ASSERT_TRUE(m.NonZeroBox(&blo, &bhi));
  EXPECT_EQ(blo, (std::array<int, 3>{3, 4, 2}));
  EXPECT_EQ(bhi, (std::array<int, 3>{9, 6, 5}));
  std::fill(mask.begin(), mask.end(), 0);
  WriteRawNifti(dir + "/empty.nii", g, mask, 2);
  EXPECT_FALSE(ReadStored(dir + "/empty.nii")->NonZeroBox(&blo, &bhi));
  EXPECT_EQ(ReadStored(dir + "/none.nii").status().code(), absl::StatusCode::kNotFound);
  fs::remove_all(dir);
}

TEST(ExtractCase, EachRegionEqualsTheWholeImagePath) {
  // Two lesions far apart and a liver: the case is cut to the box around
  // all three; each region's features must equal those computed on the
  // whole volumes with the region's whole-image mask.
  const Geometry g = MakeGeometry(60, 50, 36, {0.8, 0.8, 2});
  const ImageVolume ct = MakeCtLike(g, 11);
  LabelVolume lesions = MakeBall(g, {14, 15, 10}, 3, 1);
  const LabelVolume second = MakeBall(g, {40, 30, 22}, 4, 2);
  for (size_t i = 0; i < lesions.voxels.size(); ++i) lesions.voxels[i] += second.voxels[i];
  LabelVolume liver = MakeBall(g, {30, 24, 16}, 14);
  for (size_t i = 0; i < liver.voxels.size(); ++i) liver.voxels[i] |= lesions.voxels[i] > 0;
  const std::string dir = fs::temp_directory_path() / ("fedrad_case_" + std::to_string(getpid()));
  fs::create_directories(dir);
  ASSERT_OK(WriteImage(ct, dir + "/ct.nii.gz"));
  ASSERT_OK(WriteLabelMap(lesions, dir + "/les.nii.gz"));
  ASSERT_OK(WriteLabelMap(liver, dir + "/liver.nii.gz"));
  CaseOptions options;
  options.extraction.families = {"morph", "stat", "loc", "glcm", "ngldm"};
  CaseInput input;
  input.case_id = "c";
  input.image = dir + "/ct.nii.gz";
  input.lesion_mask = dir + "/les.nii.gz";
  input.liver_mask = dir + "/liver.nii.gz";
  auto regions = ExtractCase(input, options);
  ASSERT_OK(regions);
  // The whole-volume path as before issue 15: every file read whole
  // (NIfTI keeps the spacing as float32, so the files, not `ct`, are the
  // reference).
  auto whole_ct = ReadImage(dir + "/ct.nii.gz");
  auto whole_lesions = ReadLabelMap(dir + "/les.nii.gz");
  auto whole_liver = ReadLabelMap(dir + "/liver.nii.gz");
  ASSERT_OK(whole_ct);
  ASSERT_OK(whole_lesions);
  ASSERT_OK(whole_liver);
  ASSERT_OK_AND_ASSIGN(auto plan, PlanRegions(*whole_lesions, &*whole_liver, options.regions));
  int compared = 0;
  for (const RegionFeatures& r : *regions) {
    if (r.roi == "patient" || r.roi == "largest_lesion") continue;
    auto whole = ExtractRegionFeatures(*whole_ct, plan.Mask(r.roi), options.extraction);
    ASSERT_OK(whole) << r.roi;
    ExpectSameFeatures(*whole, r.features, r.roi);
    ++compared;
  }
  EXPECT_EQ(compared, 5);  // lesion_1, lesion_2, lesions, liver, bkg
  fs::remove_all(dir);
}

}  // namespace
}  // namespace fedrad::features
