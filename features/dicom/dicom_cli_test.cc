// `fedrad dicom inspect` and `fedrad dicom to-nifti` end to end on the IBSI
// CT radiomics phantom (tests/data/ibsi/ct_radiomics_phantom, CC BY-NC 3.0):
// the written mask is the published NIfTI mask (125,256 voxels, IBSI), and
// bad flags are usage errors. Runs the real binary (FEDRAD_BIN_DIR/fedrad).
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/testing/status_matchers.h"
#include "features/image_io.h"

namespace fedrad::features {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

const std::string kPhantom = std::string(FEDRAD_TEST_DATA_DIR) + "/ibsi/ct_radiomics_phantom";

int RunDicom(const std::string& args, std::string* out) {
  const std::string log = (fs::temp_directory_path() /
                           ("fedrad_dicom_cli_" + std::to_string(::getpid()) + ".txt")).string();
  std::string cmd = std::string(FEDRAD_BIN_DIR) + "/fedrad dicom " + args + " > " + log + " 2>&1";
  int rc = std::system(cmd.c_str());
  std::ifstream in(log);
  std::stringstream ss;
  ss << in.rdbuf();
  *out = ss.str();
  fs::remove(log);
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

TEST(DicomCli, InspectListsThePhantomSeriesAndRoi) {
  std::string out;
  ASSERT_EQ(RunDicom("inspect " + kPhantom + "/dicom", &out), 0) << out;
  EXPECT_THAT(out, HasSubstr("CT, 60 slices, 204 x 201"));
  EXPECT_THAT(out, HasSubstr("ROI 1 'GTV-1': 26 contours on 26 slices (CLOSED_PLANAR x26)"));
  EXPECT_THAT(out, HasSubstr("no missing or duplicate slices"));
}

TEST(DicomCli, ToNiftiWritesThePublishedMask) {
  const std::string prefix =
      (fs::temp_directory_path() / ("fedrad_to_nifti_" + std::to_string(::getpid()))).string();
  std::string out;
  ASSERT_EQ(RunDicom("to-nifti --series " + kPhantom + "/dicom/image --rtstruct " + kPhantom +
                    "/dicom/rtstruct/DCM_RS_00060.dcm --roi GTV-1 --out " + prefix,
                &out),
            0)
      << out;
  EXPECT_THAT(out, HasSubstr("label 1 125256 voxels"));
  auto mine = ReadLabelMap(prefix + "_mask.nii.gz");
  auto published = ReadLabelMap(kPhantom + "/nifti/mask/mask.nii.gz");
  auto image = ReadImage(prefix + "_image.nii.gz");
  auto published_image = ReadImage(kPhantom + "/nifti/image/phantom.nii.gz");
  ASSERT_OK(mine);
  ASSERT_OK(published);
  ASSERT_OK(image);
  ASSERT_OK(published_image);
  EXPECT_EQ(mine->voxels, published->voxels);
  EXPECT_EQ(image->voxels, published_image->voxels);
  fs::remove(prefix + "_mask.nii.gz");
  fs::remove(prefix + "_image.nii.gz");
}

TEST(DicomCli, BadFlagsAndBadRoisAreReported) {
  std::string out;
  EXPECT_EQ(RunDicom("to-nifti --series x", &out), 2);
  EXPECT_EQ(RunDicom("to-nifti --series x --out y --rtstruct z", &out), 2);
  EXPECT_THAT(out, HasSubstr("--rtstruct needs --roi"));
  EXPECT_EQ(RunDicom("to-nifti --series x --out y --rtstruct z --roi a --seg s --segment 1", &out), 2);
  EXPECT_EQ(RunDicom("to-nifti --series " + kPhantom + "/dicom/image --rtstruct " + kPhantom +
                    "/dicom/rtstruct/DCM_RS_00060.dcm --roi Liver --out /tmp/never",
                &out),
            1);
  EXPECT_THAT(out, HasSubstr("no ROI name matches 'Liver'"));
  EXPECT_EQ(RunDicom("inspect /no/such/folder", &out), 1);
  EXPECT_THAT(out, HasSubstr("no such file or folder"));
}

}  // namespace
}  // namespace fedrad::features
