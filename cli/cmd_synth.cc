// `fedrad synth`: writes the synthetic CRLM CT cohort (docs/synthetic-cohort.md).
#include <chrono>
#include <iostream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "cli/command.h"
#include "core/log.h"
#include "synth/cohort.h"

namespace {

int RunSynth(fedrad::cli::Args& args) {
  args.Describe(
      "Writes a synthetic multi-center CRLM CT cohort: per center C1..Cn a manifest.csv "
      "and NIfTI CT volumes with liver and lesion masks (or, with --format dicom, DICOM CT "
      "series with an RTSTRUCT), clinical data and outcomes; "
      "plus truth.csv (the true risk, for judging results only) and README. "
      "See docs/synthetic-cohort.md.");
  const std::string out = args.Flag("out", "", "Output folder (required)");
  const long centers = args.Int("centers", 4, "Number of centers (1-26)");
  const std::string patients =
      args.Flag("patients", "60,45,80,30", "Patients per center, comma separated");
  const long seed = args.Int("seed", 1, "Random seed (same seed, same bytes)");
  const long threads = args.Int("threads", 0, "Worker threads (0: all cores, at most 8)");
  const bool overwrite = args.Bool("overwrite", "Replace an earlier cohort in --out");
  const std::string corrupt = args.Flag(
      "corrupt-cases", "", "Comma-separated case ids (e.g. C2_0007) whose CT file is written "
                           "truncated, to exercise the excluded-case path");
  const std::string format = args.Flag(
      "format", "nifti", "nifti | dicom: every center as NIfTI, or as DICOM CT series with an "
                         "RTSTRUCT (ROIs Liver, Metastasis 1..n)");
  const std::string dicom_centers = args.Flag(
      "dicom-centers", "", "Comma-separated centers (e.g. C2) written as DICOM, the rest NIfTI");
  if (!args.Finish()) return args.exit_code();
  if (format != "nifti" && format != "dicom") return args.UsageError("--format must be nifti or dicom");
  if (format == "dicom" && !dicom_centers.empty()) {
    return args.UsageError("give --format dicom (every center) or --dicom-centers, not both");
  }
  if (out.empty()) return args.UsageError("--out is required");
  if (centers < 1 || centers > 26) return args.UsageError("--centers must be from 1 to 26");
  if (seed < 0) return args.UsageError("--seed must be a non-negative integer");
  auto counts = fedrad::synth::ParsePatientCounts(patients, static_cast<int>(centers));
  if (!counts.ok()) return args.UsageError(std::string(counts.status().message()));

  fedrad::synth::CohortOptions options;
  options.out_dir = out;
  options.patients_per_center = *counts;
  options.seed = static_cast<uint64_t>(seed);
  options.threads = static_cast<int>(threads);
  options.overwrite = overwrite;
  for (absl::string_view id : absl::StrSplit(corrupt, ',', absl::SkipWhitespace())) {
    options.corrupt_cases.emplace_back(absl::StripAsciiWhitespace(id));
  }
  if (format == "dicom") {
    for (long c = 1; c <= centers; ++c) options.dicom_centers.push_back(absl::StrCat("C", c));
  }
  for (absl::string_view c : absl::StrSplit(dicom_centers, ',', absl::SkipWhitespace())) {
    options.dicom_centers.emplace_back(absl::StripAsciiWhitespace(c));
  }
  const auto start = std::chrono::steady_clock::now();
  auto summary = fedrad::synth::GenerateCohort(options);
  if (!summary.ok()) {
    std::cerr << "fedrad synth: " << summary.status().message() << "\n";
    return 1;
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cout << summary->readme;
  std::cout << absl::StrFormat("\nwrote %s in %.1f s\n", out, seconds);
  return 0;
}

FEDRAD_REGISTER_COMMAND("synth", "Write a synthetic multi-center CRLM CT cohort", RunSynth);

}  // namespace
