// ITK is used here for interpolation only; nothing ITK leaks into headers.
#include "features/preprocess.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"
#include "features/internal/marching_cubes.h"  // MaskBox
#include "features/threads.h"
#include "itkBSplineInterpolateImageFunction.h"
#include "itkIdentityTransform.h"
#include "itkImage.h"
#include "itkLinearInterpolateImageFunction.h"
#include "itkNearestNeighborExtrapolateImageFunction.h"
#include "itkNearestNeighborInterpolateImageFunction.h"
#include "itkResampleImageFilter.h"

namespace fedrad::features {
namespace {

using ItkFloat = itk::Image<float, 3>;

// Index-space parameters of the aligned grid along one axis: new index k maps
// to old continuous index offset + k * ratio.
struct AxisMap {
  int new_size;
  double offset, ratio, new_spacing;
};

AxisMap MapAxis(int n, double s, double s_new) {
  if (s_new <= 0) return {n, 0.0, 1.0, s};
  double r = s_new / s;
  // ceil(n s / s_new), robust to representation error (60*3/3 = 60).
  int m = static_cast<int>(std::ceil(n * s / s_new - 1e-9));
  m = std::max(m, 1);
  return {m, 0.5 * (n - 1) - 0.5 * (m - 1) * r, r, s_new};
}

std::array<double, 3> Physical(const Geometry& g, const std::array<double, 3>& cidx) {
  std::array<double, 3> p = g.origin;
  for (int r = 0; r < 3; ++r) {
    for (int c = 0; c < 3; ++c) p[r] += g.direction[r * 3 + c] * g.spacing[c] * cidx[c];
  }
  return p;
}

ItkFloat::Pointer MakeItk(const Geometry& g, const float* data) {
  auto image = ItkFloat::New();
  ItkFloat::RegionType region;
  ItkFloat::SpacingType spacing;
  ItkFloat::PointType origin;
  ItkFloat::DirectionType direction;
  for (int d = 0; d < 3; ++d) {
    region.SetSize(d, g.size[d]);
    spacing[d] = g.spacing[d];
    origin[d] = g.origin[d];
    for (int e = 0; e < 3; ++e) direction[d][e] = g.direction[d * 3 + e];
  }
  image->SetRegions(region);
  image->SetSpacing(spacing);
  image->SetOrigin(origin);
  image->SetDirection(direction);
  image->Allocate();
  std::copy(data, data + g.NumVoxels(), image->GetBufferPointer());
  return image;
}

absl::StatusOr<std::vector<float>> ItkResample(const Geometry& in_geometry,
                                               const std::vector<float>& in,
                                               const Geometry& out_geometry,
                                               Interpolator interpolator) {
  try {
    auto input = MakeItk(in_geometry, in.data());
    using Filter = itk::ResampleImageFilter<ItkFloat, ItkFloat, double>;
    auto filter = Filter::New();
    filter->SetInput(input);
    filter->SetTransform(itk::IdentityTransform<double, 3>::New());
    switch (interpolator) {
      case Interpolator::kNearest:
        filter->SetInterpolator(itk::NearestNeighborInterpolateImageFunction<ItkFloat, double>::New());
        break;
      case Interpolator::kLinear:
        filter->SetInterpolator(itk::LinearInterpolateImageFunction<ItkFloat, double>::New());
        break;
      case Interpolator::kBSpline3: {
        auto bspline = itk::BSplineInterpolateImageFunction<ItkFloat, double, double>::New();
        bspline->SetSplineOrder(3);
        filter->SetInterpolator(bspline);
        break;
      }
    }
    // Grid-centre alignment keeps every new centre within half a voxel of
    // the old grid; nearest extrapolation covers rounding at that edge.
    filter->SetExtrapolator(itk::NearestNeighborExtrapolateImageFunction<ItkFloat, double>::New());
    ItkFloat::SizeType size;
    ItkFloat::SpacingType spacing;
    ItkFloat::PointType origin;
    ItkFloat::DirectionType direction;
    for (int d = 0; d < 3; ++d) {
      size[d] = out_geometry.size[d];
      spacing[d] = out_geometry.spacing[d];
      origin[d] = out_geometry.origin[d];
      for (int e = 0; e < 3; ++e) direction[d][e] = out_geometry.direction[d * 3 + e];
    }
    filter->SetSize(size);
    filter->SetOutputSpacing(spacing);
    filter->SetOutputOrigin(origin);
    filter->SetOutputDirection(direction);
    filter->Update();
    const float* buffer = filter->GetOutput()->GetBufferPointer();
    return std::vector<float>(buffer, buffer + out_geometry.NumVoxels());
  } catch (const itk::ExceptionObject& e) {
    return absl::InternalError(absl::StrCat("interpolation failed: ", e.GetDescription()));
  }
}

// std::nearbyint for floats in the default rounding mode (half to even),
// without a libm call per voxel: adding and subtracting 2^23 rounds any
// |v| < 2^23 to an integer; larger floats are integers already (NaN and
// infinities pass through). copysign keeps -0.4 -> -0 as nearbyint does.
inline float RoundToNearestInteger(float v) {
  constexpr float kTwo23 = 8388608.0f;
  if (!(std::abs(v) < kTwo23)) return v;
  const float c = std::copysign(kTwo23, v);
  return std::copysign((v + c) - c, v);
}

// Rounds every value, in chunks on the thread budget.
void RoundAll(std::vector<float>* v) {
  float* p = v->data();
  ForEachChunk(v->size(), [p](int, size_t b, size_t e) {
    for (size_t i = b; i < e; ++i) p[i] = RoundToNearestInteger(p[i]);
  });
}

// Copies the box [lo, hi] (inclusive, index space) out of a volume.
template <typename T>
std::vector<T> CropBox(const Geometry& g, const std::vector<T>& v,
                       const std::array<int, 3>& lo, const std::array<int, 3>& hi) {
  std::vector<T> out;
  out.reserve(static_cast<size_t>(hi[0] - lo[0] + 1) * (hi[1] - lo[1] + 1) * (hi[2] - lo[2] + 1));
  for (int z = lo[2]; z <= hi[2]; ++z) {
    for (int y = lo[1]; y <= hi[1]; ++y) {
      const T* row = &v[g.Index(0, y, z)];
      out.insert(out.end(), row + lo[0], row + hi[0] + 1);
    }
  }
  return out;
}

Geometry SubGeometry(const Geometry& g, const std::array<int, 3>& lo,
                     const std::array<int, 3>& hi) {
  Geometry s = g;
  for (int d = 0; d < 3; ++d) s.size[d] = hi[d] - lo[d] + 1;
  s.origin = Physical(g, {double(lo[0]), double(lo[1]), double(lo[2])});
  return s;
}

}  // namespace

std::array<int, 3> CutMarginVoxels(const Geometry& full, const ResamplingOptions& options,
                                   double margin_mm) {
  std::array<int, 3> m{};
  for (int d = 0; d < 3; ++d) {
    const double s = full.spacing[d] > 0 ? full.spacing[d] : 1.0;
    if (!options.enabled) {
      m[d] = static_cast<int>(std::ceil(margin_mm / s));  // as PrepareRoiGrid
      continue;
    }
    // PrepareRoiGrid reads from floor(offset + klo ratio) - support, and
    // klo ratio + offset >= lo - margin / s - 2 ratio.
    const double ratio = options.spacing[d] > 0 ? options.spacing[d] / s : 1.0;
    const int support = options.image_interpolator == Interpolator::kBSpline3 ? 16 : 2;
    const double v = std::ceil(margin_mm / s + 2 * ratio) + support + 2;
    m[d] = std::isfinite(v) ? static_cast<int>(std::min(v, 1e9)) : 1000000000;
  }
  return m;
}

Geometry AlignedGrid(const Geometry& g, const std::array<double, 3>& spacing) {
  Geometry out = g;
  std::array<double, 3> offset{};
  for (int d = 0; d < 3; ++d) {
    AxisMap m = MapAxis(g.size[d], g.spacing[d], spacing[d]);
    out.size[d] = m.new_size;
    out.spacing[d] = m.new_spacing;
    offset[d] = m.offset;
  }
  out.origin = Physical(g, offset);
  return out;
}

absl::StatusOr<RoiGrid> PrepareRoiGrid(const ImageVolume& image,
                                       const std::vector<uint8_t>& roi,
                                       const ResamplingOptions& options,
                                       double margin_mm, const SourceWindow* window) {
  const Geometry& local = image.geometry;
  if (roi.size() != local.NumVoxels() || image.voxels.size() != local.NumVoxels()) {
    return absl::InvalidArgumentError("ROI mask and image sizes differ");
  }
  // Index arithmetic is on the whole image's grid `g`; the voxels are read
  // from the cut, `off` voxels into it.
  const Geometry& g = window ? window->full : local;
  const std::array<int, 3> off = window ? window->offset : std::array<int, 3>{0, 0, 0};
  for (int d = 0; d < 3; ++d) {
    if (!(g.spacing[d] > 0)) {
      return absl::InvalidArgumentError(absl::StrCat("non-positive image spacing on axis ", d));
    }
  }
  std::array<int, 3> lo, hi;
  morphology_internal::MaskBox(local, roi, &lo, &hi);
  if (hi[0] < 0) return absl::InvalidArgumentError("the ROI is empty");
  for (int d = 0; d < 3; ++d) {
    lo[d] += off[d];
    hi[d] += off[d];
  }
  bool outside = false;
  auto crop = [&](const auto& v, const std::array<int, 3>& blo, const std::array<int, 3>& bhi) {
    std::array<int, 3> l, h;
    for (int d = 0; d < 3; ++d) {
      l[d] = blo[d] - off[d];
      h[d] = bhi[d] - off[d];
      outside |= l[d] < 0 || h[d] >= local.size[d];
      l[d] = std::max(l[d], 0);
      h[d] = std::min(h[d], local.size[d] - 1);
    }
    return CropBox(local, v, l, h);
  };
  const absl::Status cut_too_small = absl::InternalError(
      "the case's crop lacks the margin this region needs (please report this bug)");

  RoiGrid out;
  if (!options.enabled) {
    std::array<int, 3> clo, chi;
    for (int d = 0; d < 3; ++d) {
      int m = static_cast<int>(std::ceil(margin_mm / g.spacing[d]));
      clo[d] = std::max(0, lo[d] - m);
      chi[d] = std::min(g.size[d] - 1, hi[d] + m);
    }
    out.geometry = SubGeometry(g, clo, chi);
    out.intensities = crop(image.voxels, clo, chi);
    if (options.round_source) {
      RoundAll(&out.intensities);
    }
    out.mask = crop(roi, clo, chi);
    if (outside) return cut_too_small;
    return out;
  }

  // Aligned grid of the whole image, then only the part near the ROI.
  std::array<AxisMap, 3> maps;
  for (int d = 0; d < 3; ++d) {
    if (options.spacing[d] > 0 && !std::isfinite(options.spacing[d])) {
      return absl::InvalidArgumentError("non-finite resampling spacing");
    }
    maps[d] = MapAxis(g.size[d], g.spacing[d], options.spacing[d]);
  }
  Geometry full = AlignedGrid(g, options.spacing);
  const int support = options.image_interpolator == Interpolator::kBSpline3 ? 16 : 2;
  std::array<int, 3> klo, khi, olo, ohi;
  for (int d = 0; d < 3; ++d) {
    const AxisMap& m = maps[d];
    double m_old = margin_mm / g.spacing[d] + m.ratio;
    klo[d] = std::max(0, static_cast<int>(std::floor((lo[d] - m_old - m.offset) / m.ratio)));
    khi[d] = std::min(m.new_size - 1, static_cast<int>(std::ceil((hi[d] + m_old - m.offset) / m.ratio)));
    olo[d] = std::max(0, static_cast<int>(std::floor(m.offset + klo[d] * m.ratio)) - support);
    ohi[d] = std::min(g.size[d] - 1, static_cast<int>(std::ceil(m.offset + khi[d] * m.ratio)) + support);
  }
  Geometry in_geometry = SubGeometry(g, olo, ohi);
  std::vector<float> in_image = crop(image.voxels, olo, ohi);
  if (options.round_source) {
    RoundAll(&in_image);
  }
  std::vector<uint8_t> in_mask8 = crop(roi, olo, ohi);
  if (outside) return cut_too_small;
  std::vector<float> in_mask(in_mask8.begin(), in_mask8.end());
  out.geometry = SubGeometry(full, klo, khi);
  auto resampled = ItkResample(in_geometry, in_image, out.geometry, options.image_interpolator);
  if (!resampled.ok()) return resampled.status();
  out.intensities = std::move(*resampled);
  if (options.round_intensities) {
    RoundAll(&out.intensities);
  }
  auto mask = ItkResample(in_geometry, in_mask, out.geometry, options.mask_interpolator);
  if (!mask.ok()) return mask.status();
  out.mask.resize(mask->size());
  for (size_t i = 0; i < mask->size(); ++i) {
    out.mask[i] = (*mask)[i] >= options.partial_volume_threshold ? 1 : 0;
  }
  return out;
}

std::vector<uint8_t> Resegment(const RoiGrid& grid, const IntensityRange& range,
                               double outlier_sigma) {
  std::vector<uint8_t> mask(grid.mask.size(), 0);
  if (!range.min && !range.max) {
    for (size_t i = 0; i < mask.size(); ++i) mask[i] = grid.mask[i] ? 1 : 0;
  } else {
    // range.Contains without branches: an unset bound is infinite (a NaN
    // intensity still fails the bound that is set, as in Contains).
    const double lo = range.min ? *range.min : -std::numeric_limits<double>::infinity();
    const double hi = range.max ? *range.max : std::numeric_limits<double>::infinity();
    const uint8_t* in = grid.mask.data();
    const float* v = grid.intensities.data();
    uint8_t* out = mask.data();
    ForEachChunk(mask.size(), [&](int, size_t b, size_t e) {
      for (size_t i = b; i < e; ++i) {
        const double x = v[i];
        out[i] = static_cast<uint8_t>((in[i] != 0) & (x >= lo) & (x <= hi));
      }
    });
  }
  if (outlier_sigma > 0) {
    // IBSI 2.7.2: mean and SD of the ROI's intensities.
    double sum = 0, sum2 = 0;
    size_t n = 0;
    for (size_t i = 0; i < mask.size(); ++i) {
      if (!mask[i]) continue;
      sum += grid.intensities[i];
      ++n;
    }
    if (n == 0) return mask;
    double mean = sum / n;
    for (size_t i = 0; i < mask.size(); ++i) {
      if (mask[i]) sum2 += (grid.intensities[i] - mean) * (grid.intensities[i] - mean);
    }
    double sd = std::sqrt(sum2 / n);
    for (size_t i = 0; i < mask.size(); ++i) {
      if (mask[i] && std::abs(grid.intensities[i] - mean) > outlier_sigma * sd) mask[i] = 0;
    }
  }
  return mask;
}

absl::StatusOr<DiscretisedLevels> Discretise(const std::vector<float>& intensities,
                                             const std::vector<uint8_t>& mask,
                                             const Discretisation& disc,
                                             const IntensityRange& range) {
  DiscretisedLevels out;
  out.levels.assign(mask.size(), 0);
  // Passes split in chunks (features/threads.h); min, max and the highest
  // level combine exactly, so the result does not depend on the split.
  const int chunks = NumChunks(mask.size());
  std::vector<double> chunk_lo(chunks, std::numeric_limits<double>::infinity()),
      chunk_hi(chunks, -std::numeric_limits<double>::infinity());
  ForEachChunk(mask.size(), [&](int k, size_t b, size_t e) {
    double l = chunk_lo[k], h = chunk_hi[k];
    for (size_t i = b; i < e; ++i) {
      if (!mask[i]) continue;
      l = std::min<double>(l, intensities[i]);
      h = std::max<double>(h, intensities[i]);
    }
    chunk_lo[k] = l;
    chunk_hi[k] = h;
  });
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  for (int k = 0; k < chunks; ++k) {
    lo = std::min(lo, chunk_lo[k]);
    hi = std::max(hi, chunk_hi[k]);
  }
  if (!(lo <= hi)) return absl::InvalidArgumentError("the intensity mask is empty");
  int max_level = 0;
  std::vector<int> chunk_max(chunks, 0);
  std::vector<uint8_t> chunk_bad(chunks, 0);
  switch (disc.method) {
    case Discretisation::Method::kFixedBinNumber: {
      if (disc.bin_count < 1) return absl::InvalidArgumentError("bin count must be >= 1");
      const int ng = disc.bin_count;
      ForEachChunk(mask.size(), [&](int, size_t b, size_t e) {
        for (size_t i = b; i < e; ++i) {
          if (!mask[i]) continue;
          int l;
          if (hi == lo) {
            l = 1;
          } else if (intensities[i] >= hi) {
            l = ng;
          } else {
            l = static_cast<int>(std::floor(ng * (intensities[i] - lo) / (hi - lo))) + 1;
            l = std::clamp(l, 1, ng);
          }
          out.levels[i] = l;
        }
      });
      out.num_levels = ng;
      out.origin = lo;
      return out;
    }
    case Discretisation::Method::kFixedBinSize: {
      if (!(disc.bin_width > 0)) return absl::InvalidArgumentError("bin width must be > 0");
      const double origin = range.min ? *range.min : lo;
      ForEachChunk(mask.size(), [&](int k, size_t b, size_t e) {
        int m = 0;
        for (size_t i = b; i < e; ++i) {
          if (!mask[i]) continue;
          int l = static_cast<int>(std::floor((intensities[i] - origin) / disc.bin_width)) + 1;
          l = std::max(l, 1);
          out.levels[i] = l;
          m = std::max(m, l);
        }
        chunk_max[k] = m;
      });
      for (int m : chunk_max) max_level = std::max(max_level, m);
      out.num_levels = max_level;
      out.origin = origin;
      return out;
    }
    case Discretisation::Method::kNone: {
      ForEachChunk(mask.size(), [&](int k, size_t b, size_t e) {
        int m = 0;
        for (size_t i = b; i < e; ++i) {
          if (!mask[i]) continue;
          double v = intensities[i];
          if (v < 1 || v != std::floor(v) || v > 1e6) {
            chunk_bad[k] = 1;
            return;
          }
          out.levels[i] = static_cast<int>(v);
          m = std::max(m, out.levels[i]);
        }
        chunk_max[k] = m;
      });
      for (int k = 0; k < chunks; ++k) {
        if (chunk_bad[k]) {
          return absl::InvalidArgumentError(
              "discretisation 'none' needs integer intensities >= 1 in the ROI");
        }
        max_level = std::max(max_level, chunk_max[k]);
      }
      out.num_levels = max_level;
      out.origin = 0.5;
      return out;
    }
  }
  return absl::InternalError("unknown discretisation");
}

}  // namespace fedrad::features
