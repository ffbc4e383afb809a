#include "features/dicom/dicom_write.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "core/hash.h"
#include "core/status.h"
#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmdata/dcdeftag.h"
#include "dcmtk/dcmdata/dcfilefo.h"
#include "dcmtk/dcmdata/dcuid.h"
#include "features/dicom/internal/dicom_objects.h"

namespace fedrad::features::dicom {
namespace {

namespace fs = std::filesystem;

// A DS value: at most 16 characters.
std::string Ds(double v) {
  if (std::abs(v) < 1e-12) v = 0;
  for (int p = 12; p > 1; --p) {
    std::string s = absl::StrFormat("%.*g", p, v);
    if (s.size() <= 16) return s;
  }
  return absl::StrFormat("%.6e", v);
}

std::string DsList(const std::vector<double>& v) {
  std::vector<std::string> parts;
  for (double x : v) parts.push_back(Ds(x));
  return absl::StrJoin(parts, "\\");
}

DcmItem* NewItem(DcmItem* parent, const DcmTagKey& seq) {
  DcmItem* item = nullptr;
  parent->findOrCreateSequenceItem(seq, item, -2);
  return item;
}

absl::Status Save(DcmFileFormat& file, const std::string& path) {
  OFCondition c = file.saveFile(path.c_str(), EXS_LittleEndianExplicit);
  if (c.bad()) return absl::DataLossError(absl::StrCat(path, ": cannot write (", c.text(), ")"));
  return absl::OkStatus();
}

void PutCommon(DcmDataset* ds, const SeriesUids& s, const char* sop_class, const std::string& sop,
               const std::string& series_uid, const char* modality) {
  ds->putAndInsertString(DCM_SOPClassUID, sop_class);
  ds->putAndInsertString(DCM_SOPInstanceUID, sop.c_str());
  ds->putAndInsertString(DCM_StudyInstanceUID, s.study.c_str());
  ds->putAndInsertString(DCM_SeriesInstanceUID, series_uid.c_str());
  ds->putAndInsertString(DCM_Modality, modality);
  ds->putAndInsertString(DCM_PatientName, "SYNTHETIC^PATIENT");
  ds->putAndInsertString(DCM_PatientID, "SYNTHETIC");
}

std::array<double, 3> SlicePosition(const Geometry& g, int k) {
  std::array<double, 3> p{};
  for (int d = 0; d < 3; ++d) p[d] = g.origin[d] + g.direction[d * 3 + 2] * g.spacing[2] * k;
  return p;
}

std::vector<double> Orientation(const Geometry& g) {
  return {g.direction[0], g.direction[3], g.direction[6],
          g.direction[1], g.direction[4], g.direction[7]};
}

}  // namespace

std::string DerivedUid(const std::string& seed) {
  const std::string hex = Sha256Hex(seed);
  uint64_t v = std::stoull(hex.substr(0, 15), nullptr, 16);
  return absl::StrCat("2.25.", v);
}

absl::StatusOr<SeriesUids> WriteCtSeries(const ImageVolume& hu, const std::string& folder,
                                         const CtWriteOptions& o) {
  dicom_internal::InitDcmtk();
  const Geometry& g = hu.geometry;
  if (hu.voxels.size() != g.NumVoxels()) {
    return absl::InvalidArgumentError("WriteCtSeries: voxel count does not match the geometry");
  }
  std::error_code ec;
  fs::create_directories(folder, ec);
  SeriesUids uids;
  uids.study = DerivedUid(o.uid_seed + "/study");
  uids.series = DerivedUid(o.uid_seed + "/ct-series");
  uids.frame_of_reference = DerivedUid(o.uid_seed + "/frame");
  const size_t plane = static_cast<size_t>(g.size[0]) * g.size[1];
  std::vector<Uint16> pixels(plane);
  for (int k = 0; k < g.size[2]; ++k) {
    const std::string sop = DerivedUid(absl::StrCat(o.uid_seed, "/ct/", k));
    uids.sops.push_back(sop);
    DcmFileFormat file;
    DcmDataset* ds = file.getDataset();
    PutCommon(ds, uids, UID_CTImageStorage, sop, uids.series, "CT");
    ds->putAndInsertString(DCM_PatientName, o.patient_name.c_str());
    ds->putAndInsertString(DCM_PatientID, o.patient_id.c_str());
    ds->putAndInsertString(DCM_PatientBirthDate, o.patient_birth_date.c_str());
    ds->putAndInsertString(DCM_FrameOfReferenceUID, uids.frame_of_reference.c_str());
    ds->putAndInsertString(DCM_ImageType, "ORIGINAL\\PRIMARY\\AXIAL");
    ds->putAndInsertString(DCM_InstanceNumber, absl::StrCat(k + 1).c_str());
    const auto pos = SlicePosition(g, k);
    ds->putAndInsertString(DCM_ImagePositionPatient, DsList({pos[0], pos[1], pos[2]}).c_str());
    ds->putAndInsertString(DCM_ImageOrientationPatient, DsList(Orientation(g)).c_str());
    ds->putAndInsertString(DCM_PixelSpacing, DsList({g.spacing[1], g.spacing[0]}).c_str());
    ds->putAndInsertString(DCM_SliceThickness, Ds(g.spacing[2]).c_str());
    if (o.gantry_tilt_deg != 0) {
      ds->putAndInsertString(DCM_GantryDetectorTilt, Ds(o.gantry_tilt_deg).c_str());
    }
    ds->putAndInsertUint16(DCM_Rows, static_cast<Uint16>(g.size[1]));
    ds->putAndInsertUint16(DCM_Columns, static_cast<Uint16>(g.size[0]));
    ds->putAndInsertUint16(DCM_SamplesPerPixel, 1);
    ds->putAndInsertString(DCM_PhotometricInterpretation, "MONOCHROME2");
    ds->putAndInsertUint16(DCM_BitsAllocated, 16);
    ds->putAndInsertUint16(DCM_BitsStored, 16);
    ds->putAndInsertUint16(DCM_HighBit, 15);
    ds->putAndInsertUint16(DCM_PixelRepresentation, 1);
    ds->putAndInsertString(DCM_RescaleIntercept, "0");
    ds->putAndInsertString(DCM_RescaleSlope, "1");
    ds->putAndInsertString(DCM_RescaleType, "HU");
    for (size_t i = 0; i < plane; ++i) {
      double v = std::round(hu.voxels[k * plane + i]);
      v = std::clamp(v, -32768.0, 32767.0);
      pixels[i] = static_cast<Uint16>(static_cast<int16_t>(v));
    }
    ds->putAndInsertUint16Array(DCM_PixelData, pixels.data(), static_cast<unsigned long>(plane));
    const std::string path =
        (fs::path(folder) / absl::StrFormat("%s_%04d.dcm", o.file_prefix, k)).string();
    FEDRAD_RETURN_IF_ERROR(Save(file, path));
  }
  return uids;
}

absl::Status WriteRtstruct(const SeriesUids& series, const std::vector<RoiSpec>& rois,
                           const std::string& path, const std::string& uid_seed) {
  dicom_internal::InitDcmtk();
  DcmFileFormat file;
  DcmDataset* ds = file.getDataset();
  PutCommon(ds, series, UID_RTStructureSetStorage, DerivedUid(uid_seed + "/rtstruct"),
            DerivedUid(uid_seed + "/rtstruct-series"), "RTSTRUCT");
  ds->putAndInsertString(DCM_StructureSetLabel, "fedrad");
  DcmItem* frame = NewItem(ds, DCM_ReferencedFrameOfReferenceSequence);
  frame->putAndInsertString(DCM_FrameOfReferenceUID, series.frame_of_reference.c_str());
  DcmItem* study = NewItem(frame, DCM_RTReferencedStudySequence);
  study->putAndInsertString(DCM_ReferencedSOPClassUID, "1.2.840.10008.3.1.2.3.1");
  study->putAndInsertString(DCM_ReferencedSOPInstanceUID, series.study.c_str());
  DcmItem* ref_series = NewItem(study, DCM_RTReferencedSeriesSequence);
  ref_series->putAndInsertString(DCM_SeriesInstanceUID, series.series.c_str());
  for (const std::string& sop : series.sops) {
    DcmItem* img = NewItem(ref_series, DCM_ContourImageSequence);
    img->putAndInsertString(DCM_ReferencedSOPClassUID, UID_CTImageStorage);
    img->putAndInsertString(DCM_ReferencedSOPInstanceUID, sop.c_str());
  }
  for (size_t r = 0; r < rois.size(); ++r) {
    const RoiSpec& roi = rois[r];
    const std::string number = absl::StrCat(r + 1);
    DcmItem* s = NewItem(ds, DCM_StructureSetROISequence);
    s->putAndInsertString(DCM_ROINumber, number.c_str());
    s->putAndInsertString(DCM_ReferencedFrameOfReferenceUID,
                          (roi.frame_of_reference_uid.empty() ? series.frame_of_reference
                                                              : roi.frame_of_reference_uid)
                              .c_str());
    s->putAndInsertString(DCM_ROIName, roi.name.c_str());
    s->putAndInsertString(DCM_ROIGenerationAlgorithm, "MANUAL");
    DcmItem* rc = NewItem(ds, DCM_ROIContourSequence);
    rc->putAndInsertString(DCM_ReferencedROINumber, number.c_str());
    rc->putAndInsertString(DCM_ROIDisplayColor, "255\\0\\0");
    for (const ContourSpec& c : roi.contours) {
      DcmItem* ci = NewItem(rc, DCM_ContourSequence);
      if (!c.referenced_sop.empty()) {
        DcmItem* img = NewItem(ci, DCM_ContourImageSequence);
        img->putAndInsertString(DCM_ReferencedSOPClassUID, UID_CTImageStorage);
        img->putAndInsertString(DCM_ReferencedSOPInstanceUID, c.referenced_sop.c_str());
      }
      ci->putAndInsertString(DCM_ContourGeometricType, c.type.c_str());
      ci->putAndInsertString(DCM_NumberOfContourPoints, absl::StrCat(c.points.size()).c_str());
      std::vector<double> xyz;
      for (const auto& p : c.points) xyz.insert(xyz.end(), p.begin(), p.end());
      ci->putAndInsertString(DCM_ContourData, DsList(xyz).c_str());
    }
    DcmItem* obs = NewItem(ds, DCM_RTROIObservationsSequence);
    obs->putAndInsertString(DCM_ObservationNumber, number.c_str());
    obs->putAndInsertString(DCM_ReferencedROINumber, number.c_str());
    obs->putAndInsertString(DCM_RTROIInterpretedType, "ORGAN");
  }
  return Save(file, path);
}

std::vector<Polygon> MaskOutlines(const std::vector<uint8_t>& slice, int nx, int ny) {
  auto in = [&](int x, int y) {
    return x >= 0 && y >= 0 && x < nx && y < ny && slice[static_cast<size_t>(y) * nx + x];
  };
  // Directed boundary edges between corners (corner (cx, cy) sits at index
  // (cx - 0.5, cy - 0.5)), clockwise around each inside pixel.
  using Corner = std::pair<int, int>;
  std::map<Corner, std::vector<Corner>> next;
  for (int y = 0; y < ny; ++y) {
    for (int x = 0; x < nx; ++x) {
      if (!in(x, y)) continue;
      if (!in(x, y - 1)) next[{x, y}].push_back({x + 1, y});
      if (!in(x + 1, y)) next[{x + 1, y}].push_back({x + 1, y + 1});
      if (!in(x, y + 1)) next[{x + 1, y + 1}].push_back({x, y + 1});
      if (!in(x - 1, y)) next[{x, y + 1}].push_back({x, y});
    }
  }
  std::vector<Polygon> loops;
  while (!next.empty()) {
    const Corner start = next.begin()->first;
    std::vector<Corner> path = {start};
    Corner at = start;
    do {
      auto it = next.find(at);
      Corner to = it->second.back();
      it->second.pop_back();
      if (it->second.empty()) next.erase(it);
      at = to;
      path.push_back(at);
    } while (at != start && next.count(at));
    path.pop_back();  // == start
    // Drop vertices in the middle of straight runs.
    Polygon loop;
    const size_t n = path.size();
    for (size_t i = 0; i < n; ++i) {
      const Corner& a = path[(i + n - 1) % n];
      const Corner& b = path[i];
      const Corner& c = path[(i + 1) % n];
      const bool straight = (a.first == b.first && b.first == c.first) ||
                            (a.second == b.second && b.second == c.second);
      if (!straight) loop.push_back({b.first - 0.5, b.second - 0.5});
    }
    loops.push_back(std::move(loop));
  }
  return loops;
}

std::vector<ContourSpec> MaskContours(const Geometry& g, const std::vector<uint8_t>& mask,
                                      const SeriesUids& series) {
  std::vector<ContourSpec> out;
  const size_t plane = static_cast<size_t>(g.size[0]) * g.size[1];
  for (int k = 0; k < g.size[2]; ++k) {
    std::vector<uint8_t> slice(mask.begin() + k * plane, mask.begin() + (k + 1) * plane);
    for (const Polygon& loop : MaskOutlines(slice, g.size[0], g.size[1])) {
      ContourSpec c;
      if (static_cast<int>(series.sops.size()) == g.size[2]) c.referenced_sop = series.sops[k];
      for (const auto& v : loop) {
        const double idx[3] = {v[0], v[1], static_cast<double>(k)};
        std::array<double, 3> p{};
        for (int d = 0; d < 3; ++d) {
          for (int e = 0; e < 3; ++e) p[d] += g.direction[d * 3 + e] * g.spacing[e] * idx[e];
          p[d] += g.origin[d];
        }
        c.points.push_back(p);
      }
      out.push_back(std::move(c));
    }
  }
  return out;
}

absl::Status WriteSeg(const SeriesUids& series, const Geometry& g,
                      const std::vector<SegmentSpec>& segments, const std::string& path,
                      const SegWriteOptions& options) {
  dicom_internal::InitDcmtk();
  const size_t plane = static_cast<size_t>(g.size[0]) * g.size[1];
  struct Frame {
    int segment, slice;
  };
  std::vector<Frame> frames;
  for (size_t s = 0; s < segments.size(); ++s) {
    if (segments[s].mask.size() != g.NumVoxels()) {
      return absl::InvalidArgumentError("WriteSeg: a segment's mask does not match the grid");
    }
    for (int k = 0; k < g.size[2]; ++k) {
      const auto* m = &segments[s].mask[k * plane];
      if (std::any_of(m, m + plane, [](uint8_t v) { return v != 0; })) {
        frames.push_back({static_cast<int>(s), k});
      }
    }
  }
  if (!options.frame_order.empty()) {
    if (options.frame_order.size() != frames.size()) {
      return absl::InvalidArgumentError(absl::StrCat("WriteSeg: frame_order has ",
                                                     options.frame_order.size(), " entries for ",
                                                     frames.size(), " frames"));
    }
    std::vector<Frame> permuted;
    for (int i : options.frame_order) permuted.push_back(frames.at(i));
    frames = std::move(permuted);
  }
  DcmFileFormat file;
  DcmDataset* ds = file.getDataset();
  const std::string seed = absl::StrCat(series.series, "/seg");
  PutCommon(ds, series, UID_SegmentationStorage, DerivedUid(seed + "/sop"),
            DerivedUid(seed + "/series"), "SEG");
  ds->putAndInsertString(DCM_FrameOfReferenceUID, series.frame_of_reference.c_str());
  ds->putAndInsertString(DCM_ImageType, "DERIVED\\PRIMARY");
  ds->putAndInsertString(DCM_SegmentationType, options.fractional ? "FRACTIONAL" : "BINARY");
  if (options.fractional) {
    ds->putAndInsertString(DCM_SegmentationFractionalType, "PROBABILITY");
    ds->putAndInsertUint16(DCM_MaximumFractionalValue, 255);
  }
  const Uint16 bits = options.fractional ? 8 : 1;
  ds->putAndInsertUint16(DCM_Rows, static_cast<Uint16>(g.size[1]));
  ds->putAndInsertUint16(DCM_Columns, static_cast<Uint16>(g.size[0]));
  ds->putAndInsertString(DCM_NumberOfFrames, absl::StrCat(frames.size()).c_str());
  ds->putAndInsertUint16(DCM_SamplesPerPixel, 1);
  ds->putAndInsertString(DCM_PhotometricInterpretation, "MONOCHROME2");
  ds->putAndInsertUint16(DCM_BitsAllocated, bits);
  ds->putAndInsertUint16(DCM_BitsStored, bits);
  ds->putAndInsertUint16(DCM_HighBit, bits - 1);
  ds->putAndInsertUint16(DCM_PixelRepresentation, 0);
  NewItem(ds, DCM_ReferencedSeriesSequence)
      ->putAndInsertString(DCM_SeriesInstanceUID, series.series.c_str());
  for (size_t s = 0; s < segments.size(); ++s) {
    DcmItem* item = NewItem(ds, DCM_SegmentSequence);
    item->putAndInsertUint16(DCM_SegmentNumber, static_cast<Uint16>(s + 1));
    item->putAndInsertString(DCM_SegmentLabel, segments[s].label.c_str());
    item->putAndInsertString(DCM_SegmentAlgorithmType, "MANUAL");
  }
  DcmItem* shared = NewItem(ds, DCM_SharedFunctionalGroupsSequence);
  NewItem(shared, DCM_PlaneOrientationSequence)
      ->putAndInsertString(DCM_ImageOrientationPatient, DsList(Orientation(g)).c_str());
  DcmItem* measures = NewItem(shared, DCM_PixelMeasuresSequence);
  measures->putAndInsertString(DCM_PixelSpacing, DsList({g.spacing[1], g.spacing[0]}).c_str());
  measures->putAndInsertString(DCM_SliceThickness, Ds(g.spacing[2]).c_str());
  const size_t total = frames.size() * plane;
  std::vector<Uint8> pixels(options.fractional ? total : (total + 7) / 8, 0);
  for (size_t f = 0; f < frames.size(); ++f) {
    DcmItem* item = NewItem(ds, DCM_PerFrameFunctionalGroupsSequence);
    NewItem(item, DCM_SegmentIdentificationSequence)
        ->putAndInsertUint16(DCM_ReferencedSegmentNumber,
                             static_cast<Uint16>(frames[f].segment + 1));
    const auto pos = SlicePosition(g, frames[f].slice);
    NewItem(item, DCM_PlanePositionSequence)
        ->putAndInsertString(DCM_ImagePositionPatient, DsList({pos[0], pos[1], pos[2]}).c_str());
    const auto* m = &segments[frames[f].segment].mask[frames[f].slice * plane];
    for (size_t i = 0; i < plane; ++i) {
      if (!m[i]) continue;
      const size_t p = f * plane + i;  // bits run on across frames
      if (options.fractional) {
        pixels[p] = 255;
      } else {
        pixels[p >> 3] |= static_cast<Uint8>(1u << (p & 7));
      }
    }
  }
  ds->putAndInsertUint8Array(DCM_PixelData, pixels.data(), static_cast<unsigned long>(pixels.size()));
  return Save(file, path);
}

}  // namespace fedrad::features::dicom
