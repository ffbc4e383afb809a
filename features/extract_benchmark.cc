// Timing of the non-texture families and the preprocessing on a generated
// 200^3 CT-like volume with a radius-80 spherical ROI (about 2.1 million
// voxels), and once the whole IBSI set with texture (BM_WholeIbsiSet); the
// texture families alone are timed by features/texture/texture_benchmark.
//
// Filters (issue 14): BM_LoG3Scales_StatGlcm extracts first-order and GLCM
// features of LoG response maps at 3 scales (sigma 1, 2, 3 mm), the whole
// pipeline (crop with the filters' margin, 3 filters, features); and
// BM_ItkLoG3Scales runs, on the same volume, ITK's
// LaplacianRecursiveGaussianImageFilter at the same 3 scales: the filter
// PyRadiomics' LoG image type calls (through SimpleITK, on the whole image,
// all threads), so it is a lower bound on PyRadiomics' LoG time. The
// summary prints the ratio (wall clock; both use every core).
//
//   build/bench/extract_benchmark --benchmark_min_time=1
//   build/bench/extract_benchmark --benchmark_filter='LoG'
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdio>
#include <map>
#include <string>

#include "itkImage.h"
#include "itkImportImageFilter.h"
#include "itkLaplacianRecursiveGaussianImageFilter.h"

#include "features/extractor.h"
#include "features/features_testutil.h"
#include "features/intensity_features.h"
#include "features/morphology.h"

namespace fedrad::features {
namespace {

struct Fixture {
  ImageVolume image;
  std::vector<uint8_t> roi;
  Fixture() {
    Geometry g = testutil::MakeGeometry(200, 200, 200, {1, 1, 1});
    image = testutil::MakeCtLike(g, 3);
    roi = testutil::ToMask(testutil::MakeBall(g, {99.5, 99.5, 99.5}, 80));
  }
};

const Fixture& Data() {
  static const Fixture* f = new Fixture();
  return *f;
}

ExtractionOptions NonTexture() {
  ExtractionOptions o;  // CT defaults: FBS 25, range [-1000, 400]
  o.families = {"morph", "loc", "stat", "ih", "ivh"};
  return o;
}

void BM_AllNonTextureFamilies(benchmark::State& state) {
  const Fixture& d = Data();
  ExtractionOptions o = NonTexture();
  for (auto _ : state) {
    auto f = ExtractRegionFeatures(d.image, d.roi, o);
    benchmark::DoNotOptimize(f);
  }
  int64_t n = 0;
  for (auto v : d.roi) n += v;
  state.counters["roi_voxels"] = static_cast<double>(n);
}
BENCHMARK(BM_AllNonTextureFamilies)->Unit(benchmark::kMillisecond);

// The whole IBSI set (every family, 3D texture, 32 grey levels by a fixed
// bin number) through the entry point `fedrad extract` uses.
void BM_WholeIbsiSet(benchmark::State& state) {
  const Fixture& d = Data();
  ExtractionOptions o;  // families empty = all
  o.discretisation.method = Discretisation::Method::kFixedBinNumber;
  o.discretisation.bin_count = 32;
  for (auto _ : state) {
    auto f = ExtractRegionFeatures(d.image, d.roi, o);
    benchmark::DoNotOptimize(f);
  }
}
BENCHMARK(BM_WholeIbsiSet)->Unit(benchmark::kMillisecond);

void BM_WithResamplingTo1_5mm(benchmark::State& state) {
  const Fixture& d = Data();
  ExtractionOptions o = NonTexture();
  o.resampling.enabled = true;
  o.resampling.spacing = {1.5, 1.5, 1.5};
  for (auto _ : state) {
    auto f = ExtractRegionFeatures(d.image, d.roi, o);
    benchmark::DoNotOptimize(f);
  }
}
BENCHMARK(BM_WithResamplingTo1_5mm)->Unit(benchmark::kMillisecond);

// One family at a time (preprocessing included in each).
void BM_Family(benchmark::State& state, const char* family) {
  const Fixture& d = Data();
  ExtractionOptions o;
  o.families = {family};
  for (auto _ : state) {
    auto f = ExtractRegionFeatures(d.image, d.roi, o);
    benchmark::DoNotOptimize(f);
  }
}
BENCHMARK_CAPTURE(BM_Family, morph, "morph")->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Family, loc, "loc")->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Family, stat, "stat")->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Family, ih, "ih")->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Family, ivh, "ivh")->Unit(benchmark::kMillisecond);

// Wall seconds per iteration of the filter benchmarks, for the summary.
std::map<std::string, double>& WallSeconds() {
  static auto* m = new std::map<std::string, double>();
  return *m;
}

template <typename F>
void TimedWall(benchmark::State& state, const std::string& name, F&& body) {
  double total = 0;
  int64_t n = 0;
  for (auto _ : state) {
    const auto t0 = std::chrono::steady_clock::now();
    body();
    total += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    ++n;
  }
  if (n > 0) WallSeconds()[name] = total / n;
}

constexpr double kLoGSigmasMm[] = {1.0, 2.0, 3.0};

void BM_LoG3Scales_StatGlcm(benchmark::State& state) {
  const Fixture& d = Data();
  ExtractionOptions o;
  o.families = {"stat", "glcm"};
  o.original = false;
  for (double s : kLoGSigmasMm) {
    filters::FilterSetting f;
    f.kind = filters::FilterKind::kLoG;
    f.log.sigma_mm = s;
    o.filters.push_back(f);
  }
  TimedWall(state, "fedrad_log3_stat_glcm", [&] {
    auto f = ExtractRegionFeatures(d.image, d.roi, o);
    if (!f.ok()) state.SkipWithError(std::string(f.status().message()).c_str());
    benchmark::DoNotOptimize(f);
  });
}
BENCHMARK(BM_LoG3Scales_StatGlcm)->Unit(benchmark::kMillisecond)->UseRealTime();

// Issue 14's speed target: 11 response maps (LoG at 3 scales and the 8
// first-level coif1 wavelet decompositions, PyRadiomics' default wavelet)
// with first-order and GLCM features on each.
void BM_LoG3Wavelet8_StatGlcm(benchmark::State& state) {
  const Fixture& d = Data();
  ExtractionOptions o;
  o.families = {"stat", "glcm"};
  o.original = false;
  for (double s : kLoGSigmasMm) {
    filters::FilterSetting f;
    f.kind = filters::FilterKind::kLoG;
    f.log.sigma_mm = s;
    o.filters.push_back(f);
  }
  for (const char* dec : {"LLL", "LLH", "LHL", "LHH", "HLL", "HLH", "HHL", "HHH"}) {
    filters::FilterSetting f;
    f.kind = filters::FilterKind::kWavelet;
    f.wavelet.family = "coif1";
    f.wavelet.decomposition = dec;
    o.filters.push_back(f);
  }
  TimedWall(state, "fedrad_11_maps_stat_glcm", [&] {
    auto f = ExtractRegionFeatures(d.image, d.roi, o);
    if (!f.ok()) state.SkipWithError(std::string(f.status().message()).c_str());
    benchmark::DoNotOptimize(f);
  });
}
BENCHMARK(BM_LoG3Wavelet8_StatGlcm)->Unit(benchmark::kMillisecond)->UseRealTime();

// One LoG response map of the whole 200^3 volume (sigma in mm = the arg).
void BM_LoGResponse(benchmark::State& state) {
  const Fixture& d = Data();
  filters::LoGParams p;
  p.sigma_mm = static_cast<double>(state.range(0));
  for (auto _ : state) {
    auto r = filters::LoGResponse(d.image, p);
    benchmark::DoNotOptimize(r);
  }
}
BENCHMARK(BM_LoGResponse)->Arg(1)->Arg(3)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_ItkLoG3Scales(benchmark::State& state) {
  using Image = itk::Image<float, 3>;
  const Fixture& d = Data();
  auto import = itk::ImportImageFilter<float, 3>::New();
  Image::SizeType size;
  for (int a = 0; a < 3; ++a) size[a] = d.image.geometry.size[a];
  Image::RegionType region;
  region.SetSize(size);
  import->SetRegion(region);
  double spacing[3] = {d.image.geometry.spacing[0], d.image.geometry.spacing[1],
                       d.image.geometry.spacing[2]};
  import->SetSpacing(spacing);
  import->SetImportPointer(const_cast<float*>(d.image.voxels.data()), d.image.voxels.size(),
                           /*LetImageContainerManageMemory=*/false);
  import->Update();
  TimedWall(state, "itk_log3", [&] {
    for (double s : kLoGSigmasMm) {
      auto log = itk::LaplacianRecursiveGaussianImageFilter<Image, Image>::New();
      log->SetInput(import->GetOutput());
      log->SetSigma(s);
      log->Update();
      benchmark::DoNotOptimize(log->GetOutput()->GetBufferPointer());
    }
  });
}
BENCHMARK(BM_ItkLoG3Scales)->Unit(benchmark::kMillisecond)->UseRealTime();

void PrintFilterSummary() {
  auto& t = WallSeconds();
  if (t.count("fedrad_11_maps_stat_glcm")) {
    std::printf("\n11 response maps (LoG x3, coif1 level-1 x8) + first-order + GLCM: %.0f ms\n",
                t["fedrad_11_maps_stat_glcm"] * 1e3);
  }
  if (!t.count("fedrad_log3_stat_glcm") || !t.count("itk_log3")) return;
  const double ours = t["fedrad_log3_stat_glcm"], itk = t["itk_log3"];
  std::printf(
      "\n=== LoG at sigma 1, 2, 3 mm on the 200^3 volume (wall clock) ===\n"
      "  fedrad: 3 response maps + first-order + GLCM in the ROI: %.0f ms\n"
      "  ITK LaplacianRecursiveGaussian x3 (PyRadiomics' LoG filter, filtering only): %.0f ms\n"
      "  ITK-filter-only / fedrad-whole = %.2fx (a lower bound on PyRadiomics / fedrad)\n",
      ours * 1e3, itk * 1e3, itk / ours);
}

}  // namespace
}  // namespace fedrad::features

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  fedrad::features::PrintFilterSummary();
  benchmark::Shutdown();
  return 0;
}
