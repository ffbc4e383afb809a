// `fedrad dicom inspect` and `fedrad dicom to-nifti`: the site operator's
// tools for the hospital path (docs/site-operator.md "DICOM exports").
#include <iostream>
#include <map>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "cli/command.h"
#include "features/dicom/dicom.h"
#include "features/image_io.h"

namespace {

namespace dicom = fedrad::features::dicom;

int RunInspect(fedrad::cli::Args& args) {
  args.Describe(
      "Lists what a folder of DICOM files holds (recursing into sub-folders): each image "
      "series (modality, shortened UIDs, slice count, spacing, orientation, missing or "
      "duplicate slices, gantry tilt), each RTSTRUCT's ROIs (name, contours, slices, "
      "geometric types, referenced series) and each SEG's segments (number, label, frames). "
      "Use it to write the manifest's series, rtstruct/seg, lesion_roi and liver_roi. "
      "Prints no patient name, id or birth date. See docs/site-operator.md.");
  const std::string path = args.Positional("PATH", "A folder (or one RTSTRUCT/SEG file)");
  if (!args.Finish()) return args.exit_code();
  auto text = dicom::Inspect(path);
  if (!text.ok()) {
    std::cerr << "fedrad dicom inspect: " << text.status().message() << "\n";
    return 1;
  }
  std::cout << *text;
  return 0;
}

int RunToNifti(fedrad::cli::Args& args) {
  args.Describe(
      "Writes a DICOM series as <out>_image.nii.gz and, with --rtstruct/--roi or "
      "--seg/--segment, its mask as <out>_mask.nii.gz (label k = k-th matching ROI or "
      "segment), rasterised exactly as `fedrad extract` does (docs/features.md \"DICOM "
      "contours\"), for checking in a viewer.");
  const std::string series = args.Flag("series", "", "DICOM series folder (required)");
  const std::string rtstruct = args.Flag("rtstruct", "", "RTSTRUCT file");
  const std::string roi = args.Flag(
      "roi", "", "ROI name or pattern for --rtstruct ('*' '?' wildcards, '|' alternatives)");
  const std::string seg = args.Flag("seg", "", "DICOM SEG file");
  const std::string segment = args.Flag("segment", "", "Segment number (or label pattern) for --seg");
  const std::string out = args.Flag("out", "", "Output prefix (required)");
  if (!args.Finish()) return args.exit_code();
  if (series.empty() || out.empty()) return args.UsageError("--series and --out are required");
  if (!rtstruct.empty() && !seg.empty()) return args.UsageError("give --rtstruct or --seg, not both");
  if (!rtstruct.empty() && roi.empty()) return args.UsageError("--rtstruct needs --roi");
  if (!seg.empty() && segment.empty()) return args.UsageError("--seg needs --segment");
  if (rtstruct.empty() && !roi.empty()) return args.UsageError("--roi needs --rtstruct");
  if (seg.empty() && !segment.empty()) return args.UsageError("--segment needs --seg");

  auto fail = [](const absl::Status& s) {
    std::cerr << "fedrad dicom to-nifti: " << s.message() << "\n";
    return 1;
  };
  auto info = dicom::ReadSeriesInfo(series);
  if (!info.ok()) return fail(info.status());
  auto image = dicom::ReadSeriesImage(*info);
  if (!image.ok()) return fail(image.status());
  info->geometry = image->geometry;
  const std::string image_path = out + "_image.nii.gz";
  if (absl::Status s = fedrad::features::WriteImage(*image, image_path); !s.ok()) return fail(s);
  std::cout << "wrote " << image_path << " (" << image->geometry.size[0] << " x "
            << image->geometry.size[1] << " x " << image->geometry.size[2] << ")\n";
  if (rtstruct.empty() && seg.empty()) return 0;

  std::vector<std::string> notes;
  int number = 0;
  const std::string pattern =
      absl::SimpleAtoi(segment, &number) ? absl::StrCat("#", number) : segment;
  auto mask = rtstruct.empty() ? dicom::ReadSeg(*info, seg, pattern)
                               : dicom::RasteriseRtstruct(*info, rtstruct, roi, &notes);
  if (!mask.ok()) return fail(mask.status());
  for (const auto& n : notes) std::cout << "note: " << n << "\n";
  const std::string mask_path = out + "_mask.nii.gz";
  if (absl::Status s = fedrad::features::WriteLabelMap(*mask, mask_path); !s.ok()) return fail(s);
  std::map<int32_t, int64_t> counts;
  for (int32_t v : mask->voxels) {
    if (v != 0) ++counts[v];
  }
  std::cout << "wrote " << mask_path << ":";
  for (const auto& [label, n] : counts) std::cout << " label " << label << " " << n << " voxels;";
  std::cout << "\n";
  return 0;
}

FEDRAD_REGISTER_COMMAND("dicom inspect", "List the series, ROIs and segments of a DICOM folder",
                        RunInspect);
FEDRAD_REGISTER_COMMAND("dicom to-nifti",
                        "Write a DICOM series and an RTSTRUCT ROI or SEG segment as NIfTI",
                        RunToNifti);

}  // namespace
