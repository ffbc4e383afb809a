// Speed of the part-B filters of IBSI chapter 2 on the 200^3 benchmark
// volume (issue 14: "the 8 first-level wavelet decompositions on the 200^3
// benchmark volume"). Run: build/bench/filters_benchmark
#include <cstdint>
#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "features/filters/riesz.h"
#include "features/filters/simoncelli.h"
#include "features/filters/wavelet.h"

namespace fedrad::features::filters {
namespace {

const ImageVolume& Volume200() {
  static const ImageVolume* v = [] {
    auto* image = new ImageVolume;
    image->geometry.size = {200, 200, 200};
    image->voxels.resize(image->geometry.NumVoxels());
    uint32_t state = 7;
    for (float& x : image->voxels) {
      state = state * 1664525u + 1013904223u;
      x = static_cast<float>(state >> 20) - 1000.0f;
    }
    return image;
  }();
  return *v;
}

const std::vector<std::string> kEight = {"LLL", "LLH", "LHL", "LHH",
                                         "HLL", "HLH", "HHL", "HHH"};

// All 8 first-level db3 decompositions (LLL ... HHH) in one call (shared
// passes), mirror padding.
void BM_WaveletEightDecompositionsShared(benchmark::State& state) {
  for (auto _ : state) {
    WaveletParams p;
    p.family = "db3";
    auto r = WaveletResponses(Volume200(), p, kEight);
    benchmark::DoNotOptimize(r);
  }
}
BENCHMARK(BM_WaveletEightDecompositionsShared)->Unit(benchmark::kMillisecond);

// The same, one call each.
void BM_WaveletEightDecompositions(benchmark::State& state) {
  for (auto _ : state) {
    for (const std::string& d : kEight) {
      WaveletParams p;
      p.family = "db3";
      p.decomposition = d;
      auto r = WaveletResponse(Volume200(), p);
      benchmark::DoNotOptimize(r);
    }
  }
}
BENCHMARK(BM_WaveletEightDecompositions)->Unit(benchmark::kMillisecond);

// One rotation-invariant decomposition (mean over the 24 rotations).
void BM_WaveletRotationInvariant(benchmark::State& state) {
  for (auto _ : state) {
    WaveletParams p;
    p.family = "db3";
    p.decomposition = "LLH";
    p.rotation_invariant = true;
    auto r = WaveletResponse(Volume200(), p);
    benchmark::DoNotOptimize(r);
  }
}
BENCHMARK(BM_WaveletRotationInvariant)->Unit(benchmark::kMillisecond);

void BM_Simoncelli(benchmark::State& state) {
  for (auto _ : state) {
    SimoncelliParams p;
    p.padding = Padding::kPeriodic;
    auto r = SimoncelliResponse(Volume200(), p);
    benchmark::DoNotOptimize(r);
  }
}
BENCHMARK(BM_Simoncelli)->Unit(benchmark::kMillisecond);

void BM_RieszFirstOrderMirror(benchmark::State& state) {
  for (auto _ : state) {
    RieszParams p;
    p.order = {1, 0, 0};
    p.padding = Padding::kMirror;
    auto r = RieszResponse(Volume200(), p);
    benchmark::DoNotOptimize(r);
  }
}
BENCHMARK(BM_RieszFirstOrderMirror)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace fedrad::features::filters

BENCHMARK_MAIN();
