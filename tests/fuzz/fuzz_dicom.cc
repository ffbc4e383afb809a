// Fuzz target: DICOM files as a site's DICOM cases read them
// (features/dicom/dicom.h). The input is one file, read:
//   - as an RTSTRUCT on a fixed CT series (dicom_fixture.h):
//     RasteriseRtstruct with the pattern ".*";
//   - as a SEG on that series: ReadSeg;
//   - as a folder holding only it: `fedrad dicom inspect` (Inspect),
//     ScanFolder, and ReadSeriesInfo then ReadSeriesImage when it is a
//     usable one-slice series (DCMTK's checks and in-memory copy, then
//     ITK/GDCM on the copy);
//   - that folder as an image column names it: features::ReadImage (the
//     same path, from ReadSeriesInfo).
// Seeds: tests/data/dicom/CT_small.dcm and an RTSTRUCT and a SEG on the
// fixed series (make_seeds.cc).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "features/dicom/dicom.h"
#include "features/image_io.h"
#include "tests/fuzz/dicom_fixture.h"
#include "tests/fuzz/fuzz_util.h"

namespace {

const fedrad::features::dicom::SeriesInfo& FixedSeries() {
  static const auto* series = [] {
    const std::string folder = fedrad::fuzz::ScratchDir() + "/series";
    auto uids = fedrad::features::dicom::WriteCtSeries(fedrad::fuzz::TinyCt(), folder,
                                                       fedrad::fuzz::TinyCtOptions());
    auto info = uids.ok() ? fedrad::features::dicom::ReadSeriesInfo(folder)
                          : absl::StatusOr<fedrad::features::dicom::SeriesInfo>(uids.status());
    if (!info.ok()) {
      std::cerr << "fuzz_dicom fixture: " << info.status() << "\n";
      std::abort();
    }
    return new fedrad::features::dicom::SeriesInfo(*std::move(info));
  }();
  return *series;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  FixedSeries();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace dicom = fedrad::features::dicom;
  std::filesystem::create_directories(fedrad::fuzz::ScratchDir() + "/one");
  const std::string path = fedrad::fuzz::WriteScratch("one/in.dcm", data, size);
  std::vector<std::string> notes;
  (void)dicom::RasteriseRtstruct(FixedSeries(), path, ".*", &notes);
  (void)dicom::ReadSeg(FixedSeries(), path, ".*");
  const std::string folder = fedrad::fuzz::ScratchDir() + "/one";
  (void)dicom::Inspect(path);
  (void)dicom::ScanFolder(folder);
  if (auto info = dicom::ReadSeriesInfo(folder); info.ok()) (void)dicom::ReadSeriesImage(*info);
  (void)fedrad::features::ReadImage(folder);  // an image column naming a DICOM folder
  return 0;
}
