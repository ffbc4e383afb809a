// `fedrad extract`: IBSI radiomic features of one case or of a cohort.
// See docs/features.md.
#include <filesystem>
#include <iostream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "cli/command.h"
#include "site_node/feature_settings.h"
#include "core/csv.h"
#include "core/log.h"
#include "features/cohort.h"

namespace {

namespace fs = std::filesystem;
using fedrad::features::CaseInput;
using fedrad::features::CaseResult;

// The case id of a single --image: its file (or folder) name without the
// image extension.
std::string CaseIdOf(const std::string& image) {
  fs::path image_path = fs::path(image);
  if (!image_path.has_filename()) image_path = image_path.parent_path();  // "CT/"
  std::string name = image_path.filename().string();
  for (const char* ext : {".nii.gz", ".nii", ".nrrd", ".nhdr", ".mha", ".mhd"}) {
    std::string e(ext);
    if (name.size() > e.size() && name.compare(name.size() - e.size(), e.size(), e) == 0) {
      return name.substr(0, name.size() - e.size());
    }
  }
  return name;
}

// One line per finished case of a cohort, on stderr.
void PrintProgress(const CaseResult& r, int done, int total) {
  std::cerr << "[" << done << "/" << total << "] " << r.case_id << ": "
            << (r.status.ok() ? (r.from_cache ? "cached" : "ok") : "FAILED") << " ("
            << r.regions.size() << " regions, " << absl::StrFormat("%.2f", r.seconds) << " s)";
  if (!r.status.ok()) std::cerr << " " << r.status.message();
  std::cerr << "\n";
}

// Writes the features to `out` and failed cases to <out stem>.errors.csv;
// the command's exit code (a cohort's bad cases are reported, not fatal).
int WriteResults(const std::vector<CaseResult>& results, const std::string& out,
                 const std::string& format, bool cohort) {
  int failed = 0;
  for (const auto& r : results) failed += !r.status.ok();
  fedrad::CsvTable table = format == "wide" ? fedrad::features::WideTable(results)
                                            : fedrad::features::LongTable(results);
  if (absl::Status s = fedrad::WriteCsv(out, table); !s.ok()) {
    std::cerr << "fedrad extract: " << s.message() << "\n";
    return 1;
  }
  fs::path out_path(out);
  std::string stem = out_path.filename().string();
  if (stem.size() > 4 && stem.substr(stem.size() - 4) == ".csv") stem = stem.substr(0, stem.size() - 4);
  std::string errors_path = (out_path.parent_path() / (stem + ".errors.csv")).string();
  if (failed > 0 || fs::exists(errors_path)) {
    if (absl::Status s = fedrad::WriteCsv(errors_path, fedrad::features::ErrorsTable(results)); !s.ok()) {
      std::cerr << "fedrad extract: " << s.message() << "\n";
      return 1;
    }
  }
  if (cohort) {
    std::cerr << "extracted " << (results.size() - failed) << " of " << results.size()
              << " cases into " << out;
    if (failed) std::cerr << "; " << failed << " failed, listed in " << errors_path;
    std::cerr << "\n";
    return 0;  // bad cases are reported, not fatal
  }
  if (failed) {
    std::cerr << "fedrad extract: " << results.front().status.message() << "\n";
    return 1;
  }
  return 0;
}

int RunExtract(fedrad::cli::Args& args) {
  args.Describe(
      "Extracts IBSI radiomic features. One case: --image CT --mask MASK [--liver LIVER] "
      "--out features.csv; or a DICOM series with its contours: --image SERIES_DIR --rtstruct "
      "RS.dcm (or --seg SEG.dcm) --lesion-roi 'GTV*' [--liver-roi Liver]. A cohort: --manifest "
      "manifest.csv --out features.csv (columns case_id,image,lesion_mask[,liver_mask], or for "
      "DICOM rows image|series,rtstruct|seg,lesion_roi[,liver_roi]; relative paths are "
      "resolved against the manifest's folder). Failed cases are listed in <out stem>.errors.csv; a cohort run "
      "caches each case under <out>.cache/ keyed by the SHA-256 of its files and the "
      "settings. See docs/features.md.");
  std::string image = args.Flag("image", "", "CT image (NIfTI, NRRD, MHA/MHD or DICOM directory)");
  std::string mask = args.Flag("mask", "", "Lesion mask (label map) for --image");
  std::string liver = args.Flag("liver", "", "Optional liver mask for --image");
  std::string rtstruct = args.Flag("rtstruct", "", "RTSTRUCT for --image (a DICOM series folder), instead of --mask");
  std::string seg = args.Flag("seg", "", "DICOM SEG for --image (a DICOM series folder), instead of --mask");
  std::string lesion_roi = args.Flag("lesion-roi", "", "Lesion ROI name or pattern for --rtstruct/--seg, e.g. 'GTV*|Metastasis*'");
  std::string liver_roi = args.Flag("liver-roi", "", "Optional liver ROI name or pattern for --rtstruct/--seg");
  std::string case_id = args.Flag("case-id", "", "Case id for --image (default: image file name)");
  std::string manifest = args.Flag("manifest", "", "Cohort manifest CSV");
  std::string settings = args.Flag("settings", "", "Settings (protobuf text, proto/feature_settings.proto)");
  std::string out = args.Flag("out", "", "Output CSV (required)");
  std::string format = args.Flag("format", "wide", "wide | long");
  std::string families = args.Flag("families", "", "Comma-separated families, e.g. glcm,glrlm");
  long bin_count = args.Int("bin-count", 0, "Override: fixed bin number");
  double bin_width = args.Double("bin-width", 0, "Override: fixed bin size (HU)");
  long threads = args.Int("threads", std::max(1u, std::thread::hardware_concurrency()),
                          "Threads in all: cases of a cohort in parallel, and the families and "
                          "filters of one case (default: hardware concurrency)");
  std::string cache_dir = args.Flag("cache-dir", "", "Cache folder (default <out>.cache for a cohort)");
  bool no_cache = args.Bool("no-cache", "Do not read or write the cache");
  std::string filter = args.Flag(
      "filter", "",
      "Filters (IBSI chapter 2) replacing those of --settings: ';'-separated "
      "kind:key=value,... with the field names of proto/feature_settings.proto, e.g. "
      "'log:sigma_mm=1.5' or 'log:sigma_mm=1;log:sigma_mm=3,padding=mirror;"
      "laws:kernel=L5E5E5,energy_distance=7,rotation_invariant=true,pooling=max;"
      "gabor:sigma_mm=5,lambda_mm=2,gamma=1.5,theta_step_deg=22.5,orthogonal_planes=true;"
      "mean:support=5,in_plane=true'. Columns get the filter's label as prefix "
      "(log_s1.5_stat_mean); the long format gets it in the filter column");
  std::string response_dir = args.Flag(
      "save-response-map", "",
      "Folder to write each filter's response map of each region to, as "
      "<case>_<roi>_<filter>.nii.gz on the cropped grid (implies --no-cache)");
  if (!args.Finish()) return args.exit_code();

  if (out.empty()) return args.UsageError("--out is required");
  if (format != "wide" && format != "long") return args.UsageError("--format must be wide or long");
  if (manifest.empty() == image.empty()) {
    return args.UsageError("give either --manifest or --image (with --mask)");
  }
  const bool contours = !rtstruct.empty() || !seg.empty();
  if (!image.empty() && mask.empty() && !contours) {
    return args.UsageError("--image needs --mask (or --rtstruct/--seg with --lesion-roi)");
  }
  if (contours && (!mask.empty() || !liver.empty())) {
    return args.UsageError("give --mask/--liver or --rtstruct/--seg, not both");
  }
  if (!rtstruct.empty() && !seg.empty()) return args.UsageError("give --rtstruct or --seg, not both");
  if (contours && lesion_roi.empty()) return args.UsageError("--rtstruct/--seg need --lesion-roi");
  if (threads < 1) return args.UsageError("--threads must be >= 1");

  absl::StatusOr<fedrad::cli::FeatureSettingsBundle> bundle =
      settings.empty() ? fedrad::cli::ParseFeatureSettings("", "<defaults>")
                       : fedrad::cli::LoadFeatureSettings(settings);
  if (!bundle.ok()) {
    std::cerr << "fedrad extract: " << bundle.status().message() << "\n";
    return 2;
  }
  fedrad::cli::FeatureOverrides overrides{families, static_cast<int>(bin_count), bin_width,
                                          filter};
  if (absl::Status s = fedrad::cli::ApplyOverrides(overrides, &*bundle); !s.ok()) {
    std::cerr << "fedrad extract: " << s.message() << "\n";
    return 2;
  }

  if (!response_dir.empty()) {
    std::error_code ec;
    fs::create_directories(response_dir, ec);
    if (ec || !fs::is_directory(response_dir)) {
      std::cerr << "fedrad extract: --save-response-map: cannot create folder " << response_dir
                << ": " << ec.message() << "\n";
      return 1;
    }
    bundle->options.response_map_dir = response_dir;
    no_cache = true;  // a cached case would write no map
  }

  std::vector<CaseInput> cases;
  fedrad::features::CohortOptions run;
  run.settings_fingerprint = bundle->fingerprint;
  if (!manifest.empty()) {
    auto m = fedrad::features::ReadManifest(manifest);
    if (!m.ok()) {
      std::cerr << "fedrad extract: " << m.status().message() << "\n";
      return 1;
    }
    cases = std::move(*m);
    run.threads = static_cast<int>(threads);
    if (!no_cache) run.cache_dir = cache_dir.empty() ? out + ".cache" : cache_dir;
  } else {
    CaseInput c;
    c.case_id = case_id;
    c.image = image;
    c.lesion_mask = mask;
    c.liver_mask = liver;
    c.rtstruct = rtstruct;
    c.seg = seg;
    c.lesion_roi = lesion_roi;
    c.liver_roi = liver_roi;
    if (c.case_id.empty()) c.case_id = CaseIdOf(image);
    cases.push_back(c);
    run.threads = static_cast<int>(threads);  // the families of the one case
    if (!no_cache && !cache_dir.empty()) run.cache_dir = cache_dir;
  }
  const bool cohort = !manifest.empty();
  if (cohort) run.progress = PrintProgress;
  std::vector<CaseResult> results = fedrad::features::RunCohort(cases, bundle->options, run);

  return WriteResults(results, out, format, cohort);
}

FEDRAD_REGISTER_COMMAND("extract", "Extract IBSI radiomic features from CT images", RunExtract);

}  // namespace
