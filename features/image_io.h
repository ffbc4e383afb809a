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

#include <array>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "features/volume.h"

namespace fedrad::features {

absl::StatusOr<ImageVolume> ReadImage(const std::string& path);
absl::StatusOr<LabelVolume> ReadLabelMap(const std::string& path);

// A volume as its file stores it: the voxels in the file's own component
// type (after the reader's rescale, if any), not converted. Lets a case read
// its masks as bytes and convert only the box around its regions (issue 15):
//
//   FEDRAD_ASSIGN_OR_RETURN(StoredVolume m, ReadStored("seg.nii.gz"));
//   std::array<int, 3> lo, hi;
//   if (m.NonZeroBox(&lo, &hi)) { ... m.CropLabels(lo, hi) ... }
//
// Crops give exactly what ReadImage / ReadLabelMap give for those voxels.
// Move-only; the buffer is freed with the object.
// Bytes from AllocateBytes.
struct FreeBytes {
  size_t mapped = 0;  // > 0: an mmap of this many bytes
  void operator()(unsigned char* p) const;
};
using ByteBuffer = std::unique_ptr<unsigned char[], FreeBytes>;
// Uninitialised bytes; blocks of 8 MiB and more are mapped on their own
// (given back to the system when freed, whatever malloc keeps) and advised
// as transparent huge pages (a 100 MB CT then costs about 50 page faults
// instead of 25,000). Null when out of memory.
ByteBuffer AllocateBytes(size_t n);

class StoredVolume {
 public:
  Geometry geometry;

  // Inclusive index box of the non-zero voxels; false when there are none.
  bool NonZeroBox(std::array<int, 3>* lo, std::array<int, 3>* hi) const;
  // The box [lo, hi] (inclusive) as float voxels, with its geometry.
  ImageVolume CropImage(const std::array<int, 3>& lo, const std::array<int, 3>& hi) const;
  // The box as labels (values rounded to the nearest integer, as
  // ReadLabelMap). InvalidArgument naming `path` for a non-finite value.
  absl::StatusOr<LabelVolume> CropLabels(const std::array<int, 3>& lo,
                                         const std::array<int, 3>& hi,
                                         const std::string& path) const;

  enum class Type { kUInt8, kInt8, kUInt16, kInt16, kUInt32, kInt32, kFloat, kDouble };
  Type type = Type::kFloat;
  // geometry.NumVoxels() values of `type` from `offset` bytes into `data`
  // (not zero-filled when allocated).
  ByteBuffer data;
  size_t offset = 0;
};

// Reads a file (not a DICOM directory: that gives InvalidArgument) without
// converting its voxels; errors as ReadImage. Multi-component or
// higher-dimensional files are read through ReadImage (as float).
absl::StatusOr<StoredVolume> ReadStored(const std::string& path);
// The geometry ReadImage would give, from the file's header only.
absl::StatusOr<Geometry> ReadGeometry(const std::string& path);

// The slices of one DICOM series, in the order given (features/dicom sorts
// and checks them first). DataLoss naming the first file on failure.
absl::StatusOr<ImageVolume> ReadImageFiles(const std::vector<std::string>& files);

// Writes float / int32 voxels; the format follows the extension.
// DataLoss naming the path on failure.
absl::Status WriteImage(const ImageVolume& image, const std::string& path);
absl::Status WriteLabelMap(const LabelVolume& labels, const std::string& path);

}  // namespace fedrad::features

#endif  // FEDRAD_FEATURES_IMAGE_IO_H_
