// The contour objects of features/dicom as plain structs, read with DCMTK
// (dicom_objects.cc); shared by the rasteriser, the SEG reader and
// `fedrad dicom inspect`. No DCMTK type appears here. Private to
// features/dicom.
#ifndef FEDRAD_FEATURES_DICOM_INTERNAL_DICOM_OBJECTS_H_
#define FEDRAD_FEATURES_DICOM_INTERNAL_DICOM_OBJECTS_H_

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "features/dicom/dicom.h"

namespace fedrad::features::dicom_internal {

struct Contour {
  int index = 0;             // 1-based position in the ROI's ContourSequence
  std::string type;          // ContourGeometricType
  std::vector<double> xyz;   // ContourData (mm, LPS), 3 per point
  std::vector<std::string> referenced_sops;  // ContourImageSequence
};

struct Roi {
  int number = 0;            // ROINumber
  std::string name;          // ROIName
  std::string frame_of_reference_uid;  // ReferencedFrameOfReferenceUID
  std::vector<Contour> contours;       // from ROIContourSequence
};

struct StructureSet {
  std::string path;
  std::vector<std::string> frame_of_reference_uids;  // ReferencedFrameOfReferenceSequence
  std::vector<std::string> referenced_series_uids;   // ... > RTReferencedSeriesSequence
  std::vector<Roi> rois;     // StructureSetROISequence order
};

struct SegFrame {
  int segment = 0;                    // ReferencedSegmentNumber
  std::array<double, 3> position{};   // PlanePositionSequence > ImagePositionPatient
};

struct Segment {
  int number = 0;
  std::string label;
};

struct SegObject {
  std::string path;
  std::string type;                   // BINARY | FRACTIONAL
  int max_fractional = 1;             // MaximumFractionalValue (FRACTIONAL)
  int rows = 0, columns = 0, frames = 0, bits_allocated = 0;
  std::array<double, 6> orientation{};  // ImageOrientationPatient
  std::array<double, 2> pixel_spacing{};  // row spacing, column spacing
  std::string frame_of_reference_uid;
  std::vector<std::string> referenced_series_uids;
  std::string transfer_syntax;
  std::vector<Segment> segments;
  std::vector<SegFrame> frame_info;   // one per frame
  std::vector<uint8_t> pixels;        // raw PixelData (only when asked for)
};

// Sets DCMTK's logging to errors only and registers the decoders it has
// (RLE, JPEG, JPEG-LS). Idempotent, thread safe.
void InitDcmtk();

// DataLoss naming the file when it is not DICOM or not an RTSTRUCT.
absl::StatusOr<StructureSet> LoadStructureSet(const std::string& path);

// DataLoss naming the file when it is not a SEG, or (with_pixels) when its
// pixel data cannot be decoded (the message names the transfer syntax and
// what to do); InvalidArgument for a SEG fedrad cannot place (no plane
// positions, a segmentation type other than BINARY/FRACTIONAL).
absl::StatusOr<SegObject> LoadSeg(const std::string& path, bool with_pixels);

// A file's Modality (and SOP class) without loading its pixel data; empty
// strings for a non-DICOM file.
struct FileKind {
  std::string modality;
  std::string sop_class_uid;
};
FileKind ReadFileKind(const std::string& path);

// Continuous index of a physical point on `g` (exact inverse of
// origin + direction * (spacing .* index)).
std::array<double, 3> PhysicalToIndex(const Geometry& g, const std::array<double, 3>& p);

}  // namespace fedrad::features::dicom_internal

#endif  // FEDRAD_FEATURES_DICOM_INTERNAL_DICOM_OBJECTS_H_
