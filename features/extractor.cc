#include "features/extractor.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <deque>
#include <future>
#include <limits>
#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "core/status.h"
#include "features/discrete_volume.h"
#include "features/intensity_features.h"
#include "features/threads.h"
#include "features/texture/texture.h"

namespace fedrad::features {
namespace {

const char* const kTexture[] = {"glcm", "glrlm", "glszm", "gldzm", "ngtdm", "ngldm"};

// The IVH values and grid (IBSI 3.5): intensities themselves (step 1), bin
// centres of a fixed bin size, or levels 1..Ng of a fixed bin number.
FeatureList Ivh(const RoiGrid& grid, const std::vector<uint8_t>& imask,
                const ExtractionOptions& options) {
  std::vector<double> values;
  values.reserve(std::count_if(imask.begin(), imask.end(), [](uint8_t m) { return m != 0; }));
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  for (size_t i = 0; i < imask.size(); ++i) {
    if (!imask[i]) continue;
    values.push_back(grid.intensities[i]);
    lo = std::min(lo, values.back());
    hi = std::max(hi, values.back());
  }
  if (values.empty()) return {};
  const IntensityRange& range = options.resegmentation;
  const Discretisation& d = options.ivh_discretisation;
  switch (d.method) {
    case Discretisation::Method::kNone: {
      double gmin = range.min ? *range.min : lo;
      double gmax = range.max ? *range.max : hi;
      return IntensityVolumeHistogram(values, gmin, gmax, 1.0);
    }
    case Discretisation::Method::kFixedBinSize: {
      const double w = d.bin_width;
      const double origin = range.min ? *range.min : lo;
      auto centre = [&](double x) {
        double level = std::floor((x - origin) / w) + 1;
        return origin + (level - 0.5) * w;
      };
      for (double& v : values) v = centre(v);
      double gmin = origin + 0.5 * w;
      double gmax = range.max ? centre(*range.max) : centre(hi);
      return IntensityVolumeHistogram(values, gmin, gmax, w);
    }
    case Discretisation::Method::kFixedBinNumber: {
      auto levels = Discretise(grid.intensities, imask, d, range);
      if (!levels.ok()) return {};
      values.clear();
      for (size_t i = 0; i < imask.size(); ++i) {
        if (imask[i]) values.push_back(levels->levels[i]);
      }
      return IntensityVolumeHistogram(values, 1, d.bin_count, 1.0);
    }
  }
  return {};
}

// The crop margin: the local-intensity sphere (with "loc" or "morph") and
// every filter's reach, capped at the image's extent (a filter defined on
// the whole image gets it).
double CropMarginMm(const Geometry& full, const ExtractionOptions& options) {
  double extent = 0;
  for (int a = 0; a < 3; ++a) extent = std::max(extent, full.size[a] * full.spacing[a]);
  // Only the local-intensity peak and the filters read voxels outside the
  // ROI (interpolation adds its own support in PrepareRoiGrid). Morphology
  // does not either, but its mesh and moments are computed in the grid's
  // coordinates, whose rounding would change in the last bits: it keeps the
  // grid it always had.
  double margin = options.Wants("loc") || options.Wants("morph")
                      ? options.local_intensity_radius_mm
                      : 0.0;
  std::array<double, 3> spacing = full.spacing;
  if (options.resampling.enabled) {
    for (int a = 0; a < 3; ++a) {
      if (options.resampling.spacing[a] > 0) spacing[a] = options.resampling.spacing[a];
    }
  }
  for (const filters::FilterSetting& f : options.filters) {
    margin = std::max(margin, std::min(extent, filters::FilterMarginMm(f, spacing)));
  }
  return margin;
}

// The discretised levels on the bounding box of the morphological mask.
DiscreteVolume TextureVolume(const RoiGrid& grid, const DiscretisedLevels& d) {
  const Geometry& g = grid.geometry;
  std::array<int, 3> lo{INT32_MAX, INT32_MAX, INT32_MAX}, hi{-1, -1, -1};
  for (int z = 0; z < g.size[2]; ++z) {
    for (int y = 0; y < g.size[1]; ++y) {
      const uint8_t* row = &grid.mask[g.Index(0, y, z)];
      uint8_t any = 0;
      for (int x = 0; x < g.size[0]; ++x) any |= row[x];
      if (!any) continue;
      int first = 0, last = g.size[0] - 1;
      while (!row[first]) ++first;
      while (!row[last]) --last;
      lo = {std::min(lo[0], first), std::min(lo[1], y), std::min(lo[2], z)};
      hi = {std::max(hi[0], last), std::max(hi[1], y), std::max(hi[2], z)};
    }
  }
  DiscreteVolume dv;
  dv.nx = hi[0] - lo[0] + 1;
  dv.ny = hi[1] - lo[1] + 1;
  dv.nz = hi[2] - lo[2] + 1;
  dv.spacing = g.spacing;
  dv.num_levels = std::max(1, d.num_levels);
  dv.levels.reserve(static_cast<size_t>(dv.nx) * dv.ny * dv.nz);
  dv.morph_mask.reserve(dv.levels.capacity());
  for (int z = lo[2]; z <= hi[2]; ++z) {
    for (int y = lo[1]; y <= hi[1]; ++y) {
      const size_t i = g.Index(lo[0], y, z);
      dv.levels.insert(dv.levels.end(), d.levels.begin() + i, d.levels.begin() + i + dv.nx);
      dv.morph_mask.insert(dv.morph_mask.end(), grid.mask.begin() + i,
                           grid.mask.begin() + i + dv.nx);
    }
  }
  return dv;
}

// The texture options for one family (kTexture id).
TextureOptions TextureFamily(const ExtractionOptions& options, const std::string& family) {
  TextureOptions t;
  t.glcm = family == "glcm";
  t.glrlm = family == "glrlm";
  t.glszm = family == "glszm";
  t.gldzm = family == "gldzm";
  t.ngtdm = family == "ngtdm";
  t.ngldm = family == "ngldm";
  t.compute_2d = options.texture_2d;
  t.compute_25d = options.texture_25d;
  t.compute_3d = options.texture_3d;
  t.glcm_distance = options.glcm_distance;
  t.ngtdm_distance = options.ngtdm_distance;
  t.ngldm_distance = options.ngldm_distance;
  t.ngldm_alpha = options.ngldm_alpha;
  t.glcm_symmetric = options.glcm_symmetric;
  return t;
}

// The selected families on one grid (the image or a filter's response map)
// with its intensity mask `imask` of n_int voxels. The vectors of `grid` and
// `imask` are lent to the morphology input and given back.
absl::StatusOr<FeatureList> FamiliesOnGrid(RoiGrid* grid_ptr, std::vector<uint8_t>* imask_ptr,
                                           size_t n_int, const ExtractionOptions& options) {
  RoiGrid& grid = *grid_ptr;
  std::vector<uint8_t>& imask = *imask_ptr;
  bool any_texture = false;
  for (const char* t : kTexture) any_texture |= options.Wants(t);
  // Each family is one task writing its own slot; the slots are joined in
  // the output order, so the result does not depend on the thread count.
  std::vector<std::function<void()>> tasks;
  std::vector<absl::StatusOr<FeatureList>> slots;
  slots.reserve(16);
  auto add = [&](std::function<absl::StatusOr<FeatureList>()> fn) {
    const size_t k = slots.size();
    slots.emplace_back(FeatureList{});
    tasks.push_back([&slots, k, fn = std::move(fn)] { slots[k] = fn(); });
  };
  if (options.Wants("morph")) {
    add([&]() -> absl::StatusOr<FeatureList> {
      MorphologyInput in{grid.geometry, grid.mask, imask, grid.intensities};
      return MorphologyFeatures(in, options.morphology);
    });
  }
  if (options.Wants("loc")) {
    add([&]() -> absl::StatusOr<FeatureList> {
      ImageVolume local{grid.geometry, grid.intensities};
      return LocalIntensity(local, imask, options.local_intensity_radius_mm);
    });
  }
  if (options.Wants("stat")) {
    add([&]() -> absl::StatusOr<FeatureList> {
      std::vector<double> values;
      values.reserve(n_int);
      for (size_t i = 0; i < imask.size(); ++i) {
        if (imask[i]) values.push_back(grid.intensities[i]);
      }
      return IntensityStatistics(values);
    });
  }
  DiscretisedLevels d;
  if (options.Wants("ih") || any_texture) {
    FEDRAD_ASSIGN_OR_RETURN(
        d, Discretise(grid.intensities, imask, options.discretisation, options.resegmentation));
  }
  if (options.Wants("ih")) {
    add([&]() -> absl::StatusOr<FeatureList> {
      std::vector<int> levels;
      levels.reserve(n_int);
      for (size_t i = 0; i < imask.size(); ++i) {
        if (imask[i]) levels.push_back(d.levels[i]);
      }
      return IntensityHistogram(levels, d.num_levels);
    });
  }
  if (options.Wants("ivh")) {
    add([&]() -> absl::StatusOr<FeatureList> { return Ivh(grid, imask, options); });
  }
  const size_t first_texture = slots.size();
  // Texture families in groups (each group pads the grid once; GLSZM and
  // GLDZM share their zones): one group with a single thread, four with
  // more. Their values are put back in family order below.
  DiscreteVolume dv;
  if (any_texture) dv = TextureVolume(grid, d);
  const std::vector<std::vector<std::string>> groups =
      ThreadBudget() > 1 ? std::vector<std::vector<std::string>>{{"glszm", "gldzm"},
                                                                 {"glcm"},
                                                                 {"glrlm"},
                                                                 {"ngtdm", "ngldm"}}
                         : std::vector<std::vector<std::string>>{
                               {"glcm", "glrlm", "glszm", "gldzm", "ngtdm", "ngldm"}};
  for (const auto& group : groups) {
    if (!any_texture) break;
    TextureOptions t = TextureFamily(options, "");
    bool any = false;
    for (const std::string& f : group) {
      if (!options.Wants(f)) continue;
      any = true;
      TextureOptions one = TextureFamily(options, f);
      t.glcm |= one.glcm;
      t.glrlm |= one.glrlm;
      t.glszm |= one.glszm;
      t.gldzm |= one.gldzm;
      t.ngtdm |= one.ngtdm;
      t.ngldm |= one.ngldm;
    }
    if (any) add([&dv, t]() { return ComputeTextureFeatures(dv, t); });
  }
  RunTasks(tasks);
  FeatureList out;
  for (size_t k = 0; k < slots.size(); ++k) {
    if (!slots[k].ok()) return slots[k].status();
    if (k < first_texture) out.insert(out.end(), slots[k]->begin(), slots[k]->end());
  }
  for (const char* family : kTexture) {  // family order, as one call gives
    for (size_t k = first_texture; k < slots.size(); ++k) {
      for (const FeatureValue& v : *slots[k]) {
        if (v.family == family) out.push_back(v);
      }
    }
  }
  return out;
}

}  // namespace

const std::vector<std::string>& AllFamilies() {
  static const auto* all = new std::vector<std::string>{
      "morph", "loc", "stat", "ih", "ivh", "glcm", "glrlm", "glszm", "gldzm", "ngtdm", "ngldm"};
  return *all;
}

absl::Status ValidateFamilies(const std::set<std::string>& families) {
  for (const std::string& f : families) {
    const auto& all = AllFamilies();
    if (std::find(all.begin(), all.end(), f) == all.end()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "unknown feature family '", f,
          "' (known: morph, loc, stat, ih, ivh, glcm, glrlm, glszm, gldzm, ngtdm, ngldm)"));
    }
  }
  return absl::OkStatus();
}

std::array<int, 3> CaseCutMarginVoxels(const Geometry& full, const ExtractionOptions& options) {
  return CutMarginVoxels(full, options.resampling, CropMarginMm(full, options));
}

absl::StatusOr<FeatureList> ExtractRegionFeatures(const ImageVolume& input,
                                                  const std::vector<uint8_t>& roi,
                                                  const ExtractionOptions& options) {
  return ExtractRegionFeatures(input, roi, SourceWindow{input.geometry, {0, 0, 0}}, options);
}

absl::StatusOr<FeatureList> ExtractRegionFeatures(const ImageVolume& input,
                                                  const std::vector<uint8_t>& roi,
                                                  const SourceWindow& window,
                                                  const ExtractionOptions& options) {
  FEDRAD_RETURN_IF_ERROR(ValidateFamilies(options.families));
  FEDRAD_RETURN_IF_ERROR(filters::ValidateFilters(options.filters));
  if (!options.original && options.filters.empty()) {
    return absl::InvalidArgumentError(
        "nothing to extract: original is false and no filter is set");
  }
  ResamplingOptions resampling = options.resampling;
  resampling.round_source = options.round_intensities;
  FEDRAD_ASSIGN_OR_RETURN(
      RoiGrid grid,
      PrepareRoiGrid(input, roi, resampling, CropMarginMm(window.full, options), &window));
  // One pass (split in chunks) checks the intensities and counts the ROI.
  const int chunks = NumChunks(grid.intensities.size());
  std::vector<size_t> chunk_count(chunks, 0);
  std::vector<uint8_t> chunk_finite(chunks, 1);
  ForEachChunk(grid.intensities.size(), [&](int k, size_t b, size_t e) {
    bool finite = true;
    size_t n = 0;
    for (size_t i = b; i < e; ++i) {
      finite &= std::isfinite(grid.intensities[i]);
      n += grid.mask[i];
    }
    chunk_finite[k] = finite;
    chunk_count[k] = n;
  });
  size_t n_morph = 0;
  for (int k = 0; k < chunks; ++k) {
    if (!chunk_finite[k]) {
      return absl::InvalidArgumentError(
          "the image holds NaN or infinite intensities in or near the ROI");
    }
    n_morph += chunk_count[k];
  }
  if (n_morph == 0) {
    return absl::InvalidArgumentError("the ROI is empty after interpolation");
  }
  std::vector<uint8_t> imask = Resegment(grid, options.resegmentation, options.outlier_sigma);
  size_t n_int = 0;
  for (uint8_t m : imask) n_int += m;
  if (n_int == 0) {
    return absl::InvalidArgumentError(
        "no ROI voxel lies in the re-segmentation range");
  }

  FeatureList out;
  if (!options.filters.empty()) {
    // Response maps: the filters read the unfiltered grid; features use the
    // intensity mask of the unfiltered image. Discretisation and IVH of a
    // response map are anchored on its own range (a HU range means nothing
    // there) and morphology, which a filter does not change, is left out.
    ExtractionOptions on_map = options;
    on_map.resegmentation = IntensityRange{};
    on_map.families.clear();
    for (const std::string& f : AllFamilies()) {
      if (f != "morph" && options.Wants(f)) on_map.families.insert(f);
    }
    const ImageVolume image{grid.geometry, grid.intensities};
    // The features of each map are computed on other threads while the next
    // maps are filtered: up to one job per thread of the budget in flight,
    // collected in order (a wavelet family hands over several maps at once).
    const size_t max_in_flight = static_cast<size_t>(std::max(1, ThreadBudget()));
    std::deque<std::future<absl::StatusOr<FeatureList>>> pending;
    auto collect_one = [&]() -> absl::Status {
      absl::StatusOr<FeatureList> f = pending.front().get();
      pending.pop_front();
      if (!f.ok()) return f.status();
      out.insert(out.end(), f->begin(), f->end());
      return absl::OkStatus();
    };
    auto collect = [&]() -> absl::Status {
      absl::Status first = absl::OkStatus();
      while (!pending.empty()) {
        absl::Status s = collect_one();
        if (first.ok()) first = s;
      }
      return first;
    };
    absl::Status run = filters::ApplyFilters(
        image, options.filters, [&](size_t index, ImageVolume response) -> absl::Status {
          const std::string label = filters::FilterLabel(options.filters[index]);
          if (options.response_map_sink) {
            FEDRAD_RETURN_IF_ERROR(options.response_map_sink(label, response));
          }
          if (on_map.families.empty()) return absl::OkStatus();
          while (pending.size() >= max_in_flight) FEDRAD_RETURN_IF_ERROR(collect_one());
          auto map = std::make_shared<RoiGrid>(
              RoiGrid{grid.geometry, std::move(response.voxels), grid.mask});
          // With a budget of one thread the job runs when collected.
          const bool overlap = max_in_flight > 1;
          pending.push_back(std::async(
              overlap ? std::launch::async : std::launch::deferred,
              [&on_map, &imask, n_int, map, label]() -> absl::StatusOr<FeatureList> {
                ScopedThreadBudget one(1);  // the filters use the rest
                std::vector<uint8_t> map_imask = imask;
                auto f = FamiliesOnGrid(map.get(), &map_imask, n_int, on_map);
                if (!f.ok()) {
                  return absl::Status(f.status().code(), absl::StrCat("filter '", label, "': ",
                                                                      f.status().message()));
                }
                for (FeatureValue& v : *f) v.filter = label;
                return f;
              }));
          return absl::OkStatus();
        });
    absl::Status last = collect();  // always wait for every pending job
    FEDRAD_RETURN_IF_ERROR(run);
    FEDRAD_RETURN_IF_ERROR(last);
  }
  if (options.original) {
    FEDRAD_ASSIGN_OR_RETURN(FeatureList f, FamiliesOnGrid(&grid, &imask, n_int, options));
    out.insert(out.begin(), f.begin(), f.end());
  }
  return out;
}

}  // namespace fedrad::features
