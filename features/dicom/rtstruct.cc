// RTSTRUCT contours -> label map, by the IBSI-1 rule stated in dicom.h.
// The survey behind the rule (MIRP, plastimatch, dcmrtstruct2nii, rt-utils,
// SlicerRT, platipy) is summarised in docs/features.md "DICOM contours".
#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/pattern.h"
#include "core/status.h"
#include "features/dicom/dicom.h"
#include "features/dicom/internal/dicom_objects.h"

namespace fedrad::features::dicom {
namespace {

using dicom_internal::Contour;
using dicom_internal::Roi;
using dicom_internal::StructureSet;

// Coordinates within this many voxels of an integer are that integer, so that
// vertices written in mm at voxel centres (and crossings through them) tie
// exactly instead of by rounding noise.
constexpr double kSnapVoxels = 1e-6;
// A contour more than this fraction of a slice off the nearest plane is refused.
constexpr double kPlaneTolerance = 0.1;

double Snap(double v) {
  const double r = std::round(v);
  return std::abs(v - r) < kSnapVoxels ? r : v;
}

// One closed contour in index space, or a refusal naming the ROI and contour.
absl::StatusOr<std::pair<int, Polygon>> ToPlane(const SeriesInfo& series, const Roi& roi,
                                                const Contour& c, const std::string& path) {
  const Geometry& g = series.geometry;
  const size_t n = c.xyz.size() / 3;
  Polygon poly;
  std::vector<double> ks;
  for (size_t i = 0; i < n; ++i) {
    auto idx = dicom_internal::PhysicalToIndex(g, {c.xyz[3 * i], c.xyz[3 * i + 1], c.xyz[3 * i + 2]});
    poly.push_back({Snap(idx[0]), Snap(idx[1])});
    ks.push_back(idx[2]);
  }
  double mean = 0;
  for (double k : ks) mean += k;
  mean /= static_cast<double>(ks.size());
  const double plane = std::round(mean);
  double worst = 0;
  for (double k : ks) worst = std::max(worst, std::abs(k - plane));
  const std::string where = absl::StrCat(path, ": ROI '", roi.name, "' contour ", c.index);
  if (worst > kPlaneTolerance) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s lies %.3f slice off the nearest image plane (plane %d of %d; at most %.1f is "
        "accepted): it was drawn on another slice grid or is not planar; use the series the "
        "structure set was drawn on (fedrad dicom inspect shows its referenced series)",
        where, worst, static_cast<int>(plane), g.size[2], kPlaneTolerance));
  }
  if (plane < 0 || plane >= g.size[2]) {
    return absl::InvalidArgumentError(absl::StrCat(
        where, " lies on plane ", static_cast<int>(plane), ", outside the series' ", g.size[2],
        " slices; the series is incomplete or is not the one the contours were drawn on"));
  }
  return std::make_pair(static_cast<int>(plane), std::move(poly));
}

// Rasterises one ROI into `labels` (voxels still 0 get `label`); returns the
// number of voxels the ROI covers.
absl::StatusOr<int64_t> RasteriseRoi(const SeriesInfo& series, const StructureSet& ss,
                                     const Roi& roi, int32_t label, LabelVolume* labels,
                                     std::vector<std::string>* notes) {
  const std::string& path = ss.path;
  const std::string frame =
      !roi.frame_of_reference_uid.empty()
          ? roi.frame_of_reference_uid
          : (ss.frame_of_reference_uids.empty() ? "" : ss.frame_of_reference_uids.front());
  if (!frame.empty() && !series.frame_of_reference_uid.empty() &&
      frame != series.frame_of_reference_uid) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": ROI '", roi.name, "' is in frame of reference ", ShortUid(frame),
        ", the series in ", series.folder, " in ", ShortUid(series.frame_of_reference_uid),
        ": the contours belong to another scan; name the series they were drawn on"));
  }
  const std::set<std::string> sops(series.sop_instance_uids.begin(),
                                   series.sop_instance_uids.end());
  std::map<int, std::vector<Polygon>> planes;
  int ignored = 0;
  std::set<std::string> ignored_types;
  for (const Contour& c : roi.contours) {
    if (c.type == "POINT" || absl::StartsWith(c.type, "OPEN_")) {
      ++ignored;
      ignored_types.insert(c.type);
      continue;
    }
    if (c.type != "CLOSED_PLANAR" && c.type != "CLOSEDPLANAR_XOR") {
      return absl::InvalidArgumentError(absl::StrCat(
          path, ": ROI '", roi.name, "' contour ", c.index, " has geometric type '", c.type,
          "' (CLOSED_PLANAR, CLOSEDPLANAR_XOR, POINT or OPEN_* expected); re-export it"));
    }
    for (const std::string& sop : c.referenced_sops) {
      if (!sop.empty() && sops.count(sop) == 0) {
        return absl::InvalidArgumentError(absl::StrCat(
            path, ": ROI '", roi.name, "' contour ", c.index, " references image ",
            ShortUid(sop), ", which is not in the series in ", series.folder,
            ": the contours were drawn on another series; name that series"));
      }
    }
    if (c.xyz.size() < 9) {
      ++ignored;
      ignored_types.insert(absl::StrCat(c.type, " with fewer than 3 points"));
      continue;
    }
    FEDRAD_ASSIGN_OR_RETURN(auto plane, ToPlane(series, roi, c, path));
    planes[plane.first].push_back(std::move(plane.second));
  }
  if (ignored > 0 && notes != nullptr) {
    std::string types;
    for (const auto& t : ignored_types) absl::StrAppend(&types, types.empty() ? "" : ", ", t);
    notes->push_back(absl::StrCat("ROI '", roi.name, "': ", ignored,
                                  " contour(s) ignored (", types, ")"));
  }
  if (planes.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": ROI '", roi.name,
        "' has no closed contour (empty ROI); choose another ROI (fedrad dicom inspect lists "
        "each ROI's contours)"));
  }
  const Geometry& g = labels->geometry;
  int64_t count = 0;
  for (const auto& [k, loops] : planes) {
    std::vector<uint8_t> in = RasterisePlane(loops, g.size[0], g.size[1]);
    for (int y = 0; y < g.size[1]; ++y) {
      for (int x = 0; x < g.size[0]; ++x) {
        if (!in[static_cast<size_t>(y) * g.size[0] + x]) continue;
        ++count;
        int32_t& v = labels->at(x, y, k);
        if (v == 0) v = label;
      }
    }
  }
  if (count == 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": ROI '", roi.name,
        "' encloses no voxel centre (empty ROI after rasterisation); choose another ROI"));
  }
  return count;
}

}  // namespace

std::vector<uint8_t> RasterisePlane(const std::vector<Polygon>& loops, int nx, int ny) {
  std::vector<uint8_t> out(static_cast<size_t>(nx) * ny, 0);
  // Crossings of every edge of every loop with the rows it covers: rows y
  // with min(y0,y1) <= y < max(y0,y1) (half-open, so a vertex on a row is
  // counted once and a horizontal edge never).
  std::vector<std::vector<double>> rows(ny);
  for (const Polygon& loop : loops) {
    const size_t n = loop.size();
    for (size_t i = 0; i < n; ++i) {
      const double x0 = Snap(loop[i][0]), y0 = Snap(loop[i][1]);
      const double x1 = Snap(loop[(i + 1) % n][0]), y1 = Snap(loop[(i + 1) % n][1]);
      if (y0 == y1) continue;
      const double lo = std::min(y0, y1), hi = std::max(y0, y1);
      const int first = std::max(0, static_cast<int>(std::ceil(lo)));
      const int last = std::min(ny - 1, static_cast<int>(std::ceil(hi)) - 1);
      for (int y = first; y <= last; ++y) {
        if (y < lo || y >= hi) continue;
        rows[y].push_back(Snap(x0 + (y - y0) * (x1 - x0) / (y1 - y0)));
      }
    }
  }
  for (int y = 0; y < ny; ++y) {
    std::vector<double>& xs = rows[y];
    if (xs.empty()) continue;
    std::sort(xs.begin(), xs.end());
    // Centre x is inside when an odd number of crossings lie at or left of
    // it: on a left edge inside, on a right edge outside (IBSI "+1 for each
    // crossing with x >= x_i", even-odd over all loops = XOR).
    size_t p = 0;
    for (int x = 0; x < nx; ++x) {
      while (p < xs.size() && xs[p] <= x) ++p;
      out[static_cast<size_t>(y) * nx + x] = static_cast<uint8_t>(p & 1);
    }
  }
  return out;
}

absl::StatusOr<LabelVolume> RasteriseRtstruct(const SeriesInfo& series,
                                              const std::string& rtstruct_path,
                                              const std::string& pattern,
                                              std::vector<std::string>* notes) {
  FEDRAD_ASSIGN_OR_RETURN(StructureSet ss, dicom_internal::LoadStructureSet(rtstruct_path));
  if (!ss.referenced_series_uids.empty() &&
      std::find(ss.referenced_series_uids.begin(), ss.referenced_series_uids.end(),
                series.series_uid) == ss.referenced_series_uids.end()) {
    return absl::InvalidArgumentError(absl::StrCat(
        rtstruct_path, ": the structure set references series ",
        ShortUid(ss.referenced_series_uids.front()), ", not the series in ", series.folder,
        " (", ShortUid(series.series_uid), "); name the series the contours were drawn on"));
  }
  LabelVolume labels;
  labels.geometry = series.geometry;
  labels.voxels.assign(series.geometry.NumVoxels(), 0);
  int32_t next = 0;
  for (const Roi& roi : ss.rois) {
    if (!WildcardMatch(pattern, roi.name)) continue;
    FEDRAD_ASSIGN_OR_RETURN(int64_t count, RasteriseRoi(series, ss, roi, ++next, &labels, notes));
    (void)count;
  }
  if (next == 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        rtstruct_path, ": no ROI name matches '", pattern, "' (", ss.rois.size(),
        " ROIs in the file); run `fedrad dicom inspect ", rtstruct_path,
        "` to list them and correct the pattern"));
  }
  return labels;
}

}  // namespace fedrad::features::dicom
