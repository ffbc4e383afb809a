#include "features/internal/nifti_voxels.h"

#include <libdeflate.h>
#include <zlib.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <algorithm>
#include <memory>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace fedrad::features::internal {
namespace {

constexpr size_t kHeader = 348;
// The largest magnitude a NIfTI geometry field may have (millimetres).
constexpr float kMaxGeometryMm = 1e6f;

template <typename T>
T At(const unsigned char* h, size_t offset) {
  T v;
  std::memcpy(&v, h + offset, sizeof(T));
  return v;
}

// The voxel type and its size from a NIfTI-1 header, or false.
bool PlainHeader(const unsigned char* h, size_t num_voxels, StoredVolume::Type* type,
                 size_t* bytes, size_t* vox_offset) {
  if (At<int32_t>(h, 0) != 348) return false;  // also: big-endian files
  if (std::memcmp(h + 344, "n+1\0", 4) != 0) return false;  // one file
  const int16_t ndim = At<int16_t>(h, 40);
  if (ndim < 1 || ndim > 3) return false;
  size_t n = 1;
  for (int d = 1; d <= ndim; ++d) {
    const int16_t size = At<int16_t>(h, 40 + 2 * d);
    if (size < 1) return false;
    n *= static_cast<size_t>(size);
  }
  if (n != num_voxels) return false;
  const float slope = At<float>(h, 112), inter = At<float>(h, 116);
  if (!(slope == 0 || (slope == 1 && inter == 0))) return false;
  using T = StoredVolume::Type;
  switch (At<int16_t>(h, 70)) {
    case 2: *type = T::kUInt8; *bytes = 1; break;
    case 256: *type = T::kInt8; *bytes = 1; break;
    case 4: *type = T::kInt16; *bytes = 2; break;
    case 512: *type = T::kUInt16; *bytes = 2; break;
    case 8: *type = T::kInt32; *bytes = 4; break;
    case 768: *type = T::kUInt32; *bytes = 4; break;
    // Floats are left to ITK: its NIfTI reader turns NaN into 0.
    default: return false;
  }
  const float offset = At<float>(h, 108);
  if (!(offset >= kHeader) || offset > 1e9 || offset != static_cast<float>(static_cast<size_t>(offset))) {
    return false;
  }
  *vox_offset = static_cast<size_t>(offset);
  return true;
}

struct FileCloser {
  void operator()(FILE* f) const { std::fclose(f); }
};

absl::Status Truncated(const std::string& path) {
  return absl::DataLossError(absl::StrCat(path, ": cannot read image: the file is truncated"));
}

struct DecompressorFree {
  void operator()(libdeflate_decompressor* d) const { libdeflate_free_decompressor(d); }
};

}  // namespace

absl::StatusOr<bool> ReadPlainNiftiVoxels(const std::string& path, size_t num_voxels,
                                          StoredVolume* out) {
  const bool gz = absl::EndsWith(path, ".nii.gz");
  if (!gz && !absl::EndsWith(path, ".nii")) return false;
  std::unique_ptr<FILE, FileCloser> f(std::fopen(path.c_str(), "rb"));
  if (!f) return false;
  StoredVolume::Type type;
  size_t bytes = 0, vox_offset = 0;
  if (!gz) {
    unsigned char h[kHeader];
    if (std::fread(h, 1, kHeader, f.get()) != kHeader) return false;
    if (!PlainHeader(h, num_voxels, &type, &bytes, &vox_offset)) return false;
    ByteBuffer data = AllocateBytes(num_voxels * bytes);
    if (!data) return false;
    if (std::fseek(f.get(), static_cast<long>(vox_offset), SEEK_SET) != 0 ||
        std::fread(data.get(), 1, num_voxels * bytes, f.get()) != num_voxels * bytes) {
      return Truncated(path);
    }
    out->type = type;
    out->data = std::move(data);
    out->offset = 0;
    return true;
  }
  // The whole member at once; ISIZE (the last 4 bytes) is the inflated size
  // modulo 2^32, checked against the header's.
  if (std::fseek(f.get(), 0, SEEK_END) != 0) return false;
  const long size = std::ftell(f.get());
  if (size < 18) return false;
  ByteBuffer in = AllocateBytes(size);
  if (!in) return false;
  std::rewind(f.get());
  if (std::fread(in.get(), 1, size, f.get()) != static_cast<size_t>(size)) return Truncated(path);
  f.reset();
  uint32_t isize;
  std::memcpy(&isize, in.get() + size - 4, 4);
  // The header says how much is needed; inflate a first block to read it.
  std::unique_ptr<libdeflate_decompressor, DecompressorFree> d(libdeflate_alloc_decompressor());
  if (!d) return false;
  // Any size whose low 32 bits are isize: voxels of < 4 GiB are the usual case.
  size_t total = isize;
  while (total < kHeader + num_voxels) total += size_t{1} << 32;
  ByteBuffer buf = AllocateBytes(total);
  if (!buf) return false;
  size_t in_used = 0, actual = 0;
  libdeflate_result r = libdeflate_gzip_decompress_ex(d.get(), in.get(), size, buf.get(), total,
                                                      &in_used, &actual);
  if (r != LIBDEFLATE_SUCCESS || in_used != static_cast<size_t>(size) || actual < kHeader) {
    return false;  // several members, or not what we think: ITK reads it
  }
  in.reset();
  if (!PlainHeader(buf.get(), num_voxels, &type, &bytes, &vox_offset)) return false;
  if (actual < vox_offset + num_voxels * bytes) return Truncated(path);
  out->type = type;
  out->data = std::move(buf);
  out->offset = vox_offset;
  return true;
}

absl::Status CheckNiftiGeometry(const std::string& path) {
  if (!absl::EndsWith(path, ".nii") && !absl::EndsWith(path, ".nii.gz") &&
      !absl::EndsWith(path, ".hdr")) {
    return absl::OkStatus();
  }
  gzFile z = gzopen(path.c_str(), "rb");  // reads uncompressed files too
  if (z == nullptr) return absl::OkStatus();
  std::unique_ptr<gzFile_s, int (*)(gzFile)> zc(z, gzclose);
  unsigned char h[348];
  if (gzread(z, h, sizeof(h)) != static_cast<int>(sizeof(h))) return absl::OkStatus();
  // The byte order as the NIfTI library (inside ITK) decides it: by dim[0]
  // first (1..7 in the reader's order means no swap, 1..7 swapped means
  // swap), by sizeof_hdr only when dim[0] says neither. A header whose two
  // fields disagree is read swapped, so the check must read it so too.
  int16_t dim0;
  std::memcpy(&dim0, h + 40, 2);
  const auto swapped_dim0 = static_cast<int16_t>(__builtin_bswap16(static_cast<uint16_t>(dim0)));
  int32_t sizeof_hdr;
  std::memcpy(&sizeof_hdr, h, 4);
  bool swap;
  if (dim0 >= 1 && dim0 <= 7) {
    swap = false;
  } else if (swapped_dim0 >= 1 && swapped_dim0 <= 7) {
    swap = true;
  } else if (sizeof_hdr == 348) {
    swap = false;
  } else if (__builtin_bswap32(static_cast<uint32_t>(sizeof_hdr)) == 348) {
    swap = true;
  } else {
    return absl::OkStatus();  // not NIfTI-1: ITK's reader says so
  }
  auto code_at = [&](int offset) {
    uint16_t bits;
    std::memcpy(&bits, h + offset, 2);
    return static_cast<int16_t>(swap ? __builtin_bswap16(bits) : bits);
  };
  // The library reads the quaternion only when qform_code > 0 and the
  // affine rows only when sform_code > 0; fields it ignores are not checked.
  const bool qform = code_at(252) > 0, sform = code_at(254) > 0;
  struct Field {
    const char* name;
    int offset, count;
  };
  // NIfTI-1 header offsets (nifti1.h).
  static constexpr Field kFields[] = {{"pixdim", 76, 8},      {"quatern_b", 256, 1},
                                      {"quatern_c", 260, 1},  {"quatern_d", 264, 1},
                                      {"qoffset_x", 268, 1},  {"qoffset_y", 272, 1},
                                      {"qoffset_z", 276, 1},  {"srow_x", 280, 4},
                                      {"srow_y", 296, 4},     {"srow_z", 312, 4}};
  for (const Field& f : kFields) {
    if (f.offset >= 256 && f.offset < 280 && !qform) continue;
    if (f.offset >= 280 && !sform) continue;
    for (int i = 0; i < f.count; ++i) {
      uint32_t bits;
      std::memcpy(&bits, h + f.offset + 4 * i, 4);
      if (swap) bits = __builtin_bswap32(bits);
      float v;
      std::memcpy(&v, &bits, 4);
      const std::string field = absl::StrCat(f.name, f.count > 1 ? absl::StrCat("[", i, "]") : "");
      if (!std::isfinite(v)) {
        return absl::DataLossError(absl::StrCat(
            path, ": cannot read image: NIfTI header field ", field,
            " is not a finite number (a damaged or forged header); re-export the image"));
      }
      // Spacings, offsets and affine entries are millimetres (or mm per
      // voxel); beyond a kilometre none is an image, and the library's
      // float products of such values (squares for norms) can overflow
      // into the non-finite numbers above: a defensive bound, not a
      // reproduced crash (quaternion parameters beyond 1 are invalid anyway).
      // pixdim[0] is qfac and pixdim[4..7] time and beyond: not bounded.
      const bool geometry = f.offset != 76 || (i >= 1 && i <= 3);
      if (geometry && std::fabs(v) > kMaxGeometryMm) {
        return absl::DataLossError(absl::StrCat(
            path, ": cannot read image: NIfTI header field ", field, " is ", v,
            ", beyond any image's extent (", kMaxGeometryMm,
            " mm; a damaged or forged header); re-export the image"));
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace fedrad::features::internal
