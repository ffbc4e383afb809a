// One case of the hospital path: series + RTSTRUCT or SEG -> image and masks.
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "core/pattern.h"
#include "core/status.h"
#include "features/dicom/dicom.h"
#include "features/dicom/internal/dicom_objects.h"

namespace fedrad::features::dicom {
namespace {

bool Selects(const std::string& pattern, int number, const std::string& label, bool seg) {
  int n = 0;
  if (seg && pattern.size() > 1 && pattern[0] == '#' && absl::SimpleAtoi(pattern.substr(1), &n)) {
    return n == number;
  }
  return WildcardMatch(pattern, label);
}

// A structure that both patterns select would be a lesion inside its own
// liver (an empty BKG, a wrong mask): refused, naming it.
absl::Status CheckDisjoint(const DicomCaseInput& in) {
  const bool seg = in.rtstruct.empty();
  std::vector<std::pair<int, std::string>> names;
  if (seg) {
    auto s = dicom_internal::LoadSeg(in.seg, /*with_pixels=*/false);
    if (!s.ok()) return s.status();
    for (const auto& x : s->segments) names.emplace_back(x.number, x.label);
  } else {
    auto s = dicom_internal::LoadStructureSet(in.rtstruct);
    if (!s.ok()) return s.status();
    for (const auto& x : s->rois) names.emplace_back(x.number, x.name);
  }
  for (const auto& [number, name] : names) {
    if (Selects(in.lesion_roi, number, name, seg) && Selects(in.liver_roi, number, name, seg)) {
      return absl::InvalidArgumentError(absl::StrCat(
          seg ? in.seg : in.rtstruct, ": '", name, "' matches both lesion_roi '", in.lesion_roi,
          "' and liver_roi '", in.liver_roi, "'; make the patterns select different structures"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

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
  if (!in.liver_roi.empty()) FEDRAD_RETURN_IF_ERROR(CheckDisjoint(in));
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
