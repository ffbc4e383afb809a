#include "synth/internal/nifti.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "itkImage.h"
#include "itkImageFileReader.h"
#include "itkImageFileWriter.h"
#include "itkNiftiImageIO.h"

namespace fedrad::synth_internal {
namespace {

template <typename T>
absl::Status Write(const Grid& grid, const std::vector<T>& voxels, const std::string& path) {
  using ImageType = itk::Image<T, 3>;
  if (voxels.size() != grid.NumVoxels()) {
    return absl::InternalError(absl::StrCat("volume for ", path, " has ", voxels.size(),
                                            " voxels, grid needs ", grid.NumVoxels()));
  }
  try {
    auto image = ImageType::New();
    typename ImageType::RegionType region;
    typename ImageType::SpacingType spacing;
    typename ImageType::PointType origin;
    for (unsigned i = 0; i < 3; ++i) {
      region.SetSize(i, grid.size[i]);
      spacing[i] = grid.spacing[i];
      origin[i] = grid.origin[i];
    }
    image->SetRegions(region);
    image->SetSpacing(spacing);
    image->SetOrigin(origin);
    image->Allocate();
    std::copy(voxels.begin(), voxels.end(), image->GetBufferPointer());
    auto io = itk::NiftiImageIO::New();
    auto writer = itk::ImageFileWriter<ImageType>::New();
    writer->SetImageIO(io);
    writer->SetFileName(path);
    writer->SetInput(image);
    writer->SetUseCompression(true);
    writer->Update();
  } catch (const itk::ExceptionObject& e) {
    return absl::DataLossError(absl::StrCat("cannot write ", path, ": ", e.GetDescription()));
  }
  return absl::OkStatus();
}

template <typename T>
absl::StatusOr<ReadVolume<T>> Read(const std::string& path) {
  using ImageType = itk::Image<T, 3>;
  ReadVolume<T> out;
  try {
    auto reader = itk::ImageFileReader<ImageType>::New();
    reader->SetImageIO(itk::NiftiImageIO::New());
    reader->SetFileName(path);
    reader->Update();
    auto image = reader->GetOutput();
    const auto size = image->GetLargestPossibleRegion().GetSize();
    for (unsigned i = 0; i < 3; ++i) {
      out.grid.size[i] = static_cast<int>(size[i]);
      out.grid.spacing[i] = image->GetSpacing()[i];
      out.grid.origin[i] = image->GetOrigin()[i];
    }
    out.voxels.assign(image->GetBufferPointer(), image->GetBufferPointer() + out.grid.NumVoxels());
  } catch (const itk::ExceptionObject& e) {
    return absl::DataLossError(absl::StrCat("cannot read ", path, ": ", e.GetDescription()));
  }
  return out;
}

}  // namespace

absl::Status WriteInt16(const Grid& grid, const std::vector<int16_t>& voxels,
                        const std::string& path) {
  return Write(grid, voxels, path);
}
absl::Status WriteUint8(const Grid& grid, const std::vector<uint8_t>& voxels,
                        const std::string& path) {
  return Write(grid, voxels, path);
}
absl::StatusOr<ReadVolume<int16_t>> ReadInt16(const std::string& path) { return Read<int16_t>(path); }
absl::StatusOr<ReadVolume<uint8_t>> ReadUint8(const std::string& path) { return Read<uint8_t>(path); }

}  // namespace fedrad::synth_internal
