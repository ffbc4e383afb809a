// Site-side cost of one Newton round of a stratified Cox fit: CoxDerivatives
// on 2,000 patients with 200 covariates (the speed scenario has 10
// such sites). Run: build/bench/models_cox_benchmark
#include <random>

#include <benchmark/benchmark.h>

#include "models/cox.h"
#include "models/metrics.h"

namespace fedrad::models {
namespace {

CoxStratum MakeSite(int n, int p, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> z;
  std::exponential_distribution<double> e(1.0);
  Eigen::MatrixXd x(n, p);
  std::vector<double> time(static_cast<size_t>(n));
  std::vector<int> status(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    for (int j = 0; j < p; ++j) x(i, j) = z(rng);
    time[static_cast<size_t>(i)] = std::ceil(365 * e(rng));
    status[static_cast<size_t>(i)] = e(rng) < 1.0;
  }
  return *CoxStratum::Create(time, status, x);
}

void BM_CoxDerivatives(benchmark::State& state) {
  const int p = static_cast<int>(state.range(1));
  CoxStratum s = MakeSite(static_cast<int>(state.range(0)), p, 7);
  Eigen::VectorXd beta = Eigen::VectorXd::Constant(p, 0.01);
  const Ties ties = state.range(2) ? Ties::kEfron : Ties::kBreslow;
  for (auto _ : state) benchmark::DoNotOptimize(CoxDerivatives(s, beta, ties));
}
BENCHMARK(BM_CoxDerivatives)->Args({2000, 200, 0})->Args({2000, 200, 1})->Args({2000, 20, 0})
    ->Unit(benchmark::kMillisecond);

// One validation site's metrics (one bootstrap replicate costs the same).
void BM_SurvivalMetrics(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  std::mt19937_64 rng(11);
  std::normal_distribution<double> z;
  std::exponential_distribution<double> e(1.0);
  SurvivalValidationInput in;
  for (int i = 0; i < n; ++i) {
    in.lp.push_back(z(rng));
    in.time.push_back(std::ceil(365 * e(rng)));
    in.status.push_back(e(rng) < 1.0);
  }
  for (int d = 1; d <= 1825; ++d) {
    in.grid.push_back(d);
    in.cumhaz.push_back(d / 365.0);
  }
  in.t = 730;
  in.tau = 1825;
  for (auto _ : state) benchmark::DoNotOptimize(ComputeSurvivalMetrics(in));
}
BENCHMARK(BM_SurvivalMetrics)->Arg(200)->Arg(2000)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace fedrad::models

BENCHMARK_MAIN();
