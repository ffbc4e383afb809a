// DCMTK (plain dcmdata) lives here and in series.cc / dicom_write.cc only.
// Only the attributes named below are read: never the patient module.
#include "features/dicom/internal/dicom_objects.h"

#include <cmath>
#include <cstring>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmdata/dcdeftag.h"
#include "dcmtk/dcmdata/dcfilefo.h"
#include "dcmtk/dcmdata/dcrledrg.h"
#include "dcmtk/dcmdata/dcvrds.h"
#include "dcmtk/dcmdata/dcxfer.h"
#include "dcmtk/dcmjpeg/djdecode.h"
#include "dcmtk/dcmjpls/djdecode.h"
#include "dcmtk/oflog/oflog.h"
#include "features/dicom/internal/dcm_util.h"

namespace fedrad::features::dicom_internal {

void InitDcmtk() {
  static std::once_flag once;
  std::call_once(once, [] {
    OFLog::configure(OFLogger::FATAL_LOG_LEVEL);
    DcmRLEDecoderRegistration::registerCodecs();
    DJDecoderRegistration::registerCodecs();
    DJLSDecoderRegistration::registerCodecs();
  });
}

absl::StatusOr<std::unique_ptr<DcmFileFormat>> LoadDicom(const std::string& path,
                                                        bool with_pixels) {
  InitDcmtk();
  auto file = std::make_unique<DcmFileFormat>();
  OFCondition c = with_pixels ? file->loadFile(path.c_str())
                              : file->loadFileUntilTag(path.c_str(), EXS_Unknown, EGL_noChange,
                                                       DCM_MaxReadLength, ERM_autoDetect,
                                                       DCM_PixelData);
  if (c.bad()) {
    return absl::DataLossError(
        absl::StrCat(path, ": not a readable DICOM file (", c.text(), ")"));
  }
  return file;
}

std::string GetString(DcmItem* item, const DcmTagKey& tag) {
  OFString s;
  if (item == nullptr || item->findAndGetOFStringArray(tag, s).bad()) return "";
  std::string out(s.c_str());
  while (!out.empty() && (out.back() == ' ' || out.back() == '\0')) out.pop_back();
  while (!out.empty() && out.front() == ' ') out.erase(out.begin());
  return out;
}

std::vector<double> GetDoubles(DcmItem* item, const DcmTagKey& tag) {
  std::vector<double> out;
  DcmElement* e = nullptr;
  if (item == nullptr || item->findAndGetElement(tag, e).bad() || e == nullptr) return out;
  if (auto* ds = dynamic_cast<DcmDecimalString*>(e)) {
    OFVector<Float64> v;
    if (ds->getFloat64Vector(v).good()) out.assign(v.begin(), v.end());
    return out;
  }
  for (unsigned long i = 0; i < e->getVM(); ++i) {
    Float64 v = 0;
    if (e->getFloat64(v, i).bad()) break;
    out.push_back(v);
  }
  return out;
}

long GetInt(DcmItem* item, const DcmTagKey& tag, long fallback) {
  if (item == nullptr) return fallback;
  Sint32 s = 0;
  if (item->findAndGetSint32(tag, s).good()) return s;
  Uint16 u = 0;
  if (item->findAndGetUint16(tag, u).good()) return u;
  std::string text = GetString(item, tag);
  char* end = nullptr;
  long v = text.empty() ? fallback : std::strtol(text.c_str(), &end, 10);
  return (end != nullptr && *end == '\0') ? v : fallback;
}

std::vector<DcmItem*> Items(DcmItem* item, const DcmTagKey& seq_tag) {
  std::vector<DcmItem*> out;
  DcmSequenceOfItems* seq = nullptr;
  if (item == nullptr || item->findAndGetSequence(seq_tag, seq).bad() || seq == nullptr) {
    return out;
  }
  for (unsigned long i = 0; i < seq->card(); ++i) out.push_back(seq->getItem(i));
  return out;
}

DcmItem* FirstItem(DcmItem* item, const DcmTagKey& seq_tag) {
  std::vector<DcmItem*> items = Items(item, seq_tag);
  return items.empty() ? nullptr : items.front();
}

FileKind ReadFileKind(const std::string& path) {
  auto file = LoadDicom(path, /*with_pixels=*/false);
  if (!file.ok()) return {};
  DcmDataset* ds = (*file)->getDataset();
  return {GetString(ds, DCM_Modality), GetString(ds, DCM_SOPClassUID)};
}

absl::StatusOr<StructureSet> LoadStructureSet(const std::string& path) {
  FEDRAD_ASSIGN_OR_RETURN(std::unique_ptr<DcmFileFormat> file, LoadDicom(path, true));
  DcmDataset* ds = file->getDataset();
  if (GetString(ds, DCM_Modality) != "RTSTRUCT") {
    return absl::DataLossError(absl::StrCat(
        path, ": not an RTSTRUCT (Modality '", GetString(ds, DCM_Modality),
        "'); name the RT Structure Set file (fedrad dicom inspect lists what a folder holds)"));
  }
  StructureSet out;
  out.path = path;
  for (DcmItem* f : Items(ds, DCM_ReferencedFrameOfReferenceSequence)) {
    out.frame_of_reference_uids.push_back(GetString(f, DCM_FrameOfReferenceUID));
    for (DcmItem* study : Items(f, DCM_RTReferencedStudySequence)) {
      for (DcmItem* series : Items(study, DCM_RTReferencedSeriesSequence)) {
        std::string uid = GetString(series, DCM_SeriesInstanceUID);
        if (!uid.empty()) out.referenced_series_uids.push_back(std::move(uid));
      }
    }
  }
  for (DcmItem* r : Items(ds, DCM_StructureSetROISequence)) {
    Roi roi;
    roi.number = static_cast<int>(GetInt(r, DCM_ROINumber, -1));
    roi.name = GetString(r, DCM_ROIName);
    roi.frame_of_reference_uid = GetString(r, DCM_ReferencedFrameOfReferenceUID);
    out.rois.push_back(std::move(roi));
  }
  for (DcmItem* rc : Items(ds, DCM_ROIContourSequence)) {
    const int number = static_cast<int>(GetInt(rc, DCM_ReferencedROINumber, -1));
    Roi* roi = nullptr;
    for (Roi& r : out.rois) {
      if (r.number == number) roi = &r;
    }
    if (roi == nullptr) {
      return absl::DataLossError(absl::StrCat(
          path, ": ROIContourSequence refers to ROI number ", number,
          " which StructureSetROISequence does not define; the file is inconsistent, "
          "re-export it"));
    }
    int index = 0;
    for (DcmItem* c : Items(rc, DCM_ContourSequence)) {
      Contour contour;
      contour.index = ++index;
      contour.type = GetString(c, DCM_ContourGeometricType);
      contour.xyz = GetDoubles(c, DCM_ContourData);
      const long n = GetInt(c, DCM_NumberOfContourPoints, -1);
      if (contour.xyz.size() % 3 != 0 || (n >= 0 && static_cast<size_t>(n) * 3 != contour.xyz.size())) {
        return absl::DataLossError(absl::StrCat(
            path, ": ROI '", roi->name, "' contour ", contour.index, ": ContourData holds ",
            contour.xyz.size(), " numbers for ", n,
            " points (3 per point expected); re-export the structure set"));
      }
      for (DcmItem* img : Items(c, DCM_ContourImageSequence)) {
        contour.referenced_sops.push_back(GetString(img, DCM_ReferencedSOPInstanceUID));
      }
      roi->contours.push_back(std::move(contour));
    }
  }
  return out;
}

namespace {

// The raw pixel bytes, decoded to an uncompressed transfer syntax.
absl::Status ReadPixels(const std::string& path, DcmDataset* ds, SegObject* seg) {
  const E_TransferSyntax xfer = ds->getOriginalXfer();
  if (DcmXfer(xfer).isEncapsulated()) {
    if (ds->chooseRepresentation(EXS_LittleEndianExplicit, nullptr).bad() ||
        !ds->canWriteXfer(EXS_LittleEndianExplicit)) {
      return absl::DataLossError(absl::StrCat(
          path, ": pixel data in transfer syntax '", seg->transfer_syntax,
          "' cannot be decoded by DCMTK here; re-export the SEG uncompressed (Explicit VR "
          "Little Endian), e.g. with `dcmconv +te` or `gdcmconv --raw`"));
    }
  }
  const size_t pixels = static_cast<size_t>(seg->rows) * seg->columns * seg->frames;
  const size_t need = seg->bits_allocated == 1 ? (pixels + 7) / 8 : pixels;
  const Uint8* bytes = nullptr;
  unsigned long count = 0;
  DcmElement* e = nullptr;
  if (ds->findAndGetElement(DCM_PixelData, e).bad() || e == nullptr) {
    return absl::DataLossError(absl::StrCat(path, ": SEG has no PixelData; re-export it"));
  }
  if (e->getUint8Array(const_cast<Uint8*&>(bytes)).bad() || bytes == nullptr) {
    Uint16* words = nullptr;
    if (e->getUint16Array(words).bad() || words == nullptr) {
      return absl::DataLossError(absl::StrCat(path, ": cannot read the SEG's PixelData"));
    }
    bytes = reinterpret_cast<const Uint8*>(words);
  }
  count = e->getLength();
  if (count < need) {
    return absl::DataLossError(absl::StrCat(path, ": PixelData holds ", count, " bytes, ",
                                            seg->frames, " frames of ", seg->rows, "x",
                                            seg->columns, " need ", need,
                                            "; the file is truncated, re-export it"));
  }
  seg->pixels.assign(bytes, bytes + need);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<SegObject> LoadSeg(const std::string& path, bool with_pixels) {
  FEDRAD_ASSIGN_OR_RETURN(std::unique_ptr<DcmFileFormat> file, LoadDicom(path, with_pixels));
  DcmDataset* ds = file->getDataset();
  if (GetString(ds, DCM_Modality) != "SEG") {
    return absl::DataLossError(absl::StrCat(
        path, ": not a DICOM Segmentation (Modality '", GetString(ds, DCM_Modality),
        "'); name the SEG file (fedrad dicom inspect lists what a folder holds)"));
  }
  SegObject seg;
  seg.path = path;
  seg.transfer_syntax = DcmXfer(ds->getOriginalXfer()).getXferName();
  seg.type = GetString(ds, DCM_SegmentationType);
  seg.max_fractional = static_cast<int>(GetInt(ds, DCM_MaximumFractionalValue, 255));
  seg.rows = static_cast<int>(GetInt(ds, DCM_Rows, 0));
  seg.columns = static_cast<int>(GetInt(ds, DCM_Columns, 0));
  seg.frames = static_cast<int>(GetInt(ds, DCM_NumberOfFrames, 1));
  seg.bits_allocated = static_cast<int>(GetInt(ds, DCM_BitsAllocated, 0));
  seg.frame_of_reference_uid = GetString(ds, DCM_FrameOfReferenceUID);
  for (DcmItem* s : Items(ds, DCM_ReferencedSeriesSequence)) {
    std::string uid = GetString(s, DCM_SeriesInstanceUID);
    if (!uid.empty()) seg.referenced_series_uids.push_back(std::move(uid));
  }
  for (DcmItem* s : Items(ds, DCM_SegmentSequence)) {
    seg.segments.push_back({static_cast<int>(GetInt(s, DCM_SegmentNumber, -1)),
                            GetString(s, DCM_SegmentLabel)});
  }
  auto bad = [&](const std::string& m) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", m));
  };
  if (seg.type != "BINARY" && seg.type != "FRACTIONAL") {
    return bad(absl::StrCat("SegmentationType '", seg.type,
                            "' is not BINARY or FRACTIONAL; export a binary segmentation"));
  }
  if ((seg.type == "BINARY" && seg.bits_allocated != 1) ||
      (seg.type == "FRACTIONAL" && seg.bits_allocated != 8) || seg.rows <= 0 ||
      seg.columns <= 0 || seg.frames <= 0 || seg.max_fractional <= 0) {
    return bad(absl::StrCat("unsupported pixel layout (", seg.type, ", BitsAllocated ",
                            seg.bits_allocated, ", ", seg.rows, "x", seg.columns, ", ",
                            seg.frames, " frames); re-export the SEG"));
  }
  DcmItem* shared = FirstItem(ds, DCM_SharedFunctionalGroupsSequence);
  std::vector<DcmItem*> per_frame = Items(ds, DCM_PerFrameFunctionalGroupsSequence);
  if (static_cast<int>(per_frame.size()) != seg.frames) {
    return bad(absl::StrCat("PerFrameFunctionalGroupsSequence has ", per_frame.size(),
                            " items for ", seg.frames, " frames; re-export the SEG"));
  }
  // A functional group is in the shared item or in each frame's item.
  auto group = [&](DcmItem* frame, const DcmTagKey& tag) {
    DcmItem* g = FirstItem(frame, tag);
    return g != nullptr ? g : FirstItem(shared, tag);
  };
  for (int f = 0; f < seg.frames; ++f) {
    DcmItem* fr = per_frame[f];
    std::vector<double> iop = GetDoubles(group(fr, DCM_PlaneOrientationSequence),
                                         DCM_ImageOrientationPatient);
    std::vector<double> ps = GetDoubles(group(fr, DCM_PixelMeasuresSequence), DCM_PixelSpacing);
    std::vector<double> ipp = GetDoubles(group(fr, DCM_PlanePositionSequence),
                                         DCM_ImagePositionPatient);
    if (iop.size() != 6 || ps.size() != 2 || ipp.size() != 3) {
      return bad(absl::StrCat("frame ", f + 1,
                              " lacks its plane orientation, pixel spacing or plane position, "
                              "so it cannot be placed; re-export the SEG with plane positions"));
    }
    if (f == 0) {
      std::copy(iop.begin(), iop.end(), seg.orientation.begin());
      std::copy(ps.begin(), ps.end(), seg.pixel_spacing.begin());
    } else {
      for (int i = 0; i < 6; ++i) {
        if (std::abs(iop[i] - seg.orientation[i]) > 1e-4) {
          return bad(absl::StrCat("frame ", f + 1, " has another orientation than frame 1"));
        }
      }
    }
    SegFrame info;
    info.segment = static_cast<int>(
        GetInt(group(fr, DCM_SegmentIdentificationSequence), DCM_ReferencedSegmentNumber, -1));
    std::copy(ipp.begin(), ipp.end(), info.position.begin());
    seg.frame_info.push_back(info);
  }
  if (with_pixels) FEDRAD_RETURN_IF_ERROR(ReadPixels(path, ds, &seg));
  return seg;
}

std::array<double, 3> PhysicalToIndex(const Geometry& g, const std::array<double, 3>& p) {
  const double b[3] = {p[0] - g.origin[0], p[1] - g.origin[1], p[2] - g.origin[2]};
  // Orthonormal direction (every CT series): index_e = (D^T b)_e / spacing_e,
  // which keeps (p - origin) / spacing exact for the identity.
  bool orthonormal = true;
  for (int e = 0; e < 3; ++e) {
    for (int f = 0; f < 3; ++f) {
      double dot = 0;
      for (int d = 0; d < 3; ++d) dot += g.direction[d * 3 + e] * g.direction[d * 3 + f];
      if (std::abs(dot - (e == f ? 1.0 : 0.0)) > 1e-6) orthonormal = false;
    }
  }
  std::array<double, 3> out{};
  if (orthonormal) {
    for (int e = 0; e < 3; ++e) {
      double s = 0;
      for (int d = 0; d < 3; ++d) s += g.direction[d * 3 + e] * b[d];
      out[e] = s / g.spacing[e];
    }
    return out;
  }
  // General case: Cramer's rule on M = direction * diag(spacing).
  double m[3][3];
  for (int d = 0; d < 3; ++d) {
    for (int e = 0; e < 3; ++e) m[d][e] = g.direction[d * 3 + e] * g.spacing[e];
  }
  auto det3 = [](const double a[3][3]) {
    return a[0][0] * (a[1][1] * a[2][2] - a[1][2] * a[2][1]) -
           a[0][1] * (a[1][0] * a[2][2] - a[1][2] * a[2][0]) +
           a[0][2] * (a[1][0] * a[2][1] - a[1][1] * a[2][0]);
  };
  const double det = det3(m);
  for (int e = 0; e < 3; ++e) {
    double mm[3][3];
    std::memcpy(mm, m, sizeof(m));
    for (int d = 0; d < 3; ++d) mm[d][e] = b[d];
    out[e] = det3(mm) / det;
  }
  return out;
}

}  // namespace fedrad::features::dicom_internal
