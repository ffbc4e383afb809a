// The DicomFiles test fixture of features/dicom's tests: a small CT series
// written with DCMTK (fake patient name, id and birth date, so that a test
// can check that no message repeats them), in a folder of its own per test.
// Test-only; included by dicom_test.cc and pixel_read_test.cc.
#ifndef FEDRAD_FEATURES_DICOM_DICOM_FILES_FIXTURE_H_
#define FEDRAD_FEATURES_DICOM_DICOM_FILES_FIXTURE_H_

#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "core/testing/status_matchers.h"
#include "features/dicom/dicom.h"
#include "features/dicom/dicom_write.h"

namespace fedrad::features::dicom {

class DicomFiles : public ::testing::Test {
 protected:
  // The fake patient the series is written for.
  static constexpr char kName[] = "DOE^JANE";
  static constexpr char kId[] = "PID-7741";
  static constexpr char kBirth[] = "19610407";

  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           absl::StrCat("fedrad_dicom_", ::getpid(), "_",
                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    ct_.geometry.size = {12, 10, 6};
    ct_.geometry.spacing = {1.5, 1.25, 2.5};
    ct_.geometry.origin = {-10, -5, 3};
    ct_.voxels.resize(ct_.geometry.NumVoxels());
    for (size_t i = 0; i < ct_.voxels.size(); ++i) ct_.voxels[i] = static_cast<float>(i % 97) - 40;
    uids_ = Write(ct_, series_dir(), "case");
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  SeriesUids Write(const ImageVolume& v, const std::string& folder, const std::string& seed) {
    CtWriteOptions o;
    o.uid_seed = seed;
    o.patient_name = kName;
    o.patient_id = kId;
    o.patient_birth_date = kBirth;
    o.file_prefix = seed;
    auto u = WriteCtSeries(v, folder, o);
    EXPECT_OK(u);
    return u.ok() ? *u : SeriesUids{};
  }
  std::string series_dir() const { return (dir_ / "CT").string(); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  // A contour on plane k from index-space vertices (x, y).
  ContourSpec Contour(const Polygon& p, double k, const std::string& type = "CLOSED_PLANAR") {
    ContourSpec c;
    c.type = type;
    const Geometry& g = ct_.geometry;
    for (const auto& v : p) {
      c.points.push_back({g.origin[0] + g.spacing[0] * v[0], g.origin[1] + g.spacing[1] * v[1],
                          g.origin[2] + g.spacing[2] * k});
    }
    if (k == static_cast<int>(k) && k >= 0 && k < uids_.sops.size()) c.referenced_sop = uids_.sops[static_cast<int>(k)];
    return c;
  }

  absl::StatusOr<LabelVolume> Rasterise(const std::vector<RoiSpec>& rois,
                                        const std::string& pattern,
                                        std::vector<std::string>* notes = nullptr) {
    const std::string rs = path("RS.dcm");
    EXPECT_OK(WriteRtstruct(uids_, rois, rs, "case"));
    auto s = ReadSeriesInfo(series_dir());
    if (!s.ok()) return s.status();
    return RasteriseRtstruct(*s, rs, pattern, notes);
  }

  static void ExpectNoPatientData(const absl::Status& s) {
    EXPECT_THAT(std::string(s.message()), ::testing::Not(::testing::HasSubstr("DOE")));
    EXPECT_THAT(std::string(s.message()), ::testing::Not(::testing::HasSubstr(kId)));
    EXPECT_THAT(std::string(s.message()), ::testing::Not(::testing::HasSubstr(kBirth)));
  }

  std::filesystem::path dir_;
  ImageVolume ct_;
  SeriesUids uids_;
};

}  // namespace fedrad::features::dicom

#endif  // FEDRAD_FEATURES_DICOM_DICOM_FILES_FIXTURE_H_
