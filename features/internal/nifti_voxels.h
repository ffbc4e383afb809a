// The voxels of a plain NIfTI-1 file, read without ITK (issue 15): the
// whole .nii.gz is inflated in one call (libdeflate) straight into the
// buffer the voxels are kept in, with no second copy. Only for files ITK
// would hand over unchanged: NIfTI-1, little-endian, 1 to 3 dimensions, one
// component, no intensity scaling (scl_slope 0 or 1 with scl_inter 0),
// integer voxels; anything else is declined and read by ITK. The geometry still comes from ITK.
#ifndef FEDRAD_FEATURES_INTERNAL_NIFTI_VOXELS_H_
#define FEDRAD_FEATURES_INTERNAL_NIFTI_VOXELS_H_

#include <string>

#include "absl/status/statusor.h"
#include "features/image_io.h"

namespace fedrad::features::internal {

// Fills out->type, out->data and out->offset for a file of `num_voxels`
// voxels. false = not a plain NIfTI-1 file (nothing filled: read it with
// ITK); DataLoss naming the path for a truncated or corrupt file.
absl::StatusOr<bool> ReadPlainNiftiVoxels(const std::string& path, size_t num_voxels,
                                          StoredVolume* out);

}  // namespace fedrad::features::internal

#endif  // FEDRAD_FEATURES_INTERNAL_NIFTI_VOXELS_H_
