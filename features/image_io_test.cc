#include "features/image_io.h"

#include <cmath>
#include <filesystem>
#include <fstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/testing/status_matchers.h"
#include "features/features_testutil.h"

namespace fedrad::features {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

class ImageIoRoundTrip : public ::testing::TestWithParam<std::string> {};

TEST_P(ImageIoRoundTrip, KeepsVoxelsAndGeometry) {
  Geometry g = features::testutil::MakeGeometry(7, 5, 3, {0.7, 0.8, 2.5});
  g.origin = {-10.5, 3.25, 100};
  // A rotation about z (orthonormal direction).
  g.direction = {0, -1, 0, 1, 0, 0, 0, 0, 1};
  ImageVolume image = features::testutil::MakeCtLike(g);
  image.at(1, 2, 0) = -1024.5f;  // a non-integer value survives as float
  LabelVolume labels = features::testutil::MakeBall(g, {3, 2, 1}, 1.5, 3);
  const std::string dir = fs::temp_directory_path() / ("fedrad_io_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::string ext = GetParam();
  ASSERT_OK(WriteImage(image, dir + "/img" + ext));
  ASSERT_OK(WriteLabelMap(labels, dir + "/lab" + ext));
  ASSERT_OK_AND_ASSIGN(auto back, ReadImage(dir + "/img" + ext));
  EXPECT_EQ(back.voxels, image.voxels);
  EXPECT_EQ(GeometryMismatch(back.geometry, g), "");
  ASSERT_OK_AND_ASSIGN(auto lab, ReadLabelMap(dir + "/lab" + ext));
  EXPECT_EQ(lab.voxels, labels.voxels);
  fs::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(Formats, ImageIoRoundTrip,
                         ::testing::Values(".nii", ".nii.gz", ".nrrd", ".mha"),
                         [](const auto& info) {
                           std::string s = info.param.substr(1);
                           for (char& c : s) if (c == '.') c = '_';
                           return s;
                         });

TEST(ImageIo, ReadsTheIbsiDigitalPhantomNiftiGz) {
  ASSERT_OK_AND_ASSIGN(auto image, ReadImage(std::string(FEDRAD_TEST_DATA_DIR) +
                                             "/ibsi/nifti/image/phantom.nii.gz"));
  // tests/data/ibsi/README.md: 5x4x4 voxels, 2 mm, identity direction (LPS).
  EXPECT_EQ(image.geometry.size, (std::array<int, 3>{5, 4, 4}));
  EXPECT_EQ(image.geometry.spacing, (std::array<double, 3>{2, 2, 2}));
  // Voxel (2,2,2) holds the excluded 9; (0,0,0) holds 1.
  EXPECT_EQ(image.at(2, 2, 2), 9);
  EXPECT_EQ(image.at(0, 0, 0), 1);
}

TEST(ImageIo, ReadsAOneSliceDicomSeriesDirectory) {
  const std::string src = std::string(FEDRAD_TEST_DATA_DIR) + "/dicom/CT_small.dcm";
  ASSERT_TRUE(fs::exists(src)) << "no " << src << " (tests/data is part of the repository)";
  const std::string dir = fs::temp_directory_path() / ("fedrad_dcm_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  fs::copy_file(src, dir + "/CT_small.dcm", fs::copy_options::overwrite_existing);
  ASSERT_OK_AND_ASSIGN(auto image, ReadImage(dir));
  EXPECT_EQ(image.geometry.size[2], 1);
  EXPECT_GT(image.geometry.size[0], 1);
  EXPECT_GT(image.geometry.spacing[0], 0);
  fs::remove_all(dir);
}

// Documented behaviour: MetaImage and NRRD keep NaN voxels (the extractor
// then rejects the case); ITK 5.2's NIfTI reader replaces NaN by 0.
TEST(ImageIo, NanSurvivesMhaAndNrrdButNiftiReadsItAsZero) {
  Geometry g = features::testutil::MakeGeometry(2, 2, 2);
  ImageVolume image{g, std::vector<float>(8, 1.f)};
  image.voxels[3] = std::nanf("");
  const std::string base = fs::temp_directory_path() / ("fedrad_nan_" + std::to_string(::getpid()));
  for (const char* ext : {".mha", ".nrrd"}) {
    ASSERT_OK(WriteImage(image, base + ext));
    ASSERT_OK_AND_ASSIGN(auto back, ReadImage(base + ext));
    EXPECT_TRUE(std::isnan(back.voxels[3])) << ext;
    fs::remove(base + ext);
  }
  ASSERT_OK(WriteImage(image, base + ".nii.gz"));
  ASSERT_OK_AND_ASSIGN(auto nifti, ReadImage(base + ".nii.gz"));
  EXPECT_EQ(nifti.voxels[3], 0.f);
  fs::remove(base + ".nii.gz");
}

TEST(ImageIo, MissingFileIsNotFoundNamingThePath) {
  auto image = ReadImage("/nonexistent/ct.nii.gz");
  EXPECT_EQ(image.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(image.status().message()), HasSubstr("/nonexistent/ct.nii.gz"));
}

TEST(ImageIo, CorruptFileIsDataLossNamingThePath) {
  const std::string path = fs::temp_directory_path() / ("fedrad_bad_" + std::to_string(::getpid()) + ".nii.gz");
  {
    FILE* f = std::fopen(path.c_str(), "w");
    std::fputs("this is not a nifti file", f);
    std::fclose(f);
  }
  auto image = ReadImage(path);
  EXPECT_EQ(image.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(image.status().message()), HasSubstr(path));
  fs::remove(path);
}

// Found by tests/fuzz/fuzz_image: a 500-byte file whose header claimed
// 12.7 GB of voxels made ITK allocate them. Refused from the header, by
// every reader, naming the file.
TEST(ImageIo, HeaderClaimingMoreVoxelsThanTheFileHoldsIsDataLoss) {
  const std::string path =
      fs::temp_directory_path() / ("fedrad_forged_" + std::to_string(::getpid()) + ".nrrd");
  {
    FILE* f = std::fopen(path.c_str(), "w");
    std::fputs("NRRD0004\ntype: float\ndimension: 3\nsizes: 2000 2000 800\n"
               "encoding: raw\nendian: little\n\n0123456789abcdef",
               f);
    std::fclose(f);
  }
  for (const absl::Status& s : {ReadImage(path).status(), ReadLabelMap(path).status(),
                                ReadStored(path).status(), ReadGeometry(path).status()}) {
    EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
    EXPECT_THAT(std::string(s.message()), HasSubstr("header claims"));
    EXPECT_THAT(std::string(s.message()), HasSubstr(path));
  }
  fs::remove(path);
}

// Found by tests/fuzz/fuzz_image: a NIfTI header whose srow_x held a NaN
// made ITK's reader abort the process (vnl_svd asserts finite values).
TEST(ImageIo, NiftiHeaderWithNonFiniteGeometryIsDataLoss) {
  const std::string path =
      fs::temp_directory_path() / ("fedrad_nan_" + std::to_string(::getpid()) + ".nii");
  ImageVolume v;
  v.geometry.size = {2, 2, 2};
  v.voxels.assign(8, 1.0f);
  ASSERT_TRUE(WriteImage(v, path).ok());
  {
    std::fstream f(path, std::ios::binary | std::ios::in | std::ios::out);
    const float nan = std::nanf("");
    f.seekp(280);  // srow_x[0] (nifti1.h)
    f.write(reinterpret_cast<const char*>(&nan), 4);
  }
  for (const absl::Status& s : {ReadImage(path).status(), ReadStored(path).status()}) {
    EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
    EXPECT_THAT(std::string(s.message()), HasSubstr("srow_x[0] is not a finite number"));
  }
  fs::remove(path);
}

// Found by tests/fuzz/fuzz_image (session 7): the NIfTI library decides the
// byte order by dim[0] before sizeof_hdr, so a little-endian sizeof_hdr with
// a byte-swapped dim[0] is read big-endian; a NaN that only the big-endian
// reading sees reached vnl_svd and aborted the process. A finite but huge
// affine entry is refused too (a defensive bound: the library's float
// products of it can overflow; no crash from one was reproduced).
TEST(ImageIo, NiftiGeometryIsCheckedInTheByteOrderTheLibraryReadsAndBounded) {
  const std::string path =
      fs::temp_directory_path() / ("fedrad_swap_" + std::to_string(::getpid()) + ".nii");
  ImageVolume v;
  v.geometry.size = {2, 2, 2};
  v.voxels.assign(8, 1.0f);
  auto write_at = [&](std::streamoff offset, const void* bytes, size_t n) {
    std::fstream f(path, std::ios::binary | std::ios::in | std::ios::out);
    f.seekp(offset);
    f.write(static_cast<const char*>(bytes), static_cast<std::streamsize>(n));
  };
  ASSERT_OK(WriteImage(v, path));
  const unsigned char swapped_dim0[] = {0x00, 0x03};   // 3 read big-endian
  const unsigned char big_endian_nan[] = {0x7f, 0xc0, 0x00, 0x00};
  write_at(40, swapped_dim0, 2);
  write_at(280, big_endian_nan, 4);  // srow_x[0]; sform_code 1 reads as 256 > 0
  for (const absl::Status& s : {ReadImage(path).status(), ReadStored(path).status(),
                                ReadGeometry(path).status()}) {
    EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
    EXPECT_THAT(std::string(s.message()), HasSubstr("srow_x[0] is not a finite number"));
  }
  ASSERT_OK(WriteImage(v, path));
  const float huge = 1e30f;
  write_at(300, &huge, 4);  // srow_y[1]
  const absl::Status s = ReadImage(path).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("srow_y[1] is 1e+30, beyond any image's extent"));
  fs::remove(path);
}

TEST(ImageIo, EmptyDirectoryIsRefusedSayingWhatToName) {
  const std::string dir = fs::temp_directory_path() / ("fedrad_empty_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  auto image = ReadImage(dir);
  EXPECT_EQ(image.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(image.status().message()),
              ::testing::AllOf(HasSubstr(dir), HasSubstr("holds no DICOM image series")));
  fs::remove_all(dir);
}

}  // namespace
}  // namespace fedrad::features
