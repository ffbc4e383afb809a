// Timing of the non-texture families and the preprocessing on a generated
// 200^3 CT-like volume with a radius-80 spherical ROI (about 2.1 million
// voxels), and once the whole IBSI set with texture (BM_WholeIbsiSet); the
// texture families alone are timed by features/texture/texture_benchmark.
//
//   build/bench/extract_benchmark --benchmark_min_time=1
#include <benchmark/benchmark.h>

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
  if (!TextureAvailable()) {
    state.SkipWithError("built without features/texture");
    return;
  }
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

}  // namespace
}  // namespace fedrad::features

BENCHMARK_MAIN();
