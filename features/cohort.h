// Feature extraction for cases and cohorts at a site: reading a manifest,
// extracting every region of every case on a thread pool, a content-keyed
// cache, and the wide / long / errors tables.
//
//   FEDRAD_ASSIGN_OR_RETURN(std::vector<CaseInput> cases,
//                           ReadManifest("/data/manifest.csv"));
//   CohortOptions run;  run.threads = 8;  run.cache_dir = "/data/out.cache";
//   std::vector<CaseResult> results = RunCohort(cases, case_options, run);
//   WriteCsv("/data/features.csv", WideTable(results));
//   WriteCsv("/data/errors.csv", ErrorsTable(results));
//
// A bad case (unreadable file, geometry mismatch, empty mask, NaN voxels...)
// never stops a cohort: it is returned with a non-OK status naming the case,
// the file and the field, and listed by ErrorsTable.
#ifndef FEDRAD_FEATURES_COHORT_H_
#define FEDRAD_FEATURES_COHORT_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/csv.h"
#include "features/extractor.h"
#include "features/regions.h"

namespace fedrad::features {

struct CaseInput {
  std::string case_id;
  std::string image;        // file or DICOM series directory
  std::string lesion_mask;  // label map
  std::string liver_mask;   // optional ("" = none)
  // The hospital path (features/dicom/dicom.h): `image` is a DICOM series
  // folder and the masks come from one RTSTRUCT or SEG file, by ROI pattern
  // (wildcards '*' '?' and '|' between alternatives, e.g. "GTV*|Metastasis*";
  // for a SEG, segment labels or "#N"). Each matching lesion structure is
  // one lesion (label k). lesion_mask / liver_mask stay empty.
  std::string rtstruct;
  std::string seg;
  std::string lesion_roi;
  std::string liver_roi;    // "" = no liver

  bool dicom_contours() const { return !rtstruct.empty() || !seg.empty(); }
};

struct CaseOptions {
  ExtractionOptions extraction;
  RegionOptions regions;
  bool largest_lesion = true;  // roi "largest_lesion": copy of lesion_1's features
  bool patient = true;         // roi "patient": lesion_count, total_lesion_volume
  // When set, each filter's response map of each region is written there as
  // <case_id>_<roi>_<filter label>.nii.gz (not for cases read from the cache).
  std::string response_map_dir;
};

struct RegionFeatures {
  std::string roi;
  FeatureList features;
};

struct CaseResult {
  std::string case_id;
  absl::Status status;  // OK or the reason the case was excluded
  std::vector<RegionFeatures> regions;
  bool from_cache = false;
  double seconds = 0;
};

// Reads the manifest CSV: columns case_id, image, lesion_mask and optionally
// liver_mask (other columns are ignored). A DICOM row instead names the
// series folder (column image, or series), rtstruct or seg, lesion_roi and
// optionally liver_roi; both kinds of row may share a manifest. Relative
// paths are resolved against the manifest's folder. Errors: NotFound
// (file), InvalidArgument (missing column, duplicate or empty case_id, empty
// image/series, a row with neither lesion_mask nor rtstruct/seg, with both
// rtstruct and seg, or with rtstruct/seg but no lesion_roi) naming the file
// and line.
absl::StatusOr<std::vector<CaseInput>> ReadManifest(const std::string& path);

// Extracts one case. Errors name the case, the file and the field, e.g.
// "case 17: mask /d/17_seg.nii.gz vs image /d/17.nii.gz: spacing differs".
// A mask touching the image border is accepted (the mesh is closed as if
// the ROI ended at the border; the peak sphere uses the voxels that exist).
absl::StatusOr<std::vector<RegionFeatures>> ExtractCase(const CaseInput& input,
                                                        const CaseOptions& options);

struct CohortOptions {
  // Threads in all: min(threads, cases) workers, each holding one case's
  // volumes at a time, share them (features/threads.h); with one case its
  // families and filters use them all.
  int threads = 1;
  std::string cache_dir;        // "" = no cache
  // Identifies the settings; part of the cache key (e.g. the settings text).
  std::string settings_fingerprint;
  // Called (serialised, from worker threads) after each case.
  std::function<void(const CaseResult&, int done, int total)> progress;
  // Polled before each case: once it returns true, the cases not started
  // yet are returned with a Cancelled status (the site's task deadline).
  std::function<bool()> cancelled;
};

// Runs every case; results in manifest order. Thread safe to call; uses its
// own threads.
std::vector<CaseResult> RunCohort(const std::vector<CaseInput>& cases,
                                  const CaseOptions& options,
                                  const CohortOptions& cohort);

// The cache key of a case: SHA-256 over the bytes of its files, the
// settings fingerprint and the extractor version. NotFound if a file is
// missing.
absl::StatusOr<std::string> CaseCacheKey(const CaseInput& input,
                                         const std::string& settings_fingerprint);

// Column name of a feature in the wide table:
// [<filter>_]<family>_<feature>[_<aggregation slug>], e.g.
// glcm_joint_maximum_3d_merged, log_s1.5_stat_mean.
std::string WideColumnName(const FeatureValue& f);

// Wide: case_id, roi, then one column per feature (first-seen order); a
// feature missing for a row is "NA". Only OK cases.
CsvTable WideTable(const std::vector<CaseResult>& results);
// Long: case_id,roi,filter,family,feature,ibsi_code,aggregation,value
// (filter empty for the original image).
CsvTable LongTable(const std::vector<CaseResult>& results);
// Errors: case_id,error for every failed case.
CsvTable ErrorsTable(const std::vector<CaseResult>& results);

}  // namespace fedrad::features

#endif  // FEDRAD_FEATURES_COHORT_H_
