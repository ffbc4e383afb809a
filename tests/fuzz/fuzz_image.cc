// Fuzz target: NIfTI, NRRD and MetaImage files through the image reader a
// site's feature extraction uses (features/image_io.h). The first byte
// chooses the extension the rest is written under (its value mod 4: .nii,
// .nrrd, .mha, .nii.gz), then: ReadGeometry (headers only), ReadStored with
// NonZeroBox and the crops a case makes (issue 15), ReadImage and
// ReadLabelMap.
// Seeds: tiny volumes written by features::WriteImage (make_seeds.cc).
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

#include "features/image_io.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  static const char* const kNames[] = {"in.nii", "in.nrrd", "in.mha", "in.nii.gz"};
  const std::string path = fedrad::fuzz::WriteScratch(kNames[data[0] % 4], data + 1, size - 1);
  (void)fedrad::features::ReadGeometry(path);
  if (auto stored = fedrad::features::ReadStored(path); stored.ok()) {
    std::array<int, 3> lo{}, hi{};
    if (stored->NonZeroBox(&lo, &hi)) {
      (void)stored->CropLabels(lo, hi, path);
      (void)stored->CropImage(lo, hi);
    }
  }
  (void)fedrad::features::ReadImage(path);
  (void)fedrad::features::ReadLabelMap(path);
  return 0;
}
