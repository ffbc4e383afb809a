// features/dicom: the IBSI-1 contour rasterisation rule on hand-checked
// polygons, RTSTRUCT and SEG files written here with DCMTK (dicom_write.h),
// the bad inputs of issue 13, and the IBSI CT radiomics phantom (DICOM +
// RTSTRUCT "GTV-1") against its published NIfTI mask (tests/data/ibsi,
// CC BY-NC 3.0, see tests/data/README.md): 125,256 voxels, voxel for voxel.
#include "features/dicom/dicom.h"

#include <filesystem>
#include <fstream>
#include <random>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "core/testing/status_matchers.h"
#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmdata/dcdeftag.h"
#include "dcmtk/dcmdata/dcfilefo.h"
#include "dcmtk/dcmdata/dcxfer.h"
#include "dcmtk/dcmdata/dcpixel.h"
#include "dcmtk/dcmdata/dcpixseq.h"
#include "dcmtk/dcmdata/dcpxitem.h"
#include "dcmtk/dcmdata/dcrleerg.h"
#include "dcmtk/dcmdata/dcvrlo.h"
#include "dcmtk/dcmdata/dcvrss.h"
#include "features/dicom/dicom_write.h"
#include "features/image_io.h"

namespace fedrad::features::dicom {
namespace {

using ::fedrad::testing::StatusIs;

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;

int64_t Count(const std::vector<uint8_t>& v) {
  int64_t n = 0;
  for (uint8_t x : v) n += x != 0;
  return n;
}

// --- The rule on one plane (pure) -----------------------------------------

TEST(RasterisePlane, VerticesOnVoxelCentresLeftAndTopInRightAndBottomOut) {
  // Square with corners on centres (1,1)..(4,4): x in [1,4), y in [1,4).
  auto in = RasterisePlane({{{1, 1}, {4, 1}, {4, 4}, {1, 4}}}, 8, 8);
  EXPECT_EQ(Count(in), 9);
  for (int y = 0; y < 8; ++y) {
    for (int x = 0; x < 8; ++x) {
      EXPECT_EQ(in[y * 8 + x], (x >= 1 && x < 4 && y >= 1 && y < 4) ? 1 : 0) << x << "," << y;
    }
  }
}

TEST(RasterisePlane, NestedLoopIsAHole) {
  Polygon outer = {{0.5, 0.5}, {7.5, 0.5}, {7.5, 7.5}, {0.5, 7.5}};
  Polygon inner = {{2.5, 2.5}, {5.5, 2.5}, {5.5, 5.5}, {2.5, 5.5}};
  auto in = RasterisePlane({outer, inner}, 9, 9);
  EXPECT_EQ(Count(in), 49 - 9);
  EXPECT_EQ(in[4 * 9 + 4], 0);
  EXPECT_EQ(in[1 * 9 + 1], 1);
}

TEST(RasterisePlane, OverlappingLoopsCancelByXor) {
  Polygon a = {{0.5, 0.5}, {4.5, 0.5}, {4.5, 4.5}, {0.5, 4.5}};  // 4x4
  Polygon b = {{2.5, 2.5}, {6.5, 2.5}, {6.5, 6.5}, {2.5, 6.5}};  // 4x4, 2x2 overlap
  auto in = RasterisePlane({a, b}, 8, 8);
  EXPECT_EQ(Count(in), 16 + 16 - 2 * 4);
  EXPECT_EQ(in[3 * 8 + 3], 0);
}

TEST(RasterisePlane, SharedEdgeGoesToExactlyOneRoi) {
  Polygon left = {{1, 1}, {4, 1}, {4, 5}, {1, 5}};
  Polygon right = {{4, 1}, {7, 1}, {7, 5}, {4, 5}};
  Polygon below = {{1, 5}, {7, 5}, {7, 7}, {1, 7}};
  auto a = RasterisePlane({left}, 9, 9), b = RasterisePlane({right}, 9, 9),
       c = RasterisePlane({below}, 9, 9);
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_LE(a[i] + b[i] + c[i], 1) << "voxel " << i << " owned twice";
  }
  // Together they tile [1,7) x [1,7) with no gap.
  EXPECT_EQ(Count(a) + Count(b) + Count(c), 36);
}

TEST(RasterisePlane, RowThroughAVertexCountsItOnce) {
  // Diamond with vertices on rows 1, 4 and 7: row y holds x in [xl, xr).
  auto in = RasterisePlane({{{4, 1}, {7, 4}, {4, 7}, {1, 4}}}, 9, 9);
  const int expected_per_row[9] = {0, 0, 2, 4, 6, 4, 2, 0, 0};
  for (int y = 0; y < 9; ++y) {
    int n = 0;
    for (int x = 0; x < 9; ++x) n += in[y * 9 + x];
    EXPECT_EQ(n, expected_per_row[y]) << "row " << y;
  }
  EXPECT_EQ(in[4 * 9 + 1], 1);  // left vertex: inside
  EXPECT_EQ(in[4 * 9 + 7], 0);  // right vertex: outside
}

TEST(MaskOutlines, RandomMasksComeBackVoxelForVoxel) {
  std::mt19937 rng(13);
  for (int trial = 0; trial < 50; ++trial) {
    const int nx = 5 + trial % 7, ny = 4 + trial % 5;
    std::vector<uint8_t> mask(nx * ny);
    for (auto& v : mask) v = rng() % 3 == 0;
    auto back = RasterisePlane(MaskOutlines(mask, nx, ny), nx, ny);
    EXPECT_EQ(back, mask) << "trial " << trial;
  }
}

// --- Files written with DCMTK ---------------------------------------------

constexpr char kName[] = "DOE^JANE";
constexpr char kId[] = "PID-7741";
constexpr char kBirth[] = "19610407";

class DicomFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           absl::StrCat("fedrad_dicom_", ::getpid(), "_",
                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    ct_.geometry.size = {12, 10, 6};
    ct_.geometry.spacing = {1.5, 1.25, 2.5};
    ct_.geometry.origin = {-10, -5, 3};
    ct_.voxels.resize(ct_.geometry.NumVoxels());
    for (size_t i = 0; i < ct_.voxels.size(); ++i) ct_.voxels[i] = static_cast<float>(i % 97) - 40;
    uids_ = Write(ct_, series_dir(), "case");
  }
  void TearDown() override { fs::remove_all(dir_); }

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
    EXPECT_THAT(std::string(s.message()), Not(HasSubstr("DOE")));
    EXPECT_THAT(std::string(s.message()), Not(HasSubstr(kId)));
    EXPECT_THAT(std::string(s.message()), Not(HasSubstr(kBirth)));
  }

  fs::path dir_;
  ImageVolume ct_;
  SeriesUids uids_;
};

TEST_F(DicomFiles, SeriesReadsBackWithItsGeometryAndValues) {
  ASSERT_OK_AND_ASSIGN(auto s, ReadSeriesInfo(series_dir()));
  EXPECT_EQ(s.files.size(), 6u);
  EXPECT_EQ(GeometryMismatch(s.geometry, ct_.geometry), "");
  ASSERT_OK_AND_ASSIGN(auto image, ReadSeriesImage(s));
  EXPECT_EQ(GeometryMismatch(image.geometry, ct_.geometry), "");
  EXPECT_EQ(image.voxels, ct_.voxels);
}

TEST_F(DicomFiles, RingGivesAHoleAndXorTypeIsAccepted) {
  Polygon outer = {{0.5, 0.5}, {8.5, 0.5}, {8.5, 7.5}, {0.5, 7.5}};
  Polygon inner = {{2.5, 2.5}, {5.5, 2.5}, {5.5, 5.5}, {2.5, 5.5}};
  std::vector<RoiSpec> rois = {
      {"Ring", {Contour(outer, 2), Contour(inner, 2)}, ""},
      {"RingXor", {Contour(outer, 3, "CLOSEDPLANAR_XOR"), Contour(inner, 3, "CLOSEDPLANAR_XOR")}, ""}};
  for (const char* roi : {"Ring", "RingXor"}) {
    ASSERT_OK_AND_ASSIGN(auto m, Rasterise(rois, roi));
    int64_t n = 0;
    for (int32_t v : m.voxels) n += v != 0;
    EXPECT_EQ(n, 8 * 7 - 9) << roi;
    const int k = std::string(roi) == "Ring" ? 2 : 3;
    EXPECT_EQ(m.at(4, 4, k), 0) << roi;
    EXPECT_EQ(m.at(1, 1, k), 1) << roi;
  }
}

TEST_F(DicomFiles, SharedEdgeVerticesOnCentresAndRowVertex) {
  std::vector<RoiSpec> rois = {
      {"A", {Contour({{1, 1}, {4, 1}, {4, 5}, {1, 5}}, 1)}, ""},
      {"B", {Contour({{4, 1}, {7, 1}, {7, 5}, {4, 5}}, 1)}, ""},
      {"Diamond", {Contour({{4, 1}, {7, 4}, {4, 7}, {1, 4}}, 4)}, ""}};
  auto a = Rasterise(rois, "A"), b = Rasterise(rois, "B"), d = Rasterise(rois, "Diamond");
  ASSERT_OK(a);
  ASSERT_OK(b);
  ASSERT_OK(d);
  int64_t na = 0, nb = 0, nd = 0;
  for (size_t i = 0; i < a->voxels.size(); ++i) {
    EXPECT_FALSE(a->voxels[i] && b->voxels[i]) << "voxel " << i << " in both A and B";
    na += a->voxels[i] != 0;
    nb += b->voxels[i] != 0;
    nd += d->voxels[i] != 0;
  }
  EXPECT_EQ(na, 12);  // x 1..3, y 1..4
  EXPECT_EQ(nb, 12);  // x 4..6
  EXPECT_EQ(nd, 18);  // rows 2..6: 2 + 4 + 6 + 4 + 2
  EXPECT_EQ(d->at(1, 4, 4), 1);
  EXPECT_EQ(d->at(7, 4, 4), 0);
}

TEST_F(DicomFiles, PatternSelectsSeparateStructuresAsSeparateLabels) {
  std::vector<std::string> notes;
  std::vector<RoiSpec> rois = {
      {"GTV-1", {Contour({{1, 1}, {3, 1}, {3, 3}, {1, 3}}, 1)}, ""},
      {"Liver", {Contour({{0.5, 0.5}, {9.5, 0.5}, {9.5, 8.5}, {0.5, 8.5}}, 2)}, ""},
      {"Metastasis 2",
       {Contour({{5, 5}, {8, 5}, {8, 8}, {5, 8}}, 3), Contour({{2, 2}}, 3, "POINT")}, ""}};
  ASSERT_OK_AND_ASSIGN(auto m, Rasterise(rois, "GTV*|Metastasis*", &notes));
  EXPECT_EQ(m.at(1, 1, 1), 1);
  EXPECT_EQ(m.at(5, 5, 3), 2);
  EXPECT_EQ(m.at(1, 1, 2), 0);  // the liver is not a lesion
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_THAT(notes[0], HasSubstr("Metastasis 2"));
  EXPECT_THAT(notes[0], HasSubstr("POINT"));
}

TEST_F(DicomFiles, BadContoursAreRefusedNamingRoiAndContour) {
  Polygon sq = {{1, 1}, {4, 1}, {4, 4}, {1, 4}};
  ContourSpec other_series = Contour(sq, 1);
  other_series.referenced_sop = "1.2.3.4.5.6.7.8.9";
  std::vector<RoiSpec> rois = {
      {"OffPlane", {Contour(sq, 1), Contour(sq, 2.3)}, ""},
      {"NearPlane", {Contour(sq, 2.05)}, ""},
      {"OtherFrame", {Contour(sq, 1)}, "1.2.826.0.1.999.1"},
      {"OtherSeries", {other_series}, ""},
      {"OnlyPoints", {Contour({{2, 2}}, 1, "POINT")}, ""},
      {"Outside", {Contour(sq, 7)}, ""}};
  struct Case {
    const char* roi;
    const char* says;
  } cases[] = {{"OffPlane", "contour 2 lies 0.300 slice off"},
               {"OtherFrame", "frame of reference"},
               {"OtherSeries", "not in the series"},
               {"OnlyPoints", "empty ROI"},
               {"Outside", "outside the series"},
               {"Nothing*", "no ROI name matches"}};
  for (const Case& c : cases) {
    auto m = Rasterise(rois, c.roi);
    EXPECT_THAT(m, StatusIs(absl::StatusCode::kInvalidArgument,
                            ::testing::AllOf(HasSubstr(c.says), HasSubstr("RS.dcm"))))
        << c.roi;
    if (std::string(c.roi) != "Nothing*") {
      EXPECT_THAT(std::string(m.status().message()), HasSubstr(c.roi));
    }
    ExpectNoPatientData(m.status());
  }
  auto near = Rasterise(rois, "NearPlane");  // 0.05 slice off: within the tolerance
  ASSERT_OK(near);
  EXPECT_EQ(near->at(1, 1, 2), 1);
}

TEST_F(DicomFiles, StructureSetOfAnotherSeriesIsRefused) {
  SeriesUids other = uids_;
  other.series = "1.2.826.0.1.42";
  ASSERT_OK(WriteRtstruct(other, {{"GTV", {Contour({{1, 1}, {4, 1}, {4, 4}}, 1)}, ""}},
                          path("RS.dcm"), "x"));
  ASSERT_OK_AND_ASSIGN(auto s, ReadSeriesInfo(series_dir()));
  auto m = RasteriseRtstruct(s, path("RS.dcm"), "GTV", nullptr);
  ASSERT_THAT(m, StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("references series")));
}

std::vector<uint8_t> RandomMask(const Geometry& g, int seed) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> m(g.NumVoxels());
  for (auto& v : m) v = rng() % 4 == 0;
  return m;
}

TEST_F(DicomFiles, MaskContoursRoundTripThroughRtstruct) {
  std::vector<uint8_t> mask = RandomMask(ct_.geometry, 5);
  auto m = Rasterise({{"Lesion", MaskContours(ct_.geometry, mask, uids_), ""}}, "Lesion");
  ASSERT_OK(m);
  for (size_t i = 0; i < mask.size(); ++i) ASSERT_EQ(m->voxels[i] != 0, mask[i] != 0) << i;
}

TEST_F(DicomFiles, SegWithOddFrameSizeAndShuffledFramesReadsBack) {
  // 7 x 5 frames: 35 bits, so every frame after the first starts mid-byte.
  ImageVolume small;
  small.geometry.size = {7, 5, 9};
  small.geometry.spacing = {0.8, 0.7, 3};
  small.geometry.origin = {12.5, -3.25, -40};
  small.voxels.assign(small.geometry.NumVoxels(), 0.f);
  fs::path folder = dir_ / "small";
  SeriesUids u = Write(small, folder.string(), "small");
  std::vector<SegmentSpec> segs = {{"Liver", RandomMask(small.geometry, 1)},
                                   {"Lesion", RandomMask(small.geometry, 2)}};
  ASSERT_OK_AND_ASSIGN(auto s, ReadSeriesInfo(folder.string()));
  for (bool fractional : {false, true}) {
    SegWriteOptions o;
    o.fractional = fractional;
    const int frames = 18;  // every slice of the random masks holds a voxel
    for (int i = frames - 1; i >= 0; --i) o.frame_order.push_back((i * 7) % frames);
    ASSERT_OK(WriteSeg(u, small.geometry, segs, path("seg.dcm"), o));
    for (int k = 0; k < 2; ++k) {
      ASSERT_OK_AND_ASSIGN(auto m, ReadSeg(s, path("seg.dcm"), k == 0 ? "Liver" : "#2"));
      for (size_t i = 0; i < segs[k].mask.size(); ++i) {
        ASSERT_EQ(m.voxels[i] != 0, segs[k].mask[i] != 0) << "segment " << k << " voxel " << i;
      }
    }
  }
  auto none = ReadSeg(s, path("seg.dcm"), "Spleen");
  ASSERT_THAT(none, StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("no segment matches")));
}

// A SEG whose pixels are "JPEG 2000" (DCMTK has no JPEG 2000 decoder here).
void WriteUndecodableSeg(const std::string& from, const std::string& to) {
  DcmFileFormat file;
  ASSERT_TRUE(file.loadFile(from.c_str()).good());
  DcmDataset* ds = file.getDataset();
  delete ds->remove(DCM_PixelData);
  auto* seq = new DcmPixelSequence(DCM_PixelSequenceTag);
  seq->insert(new DcmPixelItem(DCM_PixelItemTag));  // empty offset table
  auto* fragment = new DcmPixelItem(DCM_PixelItemTag);
  Uint8 junk[8] = {0xff, 0x4f, 0xff, 0x51, 0, 0, 0, 0};
  fragment->putUint8Array(junk, 8);
  seq->insert(fragment);
  auto* pixels = new DcmPixelData(DCM_PixelData);
  pixels->putOriginalRepresentation(EXS_JPEG2000LosslessOnly, nullptr, seq);
  ds->insert(pixels, true);
  ASSERT_TRUE(file.saveFile(to.c_str(), EXS_JPEG2000LosslessOnly).good());
}

TEST_F(DicomFiles, UndecodableSegIsRefusedNamingTheTransferSyntax) {
  std::vector<SegmentSpec> segs = {{"Liver", RandomMask(ct_.geometry, 3)}};
  ASSERT_OK(WriteSeg(uids_, ct_.geometry, segs, path("seg.dcm"), {}));
  WriteUndecodableSeg(path("seg.dcm"), path("seg_j2k.dcm"));
  ASSERT_OK_AND_ASSIGN(auto s, ReadSeriesInfo(series_dir()));
  auto m = ReadSeg(s, path("seg_j2k.dcm"), "Liver");
  ASSERT_THAT(m, StatusIs(absl::StatusCode::kDataLoss,
                          ::testing::AllOf(HasSubstr("seg_j2k.dcm"), HasSubstr("JPEG 2000"),
                                           HasSubstr("uncompressed"))));
}

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

TEST_F(DicomFiles, BadSeriesAreRefusedWithWhatToDo) {
  auto refuse = [&](const std::string& folder, const std::string& says) {
    auto s = ReadSeriesInfo(folder);
    ASSERT_THAT(s, StatusIs(absl::StatusCode::kInvalidArgument,
                            ::testing::AllOf(HasSubstr(says), HasSubstr(folder))))
        << says;
    ExpectNoPatientData(s.status());
  };
  const fs::path ct = series_dir();
  // Missing slice.
  fs::path missing = dir_ / "missing";
  fs::copy(ct, missing);
  fs::remove(missing / "case_0003.dcm");
  refuse(missing.string(), "missing slice");
  // Duplicate slice.
  fs::path dup = dir_ / "dup";
  fs::copy(ct, dup);
  fs::copy_file(dup / "case_0002.dcm", dup / "copy_of_2.dcm");
  refuse(dup.string(), "duplicate slice");
  // Non-uniform spacing: slice 5 moved 1 mm up.
  fs::path uneven = dir_ / "uneven";
  fs::copy(ct, uneven);
  {
    DcmFileFormat f;
    const std::string p = (uneven / "case_0005.dcm").string();
    ASSERT_TRUE(f.loadFile(p.c_str()).good());
    f.getDataset()->putAndInsertString(DCM_ImagePositionPatient, "-10\\-5\\16.5");
    ASSERT_TRUE(f.saveFile(p.c_str(), EXS_LittleEndianExplicit).good());
  }
  refuse(uneven.string(), "non-uniform slice spacing");
  // Tilted gantry.
  fs::path tilted = dir_ / "tilted";
  CtWriteOptions o;
  o.uid_seed = "tilt";
  o.gantry_tilt_deg = 15;
  ASSERT_OK(WriteCtSeries(ct_, tilted.string(), o));
  refuse(tilted.string(), "gantry tilt");
  // Two series in one folder.
  fs::path two = dir_ / "two";
  fs::copy(ct, two);
  Write(ct_, two.string(), "second");
  refuse(two.string(), "2 image series");
  // A multi-frame (enhanced) file among the slices.
  fs::path multi = dir_ / "multi";
  fs::copy(ct, multi);
  {
    DcmFileFormat f;
    const std::string p = (multi / "case_0001.dcm").string();
    ASSERT_TRUE(f.loadFile(p.c_str()).good());
    f.getDataset()->putAndInsertString(DCM_NumberOfFrames, "2");
    ASSERT_TRUE(f.saveFile(p.c_str(), EXS_LittleEndianExplicit).good());
  }
  refuse(multi.string(), "multi-frame");
  // No series.
  fs::path empty = dir_ / "empty";
  fs::create_directories(empty);
  refuse(empty.string(), "no DICOM image series");
}

TEST_F(DicomFiles, InspectListsSeriesRoisAndSegmentsButNoPatientData) {
  ASSERT_OK(WriteRtstruct(uids_,
                          {{"GTV-1", {Contour({{1, 1}, {4, 1}, {4, 4}}, 1)}, ""},
                           {"Liver", {Contour({{1, 1}, {4, 1}, {4, 4}}, 2)}, ""}},
                          path("RS.dcm"), "case"));
  ASSERT_OK(
      WriteSeg(uids_, ct_.geometry, {{"Liver", RandomMask(ct_.geometry, 3)}}, path("seg.dcm"), {}));
  ASSERT_OK_AND_ASSIGN(auto text, Inspect(dir_.string()));
  EXPECT_THAT(text, HasSubstr("CT, 6 slices, 12 x 10"));
  EXPECT_THAT(text, HasSubstr("ROI 1 'GTV-1': 1 contours on 1 slices (CLOSED_PLANAR x1)"));
  EXPECT_THAT(text, HasSubstr("segment 1 'Liver': 6 frames"));
  EXPECT_THAT(text, HasSubstr(ShortUid(uids_.series)));
  EXPECT_THAT(text, Not(HasSubstr("DOE")));
  EXPECT_THAT(text, Not(HasSubstr(kId)));
  EXPECT_THAT(text, Not(HasSubstr(kBirth)));
}

TEST_F(DicomFiles, CaseReadsImageLesionsAndLiver) {
  std::vector<uint8_t> liver = RandomMask(ct_.geometry, 8), lesion = RandomMask(ct_.geometry, 9);
  ASSERT_OK(WriteRtstruct(uids_,
                          {{"Liver", MaskContours(ct_.geometry, liver, uids_), ""},
                           {"GTV", MaskContours(ct_.geometry, lesion, uids_), ""}},
                          path("RS.dcm"), "case"));
  auto c = ReadDicomCase({series_dir(), path("RS.dcm"), "", "GTV", "Liver"});
  ASSERT_OK(c);
  EXPECT_EQ(c->image.voxels, ct_.voxels);
  ASSERT_TRUE(c->liver.has_value());
  for (size_t i = 0; i < liver.size(); ++i) {
    ASSERT_EQ(c->liver->voxels[i] != 0, liver[i] != 0);
    ASSERT_EQ(c->lesions.voxels[i] != 0, lesion[i] != 0);
  }
  auto bad = ReadDicomCase({series_dir(), path("RS.dcm"), "", "GTV", "Spleen"});
  ASSERT_THAT(bad, StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("liver_roi")));
  auto both = ReadDicomCase({series_dir(), path("RS.dcm"), "", "*", "Liver"});
  ASSERT_THAT(both,
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("'Liver' matches both lesion_roi '*' and liver_roi 'Liver'")));
}

// --- The IBSI CT radiomics phantom ------------------------------------------

TEST(IbsiCtPhantomDicom, RtstructGtv1GivesThePublishedMaskVoxelForVoxel) {
  const std::string dir = std::string(FEDRAD_TEST_DATA_DIR) + "/ibsi/ct_radiomics_phantom";
  auto c = ReadDicomCase({dir + "/dicom/image", dir + "/dicom/rtstruct/DCM_RS_00060.dcm", "",
                          "GTV-1", ""});
  ASSERT_OK(c);
  auto mask = ReadLabelMap(dir + "/nifti/mask/mask.nii.gz");
  auto image = ReadImage(dir + "/nifti/image/phantom.nii.gz");
  ASSERT_OK(mask);
  ASSERT_OK(image);
  EXPECT_EQ(GeometryMismatch(c->lesions.geometry, mask->geometry), "");
  int64_t mine = 0, published = 0, differ = 0;
  for (size_t i = 0; i < mask->voxels.size(); ++i) {
    mine += c->lesions.voxels[i] != 0;
    published += mask->voxels[i] != 0;
    differ += (c->lesions.voxels[i] != 0) != (mask->voxels[i] != 0);
  }
  EXPECT_EQ(published, 125256);  // IBSI reference manual, CT phantom ROI
  EXPECT_EQ(mine, 125256);
  EXPECT_EQ(differ, 0);
  EXPECT_EQ(c->image.voxels, image->voxels);
}

}  // namespace
}  // namespace fedrad::features::dicom
