// Slices checked and copied before ITK (GDCM) reads their pixels
// (dicom::CheckSlicesForPixelRead, dicom::ReadSeriesImage): each test is a
// finding of tests/fuzz/fuzz_dicom (its input is in the fuzz corpus as
// regression-*) or the path a real export takes through the copies.
#include <sys/resource.h>

#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "core/testing/status_matchers.h"
#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmdata/dcdeftag.h"
#include "dcmtk/dcmdata/dcfilefo.h"
#include "dcmtk/dcmdata/dcrleerg.h"
#include "dcmtk/dcmdata/dcvrlo.h"
#include "dcmtk/dcmdata/dcvrss.h"
#include "dcmtk/dcmdata/dcxfer.h"
#include "features/dicom/dicom.h"
#include "features/dicom/dicom_files_fixture.h"
#include "features/image_io.h"

namespace fedrad::features::dicom {
namespace {

using ::fedrad::testing::StatusIs;

namespace fs = std::filesystem;
using ::testing::HasSubstr;

// Found by tests/fuzz/fuzz_dicom: a slice whose element claims 3.4 GB made
// GDCM (behind ITK) allocate it before reading. The declared lengths are
// checked with DCMTK first; the slice is refused naming the file.
TEST_F(DicomFiles, ElementLongerThanItsFileIsRefusedBeforeGdcmReadsIt) {
  auto s = ReadSeriesInfo(series_dir());
  ASSERT_TRUE(s.ok()) << s.status();
  {
    // (7fe1,0010) OB, length 0xcd000000, after the pixel data; no value.
    const char element[] = {'\xe1', '\x7f', '\x10', '\x00', 'O',    'B',
                            '\x00', '\x00', '\x00', '\x00', '\x00', '\xcd'};
    std::ofstream out(s->files.front(), std::ios::binary | std::ios::app);
    out.write(element, sizeof(element));
  }
  for (const absl::Status& status : {ReadSeriesImage(*s).status(), ReadImage(series_dir()).status()}) {
    EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss) << status;
    EXPECT_THAT(std::string(status.message()), HasSubstr("claims more bytes than the file holds"));
    EXPECT_THAT(std::string(status.message()), HasSubstr(s->files.front()));
    ExpectNoPatientData(status);
  }
}

// Found by tests/fuzz/fuzz_dicom: a file meta element whose VR is not one
// of the standard's ("uI") made GDCM, behind ITK, abort the whole process
// (an assertion in gdcm::ReadExplicitDataElement); DCMTK reads it as UN, so
// the series headers pass. The meta group is checked before ITK reads.
TEST_F(DicomFiles, UnknownVrInTheFileMetaGroupIsRefusedBeforeGdcmReadsIt) {
  ASSERT_OK_AND_ASSIGN(auto s, ReadSeriesInfo(series_dir()));
  {
    std::fstream f(s.files.front(), std::ios::binary | std::ios::in | std::ios::out);
    std::string head(512, '\0');
    f.read(head.data(), static_cast<std::streamsize>(head.size()));
    // (0002,0003) Media Storage SOP Instance UID, explicit VR "UI".
    const size_t at = head.find(std::string("\x02\x00\x03\x00UI", 6));
    ASSERT_NE(at, std::string::npos);
    f.clear();
    f.seekp(static_cast<std::streamoff>(at + 4));
    f.write("uI", 2);
  }
  for (const absl::Status& status : {ReadSeriesImage(s).status(), ReadImage(series_dir()).status()}) {
    EXPECT_THAT(status, StatusIs(absl::StatusCode::kDataLoss,
                                 ::testing::AllOf(HasSubstr(s.files.front()),
                                                  HasSubstr("(0002,0003)"), HasSubstr("'uI'"),
                                                  HasSubstr("re-export"))));
    ExpectNoPatientData(status);
  }
}

// Found by tests/fuzz/fuzz_dicom in CI: Samples per Pixel 5 made GDCM
// assert (abort the site) while ITK read the series. Each value GDCM asserts
// on, and each a scalar radiomics series cannot have, is refused first.
TEST_F(DicomFiles, SlicesGdcmWouldMisreadAreRefusedBeforeItReads) {
  struct Bad {
    DcmTagKey tag;
    Uint16 value;
    const char* says;
  };
  const Bad bad[] = {{DCM_SamplesPerPixel, 5, "Samples per Pixel (0028,0002) is 5"},
                     {DCM_SamplesPerPixel, 0, "Samples per Pixel (0028,0002) is 0"},
                     {DCM_SamplesPerPixel, 3, "Samples per Pixel (0028,0002) is 3"},
                     {DCM_BitsAllocated, 12, "Bits Allocated (0028,0100) is 12"},
                     {DCM_BitsStored, 17, "Bits Stored (0028,0101) is 17"},
                     {DCM_HighBit, 16, "High Bit (0028,0102) is 16"},
                     {DCM_PixelRepresentation, 2, "Pixel Representation (0028,0103) is 2"}};
  ASSERT_OK_AND_ASSIGN(auto s, ReadSeriesInfo(series_dir()));
  int n = 0;
  for (const Bad& b : bad) {
    const fs::path copy = dir_ / absl::StrCat("pixel_module_", n++);
    fs::copy(series_dir(), copy);
    const std::string slice = (copy / fs::path(s.files[1]).filename()).string();
    DcmFileFormat f;
    ASSERT_TRUE(f.loadFile(slice.c_str()).good());
    ASSERT_TRUE(f.getDataset()->putAndInsertUint16(b.tag, b.value).good());
    ASSERT_TRUE(f.saveFile(slice.c_str(), EXS_LittleEndianExplicit).good());
    ASSERT_OK_AND_ASSIGN(auto info, ReadSeriesInfo(copy.string()));
    for (const absl::Status& status :
         {ReadSeriesImage(info).status(), ReadImage(copy.string()).status()}) {
      EXPECT_THAT(status, StatusIs(absl::StatusCode::kInvalidArgument,
                                   ::testing::AllOf(HasSubstr(slice), HasSubstr(b.says),
                                                    HasSubstr("re-export"))))
          << b.says;
      ExpectNoPatientData(status);
    }
  }
  {
    const fs::path copy = dir_ / "pixel_module_rgb";
    fs::copy(series_dir(), copy);
    const std::string slice = (copy / fs::path(s.files[0]).filename()).string();
    DcmFileFormat f;
    ASSERT_TRUE(f.loadFile(slice.c_str()).good());
    ASSERT_TRUE(f.getDataset()->putAndInsertString(DCM_PhotometricInterpretation, "RGB").good());
    ASSERT_TRUE(f.saveFile(slice.c_str(), EXS_LittleEndianExplicit).good());
    ASSERT_OK_AND_ASSIGN(auto info, ReadSeriesInfo(copy.string()));
    EXPECT_THAT(ReadSeriesImage(info).status(),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         HasSubstr("Photometric Interpretation (0028,0004) is 'RGB'")));
  }
  {
    // Found next (CI's seed with ReadImage of a folder): Bits Allocated with
    // VR SS made GDCM assert that the VR is the dictionary's (US).
    const fs::path copy = dir_ / "pixel_module_vr";
    fs::copy(series_dir(), copy);
    const std::string slice = (copy / fs::path(s.files[2]).filename()).string();
    DcmFileFormat f;
    ASSERT_TRUE(f.loadFile(slice.c_str()).good());
    auto* bits = new DcmSignedShort(DcmTag(DCM_BitsAllocated, EVR_SS));
    ASSERT_TRUE(bits->putSint16(16).good());
    ASSERT_TRUE(f.getDataset()->insert(bits, /*replaceOld=*/true).good());
    ASSERT_TRUE(f.saveFile(slice.c_str(), EXS_LittleEndianExplicit).good());
    ASSERT_OK_AND_ASSIGN(auto info, ReadSeriesInfo(copy.string()));
    for (const absl::Status& status :
         {ReadSeriesImage(info).status(), ReadImage(copy.string()).status()}) {
      EXPECT_THAT(status, StatusIs(absl::StatusCode::kInvalidArgument,
                                   ::testing::AllOf(HasSubstr(slice),
                                                    HasSubstr("(0028,0100) has VR SS where DICOM "
                                                              "defines US"))));
    }
  }
  {
    // Found by the long runs: a command-group element in the dataset made
    // GDCM read the rest of the file otherwise than DCMTK (and allocate
    // 800 MB for a length it found there).
    const fs::path copy = dir_ / "command_group";
    fs::copy(series_dir(), copy);
    const std::string slice = (copy / fs::path(s.files[0]).filename()).string();
    DcmFileFormat f;
    ASSERT_TRUE(f.loadFile(slice.c_str()).good());
    auto* command = new DcmLongString(DcmTag(DcmTagKey(0x0000, 0x5443), EVR_LO));
    ASSERT_TRUE(command->putString("x").good());
    ASSERT_TRUE(f.getDataset()->insert(command, /*replaceOld=*/true).good());
    ASSERT_TRUE(f.saveFile(slice.c_str(), EXS_LittleEndianExplicit).good());
    ASSERT_OK_AND_ASSIGN(auto info, ReadSeriesInfo(copy.string()));
    EXPECT_THAT(ReadSeriesImage(info).status(),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         ::testing::AllOf(HasSubstr(slice), HasSubstr("(0000,5443)"),
                                          HasSubstr("re-export"))));
  }
  // The untouched series still reads.
  EXPECT_OK(ReadSeriesImage(s).status());
  EXPECT_OK(ReadImage(series_dir()).status());
}

// Found by the long runs (session 7; tests/data/dicom/fuzz_gdcm_misread.dcm
// is the input with a valid SOP Class UID and orientation, so that it reaches
// GDCM; the input itself is tests/fuzz/corpus/fuzz_dicom/
// regression-gdcm-misread-800mb): a one-slice 4x4 CT series (slope 2) whose
// patient name the fuzzer partly overwrote, leaving an element (3000,5443)
// with the VR bytes 0x10 0x00.
// DCMTK reads the file and the checks pass; GDCM, which ITK reads the pixels
// with, parsed the bytes after it otherwise and allocated and cleared 800 MB
// for a length it found there. Such differences cannot all be listed, so
// GDCM now reads a copy DCMTK wrote, holding only the elements the pixels
// need: the slice reads as DCMTK sees it, its 16 pixels times the slope.
TEST_F(DicomFiles, GdcmReadsOnlyWhatDcmtkWrote) {
  const fs::path folder = dir_ / "misread";
  fs::create_directories(folder);
  const fs::path slice = folder / "slice.dcm";
  fs::copy_file(std::string(FEDRAD_TEST_DATA_DIR) + "/dicom/fuzz_gdcm_misread.dcm", slice);
  std::string bytes;
  {
    std::ifstream in(slice, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  // The file ends with Pixel Data: 16 signed 16-bit pixels.
  ASSERT_GE(bytes.size(), 32u);
  std::vector<float> expected;
  for (size_t at = bytes.size() - 32; at < bytes.size(); at += 2) {
    const auto stored = static_cast<int16_t>(static_cast<uint8_t>(bytes[at]) |
                                             static_cast<uint8_t>(bytes[at + 1]) << 8);
    expected.push_back(2.0f * stored);
  }
  ASSERT_OK_AND_ASSIGN(auto info, ReadSeriesInfo(folder.string()));
  for (auto image : {ReadSeriesImage(info), ReadImage(folder.string())}) {
    ASSERT_OK(image.status());
    EXPECT_EQ(image->geometry.size, (std::array<int, 3>{4, 4, 1}));
    EXPECT_EQ(image->voxels, expected);
  }
  // The fuzzer's own input also had an orientation of no two orthogonal
  // unit vectors, which ITK replaced by the identity: refused from the header.
  const std::string iop = "1\\0\\0\\0\\1\\0 ";
  const size_t at = bytes.find(iop);
  ASSERT_NE(at, std::string::npos);
  bytes.replace(at, iop.size(), "1\\0\\0\\1\\1\\0 ");
  {
    std::ofstream out(slice, std::ios::binary | std::ios::trunc);
    out << bytes;
  }
  EXPECT_THAT(ReadSeriesInfo(folder.string()),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       ::testing::AllOf(HasSubstr("slice.dcm: Image Orientation (Patient) "
                                                  "(0020,0037) is 1\\0\\0\\1\\1\\0, not two "
                                                  "orthogonal unit vectors"),
                                        HasSubstr("re-export"))));
}

// The copies GDCM reads keep the slice's transfer syntax: an RLE Lossless
// (encapsulated) series reads exactly like the uncompressed one.
TEST_F(DicomFiles, CompressedSeriesReadsLikeTheUncompressedOne) {
  ASSERT_OK_AND_ASSIGN(auto s, ReadSeriesInfo(series_dir()));
  ASSERT_OK_AND_ASSIGN(ImageVolume clean, ReadSeriesImage(s));
  DcmRLEEncoderRegistration::registerCodecs();
  const fs::path copy = dir_ / "rle";
  fs::copy(series_dir(), copy);
  for (const std::string& file : s.files) {
    const std::string slice = (copy / fs::path(file).filename()).string();
    DcmFileFormat f;
    ASSERT_TRUE(f.loadFile(slice.c_str()).good());
    ASSERT_TRUE(f.getDataset()->chooseRepresentation(EXS_RLELossless, nullptr).good());
    ASSERT_TRUE(f.saveFile(slice.c_str(), EXS_RLELossless).good());
  }
  ASSERT_OK_AND_ASSIGN(auto info, ReadSeriesInfo(copy.string()));
  EXPECT_EQ(info.transfer_syntax, DcmXfer(EXS_RLELossless).getXferName());
  ASSERT_OK_AND_ASSIGN(ImageVolume rle, ReadSeriesImage(info));
  EXPECT_EQ(rle.voxels, clean.voxels);
  EXPECT_EQ(GeometryMismatch(rle.geometry, clean.geometry), "");
}

// Found by the long runs (session 8, tests/fuzz/corpus/fuzz_dicom/
// regression-oom-rows-columns): an 800-byte slice whose Rows and Columns
// claimed 396 million pixels; GDCM read it, filling what the file lacked,
// and ITK allocated 1.6 GB. The pixels a header claims must be in the file.
TEST_F(DicomFiles, PixelsTheHeaderClaimsMustBeInTheFile) {
  ASSERT_OK_AND_ASSIGN(auto s, ReadSeriesInfo(series_dir()));
  const fs::path copy = dir_ / "claims";
  fs::copy(series_dir(), copy);
  const std::string slice = (copy / fs::path(s.files[2]).filename()).string();
  DcmFileFormat f;
  ASSERT_TRUE(f.loadFile(slice.c_str()).good());
  ASSERT_TRUE(f.getDataset()->putAndInsertUint16(DCM_Rows, 20300).good());
  ASSERT_TRUE(f.getDataset()->putAndInsertUint16(DCM_Columns, 19539).good());
  ASSERT_TRUE(f.saveFile(slice.c_str(), EXS_LittleEndianExplicit).good());
  // ReadSeriesInfo already refuses a slice whose matrix differs from the
  // others'; the check before ITK holds on its own too. The fixture's slices
  // are 12 x 10 at 16 bits (240 bytes); the claim is 20300 x 19539 x 2 bytes.
  EXPECT_THAT(CheckSlicesForPixelRead({slice}),
              StatusIs(absl::StatusCode::kDataLoss,
                       ::testing::AllOf(HasSubstr(slice),
                                        HasSubstr("Pixel Data (7FE0,0010) holds 240 bytes, but "
                                                  "Rows x Columns x Number of Frames x Bits "
                                                  "Allocated claim 793283400"),
                                        HasSubstr("re-export"))));
  EXPECT_OK(CheckSlicesForPixelRead(s.files));
}

// Each slice is an open file while ITK reads the copies: a soft limit below
// the slice count is raised (within the hard limit), and a hard limit below
// it fails the series saying what to raise. Run in a child process (a death
// test), since a hard limit cannot be raised again; exit code 0 = as expected.
void ReadWithOpenFileLimit(const SeriesInfo& s, rlim_t soft, rlim_t hard) {
  const rlimit limit{soft, hard};
  if (::setrlimit(RLIMIT_NOFILE, &limit) != 0) std::exit(2);
  const absl::Status status = ReadSeriesImage(s).status();
  std::cerr << status;
  rlimit now{};
  ::getrlimit(RLIMIT_NOFILE, &now);
  const size_t needed = s.files.size() + 256;
  const bool expected = hard >= needed ? status.ok() && now.rlim_cur >= needed
                                       : status.code() == absl::StatusCode::kResourceExhausted;
  std::exit(expected ? 0 : 1);
}

TEST_F(DicomFiles, TheOpenFileLimitIsRaisedOrNamed) {
  ASSERT_OK_AND_ASSIGN(auto s, ReadSeriesInfo(series_dir()));
  ASSERT_EQ(s.files.size(), 6u);
  EXPECT_EXIT(ReadWithOpenFileLimit(s, 64, 4096), ::testing::ExitedWithCode(0), "");
  EXPECT_EXIT(ReadWithOpenFileLimit(s, 64, 64), ::testing::ExitedWithCode(0),
              "the series has 6 slices and this process may open only 64 files; raise the "
              "limit \\(ulimit -n");
}

}  // namespace
}  // namespace fedrad::features::dicom
