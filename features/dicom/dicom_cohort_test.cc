// The hospital path inside a cohort: a manifest mixing NIfTI rows and DICOM
// rows (series + RTSTRUCT or SEG, ROIs by pattern). The same case written
// both ways gives the same features (the contours are exact voxel-edge
// outlines, dicom_write.h); a bad DICOM row is excluded with its reason and
// the cohort goes on.
#include <filesystem>
#include <fstream>
#include <map>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/testing/status_matchers.h"
#include "features/cohort.h"
#include "features/dicom/dicom_write.h"
#include "features/features_testutil.h"
#include "features/image_io.h"

namespace fedrad::features {
namespace {

using ::fedrad::testing::StatusIs;

namespace fs = std::filesystem;
using ::testing::HasSubstr;

std::vector<uint8_t> Mask(const LabelVolume& l, int32_t label) {
  std::vector<uint8_t> m(l.voxels.size());
  for (size_t i = 0; i < m.size(); ++i) m[i] = l.voxels[i] == label;
  return m;
}

TEST(DicomCohort, DicomRowsMatchNiftiRowsAndBadRowsAreExcluded) {
  const fs::path dir = fs::temp_directory_path() / ("fedrad_dicom_cohort_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  Geometry g = testutil::MakeGeometry(24, 22, 10, {0.75, 0.75, 2.5});
  g.origin = {-11.25, -7.5, 40};
  ImageVolume ct = testutil::MakeCtLike(g, 3);
  for (float& v : ct.voxels) v = std::round(v);  // DICOM stores integer HU
  LabelVolume lesions = testutil::MakeBall(g, {7, 8, 4}, 3.2);
  LabelVolume second = testutil::MakeBall(g, {16, 13, 5}, 2.6);
  for (size_t i = 0; i < lesions.voxels.size(); ++i) {
    if (second.voxels[i]) lesions.voxels[i] = 2;
  }
  LabelVolume liver = testutil::MakeBall(g, {12, 11, 5}, 9.5);
  ASSERT_OK(WriteImage(ct, (dir / "ct.nii.gz").string()));
  ASSERT_OK(WriteLabelMap(lesions, (dir / "lesions.nii.gz").string()));
  ASSERT_OK(WriteLabelMap(liver, (dir / "liver.nii.gz").string()));

  dicom::CtWriteOptions o;
  o.uid_seed = "cohort";
  ASSERT_OK_AND_ASSIGN(auto uids, dicom::WriteCtSeries(ct, (dir / "CT").string(), o));
  std::vector<dicom::RoiSpec> rois = {
      {"Liver", dicom::MaskContours(g, Mask(liver, 1), uids), ""},
      {"GTV-1", dicom::MaskContours(g, Mask(lesions, 1), uids), ""},
      {"Metastasis 2", dicom::MaskContours(g, Mask(lesions, 2), uids), ""}};
  ASSERT_OK(dicom::WriteRtstruct(uids, rois, (dir / "RS.dcm").string(), "cohort"));
  ASSERT_OK(dicom::WriteSeg(
      uids, g,
      {{"Liver", Mask(liver, 1)}, {"Lesion A", Mask(lesions, 1)}, {"Lesion B", Mask(lesions, 2)}},
      (dir / "seg.dcm").string(), {}));
  std::ofstream(dir / "manifest.csv")
      << "case_id,image,lesion_mask,liver_mask,series,rtstruct,seg,lesion_roi,liver_roi\n"
      << "nifti,ct.nii.gz,lesions.nii.gz,liver.nii.gz,,,,,\n"
      << "rtstruct,,,,CT,RS.dcm,,GTV*|Metastasis*,Liver\n"
      << "seg,CT,,,,,seg.dcm,Lesion*,#1\n"
      << "no_match,,,,CT,RS.dcm,,Tumour*,Liver\n";
  ASSERT_OK_AND_ASSIGN(auto cases, ReadManifest((dir / "manifest.csv").string()));
  ASSERT_EQ(cases.size(), 4u);
  EXPECT_EQ(cases[1].image, (dir / "CT").string());
  EXPECT_EQ(cases[1].rtstruct, (dir / "RS.dcm").string());
  EXPECT_EQ(cases[1].lesion_roi, "GTV*|Metastasis*");

  CaseOptions options;
  options.extraction.families = {"morph", "stat", "ih"};
  CohortOptions run;
  run.threads = 2;
  std::vector<CaseResult> results = RunCohort(cases, options, run);
  std::map<std::string, const CaseResult*> by_id;
  for (const auto& r : results) by_id[r.case_id] = &r;
  for (const char* id : {"nifti", "rtstruct", "seg"}) {
    ASSERT_OK(by_id[id]->status) << id;
  }
  auto flat = [](const CaseResult& r) {
    std::map<std::string, double> m;
    for (const auto& reg : r.regions) {
      for (const auto& f : reg.features) m[reg.roi + "/" + WideColumnName(f)] = f.value;
    }
    return m;
  };
  const auto nifti = flat(*by_id["nifti"]);
  EXPECT_GT(nifti.count("bkg/stat_variance"), 0u);
  EXPECT_GT(nifti.count("lesion_2/stat_mean"), 0u);  // two structures, two lesions
  EXPECT_EQ(flat(*by_id["rtstruct"]), nifti);
  EXPECT_EQ(flat(*by_id["seg"]), nifti);
  const std::string why(by_id["no_match"]->status.message());
  EXPECT_THAT(why, HasSubstr("case no_match"));
  EXPECT_THAT(why, HasSubstr("lesion_roi"));
  EXPECT_THAT(why, HasSubstr("RS.dcm"));
  EXPECT_THAT(why, HasSubstr("no ROI name matches"));

  // The ROI pattern is part of the cache key.
  CaseInput other = cases[1];
  other.lesion_roi = "GTV*";
  EXPECT_NE(*CaseCacheKey(cases[1], "s"), *CaseCacheKey(other, "s"));
  fs::remove_all(dir);
}

TEST(DicomCohort, ManifestRowsMustNameTheirContours) {
  const fs::path dir = fs::temp_directory_path() / ("fedrad_dicom_manifest_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  struct Case {
    const char* csv;
    const char* says;
  } cases[] = {
      {"case_id,series,rtstruct,lesion_roi\nc1,CT,RS.dcm,\n", "empty lesion_roi"},
      {"case_id,series,rtstruct,seg,lesion_roi\nc1,CT,RS.dcm,s.dcm,GTV\n", "both rtstruct and seg"},
      {"case_id,series,lesion_mask,rtstruct,lesion_roi\nc1,CT,,,\n", "empty lesion_mask"},
      {"case_id,lesion_mask\nc1,m.nii\n", "'series'"},
  };
  for (const Case& c : cases) {
    std::ofstream(dir / "m.csv") << c.csv;
    auto m = ReadManifest((dir / "m.csv").string());
    ASSERT_THAT(m, StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(c.says))) << c.csv;
  }
  fs::remove_all(dir);
}

}  // namespace
}  // namespace fedrad::features
