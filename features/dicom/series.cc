// DICOM image series from their headers (DCMTK), checked before ITK reads
// the pixels: one series per folder, every slice present once, uniform
// spacing, no gantry tilt.
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string_view>
#include <map>
#include <memory>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "core/status.h"
#include "dcmtk/dcmdata/dcdeftag.h"
#include "dcmtk/dcmdata/dctag.h"
#include "dcmtk/dcmdata/dcvr.h"
#include "dcmtk/dcmdata/dcxfer.h"
#include "features/dicom/dicom.h"
#include "features/dicom/internal/dcm_util.h"
#include "features/dicom/internal/dicom_objects.h"
#include "features/image_io.h"

namespace fedrad::features::dicom {
namespace {

namespace fs = std::filesystem;
using dicom_internal::GetDoubles;
using dicom_internal::GetInt;
using dicom_internal::GetString;

struct Slice {
  std::string file, sop, modality, frame, xfer;
  std::vector<double> ipp, iop, spacing;
  int rows = 0, columns = 0, frames = 1;
  double tilt = 0, thickness = 0;
  double along = 0;  // position along the slice normal
};

bool IsImageModality(const std::string& m) {
  static const char* const kNot[] = {"RTSTRUCT", "SEG", "RTPLAN", "RTDOSE", "RTRECORD",
                                     "SR",       "PR",  "KO",     "REG",    "RTIMAGE"};
  for (const char* n : kNot) {
    if (m == n) return false;
  }
  return true;
}

std::array<double, 3> Cross(const std::vector<double>& iop) {
  return {iop[1] * iop[5] - iop[2] * iop[4], iop[2] * iop[3] - iop[0] * iop[5],
          iop[0] * iop[4] - iop[1] * iop[3]};
}

// Geometry and problems of one series whose slices are sorted along the normal.
void Analyse(std::vector<Slice>& slices, SeriesInfo* s) {
  const Slice& first = slices.front();
  const std::array<double, 3> n = Cross(first.iop);
  for (const Slice& sl : slices) {
    bool same = sl.rows == first.rows && sl.columns == first.columns;
    for (int i = 0; i < 6 && same; ++i) same = std::abs(sl.iop[i] - first.iop[i]) < 1e-4;
    for (int i = 0; i < 2 && same; ++i) same = std::abs(sl.spacing[i] - first.spacing[i]) < 1e-4;
    if (!same) {
      s->problems.push_back(absl::StrCat(
          "slices differ in matrix, orientation or pixel spacing (", fs::path(first.file).filename().string(),
          " vs ", fs::path(sl.file).filename().string(),
          "): the folder mixes reconstructions; export one series per folder"));
      break;
    }
  }
  {
    // Two orthogonal unit vectors (C.7.6.2.1.1), within what a scanner's
    // rounding of six decimal strings leaves; else no grid is defined, and
    // ITK would quietly replace the direction by the identity (found by
    // tests/fuzz/fuzz_dicom).
    const std::vector<double>& o = first.iop;
    const double row = std::sqrt(o[0] * o[0] + o[1] * o[1] + o[2] * o[2]);
    const double column = std::sqrt(o[3] * o[3] + o[4] * o[4] + o[5] * o[5]);
    const double dot = o[0] * o[3] + o[1] * o[4] + o[2] * o[5];
    constexpr double kTolerance = 1e-3;
    if (!(std::abs(row - 1) <= kTolerance && std::abs(column - 1) <= kTolerance &&
          std::abs(dot) <= kTolerance)) {
      s->problems.push_back(absl::StrFormat(
          "%s: Image Orientation (Patient) (0020,0037) is %s, not two orthogonal unit vectors "
          "(lengths %.4g and %.4g, dot product %.4g); the header is damaged, re-export the "
          "series",
          fs::path(first.file).filename().string(),
          absl::StrJoin(o, "\\", [](std::string* out, double v) { absl::StrAppend(out, v); }),
          row, column, dot));
    }
  }
  for (const Slice& sl : slices) {
    if (sl.frames > 1) {
      s->problems.push_back(absl::StrCat(
          fs::path(sl.file).filename().string(), " is a multi-frame (enhanced) image of ",
          sl.frames, " frames; export the series as single-frame slices"));
      break;
    }
  }
  Geometry& g = s->geometry;
  g.size = {first.columns, first.rows, static_cast<int>(slices.size())};
  g.spacing = {first.spacing[1], first.spacing[0], first.thickness > 0 ? first.thickness : 1.0};
  g.origin = {first.ipp[0], first.ipp[1], first.ipp[2]};
  for (int d = 0; d < 3; ++d) {
    g.direction[d * 3 + 0] = first.iop[d];
    g.direction[d * 3 + 1] = first.iop[3 + d];
    g.direction[d * 3 + 2] = n[d];
  }
  s->gantry_tilt_deg = first.tilt;
  if (std::abs(first.tilt) > 1e-3) {
    s->problems.push_back(absl::StrFormat(
        "gantry tilt %.2f degrees: the slices are sheared and no rasterisation on this grid is "
        "exact; re-export an untilted (resampled) reconstruction", first.tilt));
  }
  if (slices.size() < 2) return;
  std::vector<double> gaps;
  for (size_t i = 1; i < slices.size(); ++i) gaps.push_back(slices[i].along - slices[i - 1].along);
  std::vector<double> sorted = gaps;
  std::nth_element(sorted.begin(), sorted.begin() + sorted.size() / 2, sorted.end());
  const double step = sorted[sorted.size() / 2];
  g.spacing[2] = step;
  // Shear by geometry (tilt not stated): the stack must run along the normal.
  double lateral = 0;
  for (int d = 0; d < 3; ++d) {
    double delta = slices.back().ipp[d] - first.ipp[d];
    double along = (slices.back().along - first.along) * n[d];
    lateral = std::max(lateral, std::abs(delta - along));
  }
  if (std::abs(first.tilt) <= 1e-3 && lateral > 0.01 * std::max(1.0, step)) {
    s->problems.push_back(absl::StrFormat(
        "the slice positions drift %.2f mm sideways over the stack (a tilted gantry or a "
        "sheared export); re-export an untilted (resampled) reconstruction", lateral));
  }
  const double tol = std::max(1e-3, 0.02 * step);
  for (size_t i = 0; i < gaps.size(); ++i) {
    const std::string a = fs::path(slices[i].file).filename().string();
    const std::string b = fs::path(slices[i + 1].file).filename().string();
    if (gaps[i] < 1e-3) {
      s->problems.push_back(absl::StrCat("duplicate slice: ", a, " and ", b,
                                         " lie at the same position; remove one copy"));
    } else if (step < 1e-3) {
      continue;  // reported as duplicates
    } else if (std::abs(gaps[i] - step) > tol) {
      const double ratio = gaps[i] / step;
      if (ratio > 1.5 && std::abs(ratio - std::round(ratio)) * step <= tol) {
        s->problems.push_back(absl::StrFormat(
            "missing slice(s): %d slice(s) absent between %s and %s (gap %.3f mm, spacing "
            "%.3f mm); export the complete series",
            static_cast<int>(std::round(ratio)) - 1, a, b, gaps[i], step));
      } else {
        s->problems.push_back(absl::StrFormat(
            "non-uniform slice spacing: %.3f mm between %s and %s, %.3f mm elsewhere; "
            "resample the series to uniform spacing or export the uniform part",
            gaps[i], a, b, step));
      }
    }
    if (s->problems.size() > 8) {
      s->problems.push_back("(further problems not listed)");
      break;
    }
  }
}

}  // namespace

// The file meta group (0002,xxxx) of a Part 10 file, element by element:
// explicit VR little endian, every VR one of the standard's, every length
// within the file. DCMTK reads an unknown VR as UN, but GDCM (what ITK reads
// the pixels with) aborts the process on one (an assertion in
// gdcm::ReadExplicitDataElement, found by fuzzing), so a site checks the
// group itself before any file reaches ITK. A file without the "DICM"
// prefix has no meta group to check.
absl::Status CheckFileMeta(const std::string& path) {
  constexpr size_t kPreamble = 128;
  constexpr size_t kMaxMeta = 1 << 16;  // far beyond any real meta group
  std::ifstream in(path, std::ios::binary);
  std::string head(kPreamble + 4 + kMaxMeta, '\0');
  in.read(head.data(), static_cast<std::streamsize>(head.size()));
  head.resize(static_cast<size_t>(in.gcount()));
  if (head.size() < kPreamble + 4 || head.compare(kPreamble, 4, "DICM") != 0) {
    return absl::OkStatus();
  }
  static constexpr std::string_view kVrs[] = {
      "AE", "AS", "AT", "CS", "DA", "DS", "DT", "FD", "FL", "IS", "LO", "LT", "OB", "OD", "OF",
      "OL", "OV", "OW", "PN", "SH", "SL", "SQ", "SS", "ST", "SV", "TM", "UC", "UI", "UL", "UN",
      "UR", "US", "UT", "UV"};
  static constexpr std::string_view kLongVrs[] = {"OB", "OD", "OF", "OL", "OV", "OW", "SQ",
                                                  "SV", "UC", "UN", "UR", "UT", "UV"};
  auto u16 = [&](size_t at) {
    return static_cast<uint32_t>(static_cast<uint8_t>(head[at])) |
           static_cast<uint32_t>(static_cast<uint8_t>(head[at + 1])) << 8;
  };
  size_t at = kPreamble + 4;
  while (at + 8 <= head.size() && u16(at) == 0x0002) {
    const uint32_t element = u16(at + 2);
    const std::string_view vr(head.data() + at + 4, 2);
    const std::string tag = absl::StrFormat("(0002,%04X)", element);
    if (std::find(std::begin(kVrs), std::end(kVrs), vr) == std::end(kVrs)) {
      return absl::DataLossError(absl::StrCat(
          path, ": file meta element ", tag, " has VR '", absl::CHexEscape(std::string(vr)),
          "', which is no DICOM VR; the file is damaged, re-export the series"));
    }
    uint64_t length = 0;
    size_t value = 0;
    if (std::find(std::begin(kLongVrs), std::end(kLongVrs), vr) != std::end(kLongVrs)) {
      if (at + 12 > head.size()) break;
      length = u16(at + 8) | static_cast<uint64_t>(u16(at + 10)) << 16;
      value = at + 12;
    } else {
      length = u16(at + 6);
      value = at + 8;
    }
    if (length == 0xFFFFFFFFu || value + length > head.size()) {
      return absl::DataLossError(absl::StrCat(
          path, ": file meta element ", tag, " claims ",
          length == 0xFFFFFFFFu ? std::string("an undefined length")
                                : absl::StrCat(length, " bytes"),
          ", more than the file meta group can hold; the file is damaged, re-export the series"));
    }
    at = value + static_cast<size_t>(length);
  }
  return absl::OkStatus();
}

std::string ShortUid(const std::string& uid) {
  return uid.size() <= 16 ? uid : absl::StrCat("...", uid.substr(uid.size() - 16));
}

absl::StatusOr<std::vector<SeriesInfo>> ScanFolder(const std::string& folder) {
  std::error_code ec;
  if (!fs::is_directory(folder, ec)) {
    return absl::NotFoundError(absl::StrCat(folder, ": no such folder (a DICOM series is "
                                            "given as the folder holding its slices)"));
  }
  std::vector<std::string> files;
  for (const auto& e : fs::directory_iterator(folder, ec)) {
    if (e.is_regular_file(ec)) files.push_back(e.path().string());
  }
  std::sort(files.begin(), files.end());
  std::map<std::string, std::vector<Slice>> by_series;
  std::map<std::string, std::string> other_modality;
  for (const std::string& f : files) {
    auto file = dicom_internal::LoadDicom(f, /*with_pixels=*/false);
    if (!file.ok()) continue;
    DcmDataset* ds = (*file)->getDataset();
    Slice sl;
    sl.file = f;
    sl.modality = GetString(ds, DCM_Modality);
    const std::string series = GetString(ds, DCM_SeriesInstanceUID);
    if (series.empty() || !IsImageModality(sl.modality)) continue;
    sl.sop = GetString(ds, DCM_SOPInstanceUID);
    sl.frame = GetString(ds, DCM_FrameOfReferenceUID);
    sl.xfer = DcmXfer(ds->getOriginalXfer()).getXferName();
    sl.ipp = GetDoubles(ds, DCM_ImagePositionPatient);
    sl.iop = GetDoubles(ds, DCM_ImageOrientationPatient);
    sl.spacing = GetDoubles(ds, DCM_PixelSpacing);
    sl.rows = static_cast<int>(GetInt(ds, DCM_Rows, 0));
    sl.columns = static_cast<int>(GetInt(ds, DCM_Columns, 0));
    sl.frames = static_cast<int>(GetInt(ds, DCM_NumberOfFrames, 1));
    std::vector<double> tilt = GetDoubles(ds, DCM_GantryDetectorTilt);
    sl.tilt = tilt.empty() ? 0 : tilt[0];
    std::vector<double> thick = GetDoubles(ds, DCM_SliceThickness);
    sl.thickness = thick.empty() ? 0 : thick[0];
    if (sl.ipp.size() != 3 || sl.iop.size() != 6 || sl.spacing.size() != 2 || sl.rows <= 0 ||
        sl.columns <= 0) {
      continue;  // not a cross-sectional image (a localiser without geometry...)
    }
    const auto n = Cross(sl.iop);
    sl.along = n[0] * sl.ipp[0] + n[1] * sl.ipp[1] + n[2] * sl.ipp[2];
    by_series[series].push_back(std::move(sl));
  }
  std::vector<SeriesInfo> out;
  for (auto& [uid, slices] : by_series) {
    std::stable_sort(slices.begin(), slices.end(),
                     [](const Slice& a, const Slice& b) { return a.along < b.along; });
    SeriesInfo s;
    s.folder = folder;
    s.series_uid = uid;
    s.modality = slices.front().modality;
    s.frame_of_reference_uid = slices.front().frame;
    s.transfer_syntax = slices.front().xfer;
    for (const Slice& sl : slices) {
      s.files.push_back(sl.file);
      s.sop_instance_uids.push_back(sl.sop);
      if (sl.frame != s.frame_of_reference_uid && s.problems.empty()) {
        s.problems.push_back("slices differ in FrameOfReferenceUID; export one series per folder");
      }
    }
    Analyse(slices, &s);
    out.push_back(std::move(s));
  }
  return out;
}

absl::StatusOr<SeriesInfo> ReadSeriesInfo(const std::string& folder) {
  FEDRAD_ASSIGN_OR_RETURN(std::vector<SeriesInfo> all, ScanFolder(folder));
  if (all.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        folder, ": holds no DICOM image series; name the folder that holds the CT slices "
        "(fedrad dicom inspect ", folder, " lists what it holds)"));
  }
  if (all.size() > 1) {
    std::vector<std::string> list;
    for (const SeriesInfo& s : all) {
      list.push_back(absl::StrCat(s.modality, " ", ShortUid(s.series_uid), " (", s.files.size(),
                                  " slices)"));
    }
    return absl::InvalidArgumentError(absl::StrCat(
        folder, ": holds ", all.size(), " image series (", absl::StrJoin(list, ", "),
        "); put each series in its own folder and name the one the contours belong to"));
  }
  SeriesInfo s = std::move(all.front());
  if (!s.problems.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(folder, ": series ", ShortUid(s.series_uid), ": ", s.problems.front(),
                     s.problems.size() > 1 ? absl::StrCat(" (and ", s.problems.size() - 1,
                                                          " more problems; see fedrad dicom "
                                                          "inspect)")
                                           : ""));
  }
  return s;
}

namespace {

// The pixels a slice's header claims (Rows x Columns x Number of Frames x
// Bits Allocated) must be in its file, before ITK allocates an image of that
// size (found by fuzzing: an 800-byte slice whose Rows and Columns claimed 396
// million pixels made ITK allocate 1.6 GB, GDCM filling what the file lacked).
// Uncompressed, Pixel Data holds them exactly; compressed, the file must not
// claim more than 4,096 times its size plus 1 MiB (beyond any codec's ratio on
// a CT slice, which has noise; a slice of up to 1 MiB always passes).
absl::Status CheckPixelDataHolds(const std::string& path, DcmDataset* ds, long allocated) {
  const long double pixels = static_cast<long double>(std::max(0L, GetInt(ds, DCM_Rows, 0))) *
                             std::max(0L, GetInt(ds, DCM_Columns, 0)) *
                             std::max(1L, GetInt(ds, DCM_NumberOfFrames, 1));
  const long double claimed = pixels * (allocated / 8);
  DcmElement* data = nullptr;
  if (ds->findAndGetElement(DCM_PixelData, data).bad() || data == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": the slice has no Pixel Data (7FE0,0010); re-export the series"));
  }
  if (!DcmXfer(ds->getOriginalXfer()).isEncapsulated()) {
    const Uint32 length = data->getLength();
    if (length == DCM_UndefinedLength || static_cast<long double>(length) < claimed) {
      return absl::DataLossError(absl::StrFormat(
          "%s: Pixel Data (7FE0,0010) holds %u bytes, but Rows x Columns x Number of Frames x "
          "Bits Allocated claim %.0Lf; the file is truncated or its header damaged, re-export "
          "the series",
          path, length == DCM_UndefinedLength ? 0u : length, claimed));
    }
    return absl::OkStatus();
  }
  std::error_code ec;
  const uintmax_t file_bytes = fs::file_size(path, ec);
  if (!ec && claimed > 4096.0L * file_bytes + (1 << 20)) {
    return absl::DataLossError(absl::StrFormat(
        "%s: the header claims %.0Lf bytes of pixels but the compressed file holds %llu bytes "
        "(a damaged or forged header); re-export the series",
        path, claimed, static_cast<unsigned long long>(file_bytes)));
  }
  return absl::OkStatus();
}

// One DCMTK pass over `path` (values over 4 KiB skipped, not read): see
// CheckSlicesForPixelRead. The file as DCMTK read it, when it passes.
absl::StatusOr<std::unique_ptr<DcmFileFormat>> LoadCheckedSlice(const std::string& path) {
  constexpr Uint32 kMaxLoadedValue = 4096;  // larger values are skipped, not read
  FEDRAD_RETURN_IF_ERROR(CheckFileMeta(path));
  dicom_internal::InitDcmtk();  // quiet logger, codecs (once)
  auto file = std::make_unique<DcmFileFormat>();
  OFCondition c = file->loadFile(path.c_str(), EXS_Unknown, EGL_noChange, kMaxLoadedValue);
  if (c.bad()) {
    return absl::DataLossError(absl::StrCat(
        path, ": not a readable DICOM file (", c.text(),
        "; an element claims more bytes than the file holds); re-export the series"));
  }
  DcmDataset* ds = file->getDataset();
  // GDCM reads the attributes it needs with the dictionary's VR and asserts
  // that the file's VR is compatible (found by fuzzing: Bits Allocated sent
  // as SS). A standard element of the dataset's top level whose explicit VR
  // is neither the dictionary's (or one it allows) nor UN is refused.
  // Groups 0000-0007 (command, file meta, directory) have no place in a
  // slice's dataset: GDCM refuses to insert them and then reads the rest of
  // the file differently from DCMTK (found by fuzzing: after (0000,5443) it
  // took four bytes as a length and allocated 800 MB).
  for (unsigned long i = 0; i < ds->card(); ++i) {
    DcmElement* e = ds->getElement(i);
    const DcmTagKey key = e->getTag().getXTag();
    if (key.getGroup() < 0x0008) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "%s: element (%04X,%04X) belongs to no image dataset (groups 0000-0007 are command, "
          "file meta and directory elements); the file is damaged, re-export the series",
          path, key.getGroup(), key.getElement()));
    }
    if (key.getGroup() % 2 == 1) continue;  // private: no dictionary VR
    const DcmVR dictionary = DcmTag(key).getVR();
    const DcmVR in_file(e->getVR());
    if (dictionary.getEVR() == EVR_UNKNOWN || in_file.getEVR() == EVR_UN ||
        dictionary.isEquivalent(in_file)) {
      continue;
    }
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s: element (%04X,%04X) has VR %s where DICOM defines %s; the file is damaged, "
        "re-export the series",
        path, key.getGroup(), key.getElement(), in_file.getVRName(), dictionary.getVRName()));
  }
  // What GDCM assumes of the Image Pixel module (C.7.6.3) and asserts, so
  // that a value outside it aborts the process (found by fuzzing: Samples
  // per Pixel 5). A radiomics series is also scalar: one sample per pixel,
  // monochrome. An absent element takes GDCM's default; a present one that
  // is no integer is refused.
  auto refuse = [&](const char* tag, const std::string& what) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": ", tag, " ", what,
        "; fedrad reads single-sample (monochrome) slices of 8, 16 or 32 bits: re-export the "
        "series as such"));
  };
  auto value = [&](const DcmTagKey& tag, long fallback) {
    return ds->tagExists(tag) ? GetInt(ds, tag, -1) : fallback;
  };
  const long samples = value(DCM_SamplesPerPixel, 1);
  if (samples != 1) {
    return refuse("Samples per Pixel (0028,0002)",
                  samples < 0 ? "is no number" : absl::StrCat("is ", samples));
  }
  if (ds->tagExists(DCM_PhotometricInterpretation)) {
    const std::string pi = GetString(ds, DCM_PhotometricInterpretation);
    if (pi != "MONOCHROME1" && pi != "MONOCHROME2") {
      return refuse("Photometric Interpretation (0028,0004)",
                    absl::StrCat("is '", absl::CHexEscape(pi.substr(0, 32)), "'"));
    }
  }
  const long allocated = value(DCM_BitsAllocated, 16);
  if (allocated != 8 && allocated != 16 && allocated != 32) {
    return refuse("Bits Allocated (0028,0100)",
                  allocated < 0 ? "is no number" : absl::StrCat("is ", allocated));
  }
  const long stored = value(DCM_BitsStored, allocated);
  if (stored < 1 || stored > allocated) {
    return refuse("Bits Stored (0028,0101)",
                  absl::StrCat("is ", stored, " with Bits Allocated ", allocated));
  }
  const long high = value(DCM_HighBit, stored - 1);
  if (high != stored - 1) {
    return refuse("High Bit (0028,0102)", absl::StrCat("is ", high, " with Bits Stored ", stored));
  }
  const long representation = value(DCM_PixelRepresentation, 0);
  if (representation != 0 && representation != 1) {
    return refuse("Pixel Representation (0028,0103)",
                  absl::StrCat("is ", representation, " (0 unsigned, 1 signed)"));
  }
  FEDRAD_RETURN_IF_ERROR(CheckPixelDataHolds(path, ds, allocated));
  return file;
}

// The top-level elements ITK's DICOM reader (GDCM) needs for a slice's
// pixels, rescale and geometry; nothing else of a slice reaches GDCM.
const DcmTagKey kPixelReadTags[] = {
    DCM_SOPClassUID,        DCM_SOPInstanceUID,       DCM_Modality,
    DCM_SliceThickness,     DCM_SpacingBetweenSlices, DCM_StudyInstanceUID,
    DCM_SeriesInstanceUID,  DCM_InstanceNumber,       DCM_ImagePositionPatient,
    DCM_ImageOrientationPatient, DCM_FrameOfReferenceUID, DCM_SamplesPerPixel,
    DCM_PhotometricInterpretation, DCM_NumberOfFrames, DCM_Rows,
    DCM_Columns,            DCM_PixelSpacing,         DCM_BitsAllocated,
    DCM_BitsStored,         DCM_HighBit,              DCM_PixelRepresentation,
    DCM_RescaleIntercept,   DCM_RescaleSlope,         DCM_RescaleType,
    DCM_PixelData};

// An anonymous file in memory (memfd): never on a disk, gone when closed.
class MemoryFile {
 public:
  MemoryFile() : fd_(::memfd_create("fedrad-slice", MFD_CLOEXEC)) {}
  MemoryFile(MemoryFile&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  MemoryFile& operator=(MemoryFile&&) = delete;
  ~MemoryFile() {
    if (fd_ >= 0) ::close(fd_);
  }
  bool ok() const { return fd_ >= 0; }
  // A name this process (only) can open it by.
  std::string path() const { return absl::StrCat("/proc/self/fd/", fd_); }

 private:
  int fd_;
};

// The slice at `path`, checked (LoadCheckedSlice) and written anew by DCMTK
// into a memory file holding only kPixelReadTags, in the slice's transfer
// syntax. GDCM then parses only bytes DCMTK wrote: tests/fuzz/fuzz_dicom's
// findings were each a file DCMTK and GDCM parsed differently (an element
// length GDCM took from other bytes made it allocate 800 MB), and the checks
// can only list the differences found so far; this closes the class.
// Patient data stays in this process's memory.
absl::StatusOr<MemoryFile> CopyForPixelRead(const std::string& path) {
  FEDRAD_ASSIGN_OR_RETURN(std::unique_ptr<DcmFileFormat> file, LoadCheckedSlice(path));
  DcmDataset* from = file->getDataset();
  const E_TransferSyntax xfer = from->getOriginalXfer();
  DcmFileFormat copy;
  for (const DcmTagKey& tag : kPixelReadTags) {
    DcmElement* element = nullptr;
    if (from->findAndGetElement(tag, element, /*searchIntoSub=*/false, /*createCopy=*/true)
            .good() &&
        element != nullptr) {
      if (copy.getDataset()->insert(element, /*replaceOld=*/true).bad()) delete element;
    }
  }
  MemoryFile out;
  if (!out.ok()) {
    return absl::ResourceExhaustedError(absl::StrCat(
        path, ": cannot create an in-memory copy of the slice (memfd_create: ",
        std::strerror(errno), "); the process may have too many open files (ulimit -n)"));
  }
  const OFCondition c = copy.saveFile(out.path().c_str(), xfer);
  if (c.bad()) {
    return absl::DataLossError(absl::StrCat(path, ": cannot re-encode the slice for reading (",
                                            c.text(), "); re-export the series"));
  }
  return out;
}

// A series holds one memory file per slice while ITK reads it, and a cohort
// reads several cases at once: when the soft limit on open files is below
// what this series needs, raise it generously (to 65,536 or the series'
// need, within the hard limit, which an unprivileged process may do).
absl::Status EnsureOpenFiles(const SeriesInfo& series) {
  constexpr rlim_t kSpare = 256;  // gRPC, logs
  constexpr rlim_t kGenerous = 65536;
  const rlim_t needed = series.files.size() + kSpare;
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur >= needed) {
    return absl::OkStatus();
  }
  rlimit raised = limit;
  raised.rlim_cur = std::max(needed, kGenerous);
  if (limit.rlim_max != RLIM_INFINITY) raised.rlim_cur = std::min(raised.rlim_cur, limit.rlim_max);
  if (raised.rlim_cur < needed || ::setrlimit(RLIMIT_NOFILE, &raised) != 0) {
    return absl::ResourceExhaustedError(absl::StrCat(
        series.folder, ": the series has ", series.files.size(),
        " slices and this process may open only ", limit.rlim_max,
        " files; raise the limit (ulimit -n, or LimitNOFILE= in the site's service)"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status CheckSlicesForPixelRead(const std::vector<std::string>& files) {
  for (const std::string& f : files) FEDRAD_RETURN_IF_ERROR(LoadCheckedSlice(f).status());
  return absl::OkStatus();
}

absl::StatusOr<ImageVolume> ReadSeriesImage(const SeriesInfo& series) {
  FEDRAD_RETURN_IF_ERROR(EnsureOpenFiles(series));
  std::vector<MemoryFile> copies;
  std::vector<std::string> paths;
  copies.reserve(series.files.size());
  for (const std::string& f : series.files) {
    FEDRAD_ASSIGN_OR_RETURN(MemoryFile copy, CopyForPixelRead(f));
    paths.push_back(copy.path());
    copies.push_back(std::move(copy));
  }
  auto image = ReadImageFiles(paths);
  if (!image.ok()) {
    // ITK names the memory file; name the slice.
    std::vector<std::pair<std::string, std::string>> names;
    for (size_t i = 0; i < paths.size(); ++i) names.emplace_back(paths[i], series.files[i]);
    // (absl prefers the longer match: /proc/self/fd/12 over /proc/self/fd/1.)
    const std::string message = absl::StrReplaceAll(image.status().message(), names);
    return absl::Status(image.status().code(),
                        absl::StrCat(series.folder, ": ", message,
                                     " (transfer syntax '", series.transfer_syntax,
                                     "'; if compressed, re-export uncompressed)"));
  }
  // One slice has no slice spacing: the headers' is its thickness, ITK's 1;
  // ITK's stands, as when such a folder was read through ITK alone.
  Geometry expected = series.geometry;
  if (expected.size[2] == 1) expected.spacing[2] = image->geometry.spacing[2];
  std::string why = GeometryMismatch(image->geometry, expected, 1e-3);
  if (!why.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        series.folder, ": the grid ITK reads differs from the slice headers (", why,
        "); the series is irregular, re-export it"));
  }
  return image;
}

}  // namespace fedrad::features::dicom
