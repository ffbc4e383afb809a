// Writing DICOM: a CT series, an RTSTRUCT and a SEG (DCMTK behind the
// scenes), for the synthetic cohort (`fedrad synth --format dicom`) and the
// tests of features/dicom. Exact by construction: MaskContours outlines a
// mask along voxel edges, so rasterising the outlines with the IBSI rule
// (dicom.h) gives the mask back voxel for voxel.
//
//   CtWriteOptions o;  o.uid_seed = "C2_0007";
//   FEDRAD_ASSIGN_OR_RETURN(SeriesUids uids, WriteCtSeries(ct, "case/CT", o));
//   std::vector<RoiSpec> rois = {{"Liver", MaskContours(ct.geometry, liver, uids)}};
//   FEDRAD_RETURN_IF_ERROR(WriteRtstruct(uids, rois, "case/RS.dcm", o.uid_seed));
//
// UIDs are derived from `uid_seed` ("2.25." + a SHA-256-derived integer), so
// the same inputs give the same bytes. Errors: DataLoss naming the file when
// it cannot be written; InvalidArgument for inconsistent input. Thread safe.
#ifndef FEDRAD_FEATURES_DICOM_DICOM_WRITE_H_
#define FEDRAD_FEATURES_DICOM_DICOM_WRITE_H_

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "features/dicom/dicom.h"
#include "features/volume.h"

namespace fedrad::features::dicom {

struct SeriesUids {
  std::string study, series, frame_of_reference;
  std::vector<std::string> sops;  // one per slice, slice order
};

// "2.25.<decimal>" from SHA-256(seed); stable.
std::string DerivedUid(const std::string& seed);

struct CtWriteOptions {
  std::string uid_seed = "fedrad";
  // Written into the patient module (tests use them to check that no
  // message repeats them); never read by fedrad.
  std::string patient_name = "SYNTHETIC^PATIENT";
  std::string patient_id = "SYNTHETIC";
  std::string patient_birth_date = "";
  double gantry_tilt_deg = 0;  // written as GantryDetectorTilt (tests)
  std::string file_prefix = "CT";
};

// One file per slice, <folder>/<prefix>_<k>.dcm (created), int16 with
// RescaleIntercept 0 / slope 1 (voxels are rounded to integer HU, clamped to
// the int16 range).
absl::StatusOr<SeriesUids> WriteCtSeries(const ImageVolume& hu, const std::string& folder,
                                         const CtWriteOptions& options);

struct ContourSpec {
  std::string type = "CLOSED_PLANAR";
  std::vector<std::array<double, 3>> points;  // mm, LPS
  std::string referenced_sop;                 // "" = no ContourImageSequence
};

struct RoiSpec {
  std::string name;
  std::vector<ContourSpec> contours;
  std::string frame_of_reference_uid;  // "" = the series'
};

absl::Status WriteRtstruct(const SeriesUids& series, const std::vector<RoiSpec>& rois,
                           const std::string& path, const std::string& uid_seed);

// Loops along the voxel edges of a 2-D mask (nx x ny, x fastest), in index
// coordinates (corners at half-integers); their even-odd union is the mask.
std::vector<Polygon> MaskOutlines(const std::vector<uint8_t>& slice, int nx, int ny);

// The contours (mm) of a 3-D mask on `g`, plane by plane; each references its
// slice's SOP instance when `series` has one per slice.
std::vector<ContourSpec> MaskContours(const Geometry& g, const std::vector<uint8_t>& mask,
                                      const SeriesUids& series);

struct SegmentSpec {
  std::string label;
  std::vector<uint8_t> mask;  // on the series' grid
};

struct SegWriteOptions {
  bool fractional = false;  // FRACTIONAL (8-bit, 255 = 1) instead of BINARY
  // Frames are written in this permutation of their natural order (segment
  // by segment, slice by slice); empty = natural order.
  std::vector<int> frame_order;
};

// One frame per (segment, slice holding any of its voxels), each with its
// plane position.
absl::Status WriteSeg(const SeriesUids& series, const Geometry& g,
                      const std::vector<SegmentSpec>& segments, const std::string& path,
                      const SegWriteOptions& options);

}  // namespace fedrad::features::dicom

#endif  // FEDRAD_FEATURES_DICOM_DICOM_WRITE_H_
