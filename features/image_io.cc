// ITK is used only here (and in resample.cc); nothing ITK leaks into headers.
#include "features/image_io.h"

#include <sys/mman.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <type_traits>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/status.h"
#include "features/dicom/dicom.h"
#include "features/internal/nifti_voxels.h"
#include "itkImageIOBase.h"
#include "itkGDCMImageIO.h"
#include "itkImage.h"
#include "itkImageFileReader.h"
#include "itkImageFileWriter.h"
#include "itkImageSeriesReader.h"

namespace fedrad::features {
namespace {

// OK unless the header of the single file `path` claims more voxel bytes
// than the file can hold: zlib/gzip expand at most 1032:1, so a header
// claiming more than 1032 times the file's size (plus 64 KiB) lies, and
// reading it would allocate what it claims (tests/fuzz/fuzz_image: a 500-byte
// file asked for 12.7 GB). Detached headers (.nhdr, .mhd, .hdr) name
// another data file and are not bounded here. DataLoss naming the file.
absl::Status CheckClaimedSize(const std::string& path, const itk::ImageIOBase& io) {
  if (absl::EndsWithIgnoreCase(path, ".nhdr") || absl::EndsWithIgnoreCase(path, ".mhd") ||
      absl::EndsWithIgnoreCase(path, ".hdr")) {
    return absl::OkStatus();
  }
  std::error_code ec;
  const uintmax_t file_bytes = std::filesystem::file_size(path, ec);
  if (ec) return absl::OkStatus();  // the reader reports an unreadable file
  long double claimed = static_cast<long double>(io.GetComponentSize()) *
                        io.GetNumberOfComponents();
  for (unsigned d = 0; d < io.GetNumberOfDimensions(); ++d) claimed *= io.GetDimensions(d);
  if (claimed > 1032.0L * file_bytes + 65536.0L) {
    return absl::DataLossError(absl::StrCat(
        path, ": cannot read image: its header claims ", static_cast<double>(claimed),
        " bytes of voxels but the file holds ", file_bytes, " bytes (a damaged or forged "
        "header); re-export the image"));
  }
  return absl::OkStatus();
}

template <typename T>
using ItkImage = itk::Image<T, 3>;

template <typename T>
Geometry GeometryOf(const ItkImage<T>* image) {
  Geometry g;
  auto region = image->GetLargestPossibleRegion();
  for (int d = 0; d < 3; ++d) {
    g.size[d] = static_cast<int>(region.GetSize()[d]);
    g.spacing[d] = image->GetSpacing()[d];
    g.origin[d] = image->GetOrigin()[d];
    for (int e = 0; e < 3; ++e) g.direction[d * 3 + e] = image->GetDirection()[d][e];
  }
  return g;
}

template <typename T>
Volume<T> FromItk(const ItkImage<T>* image) {
  Volume<T> out;
  out.geometry = GeometryOf(image);
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
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": a folder (ReadImage reads DICOM folders; internal error)"));
    }
    FEDRAD_RETURN_IF_ERROR(internal::CheckNiftiGeometry(path));
    auto reader = itk::ImageFileReader<ItkImage<T>>::New();
    reader->SetFileName(path);
    reader->UpdateOutputInformation();
    FEDRAD_RETURN_IF_ERROR(CheckClaimedSize(path, *reader->GetImageIO()));
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

using FloatReader = itk::ImageFileReader<ItkImage<float>>;

// The reader with the file's header read (no voxels yet).
absl::StatusOr<FloatReader::Pointer> OpenHeader(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    return absl::NotFoundError(absl::StrCat(path, ": no such file or directory"));
  }
  if (std::filesystem::is_directory(path, ec)) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": a directory; give an image file"));
  }
  try {
    FEDRAD_RETURN_IF_ERROR(internal::CheckNiftiGeometry(path));
    auto reader = FloatReader::New();
    reader->SetFileName(path);
    reader->UpdateOutputInformation();
    FEDRAD_RETURN_IF_ERROR(CheckClaimedSize(path, *reader->GetImageIO()));
    return reader;
  } catch (const itk::ExceptionObject& e) {
    return absl::DataLossError(absl::StrCat(path, ": cannot read image: ", e.GetDescription()));
  } catch (const std::exception& e) {
    return absl::DataLossError(absl::StrCat(path, ": cannot read image: ", e.what()));
  }
}

template <typename F>
auto Visit(StoredVolume::Type type, const unsigned char* data, F&& f) {
  using T = StoredVolume::Type;
  switch (type) {
    case T::kUInt8: return f(reinterpret_cast<const uint8_t*>(data));
    case T::kInt8: return f(reinterpret_cast<const int8_t*>(data));
    case T::kUInt16: return f(reinterpret_cast<const uint16_t*>(data));
    case T::kInt16: return f(reinterpret_cast<const int16_t*>(data));
    case T::kUInt32: return f(reinterpret_cast<const uint32_t*>(data));
    case T::kInt32: return f(reinterpret_cast<const int32_t*>(data));
    case T::kDouble: return f(reinterpret_cast<const double*>(data));
    case T::kFloat: break;
  }
  return f(reinterpret_cast<const float*>(data));
}

bool StoredType(itk::IOComponentEnum c, StoredVolume::Type* type, size_t* bytes) {
  using C = itk::IOComponentEnum;
  using T = StoredVolume::Type;
  switch (c) {
    case C::UCHAR: *type = T::kUInt8; *bytes = 1; return true;
    case C::CHAR: *type = T::kInt8; *bytes = 1; return true;
    case C::USHORT: *type = T::kUInt16; *bytes = 2; return true;
    case C::SHORT: *type = T::kInt16; *bytes = 2; return true;
    case C::UINT: *type = T::kUInt32; *bytes = 4; return true;
    case C::INT: *type = T::kInt32; *bytes = 4; return true;
    case C::FLOAT: *type = T::kFloat; *bytes = 4; return true;
    case C::DOUBLE: *type = T::kDouble; *bytes = 8; return true;
    default: return false;
  }
}

Geometry BoxGeometry(const Geometry& g, const std::array<int, 3>& lo,
                     const std::array<int, 3>& hi) {
  Geometry s = g;
  for (int d = 0; d < 3; ++d) s.size[d] = hi[d] - lo[d] + 1;
  for (int r = 0; r < 3; ++r) {
    s.origin[r] = g.origin[r];
    for (int c = 0; c < 3; ++c) s.origin[r] += g.direction[r * 3 + c] * g.spacing[c] * lo[c];
  }
  return s;
}

// Calls fn(out_index, in_row_pointer, row_length) for every row of the box.
template <typename T, typename F>
void ForBoxRows(const Geometry& g, const T* v, const std::array<int, 3>& lo,
                const std::array<int, 3>& hi, F&& fn) {
  size_t o = 0;
  const int n = hi[0] - lo[0] + 1;
  for (int z = lo[2]; z <= hi[2]; ++z) {
    for (int y = lo[1]; y <= hi[1]; ++y, o += n) fn(o, v + g.Index(lo[0], y, z), n);
  }
}

}  // namespace

void FreeBytes::operator()(unsigned char* p) const {
  if (mapped > 0) {
    munmap(p, mapped);
  } else {
    std::free(p);
  }
}

ByteBuffer AllocateBytes(size_t n) {
  constexpr size_t kHuge = size_t{2} << 20;
  if (n < 4 * kHuge) {
    return ByteBuffer(static_cast<unsigned char*>(std::malloc(std::max<size_t>(n, 1))));
  }
  const size_t rounded = (n + kHuge - 1) / kHuge * kHuge;
  void* p = mmap(nullptr, rounded, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return ByteBuffer(nullptr);
#ifdef MADV_HUGEPAGE
  madvise(p, rounded, MADV_HUGEPAGE);
#endif
  return ByteBuffer(static_cast<unsigned char*>(p), FreeBytes{rounded});
}

absl::StatusOr<Geometry> ReadGeometry(const std::string& path) {
  FEDRAD_ASSIGN_OR_RETURN(FloatReader::Pointer reader, OpenHeader(path));
  return GeometryOf<float>(reader->GetOutput());
}

absl::StatusOr<StoredVolume> ReadStored(const std::string& path) {
  FEDRAD_ASSIGN_OR_RETURN(FloatReader::Pointer reader, OpenHeader(path));
  StoredVolume out;
  out.geometry = GeometryOf<float>(reader->GetOutput());
  const size_t n = out.geometry.NumVoxels();
  FEDRAD_ASSIGN_OR_RETURN(bool plain, internal::ReadPlainNiftiVoxels(path, n, &out));
  if (plain) return out;
  itk::ImageIOBase* io = reader->GetModifiableImageIO();
  size_t bytes = 0;
  if (io == nullptr || io->GetNumberOfComponents() != 1 || io->GetNumberOfDimensions() > 3 ||
      !StoredType(io->GetComponentType(), &out.type, &bytes) ||
      io->GetImageSizeInBytes() != static_cast<itk::ImageIOBase::SizeType>(n * bytes)) {
    // Unusual files go the general way (ITK converts to float).
    FEDRAD_ASSIGN_OR_RETURN(ImageVolume f, ReadImage(path));
    out.type = StoredVolume::Type::kFloat;
    out.data = AllocateBytes(n * sizeof(float));
    if (!out.data) return absl::ResourceExhaustedError(absl::StrCat(path, ": out of memory"));
    std::memcpy(out.data.get(), f.voxels.data(), n * sizeof(float));
    return out;
  }
  try {
    itk::ImageIORegion region(io->GetNumberOfDimensions());
    for (unsigned d = 0; d < io->GetNumberOfDimensions(); ++d) {
      region.SetIndex(d, 0);
      region.SetSize(d, io->GetDimensions(d));
    }
    io->SetIORegion(region);
    out.data = AllocateBytes(n * bytes);
    if (!out.data) return absl::ResourceExhaustedError(absl::StrCat(path, ": out of memory"));
    io->Read(out.data.get());
  } catch (const itk::ExceptionObject& e) {
    return absl::DataLossError(absl::StrCat(path, ": cannot read image: ", e.GetDescription()));
  } catch (const std::exception& e) {
    return absl::DataLossError(absl::StrCat(path, ": cannot read image: ", e.what()));
  }
  return out;
}

bool StoredVolume::NonZeroBox(std::array<int, 3>* lo, std::array<int, 3>* hi) const {
  *lo = {INT32_MAX, INT32_MAX, INT32_MAX};
  *hi = {-1, -1, -1};
  const Geometry& g = geometry;
  Visit(type, data.get() + offset, [&](const auto* v) {
    const int nx = g.size[0];
    for (int z = 0; z < g.size[2]; ++z) {
      for (int y = 0; y < g.size[1]; ++y) {
        const auto* row = v + g.Index(0, y, z);
        bool any = false;
        for (int x = 0; x < nx; ++x) any |= row[x] != 0;
        if (!any) continue;
        int first = 0, last = nx - 1;
        while (row[first] == 0) ++first;
        while (row[last] == 0) --last;
        *lo = {std::min((*lo)[0], first), std::min((*lo)[1], y), std::min((*lo)[2], z)};
        *hi = {std::max((*hi)[0], last), std::max((*hi)[1], y), std::max((*hi)[2], z)};
      }
    }
    return 0;
  });
  return (*hi)[0] >= 0;
}

ImageVolume StoredVolume::CropImage(const std::array<int, 3>& lo,
                                    const std::array<int, 3>& hi) const {
  ImageVolume out;
  out.geometry = BoxGeometry(geometry, lo, hi);
  out.voxels.resize(out.geometry.NumVoxels());
  float* dst = out.voxels.data();
  Visit(type, data.get() + offset, [&](const auto* v) {
    ForBoxRows(geometry, v, lo, hi, [&](size_t o, const auto* row, int n) {
      for (int x = 0; x < n; ++x) dst[o + x] = static_cast<float>(row[x]);
    });
    return 0;
  });
  return out;
}

absl::StatusOr<LabelVolume> StoredVolume::CropLabels(const std::array<int, 3>& lo,
                                                     const std::array<int, 3>& hi,
                                                     const std::string& path) const {
  LabelVolume out;
  out.geometry = BoxGeometry(geometry, lo, hi);
  out.voxels.resize(out.geometry.NumVoxels());
  int32_t* dst = out.voxels.data();
  bool finite = true;
  Visit(type, data.get() + offset, [&](const auto* v) {
    using T = std::remove_cv_t<std::remove_pointer_t<decltype(v)>>;
    ForBoxRows(geometry, v, lo, hi, [&](size_t o, const T* row, int n) {
      if constexpr (std::is_integral_v<T> && sizeof(T) <= 2) {
        for (int x = 0; x < n; ++x) dst[o + x] = row[x];  // exact in float too
      } else {
        for (int x = 0; x < n; ++x) {
          const float f = static_cast<float>(row[x]);  // as ReadLabelMap
          finite &= std::isfinite(f);
          dst[o + x] = finite ? static_cast<int32_t>(std::lround(f)) : 0;
        }
      }
    });
    return 0;
  });
  if (!finite) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": label map holds a non-finite value"));
  }
  return out;
}

namespace {

// A DICOM series given as its folder: the one series the folder holds,
// found and checked from the headers with DCMTK (dicom::ReadSeriesInfo), then
// read by ITK. Not through GDCM's series helper (itk::GDCMSeriesFileNames):
// it reads every file of the folder, Part 10 or not, with GDCM, which asserts
// (ends the process) on malformed elements that DCMTK reads or refuses
// (tests/fuzz/fuzz_dicom: a stray sequence delimiter, an element with
// another VR than the dictionary's).
absl::StatusOr<ImageVolume> ReadDicomFolder(const std::string& folder) {
  FEDRAD_ASSIGN_OR_RETURN(dicom::SeriesInfo series, dicom::ReadSeriesInfo(folder));
  return dicom::ReadSeriesImage(series);
}

bool IsFolder(const std::string& path) {
  std::error_code ec;
  return std::filesystem::is_directory(path, ec);
}

}  // namespace

absl::StatusOr<ImageVolume> ReadImage(const std::string& path) {
  if (IsFolder(path)) return ReadDicomFolder(path);
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
  ImageVolume as_float;
  if (IsFolder(path)) {
    FEDRAD_ASSIGN_OR_RETURN(as_float, ReadDicomFolder(path));
  } else {
    auto image = ReadItk<float>(path);
    if (!image.ok()) return image.status();
    as_float = FromItk<float>(image->GetPointer());
  }
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
