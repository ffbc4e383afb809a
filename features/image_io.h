// Reading and writing CT images and label maps (ITK behind the scenes).
//
//   FEDRAD_ASSIGN_OR_RETURN(ImageVolume ct, ReadImage("case1/ct.nii.gz"));
//   FEDRAD_ASSIGN_OR_RETURN(LabelVolume mask, ReadLabelMap("case1/seg.nrrd"));
//   FEDRAD_RETURN_IF_ERROR(WriteImage(ct, "/tmp/ct.mha"));
//
// Formats: NIfTI (.nii, .nii.gz), NRRD (.nrrd, .nhdr), MetaImage (.mha,
// .mhd) and a DICOM series given as a directory (the first series found,
// slices sorted by position with GDCM). Images are converted to float
// (rescale slope/intercept applied by ITK, so CT comes out in HU); label maps
// to int32 (a non-integer voxel value is rounded to the nearest integer).
//
// Errors: NotFound when the path does not exist; DataLoss when ITK cannot
// read it (the message names the path and ITK's reason); InvalidArgument for
// an image that is not 3-D (2-D images are read as one slice). Thread safe:
// each call uses its own ITK objects.
#ifndef FEDRAD_FEATURES_IMAGE_IO_H_
#define FEDRAD_FEATURES_IMAGE_IO_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "features/volume.h"

namespace fedrad::features {

absl::StatusOr<ImageVolume> ReadImage(const std::string& path);
absl::StatusOr<LabelVolume> ReadLabelMap(const std::string& path);

// The slices of one DICOM series, in the order given (features/dicom sorts
// and checks them first). DataLoss naming the first file on failure.
absl::StatusOr<ImageVolume> ReadImageFiles(const std::vector<std::string>& files);

// Writes float / int32 voxels; the format follows the extension.
// DataLoss naming the path on failure.
absl::Status WriteImage(const ImageVolume& image, const std::string& path);
absl::Status WriteLabelMap(const LabelVolume& labels, const std::string& path);

}  // namespace fedrad::features

#endif  // FEDRAD_FEATURES_IMAGE_IO_H_
