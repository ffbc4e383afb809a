// Benchmark: the whole ComBat fit (parametric EB, 2 covariates) on synthetic
// data, sites x patients x features. Run:
//   build/bench/harmonization_benchmark --benchmark_filter=FitComBat
#include <random>

#include "benchmark/benchmark.h"
#include "harmonization/combat.h"

namespace fedrad::harmonization {
namespace {

std::vector<SiteData> MakeData(int sites, int patients, int features) {
  std::mt19937_64 rng(7);
  std::normal_distribution<double> normal;
  std::vector<SiteData> out;
  for (int s = 0; s < sites; ++s) {
    SiteData d;
    const int n = patients / sites;
    d.covariates.resize(n, 2);
    d.features.resize(n, features);
    for (int i = 0; i < n; ++i) {
      d.covariates(i, 0) = 60 + 10 * normal(rng);
      d.covariates(i, 1) = (i % 2);
      for (int g = 0; g < features; ++g) {
        d.features(i, g) = 5 + 0.1 * d.covariates(i, 0) + 0.3 * s + (1 + 0.1 * s) * normal(rng);
      }
    }
    out.push_back(std::move(d));
  }
  return out;
}

void BM_FitComBat(benchmark::State& state) {
  const int sites = state.range(0), patients = state.range(1), features = state.range(2);
  std::vector<SiteData> data = MakeData(sites, patients, features);
  std::vector<std::string> names;
  for (int s = 0; s < sites; ++s) names.push_back("S" + std::to_string(s + 1));
  ComBatOptions o;
  o.method = static_cast<ComBatMethod>(state.range(3));
  for (auto _ : state) {
    auto r = FitComBat(names, data, {"age", "sex"}, o);
    if (!r.ok()) state.SkipWithError(std::string(r.status().message()).c_str());
    benchmark::DoNotOptimize(r);
  }
}
BENCHMARK(BM_FitComBat)
    ->Args({10, 5000, 1000, 0})
    ->Args({10, 5000, 1000, 1})
    ->Args({10, 5000, 1000, 2})
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace fedrad::harmonization
BENCHMARK_MAIN();
