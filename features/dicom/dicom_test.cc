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
#include "dcmtk/dcmdata/dcpixel.h"
#include "dcmtk/dcmdata/dcpixseq.h"
#include "dcmtk/dcmdata/dcpxitem.h"
#include "features/dicom/dicom_files_fixture.h"
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

// --- Files written with DCMTK (the fixture: dicom_files_fixture.h) ------


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
