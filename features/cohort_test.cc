#include "features/cohort.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>
#include <utility>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/testing/status_matchers.h"
#include "features/features_testutil.h"
#include "features/image_io.h"

namespace fedrad::features {
namespace {

using ::fedrad::testing::StatusIs;

namespace fs = std::filesystem;
using features::testutil::MakeBall;
using features::testutil::MakeCtLike;
using features::testutil::MakeGeometry;
using ::testing::HasSubstr;

// A case of the image-file path: an image (file or DICOM series folder) and
// a lesion label map; no liver mask, no DICOM contours.
CaseInput NiftiCase(std::string id, std::string image, std::string lesion_mask) {
  CaseInput c;
  c.case_id = std::move(id);
  c.image = std::move(image);
  c.lesion_mask = std::move(lesion_mask);
  return c;
}

class CohortTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("fedrad_cohort_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    g_ = MakeGeometry(24, 24, 12, {1.0, 1.0, 2.0});
    g_.origin = {-12, -12, 30};
    ct_ = MakeCtLike(g_, 11);
    options_.extraction.families = {"morph", "loc", "stat", "ih", "ivh"};
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string Write(const std::string& name, const ImageVolume& v) {
    std::string p = (fs::path(dir_) / name).string();
    EXPECT_OK(WriteImage(v, p));
    return p;
  }
  std::string Write(const std::string& name, const LabelVolume& v) {
    std::string p = (fs::path(dir_) / name).string();
    EXPECT_OK(WriteLabelMap(v, p));
    return p;
  }
  CaseInput GoodCase(const std::string& id) {
    return NiftiCase(id, Write(id + "_ct.nii.gz", ct_),
                     Write(id + "_seg.nii.gz", MakeBall(g_, {12, 12, 6}, 4)));
  }

  std::string dir_;
  Geometry g_;
  ImageVolume ct_;
  CaseOptions options_;
};

TEST_F(CohortTest, ManifestResolvesRelativePathsAndIgnoresExtraColumns) {
  std::ofstream(fs::path(dir_) / "manifest.csv")
      << "case_id,site,image,lesion_mask,liver_mask\n"
      << "c1,S1,imgs/c1.nii.gz,/abs/c1_seg.nii.gz,\n"
      << "c2,S1,c2.nrrd,c2_seg.nrrd,c2_liver.nrrd\n";
  ASSERT_OK_AND_ASSIGN(auto m, ReadManifest((fs::path(dir_) / "manifest.csv").string()));
  ASSERT_EQ(m.size(), 2u);
  EXPECT_EQ(m[0].image, (fs::path(dir_) / "imgs/c1.nii.gz").string());
  EXPECT_EQ(m[0].lesion_mask, "/abs/c1_seg.nii.gz");
  EXPECT_EQ(m[0].liver_mask, "");
  EXPECT_EQ(m[1].liver_mask, (fs::path(dir_) / "c2_liver.nrrd").string());
}

TEST_F(CohortTest, ManifestWithoutRequiredColumnOrWithDuplicatesIsRejected) {
  std::ofstream(fs::path(dir_) / "m1.csv") << "case_id,image\nc1,a.nii\n";
  auto m1 = ReadManifest((fs::path(dir_) / "m1.csv").string());
  EXPECT_THAT(std::string(m1.status().message()), HasSubstr("lesion_mask"));
  std::ofstream(fs::path(dir_) / "m2.csv") << "case_id,image,lesion_mask\nc1,a,b\nc1,c,d\n";
  EXPECT_THAT(ReadManifest((fs::path(dir_) / "m2.csv").string()),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(CohortTest, GoodCaseYieldsLesionUnionLargestAndPatientRows) {
  ASSERT_OK_AND_ASSIGN(auto r, ExtractCase(GoodCase("c1"), options_));
  std::vector<std::string> rois;
  for (const auto& reg : r) rois.push_back(reg.roi);
  EXPECT_THAT(rois, ::testing::ElementsAre("lesion_1", "lesions", "largest_lesion", "patient"));
  EXPECT_EQ(r[3].features[0].feature, "lesion_count");
  EXPECT_EQ(r[3].features[0].value, 1);
  // 25 morph + 2 loc + 18 stat + 23 ih + 6 ivh.
  EXPECT_EQ(r[0].features.size(), 74u);
}

TEST_F(CohortTest, LiverMaskAddsLiverAndBkg) {
  CaseInput c = GoodCase("c1");
  c.liver_mask = Write("c1_liver.nii.gz", MakeBall(g_, {12, 12, 6}, 9));
  ASSERT_OK_AND_ASSIGN(auto r, ExtractCase(c, options_));
  std::vector<std::string> rois;
  for (const auto& reg : r) rois.push_back(reg.roi);
  EXPECT_THAT(rois, ::testing::Contains("bkg"));
  EXPECT_THAT(rois, ::testing::Contains("liver"));
}

// Every bad input gets a clear per-case error naming case and file/field,
// or a documented behaviour; none stops the cohort.
TEST_F(CohortTest, BadCasesAreReportedAndDoNotStopTheCohort) {
  std::vector<CaseInput> cases;
  cases.push_back(GoodCase("good"));
  cases.push_back(NiftiCase("unreadable", (fs::path(dir_) / "missing.nii.gz").string(),
                   cases[0].lesion_mask));

  Geometry small = g_;
  small.size = {20, 24, 12};
  cases.push_back(NiftiCase("size", cases[0].image, Write("size.nii.gz", MakeBall(small, {10, 12, 6}, 3))));
  Geometry spacing = g_;
  spacing.spacing = {1.0, 1.0, 2.5};
  cases.push_back(NiftiCase("spacing", cases[0].image, Write("spacing.nii.gz", MakeBall(spacing, {12, 12, 6}, 3))));
  Geometry origin = g_;
  origin.origin[1] += 5;
  cases.push_back(NiftiCase("origin", cases[0].image, Write("origin.nii.gz", MakeBall(origin, {12, 12, 6}, 3))));
  Geometry direction = g_;
  direction.direction = {0, 1, 0, 1, 0, 0, 0, 0, -1};
  cases.push_back(NiftiCase("direction", cases[0].image, Write("direction.nii.gz", MakeBall(direction, {12, 12, 6}, 3))));
  cases.push_back(NiftiCase("empty", cases[0].image,
                   Write("empty.nii.gz", LabelVolume{g_, std::vector<int32_t>(g_.NumVoxels(), 0)})));
  LabelVolume one{g_, std::vector<int32_t>(g_.NumVoxels(), 0)};
  one.at(12, 12, 6) = 1;
  cases.push_back(NiftiCase("one_voxel", cases[0].image, Write("one.nii.gz", one)));
  cases.push_back(NiftiCase("border", cases[0].image, Write("border.nii.gz", MakeBall(g_, {0, 12, 6}, 3))));
  ImageVolume nan_ct = ct_;
  nan_ct.at(12, 12, 6) = std::nanf("");
  // MetaImage keeps NaN (ITK's NIfTI reader turns NaN into 0, see
  // image_io_test.cc).
  cases.push_back(NiftiCase("nan", Write("nan_ct.mha", nan_ct), cases[0].lesion_mask));

  CohortOptions run;
  run.threads = 3;
  int progress_calls = 0;
  run.progress = [&](const CaseResult&, int done, int total) {
    ++progress_calls;
    EXPECT_LE(done, total);
  };
  auto results = RunCohort(cases, options_, run);
  ASSERT_EQ(results.size(), cases.size());
  EXPECT_EQ(progress_calls, static_cast<int>(cases.size()));
  std::map<std::string, const CaseResult*> by_id;
  for (const auto& r : results) by_id[r.case_id] = &r;

  EXPECT_OK(by_id["good"]->status);
  auto msg = [&](const std::string& id) { return std::string(by_id[id]->status.message()); };
  EXPECT_EQ(by_id["unreadable"]->status.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(msg("unreadable"), HasSubstr("case unreadable"));
  EXPECT_THAT(msg("unreadable"), HasSubstr("missing.nii.gz"));
  EXPECT_THAT(msg("size"), HasSubstr("size differs"));
  EXPECT_THAT(msg("size"), HasSubstr("size.nii.gz"));
  EXPECT_THAT(msg("spacing"), HasSubstr("spacing differs"));
  EXPECT_THAT(msg("origin"), HasSubstr("origin differs"));
  EXPECT_THAT(msg("direction"), HasSubstr("direction differs"));
  EXPECT_THAT(msg("empty"), HasSubstr("empty"));
  EXPECT_THAT(msg("nan"), HasSubstr("NaN")) << "status: " << by_id["nan"]->status;
  // Documented behaviours: a one-voxel ROI and a ROI touching the border
  // are extracted (undefined features are NaN).
  ASSERT_OK(by_id["one_voxel"]->status);
  ASSERT_OK(by_id["border"]->status);
  const FeatureList& one_f = by_id["one_voxel"]->regions[0].features;
  EXPECT_TRUE(std::isnan(features::testutil::Find(one_f, "morph", "elongation")->value));
  EXPECT_EQ(features::testutil::Find(one_f, "stat", "mean")->value, ct_.at(12, 12, 6));

  CsvTable errors = ErrorsTable(results);
  EXPECT_EQ(errors.num_rows(), 7u);
  CsvTable wide = WideTable(results);
  EXPECT_EQ(wide.header()[0], "case_id");
  EXPECT_EQ(wide.header()[1], "roi");
  EXPECT_TRUE(wide.HasColumn("morph_volume_mesh"));
  EXPECT_TRUE(wide.HasColumn("patient_lesion_count"));
  for (const auto& row : wide.rows()) {
    EXPECT_THAT(row[0], ::testing::AnyOf("good", "one_voxel", "border"));
  }
  CsvTable long_table = LongTable(results);
  EXPECT_EQ(long_table.header(),
            (std::vector<std::string>{"case_id", "roi", "filter", "family", "feature",
                                      "ibsi_code", "aggregation", "value"}));
}

TEST_F(CohortTest, IdenticalCasesShareTheCacheEntryWithoutRacing) {
  CaseInput a = GoodCase("a");
  std::vector<CaseInput> cases;
  for (int k = 0; k < 6; ++k) cases.push_back(NiftiCase("dup" + std::to_string(k), a.image, a.lesion_mask));
  CohortOptions run;
  run.threads = 3;
  run.cache_dir = (fs::path(dir_) / "cache").string();
  auto results = RunCohort(cases, options_, run);
  for (const auto& r : results) EXPECT_OK(r.status);
  int files = 0;
  for (const auto& e : fs::directory_iterator(run.cache_dir)) {
    EXPECT_EQ(e.path().extension(), ".csv") << e.path();
    ++files;
  }
  EXPECT_EQ(files, 1);
  auto again = RunCohort(cases, options_, run);
  for (const auto& r : again) EXPECT_TRUE(r.from_cache);
}

TEST_F(CohortTest, DicomSeriesDirectoryWithAnNrrdMaskIsExtracted) {
  const std::string src = std::string(FEDRAD_TEST_DATA_DIR) + "/dicom/CT_small.dcm";
  ASSERT_TRUE(fs::exists(src)) << "no " << src << " (tests/data is part of the repository)";
  const std::string series = (fs::path(dir_) / "series").string();
  fs::create_directories(series);
  fs::copy_file(src, series + "/CT_small.dcm");
  ASSERT_OK_AND_ASSIGN(auto image, ReadImage(series));
  const Geometry& g = image.geometry;
  LabelVolume mask{g, std::vector<int32_t>(g.NumVoxels(), 0)};
  for (int y = g.size[1] / 2 - 5; y < g.size[1] / 2 + 5; ++y)
    for (int x = g.size[0] / 2 - 5; x < g.size[0] / 2 + 5; ++x) mask.at(x, y, 0) = 1;
  CaseInput c = NiftiCase("dicom", series, Write("dicom_seg.nrrd", mask));
  CaseOptions o = options_;
  o.extraction.resegmentation = {};  // keep every voxel of this sample
  auto r = ExtractCase(c, o);
  ASSERT_OK(r);
  EXPECT_NEAR(features::testutil::Find((*r)[0].features, "morph", "volume_voxel_counting")->value,
              100 * g.spacing[0] * g.spacing[1] * g.spacing[2], 1e-9);
}

TEST_F(CohortTest, RerunReadsTheCacheUnlessSettingsOrContentChange) {
  CaseInput b = GoodCase("b");
  b.image = Write("b_ct.nii.gz", MakeCtLike(g_, 99));  // different content from "a"
  std::vector<CaseInput> cases = {GoodCase("a"), b};
  CohortOptions run;
  run.threads = 2;
  run.cache_dir = (fs::path(dir_) / "cache").string();
  run.settings_fingerprint = "settings-1";
  auto first = RunCohort(cases, options_, run);
  for (const auto& r : first) {
    ASSERT_OK(r.status);
    EXPECT_FALSE(r.from_cache);
  }
  auto second = RunCohort(cases, options_, run);
  for (size_t i = 0; i < second.size(); ++i) {
    EXPECT_TRUE(second[i].from_cache);
    // The cached values are the same numbers (round-trip formatting).
    ASSERT_EQ(second[i].regions.size(), first[i].regions.size());
    for (size_t k = 0; k < first[i].regions[0].features.size(); ++k) {
      double a = first[i].regions[0].features[k].value, b = second[i].regions[0].features[k].value;
      EXPECT_TRUE(a == b || (std::isnan(a) && std::isnan(b)));
    }
  }
  run.settings_fingerprint = "settings-2";
  auto third = RunCohort(cases, options_, run);
  EXPECT_FALSE(third[0].from_cache);
  // Changing the image bytes invalidates that case only.
  ImageVolume changed = ct_;
  changed.at(0, 0, 0) += 1;
  Write("a_ct.nii.gz", changed);
  auto fourth = RunCohort(cases, options_, run);
  EXPECT_FALSE(fourth[0].from_cache);
  EXPECT_TRUE(fourth[1].from_cache);
}

}  // namespace
}  // namespace fedrad::features
