// The synthetic CRLM cohort: CT volumes with liver and lesion masks,
// clinical data and outcomes for several centers, drawn from a documented
// model (docs/synthetic-cohort.md) so that a study's results can be judged
// against the truth.
//
//   fedrad::synth::CohortOptions options;
//   options.out_dir = "/tmp/cohort";
//   options.patients_per_center = {60, 45, 80, 30};   // centers C1..C4
//   options.seed = 7;
//   FEDRAD_ASSIGN_OR_RETURN(fedrad::synth::CohortSummary s,
//                           fedrad::synth::GenerateCohort(options));
//
// Layout written under out_dir:
//   README                      what was generated, seed, parameters, truth C-index
//   truth.csv                   per-patient latents and true risk (NEVER an input)
//   C<k>/manifest.csv           one row per case, paths relative to C<k>/
//   C<k>/cases/<case_id>/{ct,liver,lesions}.nii.gz
// or, for a center listed in `dicom_centers` (the hospital path):
//   C<k>/manifest.csv           columns image (series folder), rtstruct,
//                               lesion_roi "Metastasis*", liver_roi "Liver"
//   C<k>/cases/<case_id>/CT/CT_<slice>.dcm   DICOM CT series (int16 HU)
//   C<k>/cases/<case_id>/RS.dcm              RTSTRUCT: ROI "Liver" and one ROI
//                               "Metastasis <k>" per lesion, outlined along
//                               voxel edges (rasterises back to the masks
//                               exactly, features/dicom/dicom_write.h)
// The output is a pure function of (patients_per_center, seed): the same
// options give byte-identical files whatever `threads` is.
#ifndef FEDRAD_SYNTH_COHORT_H_
#define FEDRAD_SYNTH_COHORT_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace fedrad::synth {

// A center's scanner protocol and case-mix effect.
struct CenterProtocol {
  std::string center;            // "C1"
  double pixel_mm = 0.78;        // in-plane spacing
  double slice_mm = 2.5;         // slice thickness = spacing along z
  double kernel_sigma_mm = 0.6;  // reconstruction kernel, in-plane Gaussian sigma
  double noise_hu = 12;          // image noise SD (after the kernel)
  double hu_offset = 0;          // calibration offset added to every voxel
  double log_hazard = 0;         // center effect on the recurrence hazards
};

// The protocols of centers C1..C<centers>: six fixed presets (C1 is the
// development center; C4 has +40 HU and a heavy kernel), further centers
// drawn from documented ranges with `seed`.
std::vector<CenterProtocol> CenterProtocols(int centers, uint64_t seed);

struct CohortOptions {
  std::string out_dir;                  // required
  std::vector<int> patients_per_center; // one count (1..5000) per center, 1..26 centers
  uint64_t seed = 1;
  int threads = 0;                      // 0: hardware concurrency, at most 8
  // An existing non-empty out_dir is refused unless it holds an earlier
  // cohort (its .fedrad-synth marker) and overwrite is set; then it is replaced.
  bool overwrite = false;
  // Case ids (e.g. "C2_0007") whose CT file is written corrupt: the valid
  // gzip stream cut to its first 64 bytes, so that readers fail on it (a
  // test of the "bad case is excluded and named" path). Its masks, clinical
  // data and truth.csv row are normal. An id that is not in the cohort is
  // refused (InvalidArgument).
  std::vector<std::string> corrupt_cases;
  // Centers (e.g. "C2") written as DICOM CT series with an RTSTRUCT instead
  // of NIfTI; a corrupt case there loses its middle slice file (truncated).
  // A name that is not a center is refused (InvalidArgument).
  std::vector<std::string> dicom_centers;
};

struct Concordance {
  std::string outcome;   // "recurrence", "local_recurrence", "dss", "recur2y"
  std::string risk;      // the truth.csv column used as the risk score
  std::vector<std::pair<std::string, double>> by_center;
  double within_center = 0;  // pairs compared only within a center
};

struct CohortSummary {
  std::vector<CenterProtocol> centers;
  std::vector<int> patients;                    // per center
  std::vector<std::pair<std::string, int>> events;  // per outcome, all centers
  std::vector<Concordance> true_risk_concordance;
  std::string readme;                           // the README text written
};

// Parses "60,45,80,30". InvalidArgument naming the problem when a count is
// not a positive integer or when there are not exactly `centers` counts.
absl::StatusOr<std::vector<int>> ParsePatientCounts(absl::string_view text, int centers);

// Generates the cohort. InvalidArgument for bad options, FailedPrecondition
// for an out_dir that may not be replaced, DataLoss for a write failure.
// Thread safe for distinct out_dirs.
absl::StatusOr<CohortSummary> GenerateCohort(const CohortOptions& options);

}  // namespace fedrad::synth

#endif  // FEDRAD_SYNTH_COHORT_H_
