// DICOM Segmentation (SEG) -> label map on the referenced series' grid.
// Frames are placed by their plane positions, never by their order.
#include <cmath>
#include <map>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/pattern.h"
#include "core/status.h"
#include "features/dicom/dicom.h"
#include "features/dicom/internal/dicom_objects.h"

namespace fedrad::features::dicom {
namespace {

using dicom_internal::SegObject;

// Segment number -> label (1-based, SegmentSequence order) of the segments
// `pattern` selects: "#N" is segment number N, anything else matches labels.
std::map<int, int32_t> SelectSegments(const SegObject& seg, const std::string& pattern) {
  std::map<int, int32_t> out;
  int number = 0;
  const bool by_number = pattern.size() > 1 && pattern[0] == '#' &&
                         absl::SimpleAtoi(pattern.substr(1), &number);
  int32_t next = 0;
  for (const auto& s : seg.segments) {
    if (by_number ? s.number == number : WildcardMatch(pattern, s.label)) out[s.number] = ++next;
  }
  return out;
}

absl::Status CheckGrid(const SegObject& seg, const SeriesInfo& series) {
  const Geometry& g = series.geometry;
  auto bad = [&](const std::string& m) {
    return absl::InvalidArgumentError(absl::StrCat(
        seg.path, ": ", m, "; fedrad reads a SEG on its referenced series' grid only, "
        "re-export it on the CT grid"));
  };
  for (int d = 0; d < 3; ++d) {
    if (std::abs(seg.orientation[d] - g.direction[d * 3]) > 1e-4 ||
        std::abs(seg.orientation[3 + d] - g.direction[d * 3 + 1]) > 1e-4) {
      return bad("its frames are oriented differently from the series");
    }
  }
  if (std::abs(seg.pixel_spacing[1] - g.spacing[0]) > 1e-4 * g.spacing[0] + 1e-6 ||
      std::abs(seg.pixel_spacing[0] - g.spacing[1]) > 1e-4 * g.spacing[1] + 1e-6) {
    return bad(absl::StrFormat("its pixel spacing %.4f\\%.4f differs from the series' %.4f\\%.4f",
                               seg.pixel_spacing[0], seg.pixel_spacing[1], g.spacing[1],
                               g.spacing[0]));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<LabelVolume> ReadSeg(const SeriesInfo& series, const std::string& seg_path,
                                    const std::string& pattern) {
  FEDRAD_ASSIGN_OR_RETURN(SegObject seg, dicom_internal::LoadSeg(seg_path, true));
  if (!seg.frame_of_reference_uid.empty() && !series.frame_of_reference_uid.empty() &&
      seg.frame_of_reference_uid != series.frame_of_reference_uid) {
    return absl::InvalidArgumentError(absl::StrCat(
        seg_path, ": frame of reference ", ShortUid(seg.frame_of_reference_uid),
        " differs from the series' ", ShortUid(series.frame_of_reference_uid),
        " in ", series.folder, ": the segmentation belongs to another scan; name its series"));
  }
  if (!seg.referenced_series_uids.empty() &&
      std::find(seg.referenced_series_uids.begin(), seg.referenced_series_uids.end(),
                series.series_uid) == seg.referenced_series_uids.end()) {
    return absl::InvalidArgumentError(absl::StrCat(
        seg_path, ": the segmentation references series ",
        ShortUid(seg.referenced_series_uids.front()), ", not the series in ", series.folder,
        " (", ShortUid(series.series_uid), "); name the series it was drawn on"));
  }
  const std::map<int, int32_t> selected = SelectSegments(seg, pattern);
  if (selected.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        seg_path, ": no segment matches '", pattern, "' (", seg.segments.size(),
        " segments in the file); run `fedrad dicom inspect ", seg_path,
        "` to list them and correct the pattern (or use #N for segment number N)"));
  }
  FEDRAD_RETURN_IF_ERROR(CheckGrid(seg, series));
  const Geometry& g = series.geometry;
  LabelVolume labels;
  labels.geometry = g;
  labels.voxels.assign(g.NumVoxels(), 0);
  std::map<int32_t, int64_t> counts;
  const size_t frame_pixels = static_cast<size_t>(seg.rows) * seg.columns;
  for (int f = 0; f < seg.frames; ++f) {
    auto it = selected.find(seg.frame_info[f].segment);
    if (it == selected.end()) continue;
    const int32_t label = it->second;
    const auto idx = dicom_internal::PhysicalToIndex(g, seg.frame_info[f].position);
    const double k = std::round(idx[2]), i0 = std::round(idx[0]), j0 = std::round(idx[1]);
    if (std::abs(idx[2] - k) > 0.1 || std::abs(idx[0] - i0) > 0.1 ||
        std::abs(idx[1] - j0) > 0.1 || k < 0 || k >= g.size[2]) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "%s: frame %d (segment %d) lies at index (%.2f, %.2f, %.2f), not on a plane and "
          "voxel of the series' %d slices; the segmentation was made on another grid, "
          "re-export it on the CT grid",
          seg_path, f + 1, seg.frame_info[f].segment, idx[0], idx[1], idx[2], g.size[2]));
    }
    for (int r = 0; r < seg.rows; ++r) {
      for (int c = 0; c < seg.columns; ++c) {
        const size_t p = f * frame_pixels + static_cast<size_t>(r) * seg.columns + c;
        bool on;
        if (seg.type == "BINARY") {
          // Bits are packed across frame boundaries, least significant first.
          on = (seg.pixels[p >> 3] >> (p & 7)) & 1;
        } else {
          on = 2 * static_cast<int>(seg.pixels[p]) >= seg.max_fractional;  // >= 0.5
        }
        if (!on) continue;
        const int x = static_cast<int>(i0) + c, y = static_cast<int>(j0) + r;
        if (x < 0 || y < 0 || x >= g.size[0] || y >= g.size[1]) {
          return absl::InvalidArgumentError(absl::StrCat(
              seg_path, ": frame ", f + 1, " marks pixels outside the series' grid; re-export "
              "the segmentation on the CT grid"));
        }
        int32_t& v = labels.at(x, y, static_cast<int>(k));
        if (v == 0) v = label;
        ++counts[label];
      }
    }
  }
  for (const auto& s : seg.segments) {
    auto it = selected.find(s.number);
    if (it != selected.end() && counts[it->second] == 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          seg_path, ": segment ", s.number, " '", s.label,
          "' marks no voxel (empty segment); choose another segment"));
    }
  }
  return labels;
}

}  // namespace fedrad::features::dicom
