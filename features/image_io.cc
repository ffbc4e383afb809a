// ITK is used only here (and in resample.cc); nothing ITK leaks into headers.
#include "features/image_io.h"

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "itkGDCMImageIO.h"
#include "itkGDCMSeriesFileNames.h"
#include "itkImage.h"
#include "itkImageFileReader.h"
#include "itkImageFileWriter.h"
#include "itkImageSeriesReader.h"

namespace fedrad::features {
namespace {

template <typename T>
using ItkImage = itk::Image<T, 3>;

template <typename T>
Volume<T> FromItk(const ItkImage<T>* image) {
  Volume<T> out;
  auto region = image->GetLargestPossibleRegion();
  for (int d = 0; d < 3; ++d) {
    out.geometry.size[d] = static_cast<int>(region.GetSize()[d]);
    out.geometry.spacing[d] = image->GetSpacing()[d];
    out.geometry.origin[d] = image->GetOrigin()[d];
    for (int e = 0; e < 3; ++e) {
      out.geometry.direction[d * 3 + e] = image->GetDirection()[d][e];
    }
  }
  const T* buffer = image->GetBufferPointer();
  out.voxels.assign(buffer, buffer + out.geometry.NumVoxels());
  return out;
}

template <typename T>
typename ItkImage<T>::Pointer ToItk(const Volume<T>& volume) {
  auto image = ItkImage<T>::New();
  typename ItkImage<T>::RegionType region;
  typename ItkImage<T>::SpacingType spacing;
  typename ItkImage<T>::PointType origin;
  typename ItkImage<T>::DirectionType direction;
  for (int d = 0; d < 3; ++d) {
    region.SetSize(d, volume.geometry.size[d]);
    spacing[d] = volume.geometry.spacing[d];
    origin[d] = volume.geometry.origin[d];
    for (int e = 0; e < 3; ++e) direction[d][e] = volume.geometry.direction[d * 3 + e];
  }
  image->SetRegions(region);
  image->SetSpacing(spacing);
  image->SetOrigin(origin);
  image->SetDirection(direction);
  image->Allocate();
  std::copy(volume.voxels.begin(), volume.voxels.end(), image->GetBufferPointer());
  return image;
}

template <typename T>
absl::StatusOr<typename ItkImage<T>::Pointer> ReadItk(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    return absl::NotFoundError(absl::StrCat(path, ": no such file or directory"));
  }
  try {
    if (std::filesystem::is_directory(path, ec)) {
      auto names = itk::GDCMSeriesFileNames::New();
      names->SetUseSeriesDetails(true);
      names->SetDirectory(path);
      const auto& series = names->GetSeriesUIDs();
      if (series.empty()) {
        return absl::DataLossError(
            absl::StrCat(path, ": directory holds no DICOM series"));
      }
      auto reader = itk::ImageSeriesReader<ItkImage<T>>::New();
      reader->SetImageIO(itk::GDCMImageIO::New());
      reader->SetFileNames(names->GetFileNames(series.front()));
      reader->Update();
      typename ItkImage<T>::Pointer image = reader->GetOutput();
      image->DisconnectPipeline();
      return image;
    }
    auto reader = itk::ImageFileReader<ItkImage<T>>::New();
    reader->SetFileName(path);
    reader->Update();
    typename ItkImage<T>::Pointer image = reader->GetOutput();
    image->DisconnectPipeline();
    return image;
  } catch (const itk::ExceptionObject& e) {
    return absl::DataLossError(
        absl::StrCat(path, ": cannot read image: ", e.GetDescription()));
  } catch (const std::exception& e) {
    return absl::DataLossError(absl::StrCat(path, ": cannot read image: ", e.what()));
  }
}

template <typename T>
absl::Status WriteItk(const Volume<T>& volume, const std::string& path) {
  if (volume.voxels.size() != volume.geometry.NumVoxels()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": voxel count does not match the geometry"));
  }
  try {
    auto writer = itk::ImageFileWriter<ItkImage<T>>::New();
    writer->SetFileName(path);
    writer->SetInput(ToItk(volume));
    writer->UseCompressionOn();
    writer->Update();
  } catch (const itk::ExceptionObject& e) {
    return absl::DataLossError(
        absl::StrCat(path, ": cannot write image: ", e.GetDescription()));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ImageVolume> ReadImage(const std::string& path) {
  auto image = ReadItk<float>(path);
  if (!image.ok()) return image.status();
  return FromItk<float>(image->GetPointer());
}

absl::StatusOr<ImageVolume> ReadImageFiles(const std::vector<std::string>& files) {
  if (files.empty()) return absl::InvalidArgumentError("no DICOM files to read");
  try {
    auto reader = itk::ImageSeriesReader<ItkImage<float>>::New();
    reader->SetImageIO(itk::GDCMImageIO::New());
    reader->SetFileNames(files);
    reader->Update();
    ItkImage<float>::Pointer image = reader->GetOutput();
    image->DisconnectPipeline();
    return FromItk<float>(image.GetPointer());
  } catch (const itk::ExceptionObject& e) {
    return absl::DataLossError(
        absl::StrCat(files.front(), ": cannot read the series' pixels: ", e.GetDescription()));
  } catch (const std::exception& e) {
    return absl::DataLossError(
        absl::StrCat(files.front(), ": cannot read the series' pixels: ", e.what()));
  }
}

absl::StatusOr<LabelVolume> ReadLabelMap(const std::string& path) {
  // Read as float so that masks stored as float (0.0/1.0) or with a scaling
  // slope still give exact integer labels after rounding.
  auto image = ReadItk<float>(path);
  if (!image.ok()) return image.status();
  ImageVolume as_float = FromItk<float>(image->GetPointer());
  LabelVolume out;
  out.geometry = as_float.geometry;
  out.voxels.resize(as_float.voxels.size());
  for (size_t i = 0; i < as_float.voxels.size(); ++i) {
    float v = as_float.voxels[i];
    if (!std::isfinite(v)) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": label map holds a non-finite value at voxel ", i));
    }
    out.voxels[i] = static_cast<int32_t>(std::lround(v));
  }
  return out;
}

absl::Status WriteImage(const ImageVolume& image, const std::string& path) {
  return WriteItk(image, path);
}

absl::Status WriteLabelMap(const LabelVolume& labels, const std::string& path) {
  return WriteItk(labels, path);
}

}  // namespace fedrad::features
