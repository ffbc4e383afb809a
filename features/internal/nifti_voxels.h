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

// OK unless `path` (.nii, .nii.gz, .hdr) is a NIfTI-1 file whose geometry
// fields (pixdim, quatern_b..d, qoffset, srow_x..z) hold a NaN or an
// infinity: ITK's NIfTI reader then aborts the process inside vnl_svd
// (found by tests/fuzz/fuzz_image). DataLoss naming the file and field.
// Other files: OK (ITK judges them).
absl::Status CheckNiftiGeometry(const std::string& path);

}  // namespace fedrad::features::internal

#endif  // FEDRAD_FEATURES_INTERNAL_NIFTI_VOXELS_H_
