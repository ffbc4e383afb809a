#include "features/cohort.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <future>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "core/hash.h"
#include "core/log.h"
#include "core/status.h"
#include "features/dicom/dicom.h"
#include "features/image_io.h"
#include "features/threads.h"

namespace fedrad::features {
namespace {

namespace fs = std::filesystem;

// Bump when a change alters feature values, so caches are not reused.
constexpr char kExtractorVersion[] = "fedrad-features-2";  // 2: filters

absl::Status CaseError(const CaseInput& in, const absl::Status& s) {
  return absl::Status(s.code(), absl::StrCat("case ", in.case_id, ": ", s.message()));
}

// SHA-256 of a file, or of every file of a directory (sorted by name).
absl::StatusOr<std::string> PathHash(const std::string& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    std::vector<std::string> files;
    for (const auto& e : fs::directory_iterator(path, ec)) {
      if (e.is_regular_file()) files.push_back(e.path().string());
    }
    std::sort(files.begin(), files.end());
    Sha256Hasher h;
    for (const auto& f : files) {
      FEDRAD_ASSIGN_OR_RETURN(std::string fh, Sha256FileHex(f));
      h.Update(fs::path(f).filename().string());
      h.Update(fh);
    }
    return h.FinalHex();
  }
  return Sha256FileHex(path);
}

std::string FormatValue(double v) { return FormatNumber(v); }

CsvTable CaseToLong(const std::string& case_id, const std::vector<RegionFeatures>& regions) {
  CsvTable t(
      {"case_id", "roi", "filter", "family", "feature", "ibsi_code", "aggregation", "value"});
  for (const auto& r : regions) {
    for (const auto& f : r.features) {
      (void)t.AddRow({case_id, r.roi, f.filter, f.family, f.feature, f.ibsi_code, f.aggregation,
                      FormatValue(f.value)});
    }
  }
  return t;
}

absl::StatusOr<std::vector<RegionFeatures>> ParseCached(const std::string& path) {
  FEDRAD_ASSIGN_OR_RETURN(CsvTable t, ReadCsv(path));
  FEDRAD_RETURN_IF_ERROR(
      t.RequireColumns({"roi", "filter", "family", "feature", "ibsi_code", "aggregation", "value"}));
  std::vector<RegionFeatures> out;
  const int c_filter = t.ColumnIndex("filter");
  int c_roi = t.ColumnIndex("roi"), c_fam = t.ColumnIndex("family"),
      c_feat = t.ColumnIndex("feature"), c_code = t.ColumnIndex("ibsi_code"),
      c_agg = t.ColumnIndex("aggregation"), c_val = t.ColumnIndex("value");
  for (size_t i = 0; i < t.num_rows(); ++i) {
    const std::string& roi = t.cell(i, c_roi);
    if (out.empty() || out.back().roi != roi) out.push_back({roi, {}});
    double v = std::numeric_limits<double>::quiet_NaN();
    if (!IsMissingCell(t.cell(i, c_val)) && !ParseNumber(t.cell(i, c_val), &v)) {
      return absl::DataLossError(absl::StrCat(path, ": bad value on line ", t.line_of_row(i)));
    }
    out.back().features.push_back(
        {t.cell(i, c_fam), t.cell(i, c_feat), t.cell(i, c_code), t.cell(i, c_agg), v,
         t.cell(i, c_filter)});
  }
  return out;
}

}  // namespace

absl::StatusOr<std::vector<CaseInput>> ReadManifest(const std::string& path) {
  FEDRAD_ASSIGN_OR_RETURN(CsvTable t, ReadCsv(path));
  FEDRAD_RETURN_IF_ERROR(t.RequireColumns({"case_id"}));
  FEDRAD_RETURN_IF_ERROR(t.RequireUnique("case_id"));
  if (!t.HasColumn("image") && !t.HasColumn("series")) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": no column 'image' (an image file or DICOM series folder) or 'series'"));
  }
  if (!t.HasColumn("lesion_mask") && !t.HasColumn("rtstruct") && !t.HasColumn("seg")) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": no column 'lesion_mask' (a label map), 'rtstruct' or 'seg' (DICOM contours)"));
  }
  std::error_code ec;
  fs::path base = fs::absolute(fs::path(path), ec).parent_path();
  auto cell = [&](size_t row, const char* column) -> std::string {
    int c = t.ColumnIndex(column);
    return c < 0 ? "" : std::string(absl::StripAsciiWhitespace(t.cell(row, c)));
  };
  auto resolve = [&](const std::string& p) -> std::string {
    if (p.empty()) return p;
    fs::path q(p);
    return q.is_absolute() ? q.string() : (base / q).lexically_normal().string();
  };
  std::vector<CaseInput> out;
  for (size_t i = 0; i < t.num_rows(); ++i) {
    auto bad = [&](const std::string& m) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": line ", t.line_of_row(i), ": ", m));
    };
    CaseInput c;
    c.case_id = cell(i, "case_id");
    std::string image = cell(i, "image"), series = cell(i, "series");
    if (!image.empty() && !series.empty() && image != series) {
      return bad("both image and series given; a row names one image");
    }
    c.image = resolve(image.empty() ? series : image);
    c.lesion_mask = resolve(cell(i, "lesion_mask"));
    c.liver_mask = resolve(cell(i, "liver_mask"));
    c.rtstruct = resolve(cell(i, "rtstruct"));
    c.seg = resolve(cell(i, "seg"));
    c.lesion_roi = cell(i, "lesion_roi");
    c.liver_roi = cell(i, "liver_roi");
    if (c.case_id.empty()) return bad("empty case_id");
    if (c.image.empty()) return bad(t.HasColumn("image") ? "empty image" : "empty series");
    if (!c.rtstruct.empty() && !c.seg.empty()) {
      return bad("both rtstruct and seg given; name one contour object");
    }
    if (c.dicom_contours()) {
      if (c.lesion_roi.empty()) {
        return bad("empty lesion_roi: name the lesion ROI(s), e.g. \"GTV*|Metastasis*\" "
                   "(fedrad dicom inspect lists them)");
      }
      if (!c.lesion_mask.empty() || !c.liver_mask.empty()) {
        return bad("masks and rtstruct/seg both given; use one or the other");
      }
    } else if (c.lesion_mask.empty()) {
      return bad("empty lesion_mask (or give rtstruct/seg with lesion_roi)");
    }
    out.push_back(std::move(c));
  }
  return out;
}

namespace {

// A case's volumes cut to the box around all its regions (plus the margin
// the settings need), and where that box lies in the whole image.
struct CaseVolumes {
  ImageVolume image;
  LabelVolume lesions;
  std::optional<LabelVolume> liver;
  SourceWindow window;
  // A file image still being read (FinishImage crops it into `image`), so
  // that the regions are planned meanwhile.
  std::future<absl::StatusOr<StoredVolume>> stored_image;
  std::array<int, 3> hi{0, 0, 0};
};

// The box [lo - margin, hi + margin] clipped to `g`, or a one-voxel box when
// nothing is flagged (PlanRegions then reports the empty mask).
void CutBox(const Geometry& g, bool any, const std::array<int, 3>& margin,
            std::array<int, 3>* lo, std::array<int, 3>* hi) {
  for (int d = 0; d < 3; ++d) {
    if (!any) {
      (*lo)[d] = (*hi)[d] = 0;
      continue;
    }
    (*lo)[d] = static_cast<int>(std::max<int64_t>(0, int64_t{(*lo)[d]} - margin[d]));
    (*hi)[d] = static_cast<int>(std::min<int64_t>(g.size[d] - 1, int64_t{(*hi)[d]} + margin[d]));
  }
}

void Union(bool* any, std::array<int, 3>* lo, std::array<int, 3>* hi, bool other_any,
           const std::array<int, 3>& olo, const std::array<int, 3>& ohi) {
  if (!other_any) return;
  for (int d = 0; d < 3; ++d) {
    (*lo)[d] = *any ? std::min((*lo)[d], olo[d]) : olo[d];
    (*hi)[d] = *any ? std::max((*hi)[d], ohi[d]) : ohi[d];
  }
  *any = true;
}

template <typename T>
Volume<T> CropVolume(const Volume<T>& v, const std::array<int, 3>& lo,
                     const std::array<int, 3>& hi) {
  const Geometry& g = v.geometry;
  Volume<T> out;
  out.geometry = g;
  for (int d = 0; d < 3; ++d) out.geometry.size[d] = hi[d] - lo[d] + 1;
  for (int r = 0; r < 3; ++r) {
    for (int c = 0; c < 3; ++c) {
      out.geometry.origin[r] += g.direction[r * 3 + c] * g.spacing[c] * lo[c];
    }
  }
  out.voxels.reserve(out.geometry.NumVoxels());
  for (int z = lo[2]; z <= hi[2]; ++z) {
    for (int y = lo[1]; y <= hi[1]; ++y) {
      const T* row = &v.voxels[g.Index(lo[0], y, z)];
      out.voxels.insert(out.voxels.end(), row, row + (hi[0] - lo[0] + 1));
    }
  }
  return out;
}

template <typename T>
bool LabelBox(const Volume<T>& v, std::array<int, 3>* lo, std::array<int, 3>* hi) {
  *lo = {INT32_MAX, INT32_MAX, INT32_MAX};
  *hi = {-1, -1, -1};
  const Geometry& g = v.geometry;
  for (int z = 0; z < g.size[2]; ++z) {
    for (int y = 0; y < g.size[1]; ++y) {
      const T* row = &v.voxels[g.Index(0, y, z)];
      bool any = false;
      for (int x = 0; x < g.size[0]; ++x) any |= row[x] != 0;
      if (!any) continue;
      int first = 0, last = g.size[0] - 1;
      while (row[first] == 0) ++first;
      while (row[last] == 0) --last;
      *lo = {std::min((*lo)[0], first), std::min((*lo)[1], y), std::min((*lo)[2], z)};
      *hi = {std::max((*hi)[0], last), std::max((*hi)[1], y), std::max((*hi)[2], z)};
    }
  }
  return (*hi)[0] >= 0;
}

// Volumes already in memory (the DICOM path, or an image read from a
// series folder): cut in place.
void CutInMemory(const ExtractionOptions& options, CaseVolumes* v) {
  std::array<int, 3> lo, hi, llo, lhi;
  bool any = LabelBox(v->lesions, &lo, &hi);
  if (v->liver) Union(&any, &lo, &hi, LabelBox(*v->liver, &llo, &lhi), llo, lhi);
  const Geometry full = v->image.geometry;
  CutBox(full, any, CaseCutMarginVoxels(full, options), &lo, &hi);
  v->image = CropVolume(v->image, lo, hi);
  v->lesions = CropVolume(v->lesions, lo, hi);
  if (v->liver) v->liver = CropVolume(*v->liver, lo, hi);
  v->window = SourceWindow{full, lo};
}

// The hospital path: series + RTSTRUCT or SEG (features/dicom).
absl::StatusOr<CaseVolumes> ReadDicomVolumes(const CaseInput& in, const ExtractionOptions& options) {
  auto c = dicom::ReadDicomCase({in.image, in.rtstruct, in.seg, in.lesion_roi, in.liver_roi});
  if (!c.ok()) return CaseError(in, c.status());
  for (const std::string& note : c->notes) {
    FEDRAD_LOG(WARNING) << "case " << in.case_id << ": " << note;
  }
  CaseVolumes v;
  v.image = std::move(c->image);
  v.lesions = std::move(c->lesions);
  v.liver = std::move(c->liver);
  CutInMemory(options, &v);
  return v;
}

// A mask file read as stored, checked against the image's grid.
absl::StatusOr<StoredVolume> ReadMask(const CaseInput& in, const std::string& path,
                                      const char* what, const Geometry& image) {
  auto m = ReadStored(path);
  if (!m.ok()) return CaseError(in, Annotate(m.status(), what));
  std::string why = GeometryMismatch(image, m->geometry);
  if (!why.empty()) {
    return CaseError(in, absl::InvalidArgumentError(
                             absl::StrCat(what, " ", path, " vs image ", in.image, ": ", why)));
  }
  return m;
}

// Files: the masks are read as stored (bytes for a uint8 mask), their box
// found, and only that box (plus the margin) converted, of the masks and
// of the image; no whole-volume float or int32 copy is made.
absl::StatusOr<CaseVolumes> ReadVolumes(const CaseInput& in, const ExtractionOptions& options) {
  if (in.dicom_contours()) return ReadDicomVolumes(in, options);
  std::error_code ec;
  const bool series = fs::is_directory(in.image, ec);
  Geometry full;
  std::optional<ImageVolume> whole;  // a series folder is read whole
  if (series) {
    auto image = ReadImage(in.image);
    if (!image.ok()) return CaseError(in, Annotate(image.status(), "image"));
    full = image->geometry;
    whole = std::move(*image);
  } else {
    auto g = ReadGeometry(in.image);
    if (!g.ok()) return CaseError(in, Annotate(g.status(), "image"));
    full = *g;
  }
  // The image is inflated on a second thread while the masks are read and
  // the regions planned when the budget allows (it holds the file's voxels
  // as stored until cropped; on an early return the future's destructor
  // waits for it). With one thread it is read after the masks are freed.
  std::future<absl::StatusOr<StoredVolume>> stored_image;
  if (!whole) {
    const bool overlap = ThreadBudget() > 1;
    const std::string path = in.image;
    stored_image = std::async(overlap ? std::launch::async : std::launch::deferred,
                              [path] { return ReadStored(path); });
  }
  std::array<int, 3> lo, hi, llo, lhi;
  CaseVolumes v;
  bool any = false;
  std::optional<StoredVolume> liver;
  {
    auto lesions = ReadMask(in, in.lesion_mask, "lesion mask", full);
    if (!lesions.ok()) {
      return lesions.status();
    }
    any = lesions->NonZeroBox(&lo, &hi);
    if (!in.liver_mask.empty()) {
      auto l = ReadMask(in, in.liver_mask, "liver mask", full);
      if (!l.ok()) {
          return l.status();
      }
      liver = std::move(*l);
      Union(&any, &lo, &hi, liver->NonZeroBox(&llo, &lhi), llo, lhi);
    }
    CutBox(full, any, CaseCutMarginVoxels(full, options), &lo, &hi);
    auto l = lesions->CropLabels(lo, hi, in.lesion_mask);
    if (!l.ok()) {
      return CaseError(in, Annotate(l.status(), "lesion mask"));
    }
    v.lesions = std::move(*l);
  }
  if (liver) {
    auto l = liver->CropLabels(lo, hi, in.liver_mask);
    if (!l.ok()) {
      return CaseError(in, Annotate(l.status(), "liver mask"));
    }
    v.liver = std::move(*l);
    liver.reset();
  }
  if (whole) v.image = CropVolume(*whole, lo, hi);
  v.stored_image = std::move(stored_image);
  v.window = SourceWindow{full, lo};
  v.hi = hi;
  return v;
}

// Waits for a file image and keeps its cut.
absl::Status FinishImage(const CaseInput& in, CaseVolumes* v) {
  if (!v->stored_image.valid()) return absl::OkStatus();
  absl::StatusOr<StoredVolume> image = v->stored_image.get();
  if (!image.ok()) return CaseError(in, Annotate(image.status(), "image"));
  std::string why = GeometryMismatch(v->window.full, image->geometry);
  if (!why.empty()) {
    return CaseError(in, absl::DataLossError(absl::StrCat(
                             "image ", in.image, " changed while it was read: ", why)));
  }
  v->image = image->CropImage(v->window.offset, v->hi);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::vector<RegionFeatures>> ExtractCase(const CaseInput& in,
                                                        const CaseOptions& options) {
  FEDRAD_ASSIGN_OR_RETURN(CaseVolumes v, ReadVolumes(in, options.extraction));
  const ImageVolume* image = &v.image;
  const LabelVolume* lesions = &v.lesions;
  std::optional<LabelVolume>& liver = v.liver;
  auto plan = PlanRegions(*lesions, liver ? &*liver : nullptr, options.regions);
  if (!plan.ok()) {
    return CaseError(in, Annotate(plan.status(),
                                  absl::StrCat("masks of ", in.dicom_contours()
                                                                ? in.rtstruct + in.seg
                                                                : in.lesion_mask)));
  }
  FEDRAD_RETURN_IF_ERROR(FinishImage(in, &v));
  std::vector<std::string> names = plan->names;
  bool need_largest = options.largest_lesion && !plan->lesions.empty();
  if (need_largest && std::find(names.begin(), names.end(), "lesion_1") == names.end()) {
    names.insert(names.begin(), "lesion_1");
  }
  std::vector<RegionFeatures> out;
  // A region with the same voxels as an earlier one (e.g. "lesions" when
  // there is one lesion, "bkg" when no lesion touches the liver) gets its
  // features copied: extraction is deterministic. Only a hash and the voxel
  // count are kept per region; a match is confirmed voxel by voxel.
  struct Seen {
    uint64_t hash;
    size_t count, index;
  };
  std::vector<Seen> seen;
  for (const std::string& name : names) {
    std::vector<uint8_t> mask = plan->Mask(name);
    uint64_t hash = 1469598103934665603ull;  // FNV-1a over the flagged indices' runs
    size_t count = 0;
    for (size_t i = 0; i < mask.size(); ++i) {
      if (!mask[i]) continue;
      ++count;
      hash = (hash ^ i) * 1099511628211ull;
    }
    bool copied = false;
    for (const Seen& e : seen) {
      if (!options.response_map_dir.empty() || e.hash != hash || e.count != count) continue;
      if (plan->Mask(out[e.index].roi) != mask) continue;
      out.push_back({name, out[e.index].features});
      copied = true;
      break;
    }
    if (copied) continue;
    seen.push_back({hash, count, out.size()});
    ExtractionOptions extraction = options.extraction;
    if (!options.response_map_dir.empty()) {
      std::string prefix = absl::StrCat(in.case_id, "_", name, "_");
      for (char& c : prefix) {
        if (!absl::ascii_isalnum(c) && c != '.' && c != '-') c = '_';  // a plain file name
      }
      const std::string dir = options.response_map_dir;
      extraction.response_map_sink = [dir, prefix](const std::string& label,
                                                   const ImageVolume& map) {
        return WriteImage(map, (fs::path(dir) / (prefix + label + ".nii.gz")).string());
      };
    }
    auto f = ExtractRegionFeatures(*image, mask, v.window, extraction);
    if (!f.ok()) {
      return CaseError(in, Annotate(f.status(), absl::StrCat("region ", name)));
    }
    out.push_back({name, std::move(*f)});
  }
  if (need_largest) {
    RegionFeatures largest{"largest_lesion", out.front().features};
    if (!options.regions.each_lesion) {
      out.front() = std::move(largest);  // lesion_1 was computed only for this
    } else {
      out.push_back(std::move(largest));
    }
  }
  if (options.patient) {
    out.push_back({"patient",
                   {{"patient", "lesion_count", "", "", double(plan->lesions.size()), ""},
                    {"patient", "total_lesion_volume", "", "", plan->total_lesion_volume_mm3, ""}}});
  }
  return out;
}

absl::StatusOr<std::string> CaseCacheKey(const CaseInput& in,
                                         const std::string& settings_fingerprint) {
  Sha256Hasher h;
  h.Update(kExtractorVersion);
  h.Update("\nsettings\n");
  h.Update(settings_fingerprint);
  for (const std::string* p : {&in.image, &in.lesion_mask, &in.liver_mask}) {
    h.Update("\nfile\n");
    if (p->empty()) continue;
    FEDRAD_ASSIGN_OR_RETURN(std::string fh, PathHash(*p));
    h.Update(fh);
  }
  if (in.dicom_contours()) {
    // The contour object and the ROI patterns choose the masks.
    for (const std::string* p : {&in.rtstruct, &in.seg}) {
      h.Update("\ncontours\n");
      if (p->empty()) continue;
      FEDRAD_ASSIGN_OR_RETURN(std::string fh, PathHash(*p));
      h.Update(fh);
    }
    h.Update(absl::StrCat("\nlesion_roi\n", in.lesion_roi.size(), ":", in.lesion_roi,
                          "\nliver_roi\n", in.liver_roi.size(), ":", in.liver_roi));
  }
  return h.FinalHex();
}

std::vector<CaseResult> RunCohort(const std::vector<CaseInput>& cases,
                                  const CaseOptions& options, const CohortOptions& cohort) {
  std::vector<CaseResult> results(cases.size());
  std::atomic<size_t> next{0};
  std::atomic<int> done{0};
  std::mutex progress_mu;
  if (!cohort.cache_dir.empty()) {
    std::error_code ec;
    fs::create_directories(cohort.cache_dir, ec);
  }
  const int threads = std::max(1, std::min<int>(cohort.threads, static_cast<int>(cases.size())));
  // --threads covers cases, families and filters: each worker gets its share.
  const int per_worker = std::max(1, cohort.threads / threads);
  auto worker = [&]() {
    ScopedThreadBudget budget(per_worker);
    for (;;) {
      size_t i = next.fetch_add(1);
      if (i >= cases.size()) return;
      const CaseInput& in = cases[i];
      CaseResult& r = results[i];
      r.case_id = in.case_id;
      if (cohort.cancelled && cohort.cancelled()) {
        r.status = absl::CancelledError("extraction stopped before this case");
        continue;
      }
      auto start = std::chrono::steady_clock::now();
      std::string cache_file;
      if (!cohort.cache_dir.empty()) {
        auto key = CaseCacheKey(in, cohort.settings_fingerprint);
        if (key.ok()) {
          cache_file = (fs::path(cohort.cache_dir) / (*key + ".csv")).string();
          std::error_code ec;
          if (fs::exists(cache_file, ec)) {
            auto cached = ParseCached(cache_file);
            if (cached.ok()) {
              r.regions = std::move(*cached);
              r.from_cache = true;
            }
          }
        }
      }
      if (!r.from_cache) {
        auto f = ExtractCase(in, options);
        if (f.ok()) {
          r.regions = std::move(*f);
          if (!cache_file.empty()) {
            // Two cases with identical files share a key: write under a
            // per-case name, then rename into place (atomic; last one wins
            // with the same content).
            std::string part = absl::StrCat(cache_file, ".", i, ".part");
            absl::Status s =
                WriteStringToFile(part, FormatCsv(CaseToLong(in.case_id, r.regions)));
            std::error_code ec;
            if (s.ok()) fs::rename(part, cache_file, ec);
            if (!s.ok() || ec) {
              FEDRAD_LOG(WARNING) << "cannot write cache " << cache_file << ": "
                                  << (s.ok() ? ec.message() : s.ToString());
              fs::remove(part, ec);
            }
          }
        } else {
          r.status = f.status();
        }
      }
      r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      int d = ++done;
      if (cohort.progress) {
        std::lock_guard<std::mutex> lock(progress_mu);
        cohort.progress(r, d, static_cast<int>(cases.size()));
      }
    }
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(worker);
  worker();
  for (auto& t : pool) t.join();
  return results;
}

std::string WideColumnName(const FeatureValue& f) {
  std::string name = absl::StrCat(f.filter.empty() ? "" : f.filter + "_", f.family, "_", f.feature);
  if (!f.aggregation.empty()) {
    std::string slug = absl::AsciiStrToLower(f.aggregation);
    slug = absl::StrReplaceAll(slug, {{".", "_"}, {" ", "_"}, {"-", "_"}});
    absl::StrAppend(&name, "_", slug);
  }
  return name;
}

CsvTable WideTable(const std::vector<CaseResult>& results) {
  std::vector<std::string> columns;
  std::map<std::string, int> index;
  for (const auto& r : results) {
    if (!r.status.ok()) continue;
    for (const auto& reg : r.regions) {
      for (const auto& f : reg.features) {
        std::string c = WideColumnName(f);
        if (index.emplace(c, static_cast<int>(columns.size())).second) columns.push_back(c);
      }
    }
  }
  std::vector<std::string> header = {"case_id", "roi"};
  header.insert(header.end(), columns.begin(), columns.end());
  CsvTable t(header);
  for (const auto& r : results) {
    if (!r.status.ok()) continue;
    for (const auto& reg : r.regions) {
      std::vector<std::string> row(header.size(), "NA");
      row[0] = r.case_id;
      row[1] = reg.roi;
      for (const auto& f : reg.features) row[2 + index[WideColumnName(f)]] = FormatValue(f.value);
      (void)t.AddRow(std::move(row));
    }
  }
  return t;
}

CsvTable LongTable(const std::vector<CaseResult>& results) {
  CsvTable t(
      {"case_id", "roi", "filter", "family", "feature", "ibsi_code", "aggregation", "value"});
  for (const auto& r : results) {
    if (!r.status.ok()) continue;
    CsvTable c = CaseToLong(r.case_id, r.regions);
    for (const auto& row : c.rows()) (void)t.AddRow(row);
  }
  return t;
}

CsvTable ErrorsTable(const std::vector<CaseResult>& results) {
  CsvTable t({"case_id", "error"});
  for (const auto& r : results) {
    if (!r.status.ok()) (void)t.AddRow({r.case_id, std::string(r.status.message())});
  }
  return t;
}

}  // namespace fedrad::features
