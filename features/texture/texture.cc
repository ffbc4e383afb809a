// Public entry points of features/texture: validation, one padded grid per
// call, then the selected families (see internal/texture_internal.h).
#include "features/texture/texture.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "core/status.h"
#include "features/texture/internal/texture_internal.h"

namespace fedrad::features {
namespace {

using texture_internal::Grid;

// GLDZM measures distances in the morphological mask, so every voxel of the
// intensity mask must lie inside it.
absl::Status CheckMorphContainsRoi(const DiscreteVolume& v) {
  if (v.morph_mask.empty()) return absl::OkStatus();
  for (size_t k = 0; k < v.levels.size(); ++k) {
    if (v.levels[k] > 0 && v.morph_mask[k] == 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "texture: GLDZM needs the intensity mask inside the morphological mask; voxel ", k,
          " has grey level ", v.levels[k], " but morph_mask 0"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<FeatureList> Compute(const DiscreteVolume& volume, const TextureOptions& options) {
  FEDRAD_RETURN_IF_ERROR(texture_internal::ValidateOptions(options));
  int pad = 1;
  if (options.glcm) pad = std::max(pad, options.glcm_distance);
  if (options.ngtdm) pad = std::max(pad, options.ngtdm_distance);
  if (options.ngldm) pad = std::max(pad, options.ngldm_distance);
  FEDRAD_ASSIGN_OR_RETURN(Grid grid, texture_internal::MakeGrid(volume, pad, options.gldzm));
  if (options.gldzm) FEDRAD_RETURN_IF_ERROR(CheckMorphContainsRoi(volume));
  FeatureList out;
  if (options.glcm) texture_internal::AppendGlcm(grid, options, &out);
  if (options.glrlm) texture_internal::AppendGlrlm(grid, options, &out);
  if (options.glszm || options.gldzm) {
    texture_internal::AppendZones(grid, options, options.glszm, options.gldzm, &out);
  }
  if (options.ngtdm) texture_internal::AppendNgtdm(grid, options, &out);
  if (options.ngldm) texture_internal::AppendNgldm(grid, options, &out);
  return out;
}

TextureOptions Only(TextureOptions options, bool TextureOptions::*family) {
  options.glcm = options.glrlm = options.glszm = options.gldzm = options.ngtdm = options.ngldm =
      false;
  options.*family = true;
  return options;
}

}  // namespace

absl::StatusOr<FeatureList> ComputeTextureFeatures(const DiscreteVolume& volume,
                                                   const TextureOptions& options) {
  return Compute(volume, options);
}

absl::StatusOr<FeatureList> ComputeGlcmFeatures(const DiscreteVolume& volume,
                                                const TextureOptions& options) {
  return Compute(volume, Only(options, &TextureOptions::glcm));
}
absl::StatusOr<FeatureList> ComputeGlrlmFeatures(const DiscreteVolume& volume,
                                                 const TextureOptions& options) {
  return Compute(volume, Only(options, &TextureOptions::glrlm));
}
absl::StatusOr<FeatureList> ComputeGlszmFeatures(const DiscreteVolume& volume,
                                                 const TextureOptions& options) {
  return Compute(volume, Only(options, &TextureOptions::glszm));
}
absl::StatusOr<FeatureList> ComputeGldzmFeatures(const DiscreteVolume& volume,
                                                 const TextureOptions& options) {
  return Compute(volume, Only(options, &TextureOptions::gldzm));
}
absl::StatusOr<FeatureList> ComputeNgtdmFeatures(const DiscreteVolume& volume,
                                                 const TextureOptions& options) {
  return Compute(volume, Only(options, &TextureOptions::ngtdm));
}
absl::StatusOr<FeatureList> ComputeNgldmFeatures(const DiscreteVolume& volume,
                                                 const TextureOptions& options) {
  return Compute(volume, Only(options, &TextureOptions::ngldm));
}

}  // namespace fedrad::features
