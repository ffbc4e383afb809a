// The fixed DICOM series of fuzz_dicom: a 4 x 4 x 3 CT written by
// features/dicom/dicom_write.h with a fixed UID seed, so that the RTSTRUCT
// and SEG seeds make_seeds.cc writes on it reference its UIDs.
#ifndef FEDRAD_TESTS_FUZZ_DICOM_FIXTURE_H_
#define FEDRAD_TESTS_FUZZ_DICOM_FIXTURE_H_

#include <string>
#include <vector>

#include "features/dicom/dicom_write.h"
#include "features/volume.h"

namespace fedrad::fuzz {

inline features::ImageVolume TinyCt() {
  features::ImageVolume ct;
  ct.geometry.size = {4, 4, 3};
  ct.geometry.spacing = {0.8, 0.8, 2.5};
  ct.geometry.origin = {-10, 20, 5};
  ct.voxels.resize(ct.geometry.NumVoxels());
  for (size_t i = 0; i < ct.voxels.size(); ++i) ct.voxels[i] = static_cast<float>(i * 7 % 50);
  return ct;
}

// A lesion of 2 x 2 x 2 voxels in the middle.
inline std::vector<uint8_t> TinyMask() {
  const features::Geometry g = TinyCt().geometry;
  std::vector<uint8_t> mask(g.NumVoxels(), 0);
  for (int z = 0; z < 2; ++z) {
    for (int y = 1; y < 3; ++y) {
      for (int x = 1; x < 3; ++x) mask[g.Index(x, y, z)] = 1;
    }
  }
  return mask;
}

inline features::dicom::CtWriteOptions TinyCtOptions() {
  features::dicom::CtWriteOptions o;
  o.uid_seed = "fedrad-fuzz";
  return o;
}

}  // namespace fedrad::fuzz

#endif  // FEDRAD_TESTS_FUZZ_DICOM_FIXTURE_H_
