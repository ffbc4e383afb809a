// `fedrad dicom inspect`: what a folder of DICOM files holds, for writing a
// manifest. Prints no patient attribute (none is read).
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "core/status.h"
#include "features/dicom/dicom.h"
#include "features/dicom/internal/dicom_objects.h"

namespace fedrad::features::dicom {
namespace {

namespace fs = std::filesystem;

constexpr int kMaxDepth = 4;
constexpr size_t kMaxFolders = 2000;

std::string DescribeSeries(const SeriesInfo& s) {
  const Geometry& g = s.geometry;
  std::string out = absl::StrFormat(
      "series %s  %s, %d slices, %d x %d, spacing %.4g x %.4g x %.4g mm\n"
      "    orientation [%.4g %.4g %.4g  %.4g %.4g %.4g], frame of reference %s\n"
      "    transfer syntax %s, gantry tilt %.4g deg\n",
      ShortUid(s.series_uid), s.modality, g.size[2], g.size[0], g.size[1], g.spacing[0],
      g.spacing[1], g.spacing[2], g.direction[0], g.direction[3], g.direction[6],
      g.direction[1], g.direction[4], g.direction[7], ShortUid(s.frame_of_reference_uid),
      s.transfer_syntax, s.gantry_tilt_deg);
  if (s.problems.empty()) {
    absl::StrAppend(&out, "    no missing or duplicate slices, uniform spacing\n");
  }
  for (const auto& p : s.problems) absl::StrAppend(&out, "    PROBLEM: ", p, "\n");
  return out;
}

std::string DescribeRtstruct(const dicom_internal::StructureSet& ss) {
  std::vector<std::string> series;
  for (const auto& u : ss.referenced_series_uids) series.push_back(ShortUid(u));
  std::vector<std::string> frames;
  for (const auto& u : ss.frame_of_reference_uids) frames.push_back(ShortUid(u));
  std::string out = absl::StrCat(
      "RTSTRUCT ", fs::path(ss.path).filename().string(), "  references series ",
      series.empty() ? "(none stated)" : absl::StrJoin(series, ", "), ", frame of reference ",
      frames.empty() ? "(none stated)" : absl::StrJoin(frames, ", "), "; ", ss.rois.size(),
      " ROIs\n");
  for (const auto& roi : ss.rois) {
    std::set<long> planes;
    std::map<std::string, int> types;
    for (const auto& c : roi.contours) {
      ++types[c.type.empty() ? "(no type)" : c.type];
      if (c.xyz.size() >= 3) planes.insert(std::lround(c.xyz[2] * 100));
    }
    std::vector<std::string> t;
    for (const auto& [type, n] : types) t.push_back(absl::StrCat(type, " x", n));
    absl::StrAppend(&out, absl::StrFormat("  ROI %d '%s': %d contours on %d slices (%s)%s\n",
                                          roi.number, roi.name, roi.contours.size(),
                                          planes.size(), absl::StrJoin(t, ", "),
                                          roi.contours.empty() ? "  EMPTY" : ""));
  }
  return out;
}

std::string DescribeSeg(const dicom_internal::SegObject& seg) {
  std::vector<std::string> series;
  for (const auto& u : seg.referenced_series_uids) series.push_back(ShortUid(u));
  std::string out = absl::StrFormat(
      "SEG %s  %s, %d x %d, %d frames, references series %s, frame of reference %s, "
      "transfer syntax %s\n",
      fs::path(seg.path).filename().string(), seg.type, seg.columns, seg.rows, seg.frames,
      series.empty() ? "(none stated)" : absl::StrJoin(series, ", "),
      ShortUid(seg.frame_of_reference_uid), seg.transfer_syntax);
  std::map<int, int> frames;
  for (const auto& f : seg.frame_info) ++frames[f.segment];
  for (const auto& s : seg.segments) {
    absl::StrAppend(&out, absl::StrFormat("  segment %d '%s': %d frames\n", s.number, s.label,
                                          frames[s.number]));
  }
  return out;
}

std::string DescribeFile(const std::string& path) {
  const dicom_internal::FileKind kind = dicom_internal::ReadFileKind(path);
  if (kind.modality == "RTSTRUCT") {
    auto ss = dicom_internal::LoadStructureSet(path);
    return ss.ok() ? DescribeRtstruct(*ss) : absl::StrCat("UNREADABLE ", ss.status().message(), "\n");
  }
  if (kind.modality == "SEG") {
    auto seg = dicom_internal::LoadSeg(path, false);
    return seg.ok() ? DescribeSeg(*seg) : absl::StrCat("UNREADABLE ", seg.status().message(), "\n");
  }
  return "";
}

void InspectFolder(const fs::path& folder, int depth, size_t* folders, std::string* out) {
  if (++*folders > kMaxFolders) return;
  std::error_code ec;
  std::vector<fs::path> files, subfolders;
  for (const auto& e : fs::directory_iterator(folder, ec)) {
    if (e.is_directory(ec)) subfolders.push_back(e.path());
    else if (e.is_regular_file(ec)) files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  std::sort(subfolders.begin(), subfolders.end());
  std::string here;
  auto series = ScanFolder(folder.string());
  if (series.ok()) {
    for (const auto& s : *series) absl::StrAppend(&here, DescribeSeries(s));
    if (series->size() > 1) {
      absl::StrAppend(&here, "  PROBLEM: ", series->size(),
                      " image series in one folder: put each in its own folder\n");
    }
  }
  for (const auto& f : files) absl::StrAppend(&here, DescribeFile(f.string()));
  if (!here.empty()) absl::StrAppend(out, "folder ", folder.string(), "\n", here, "\n");
  if (depth >= kMaxDepth) return;
  for (const auto& d : subfolders) InspectFolder(d, depth + 1, folders, out);
}

}  // namespace

absl::StatusOr<std::string> Inspect(const std::string& path) {
  dicom_internal::InitDcmtk();
  std::error_code ec;
  if (!fs::exists(path, ec)) return absl::NotFoundError(absl::StrCat(path, ": no such file or folder"));
  std::string out;
  if (fs::is_directory(path, ec)) {
    size_t folders = 0;
    InspectFolder(fs::path(path), 0, &folders, &out);
    if (out.empty()) out = absl::StrCat(path, ": no DICOM series, RTSTRUCT or SEG found\n");
    return out;
  }
  out = DescribeFile(path);
  if (out.empty()) {
    const auto kind = dicom_internal::ReadFileKind(path);
    out = kind.modality.empty()
              ? absl::StrCat(path, ": not a DICOM file\n")
              : absl::StrCat(path, ": a ", kind.modality,
                             " image file; inspect its folder to see the series\n");
  }
  return out;
}

}  // namespace fedrad::features::dicom
