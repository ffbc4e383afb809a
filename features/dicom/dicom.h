// The hospital path: a DICOM CT series with its contours, as an RT Structure
// Set (RTSTRUCT) or a DICOM Segmentation (SEG), turned into the image and
// label maps the rest of features/ uses. DCMTK reads the contour objects and
// the series headers; ITK (GDCM) reads the CT pixels, as for any image. No
// DCMTK or ITK type appears here.
//
//   DicomCaseInput in;
//   in.series = "/pacs/case7/CT";  in.rtstruct = "/pacs/case7/RS.dcm";
//   in.lesion_roi = "GTV*|Metastasis*";  in.liver_roi = "Liver";
//   FEDRAD_ASSIGN_OR_RETURN(DicomCase c, ReadDicomCase(in));
//   // c.image (HU), c.lesions (label k = k-th matching structure), c.liver
//
// Rasterisation of an RTSTRUCT (IBSI-1 rule, docs/features.md "DICOM
// contours"): each contour belongs to the nearest image plane (refused when
// more than 0.1 slice off any plane); on a plane, every CLOSED_PLANAR and
// CLOSEDPLANAR_XOR loop of one ROI is combined by even-odd (XOR), so a nested
// loop is a hole; a voxel is inside when its centre lies inside, by the
// crossing number along its row, with the half-open tie rule: a centre
// exactly on a left edge is inside, on a right edge outside, and an edge
// covers the rows y0 <= y < y1 (so two ROIs sharing an edge never share a
// voxel). POINT and OPEN_* contours are ignored and reported in `notes`.
// Vertices and crossings within 1e-6 voxel of a voxel centre are snapped to
// it, so that coordinates written in mm from voxel centres tie exactly.
//
// ROI selection: a pattern is a wildcard alternation (core/pattern.h
// WildcardMatch): '*' any run, '?' one character, '|' between alternatives;
// without wildcards it is an exact, case-sensitive name. For a SEG the
// pattern matches the segment labels, or "#N" names segment number N.
//
// Privacy: no function here reads or prints the patient's name, id or birth
// date; messages name files, ROIs, contours and shortened UIDs only.
// Errors: NotFound (missing file or folder), InvalidArgument (a series or
// contour object that cannot give an exact mask: the message names the file,
// the ROI or contour, and what to do), DataLoss (unreadable or undecodable
// file). Thread safe: every call uses its own DCMTK objects.
#ifndef FEDRAD_FEATURES_DICOM_DICOM_H_
#define FEDRAD_FEATURES_DICOM_DICOM_H_

#include <array>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "features/volume.h"

namespace fedrad::features::dicom {

// One image series of a folder, from the headers of its files.
struct SeriesInfo {
  std::string folder;
  std::string modality;
  std::string series_uid;
  std::string frame_of_reference_uid;
  std::string transfer_syntax;          // name, e.g. "Little Endian Explicit"
  std::vector<std::string> files;       // sorted along the slice normal
  std::vector<std::string> sop_instance_uids;  // same order as files
  Geometry geometry;                    // from the headers (LPS)
  double gantry_tilt_deg = 0;
  // Problems that make the series unusable (missing or duplicate slices,
  // non-uniform spacing, tilt, mixed orientation or matrix); empty if none.
  std::vector<std::string> problems;
};

// Every series found in `folder` (not recursive), the image series first.
// Non-DICOM files are skipped. NotFound for a missing folder.
absl::StatusOr<std::vector<SeriesInfo>> ScanFolder(const std::string& folder);

// The one CT/MR/PT image series of `folder`, checked: InvalidArgument when
// there is none, more than one, or it has problems (each named, with what to
// do).
absl::StatusOr<SeriesInfo> ReadSeriesInfo(const std::string& folder);

// OK when each of `files` is safe to hand to GDCM (what ITK reads DICOM
// with), which trusts what a file claims:
//  - DCMTK parses the file to its end (values over 4 KiB are skipped, not
//    read), so no element claims more bytes than the file holds: GDCM
//    allocates an element's declared length before reading it (a 22 KB file
//    claiming a 3.4 GB element exhausted memory);
//  - the file meta group's VRs and lengths are valid (GDCM aborts the
//    process on an unknown VR there);
//  - the Image Pixel module, where present, is within what GDCM asserts and
//    a radiomics series is: one sample per pixel, MONOCHROME1 or MONOCHROME2,
//    8, 16 or 32 bits allocated, 1 <= Bits Stored <= Bits Allocated, High
//    Bit = Bits Stored - 1, Pixel Representation 0 or 1 (GDCM aborts on
//    Samples per Pixel 5);
//  - each standard top-level element's explicit VR is the dictionary's (or
//    UN): GDCM asserts so when it reads the element;
//  - no element of groups 0000-0007 is in the dataset (after one, GDCM read
//    the rest of a file otherwise than DCMTK).
// Each was found by tests/fuzz/fuzz_dicom. DataLoss (unreadable file, bad
// file meta) or InvalidArgument (the other rules), naming file and element.
// ReadSeriesImage, which ReadImage of a folder goes through, calls it before
// ITK reads the pixels.
absl::Status CheckSlicesForPixelRead(const std::vector<std::string>& files);

// Reads the pixels of a checked series (ITK/GDCM, rescale applied: CT in HU).
// Each slice is checked (CheckSlicesForPixelRead) and written anew by DCMTK
// into an in-memory file (memfd, never on disk) holding only the elements
// pixels, rescale and geometry need; GDCM reads those copies, so it never
// parses bytes DCMTK did not write. InvalidArgument when ITK's grid differs
// from the headers'; ResourceExhausted when the open-file limit is below the
// slice count and cannot be raised.
absl::StatusOr<ImageVolume> ReadSeriesImage(const SeriesInfo& series);

// A polygon in continuous voxel index coordinates of one plane (x = column,
// y = row); vertex i joins vertex i+1 and the last joins the first.
using Polygon = std::vector<std::array<double, 2>>;

// Rasterises the loops of one ROI on one plane (nx columns, ny rows) with the
// rule above; out[y * nx + x] = 1 inside. Pure.
std::vector<uint8_t> RasterisePlane(const std::vector<Polygon>& loops, int nx, int ny);

// The contours of the ROIs of `rtstruct_path` whose names match `pattern`,
// rasterised on `series`' grid. Label k (1-based) is the k-th matching ROI in
// the file's StructureSetROISequence order; a voxel in two matching ROIs
// keeps the lower label. `notes` (may be null) receives the ignored
// POINT/OPEN_* contours. Errors as listed in the "bad input": no ROI
// matches, an ROI with no closed contour (empty ROI), a contour off-plane or
// outside the image, another frame of reference, another series.
absl::StatusOr<LabelVolume> RasteriseRtstruct(const SeriesInfo& series,
                                              const std::string& rtstruct_path,
                                              const std::string& pattern,
                                              std::vector<std::string>* notes);

// The segments of `seg_path` whose labels match `pattern` (or "#N"), on
// `series`' grid: label k = k-th matching segment in SegmentSequence order.
// BINARY (bit-packed, frames need not end on a byte boundary) and FRACTIONAL
// (inside when value >= 0.5 * MaximumFractionalValue). Frames are placed by
// their PlanePositionSequence, never by their order; a frame may cover part
// of the grid (whole-voxel offset), not another grid.
absl::StatusOr<LabelVolume> ReadSeg(const SeriesInfo& series, const std::string& seg_path,
                                    const std::string& pattern);

struct DicomCaseInput {
  std::string series;      // folder holding exactly one image series
  std::string rtstruct;    // RTSTRUCT file, or
  std::string seg;         // SEG file (exactly one of the two)
  std::string lesion_roi;  // pattern (required)
  std::string liver_roi;   // pattern ("" = no liver)
};

struct DicomCase {
  ImageVolume image;
  LabelVolume lesions;
  std::optional<LabelVolume> liver;
  std::vector<std::string> notes;  // ignored contours etc.
};

// Checks the series, reads it, and rasterises the lesion and liver ROIs.
// Besides the errors above: InvalidArgument when one structure matches both
// lesion_roi and liver_roi.
absl::StatusOr<DicomCase> ReadDicomCase(const DicomCaseInput& input);

// `fedrad dicom inspect`: what a folder (or one file) holds, as text: each
// series (modality, shortened UIDs, slices, spacing, orientation, problems,
// tilt), each RTSTRUCT's ROIs (name, contours, slices, geometric types, the
// referenced series) and each SEG's segments (number, label, frames).
absl::StatusOr<std::string> Inspect(const std::string& path);

// "1.2.826.0.1.3680043.8.498.12345678" -> "...8.498.12345678" (last 16).
std::string ShortUid(const std::string& uid);

}  // namespace fedrad::features::dicom

#endif  // FEDRAD_FEATURES_DICOM_DICOM_H_
