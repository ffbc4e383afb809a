// Speed of features/texture on a CT-like volume, against ITK's own texture
// filters on the same voxels.
//
// Volume: 200 x 200 x 200 voxels, spherical ROI of radius 80 voxels
// (2.14 million voxels), 32 grey levels from a smooth random field plus noise
// (texture_testutil.h, seed 2026).
//
//   build-texture/bench/texture_benchmark                      # everything
//   build-texture/bench/texture_benchmark --benchmark_filter=Fedrad
//
// After the run a summary prints the ratio of ITK's time (co-occurrence
// matrix over the 13 3D offsets + HistogramToTextureFeaturesFilter, and
// ScalarImageToRunLengthFeaturesFilter with its default 13 offsets) to
// fedrad's GLCM + GLRLM in 3D (averaged and merged), and the time of the
// complete IBSI texture set. ITK runs single-threaded (as fedrad does) so the
// ratio compares one core with one core; the summary uses thread CPU time.
#include <time.h>

#include <cstdio>
#include <map>
#include <string>

#include "benchmark/benchmark.h"
#include "features/texture/texture.h"
#include "features/texture/texture_testutil.h"

#include "itkHistogramToTextureFeaturesFilter.h"
#include "itkImage.h"
#include "itkImageRegionIterator.h"
#include "itkMultiThreaderBase.h"
#include "itkNeighborhood.h"
#include "itkScalarImageToCooccurrenceMatrixFilter.h"
#include "itkScalarImageToRunLengthFeaturesFilter.h"

namespace fedrad::features {
namespace {

constexpr int kSize = 200;
constexpr double kRadius = 80.0;
constexpr int kLevels = 32;

const DiscreteVolume& Volume() {
  static const DiscreteVolume* v =
      new DiscreteVolume(testing::MakeCtLikeSphere(kSize, kRadius, kLevels, 2026));
  return *v;
}

int64_t RoiVoxels() {
  int64_t n = 0;
  for (int32_t l : Volume().levels) n += (l > 0);
  return n;
}

// CPU time of this thread: the machine is shared, so wall time would also
// count other processes. fedrad and (with one ITK thread) ITK are single-threaded.
double ThreadCpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

// CPU seconds per iteration of each benchmark, for the summary.
std::map<std::string, double>& Timings() {
  static auto* m = new std::map<std::string, double>;
  return *m;
}

template <typename Fn>
void Timed(benchmark::State& state, const std::string& name, Fn fn) {
  double seconds = 0.0;
  int64_t iterations = 0;
  for (auto _ : state) {
    const double t0 = ThreadCpuSeconds();
    fn();
    seconds += ThreadCpuSeconds() - t0;
    ++iterations;
  }
  Timings()[name] = seconds / iterations;
  state.counters["Mvoxel/s"] = benchmark::Counter(
      static_cast<double>(RoiVoxels()) * iterations / 1e6, benchmark::Counter::kIsRate);
}

struct Variant {
  const char* name;
  bool d2, d25, d3;
};
constexpr Variant kAll{"all", true, true, true};
constexpr Variant k3D{"3D", false, false, true};
constexpr Variant k2D{"2D+2.5D", true, true, false};

void RunFamily(benchmark::State& state, const char* family,
               absl::StatusOr<FeatureList> (*fn)(const DiscreteVolume&, const TextureOptions&),
               Variant variant) {
  const DiscreteVolume& v = Volume();
  TextureOptions o;
  o.compute_2d = variant.d2;
  o.compute_25d = variant.d25;
  o.compute_3d = variant.d3;
  Timed(state, std::string(family) + "/" + variant.name, [&] {
    absl::StatusOr<FeatureList> r = fn(v, o);
    if (!r.ok()) state.SkipWithError(std::string(r.status().message()).c_str());
    benchmark::DoNotOptimize(r);
  });
}

#define FEDRAD_FAMILY_BENCHMARKS(Family, fn)                                                \
  void BM_Fedrad_##Family##_3D(benchmark::State& s) { RunFamily(s, #Family, fn, k3D); }     \
  void BM_Fedrad_##Family##_2D_25D(benchmark::State& s) { RunFamily(s, #Family, fn, k2D); } \
  void BM_Fedrad_##Family##_All(benchmark::State& s) { RunFamily(s, #Family, fn, kAll); }   \
  BENCHMARK(BM_Fedrad_##Family##_3D)->Unit(benchmark::kMillisecond);                        \
  BENCHMARK(BM_Fedrad_##Family##_2D_25D)->Unit(benchmark::kMillisecond);                    \
  BENCHMARK(BM_Fedrad_##Family##_All)->Unit(benchmark::kMillisecond);

FEDRAD_FAMILY_BENCHMARKS(Glcm, ComputeGlcmFeatures)
FEDRAD_FAMILY_BENCHMARKS(Glrlm, ComputeGlrlmFeatures)
FEDRAD_FAMILY_BENCHMARKS(Glszm, ComputeGlszmFeatures)
FEDRAD_FAMILY_BENCHMARKS(Gldzm, ComputeGldzmFeatures)
FEDRAD_FAMILY_BENCHMARKS(Ngtdm, ComputeNgtdmFeatures)
FEDRAD_FAMILY_BENCHMARKS(Ngldm, ComputeNgldmFeatures)

void BM_Fedrad_AllFamilies_All(benchmark::State& s) {
  RunFamily(s, "AllFamilies", ComputeTextureFeatures, kAll);
}
BENCHMARK(BM_Fedrad_AllFamilies_All)->Unit(benchmark::kMillisecond);
void BM_Fedrad_AllFamilies_3D(benchmark::State& s) {
  RunFamily(s, "AllFamilies", ComputeTextureFeatures, k3D);
}
BENCHMARK(BM_Fedrad_AllFamilies_3D)->Unit(benchmark::kMillisecond);

using ItkImage = itk::Image<short, 3>;

struct ItkInputs {
  ItkImage::Pointer image, mask;
};

const ItkInputs& Itk() {
  static ItkInputs* in = [] {
    const DiscreteVolume& v = Volume();
    auto* r = new ItkInputs;
    ItkImage::RegionType region;
    region.SetSize({{static_cast<itk::SizeValueType>(v.nx), static_cast<itk::SizeValueType>(v.ny),
                     static_cast<itk::SizeValueType>(v.nz)}});
    r->image = ItkImage::New();
    r->mask = ItkImage::New();
    for (ItkImage::Pointer im : {r->image, r->mask}) {
      im->SetRegions(region);
      im->Allocate();
    }
    // ITK's buffer is x fastest, then y, then z: the DiscreteVolume layout.
    short* img = r->image->GetBufferPointer();
    short* msk = r->mask->GetBufferPointer();
    for (size_t k = 0; k < v.levels.size(); ++k) {
      img[k] = static_cast<short>(v.levels[k] > 0 ? v.levels[k] : 1);
      msk[k] = static_cast<short>(v.levels[k] > 0);
    }
    return r;
  }();
  return *in;
}

// The 13 unique 3D offsets (half of the 26-neighbourhood), as ITK's own
// defaults for the run-length filter.
itk::VectorContainer<unsigned char, ItkImage::OffsetType>::Pointer Offsets13() {
  auto offsets = itk::VectorContainer<unsigned char, ItkImage::OffsetType>::New();
  itk::Neighborhood<short, 3> hood;
  hood.SetRadius(1);
  for (unsigned d = 0; d < hood.GetCenterNeighborhoodIndex(); ++d) {
    offsets->push_back(hood.GetOffset(d));
  }
  return offsets;
}

void BM_Itk_Cooccurrence13_TextureFeatures(benchmark::State& state) {
  const ItkInputs& in = Itk();
  Timed(state, "itk_glcm", [&] {
    using Cooc = itk::Statistics::ScalarImageToCooccurrenceMatrixFilter<ItkImage>;
    auto cooc = Cooc::New();
    cooc->SetInput(in.image);
    cooc->SetMaskImage(in.mask);
    cooc->SetInsidePixelValue(1);
    cooc->SetNumberOfBinsPerAxis(kLevels);
    cooc->SetPixelValueMinMax(1, kLevels);
    cooc->SetOffsets(Offsets13());
    cooc->Update();
    using Tex = itk::Statistics::HistogramToTextureFeaturesFilter<Cooc::HistogramType>;
    auto tex = Tex::New();
    tex->SetInput(cooc->GetOutput());
    tex->Update();
    benchmark::DoNotOptimize(tex->GetEnergy());
  });
}
BENCHMARK(BM_Itk_Cooccurrence13_TextureFeatures)->Unit(benchmark::kMillisecond)->Iterations(1);

void BM_Itk_RunLengthFeatures13(benchmark::State& state) {
  const ItkInputs& in = Itk();
  Timed(state, "itk_glrlm", [&] {
    using Rl = itk::Statistics::ScalarImageToRunLengthFeaturesFilter<ItkImage>;
    auto rl = Rl::New();
    rl->SetInput(in.image);
    rl->SetMaskImage(in.mask);
    rl->SetInsidePixelValue(1);
    rl->SetNumberOfBinsPerAxis(kLevels);
    rl->SetPixelValueMinMax(1, kLevels);
    rl->SetDistanceValueMinMax(0, 2.0 * kRadius * 1.7321);
    rl->SetOffsets(Offsets13());
    rl->Update();
    benchmark::DoNotOptimize(rl->GetFeatureMeans());
  });
}
BENCHMARK(BM_Itk_RunLengthFeatures13)->Unit(benchmark::kMillisecond)->Iterations(1);

void PrintSummary() {
  auto& t = Timings();
  auto get = [&](const char* k) { return t.count(k) ? t[k] : -1.0; };
  std::printf("\n=== texture summary (ROI %lld voxels, %d grey levels, one core) ===\n",
              static_cast<long long>(RoiVoxels()), kLevels);
  for (const auto& [name, s] : t) std::printf("  %-24s %9.1f ms\n", name.c_str(), s * 1e3);
  const double ours = get("Glcm/3D") + get("Glrlm/3D");
  const double ours_all = get("Glcm/all") + get("Glrlm/all");
  const double itk = get("itk_glcm") + get("itk_glrlm");
  if (get("Glcm/3D") > 0 && get("Glrlm/3D") > 0 && get("itk_glcm") > 0 && get("itk_glrlm") > 0) {
    std::printf("  GLCM+GLRLM 3D: fedrad %.1f ms, ITK %.1f ms -> ITK/fedrad = %.1fx\n", ours * 1e3,
                itk * 1e3, itk / ours);
    std::printf("    GLCM  alone: ITK/fedrad = %.1fx;  GLRLM alone: ITK/fedrad = %.1fx\n",
                get("itk_glcm") / get("Glcm/3D"), get("itk_glrlm") / get("Glrlm/3D"));
    if (get("Glcm/all") > 0 && get("Glrlm/all") > 0) {
      std::printf(
          "  GLCM+GLRLM all 6 aggregations: fedrad %.1f ms -> ITK(3D only)/fedrad = %.1fx\n",
          ours_all * 1e3, itk / ours_all);
    }
  }
  if (get("AllFamilies/all") > 0) {
    std::printf("  complete IBSI texture set (6 families, all aggregations): %.1f ms\n",
                get("AllFamilies/all") * 1e3);
  }
}

}  // namespace
}  // namespace fedrad::features

int main(int argc, char** argv) {
  itk::MultiThreaderBase::SetGlobalDefaultNumberOfThreads(1);
  itk::MultiThreaderBase::SetGlobalMaximumNumberOfThreads(1);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  fedrad::features::PrintSummary();
  benchmark::Shutdown();
  return 0;
}
