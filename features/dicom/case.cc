// One case of the hospital path: series + RTSTRUCT or SEG -> image and masks.
#include "absl/strings/str_cat.h"
#include "core/status.h"
#include "features/dicom/dicom.h"

namespace fedrad::features::dicom {

absl::StatusOr<DicomCase> ReadDicomCase(const DicomCaseInput& in) {
  if (in.series.empty()) {
    return absl::InvalidArgumentError("no DICOM series folder given (series)");
  }
  if (in.rtstruct.empty() == in.seg.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(in.series, ": give exactly one contour object, rtstruct or seg"));
  }
  if (in.lesion_roi.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        in.rtstruct.empty() ? in.seg : in.rtstruct,
        ": lesion_roi is empty; name the lesion ROI(s), e.g. \"GTV*|Metastasis*\""));
  }
  FEDRAD_ASSIGN_OR_RETURN(SeriesInfo series, ReadSeriesInfo(in.series));
  DicomCase out;
  FEDRAD_ASSIGN_OR_RETURN(out.image, ReadSeriesImage(series));
  series.geometry = out.image.geometry;  // rasterise on the grid the features use
  auto read = [&](const std::string& pattern) -> absl::StatusOr<LabelVolume> {
    return in.rtstruct.empty() ? ReadSeg(series, in.seg, pattern)
                               : RasteriseRtstruct(series, in.rtstruct, pattern, &out.notes);
  };
  auto lesions = read(in.lesion_roi);
  if (!lesions.ok()) return Annotate(lesions.status(), "lesion_roi");
  out.lesions = std::move(*lesions);
  if (!in.liver_roi.empty()) {
    auto liver = read(in.liver_roi);
    if (!liver.ok()) return Annotate(liver.status(), "liver_roi");
    out.liver = std::move(*liver);
  }
  return out;
}

}  // namespace fedrad::features::dicom
