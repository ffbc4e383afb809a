// Portable, seeded random numbers for the synthetic cohort.
//
//   synth_internal::Rng rng(synth_internal::DeriveSeed(seed, center, patient));
//   double z = rng.Normal();        // standard normal
//   double u = rng.Uniform();       // in (0, 1)
//
// The engine is std::mt19937_64, whose output sequence the C++ standard fixes.
// The std:: distributions are NOT used: their algorithms differ between
// standard libraries, so the same seed would give different cohorts with
// libstdc++ and libc++. The transforms below are written out, so a cohort is
// reproducible bit for bit on any conforming platform (given the same libm
// for log/sqrt/cos, which IEEE 754 makes correctly rounded for sqrt and in
// practice identical for glibc's log/cos). Not thread safe: one Rng per
// thread (per patient, see DeriveSeed).
#ifndef FEDRAD_SYNTH_INTERNAL_RANDOM_H_
#define FEDRAD_SYNTH_INTERNAL_RANDOM_H_

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

namespace fedrad::synth_internal {

// SplitMix64 finaliser (Steele, Lea & Flood 2014): a bijective mix of 64 bits.
inline uint64_t SplitMix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// An independent stream per (seed, a, b): patients get their own stream so
// the cohort does not depend on the order (or thread) in which they are made.
inline uint64_t DeriveSeed(uint64_t seed, uint64_t a, uint64_t b = 0) {
  return SplitMix64(SplitMix64(SplitMix64(seed) ^ (a + 1)) ^ (b + 0x51ED27ull));
}

class Rng {
 public:
  explicit Rng(uint64_t seed) : engine_(seed) {}

  uint64_t Bits() { return engine_(); }
  // Uniform on the open interval (0, 1): 53 random bits, centred in their cell.
  double Uniform() {
    return (static_cast<double>(engine_() >> 11) + 0.5) * 0x1.0p-53;
  }
  double Uniform(double lo, double hi) { return lo + (hi - lo) * Uniform(); }
  // Standard normal by the Box-Muller transform (both values used in turn).
  double Normal() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    const double r = std::sqrt(-2.0 * std::log(Uniform()));
    const double theta = 2.0 * M_PI * Uniform();
    spare_ = r * std::sin(theta);
    has_spare_ = true;
    return r * std::cos(theta);
  }
  double Normal(double mean, double sd) { return mean + sd * Normal(); }
  // Exponential with rate 1 (inversion).
  double Exponential() { return -std::log(Uniform()); }
  bool Bernoulli(double p) { return Uniform() < p; }
  // Index i with probability weights[i] / sum(weights) (inversion).
  int Categorical(const std::vector<double>& weights) {
    double total = 0;
    for (double w : weights) total += w;
    double u = Uniform() * total;
    for (size_t i = 0; i < weights.size(); ++i) {
      if (u < weights[i]) return static_cast<int>(i);
      u -= weights[i];
    }
    return static_cast<int>(weights.size()) - 1;
  }

 private:
  std::mt19937_64 engine_;
  double spare_ = 0;
  bool has_spare_ = false;
};

}  // namespace fedrad::synth_internal

#endif  // FEDRAD_SYNTH_INTERNAL_RANDOM_H_
