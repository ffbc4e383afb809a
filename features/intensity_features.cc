#include "features/intensity_features.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>

namespace fedrad::features {
namespace {

FeatureValue Make(const char* family, const char* feature, const char* code,
                  double value) {
  return FeatureValue{family, feature, code, "", value, ""};
}

// Statistics shared by the "stat" and "ih" families (IBSI 3.3 / 3.4 use the
// same formulas on raw and on discretised intensities).
struct Moments {
  double mean = 0, variance = 0, skewness = 0, kurtosis = 0;
  double median = 0, min = 0, p10 = 0, p25 = 0, p75 = 0, p90 = 0, max = 0;
  double mad = 0, robust_mad = 0, medad = 0;
  double energy = 0;  // sum of squares (set by ComputeMoments only)
};

// Type-7 percentile (Hyndman & Fan; numpy's default) from an order-statistic
// accessor: kth(k) is the k-th smallest value (0-based) of n values.
template <typename Kth>
double PercentileFromOrder(size_t n, double p, const Kth& kth) {
  double pos = p * (n - 1);
  size_t lo = static_cast<size_t>(std::floor(pos));
  double a = kth(lo);
  if (lo + 1 >= n || pos == lo) return a;
  return a + (pos - lo) * (kth(lo + 1) - a);
}

constexpr double kPercentiles[5] = {0.10, 0.25, 0.50, 0.75, 0.90};

// Fills the percentiles, the robust mean absolute deviation (IBSI 3.3.13:
// voxels with p10 <= x <= p90) and the median absolute deviation (3.3.14)
// of `m` from the distinct values `x[i]` occurring `c[i]` times (ascending
// values), as for the integer levels of the "ih" family.
void CountedOrderStatistics(const std::vector<double>& x, const std::vector<double>& c,
                            double n, Moments* m) {
  // Cumulative counts: x[i] holds the ranks [cum[i], cum[i+1]).
  std::vector<double> cum(x.size() + 1, 0.0);
  for (size_t i = 0; i < x.size(); ++i) cum[i + 1] = cum[i] + c[i];
  auto kth = [&](size_t k) {
    size_t i = std::upper_bound(cum.begin(), cum.end(), static_cast<double>(k)) - cum.begin();
    return x[i - 1];
  };
  double q[5];
  for (int i = 0; i < 5; ++i) q[i] = PercentileFromOrder(static_cast<size_t>(n), kPercentiles[i], kth);
  m->p10 = q[0];
  m->p25 = q[1];
  m->median = q[2];
  m->p75 = q[3];
  m->p90 = q[4];
  double rsum = 0, rn = 0, meddev = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    if (x[i] >= m->p10 && x[i] <= m->p90) {
      rsum += c[i] * x[i];
      rn += c[i];
    }
    meddev += c[i] * std::abs(x[i] - m->median);
  }
  double rmean = rn > 0 ? rsum / rn : 0;
  double rdev = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    if (x[i] >= m->p10 && x[i] <= m->p90) rdev += c[i] * std::abs(x[i] - rmean);
  }
  m->robust_mad = rn > 0 ? rdev / rn : 0;
  m->medad = meddev / n;
}

// Mean, variance, skewness, kurtosis and mean absolute deviation (IBSI 3.3.1-4,
// 3.3.12) from the distinct values and their counts.
void CountedMoments(const std::vector<double>& x, const std::vector<double>& c, double n,
                    Moments* m) {
  double sum = 0;
  for (size_t i = 0; i < x.size(); ++i) sum += c[i] * x[i];
  m->mean = sum / n;
  double m2 = 0, m3 = 0, m4 = 0, mad = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    double d = x[i] - m->mean;
    m2 += c[i] * d * d;
    m3 += c[i] * d * d * d;
    m4 += c[i] * d * d * d * d;
    mad += c[i] * std::abs(d);
  }
  m2 /= n;
  m3 /= n;
  m4 /= n;
  m->variance = m2;
  // IBSI 3.3.3 / 3.3.4: zero variance gives skewness and kurtosis 0.
  m->skewness = m2 > 0 ? m3 / std::pow(m2, 1.5) : 0.0;
  m->kurtosis = m2 > 0 ? m4 / (m2 * m2) - 3.0 : 0.0;
  m->mad = mad / n;
  m->min = x.front();
  m->max = x.back();
}

// The statistics of arbitrary (real) values in O(n): moments in two passes;
// order statistics without sorting: the values are bucketed by a monotone
// map onto 2^16 buckets over [min, max] (counted in the second pass), so the
// k-th smallest value lies in the bucket where the cumulative count passes
// k; one more pass copies out the few buckets holding a wanted rank, which
// are selected in (nth_element). The robust and median absolute deviations
// then take two passes. Extra memory: 0.75 MB of counts plus those buckets.
Moments ComputeMoments(const std::vector<double>& v) {
  Moments m;
  const size_t n = v.size();
  double sum = 0, energy = 0, lo = v[0], hi = v[0];  // locals stay in registers
  for (double x : v) {
    sum += x;
    energy += x * x;
    lo = std::min(lo, x);
    hi = std::max(hi, x);
  }
  m.min = lo;
  m.max = hi;
  m.mean = sum / n;
  m.energy = energy;
  // Second pass: central moments, and the bucket counts for the order
  // statistics (below): the values are bucketed by a monotone
  // non-decreasing map of [min, max] onto 2^16 buckets, so bucket order is
  // value order.
  constexpr size_t kBuckets = size_t{1} << 16;
  const bool spread = hi > lo;
  const double scale = spread ? kBuckets / (hi - lo) : 0.0;
  auto bucket = [&](double x) {
    return std::min(kBuckets - 1, static_cast<size_t>((x - lo) * scale));
  };
  std::vector<size_t> cum(spread ? kBuckets + 1 : 0, 0);
  double m2 = 0, m3 = 0, m4 = 0, mad = 0;
  for (double x : v) {
    double d = x - m.mean;
    m2 += d * d;
    m3 += d * d * d;
    m4 += d * d * d * d;
    mad += std::abs(d);
    if (spread) ++cum[bucket(x) + 1];
  }
  m2 /= n;
  m3 /= n;
  m4 /= n;
  m.variance = m2;
  // IBSI 3.3.3 / 3.3.4: zero variance gives skewness and kurtosis 0.
  m.skewness = m2 > 0 ? m3 / std::pow(m2, 1.5) : 0.0;
  m.kurtosis = m2 > 0 ? m4 / (m2 * m2) - 3.0 : 0.0;
  m.mad = mad / n;

  // Order statistics.
  if (!spread) {
    m.p10 = m.p25 = m.median = m.p75 = m.p90 = m.min;
  } else {
    for (size_t b = 0; b < kBuckets; ++b) cum[b + 1] += cum[b];
    auto bucket_of_rank = [&](size_t k) {
      return static_cast<size_t>(std::upper_bound(cum.begin(), cum.end(), k) - cum.begin()) - 1;
    };
    // The ranks each percentile reads (floor(pos) and the one above).
    std::vector<size_t> wanted;
    for (double p : kPercentiles) {
      size_t rank = static_cast<size_t>(std::floor(p * (n - 1)));
      wanted.push_back(bucket_of_rank(rank));
      if (rank + 1 < n) wanted.push_back(bucket_of_rank(rank + 1));
    }
    std::sort(wanted.begin(), wanted.end());
    wanted.erase(std::unique(wanted.begin(), wanted.end()), wanted.end());
    std::vector<int> slot(kBuckets, -1);
    for (size_t i = 0; i < wanted.size(); ++i) slot[wanted[i]] = static_cast<int>(i);
    std::vector<std::vector<double>> members(wanted.size());
    for (size_t i = 0; i < wanted.size(); ++i) members[i].reserve(cum[wanted[i] + 1] - cum[wanted[i]]);
    for (double x : v) {
      int s = slot[bucket(x)];
      if (s >= 0) members[s].push_back(x);
    }
    auto kth = [&](size_t k) {
      size_t b = bucket_of_rank(k);
      std::vector<double>& in = members[slot[b]];
      auto it = in.begin() + (k - cum[b]);
      std::nth_element(in.begin(), it, in.end());
      return *it;
    };
    double q[5];
    for (int i = 0; i < 5; ++i) q[i] = PercentileFromOrder(n, kPercentiles[i], kth);
    m.p10 = q[0];
    m.p25 = q[1];
    m.median = q[2];
    m.p75 = q[3];
    m.p90 = q[4];
  }
  // Robust MAD (IBSI 3.3.13): voxels with p10 <= x <= p90; median absolute
  // deviation (3.3.14).
  double rsum = 0, meddev = 0;
  size_t rn = 0;
  for (double x : v) {
    if (x >= m.p10 && x <= m.p90) {
      rsum += x;
      ++rn;
    }
    meddev += std::abs(x - m.median);
  }
  double rmean = rn ? rsum / rn : 0;
  double rdev = 0;
  for (double x : v) {
    if (x >= m.p10 && x <= m.p90) rdev += std::abs(x - rmean);
  }
  m.robust_mad = rn ? rdev / rn : 0;
  m.medad = meddev / n;
  return m;
}

// Largest |intensity| for which LocalIntensity sums in 32-bit integers.
constexpr float kMaxIntegralIntensity = 1 << 20;

double SafeDiv(double a, double b) {
  return b != 0 ? a / b : std::numeric_limits<double>::quiet_NaN();
}

}  // namespace

double Percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return std::numeric_limits<double>::quiet_NaN();
  double pos = p * (sorted.size() - 1);
  size_t lo = static_cast<size_t>(std::floor(pos));
  size_t hi = std::min(lo + 1, sorted.size() - 1);
  double frac = pos - lo;
  return sorted[lo] + frac * (sorted[hi] - sorted[lo]);
}

FeatureList IntensityStatistics(const std::vector<double>& values) {
  FeatureList out;
  if (values.empty()) return out;
  Moments m = ComputeMoments(values);
  const double energy = m.energy;  // IBSI 3.3.17
  const char* f = "stat";
  out.push_back(Make(f, "mean", "Q4LE", m.mean));
  out.push_back(Make(f, "variance", "ECT3", m.variance));
  out.push_back(Make(f, "skewness", "KE2A", m.skewness));
  out.push_back(Make(f, "kurtosis", "IPH6", m.kurtosis));
  out.push_back(Make(f, "median", "Y12H", m.median));
  out.push_back(Make(f, "minimum", "1GSF", m.min));
  out.push_back(Make(f, "p10", "QG58", m.p10));
  out.push_back(Make(f, "p90", "8DWT", m.p90));
  out.push_back(Make(f, "maximum", "84IY", m.max));
  out.push_back(Make(f, "interquartile_range", "SALO", m.p75 - m.p25));
  out.push_back(Make(f, "range", "2OJQ", m.max - m.min));
  out.push_back(Make(f, "mean_absolute_deviation", "4FUA", m.mad));
  out.push_back(Make(f, "robust_mean_absolute_deviation", "1128", m.robust_mad));
  out.push_back(Make(f, "median_absolute_deviation", "N72L", m.medad));
  out.push_back(Make(f, "coefficient_of_variation", "7TET",
                     SafeDiv(std::sqrt(m.variance), m.mean)));
  out.push_back(Make(f, "quartile_coefficient_of_dispersion", "9S40",
                     SafeDiv(m.p75 - m.p25, m.p75 + m.p25)));
  out.push_back(Make(f, "energy", "N8CA", energy));
  out.push_back(Make(f, "root_mean_square", "5ZWQ", std::sqrt(energy / values.size())));
  return out;
}

FeatureList IntensityHistogram(const std::vector<int>& levels, int num_levels) {
  FeatureList out;
  if (levels.empty() || num_levels < 1) return out;
  // Everything from counts of the integer levels: O(n + levels).
  int lmin = levels[0], lmax = levels[0];
  for (int l : levels) {
    lmin = std::min(lmin, l);
    lmax = std::max(lmax, l);
  }
  std::vector<double> count(static_cast<size_t>(lmax) - lmin + 1, 0.0);
  for (int l : levels) count[l - lmin] += 1;
  const double n = static_cast<double>(levels.size());
  std::vector<double> hist(num_levels + 1, 0.0);  // 1-based
  std::vector<double> x, c;  // distinct levels present and their counts
  for (int l = lmin; l <= lmax; ++l) {
    double k = count[l - lmin];
    if (k == 0) continue;
    x.push_back(l);
    c.push_back(k);
    if (l >= 1 && l <= num_levels) hist[l] = k;
  }
  Moments m;
  CountedMoments(x, c, n, &m);
  CountedOrderStatistics(x, c, n, &m);
  // Mode: the most frequent level; ties go to the level closest to the mean
  // (then the lower one).
  int mode = 1;
  for (int i = 1; i <= num_levels; ++i) {
    if (hist[i] > hist[mode] ||
        (hist[i] == hist[mode] &&
         std::abs(i - m.mean) < std::abs(mode - m.mean))) {
      mode = i;
    }
  }
  double entropy = 0, uniformity = 0;
  for (int i = 1; i <= num_levels; ++i) {
    double p = hist[i] / n;
    if (p > 0) entropy -= p * std::log2(p);
    uniformity += p * p;
  }
  // Histogram gradient (IBSI 3.4.20-23): one-sided at the ends, central
  // difference inside, over levels 1..Ng.
  double max_grad = -std::numeric_limits<double>::infinity();
  double min_grad = std::numeric_limits<double>::infinity();
  int max_grad_level = 1, min_grad_level = 1;
  for (int i = 1; i <= num_levels; ++i) {
    double g;
    if (num_levels == 1) {
      g = 0;
    } else if (i == 1) {
      g = hist[2] - hist[1];
    } else if (i == num_levels) {
      g = hist[i] - hist[i - 1];
    } else {
      g = (hist[i + 1] - hist[i - 1]) / 2.0;
    }
    if (g > max_grad) {
      max_grad = g;
      max_grad_level = i;
    }
    if (g < min_grad) {
      min_grad = g;
      min_grad_level = i;
    }
  }
  const char* f = "ih";
  out.push_back(Make(f, "mean", "X6K6", m.mean));
  out.push_back(Make(f, "variance", "CH89", m.variance));
  out.push_back(Make(f, "skewness", "88K1", m.skewness));
  out.push_back(Make(f, "kurtosis", "C3I7", m.kurtosis));
  out.push_back(Make(f, "median", "WIFQ", m.median));
  out.push_back(Make(f, "minimum", "1PR8", m.min));
  out.push_back(Make(f, "p10", "GPMT", m.p10));
  out.push_back(Make(f, "p90", "OZ0C", m.p90));
  out.push_back(Make(f, "maximum", "3NCY", m.max));
  out.push_back(Make(f, "mode", "AMMC", mode));
  out.push_back(Make(f, "interquartile_range", "WR0O", m.p75 - m.p25));
  out.push_back(Make(f, "range", "5Z3W", m.max - m.min));
  out.push_back(Make(f, "mean_absolute_deviation", "D2ZX", m.mad));
  out.push_back(Make(f, "robust_mean_absolute_deviation", "WRZB", m.robust_mad));
  out.push_back(Make(f, "median_absolute_deviation", "4RNL", m.medad));
  out.push_back(Make(f, "coefficient_of_variation", "CWYJ",
                     SafeDiv(std::sqrt(m.variance), m.mean)));
  out.push_back(Make(f, "quartile_coefficient_of_dispersion", "SLWD",
                     SafeDiv(m.p75 - m.p25, m.p75 + m.p25)));
  out.push_back(Make(f, "entropy", "TLU2", entropy));
  out.push_back(Make(f, "uniformity", "BJ5W", uniformity));
  out.push_back(Make(f, "maximum_gradient", "12CE", max_grad));
  out.push_back(Make(f, "maximum_gradient_intensity", "8E6O", max_grad_level));
  out.push_back(Make(f, "minimum_gradient", "VQB3", min_grad));
  out.push_back(Make(f, "minimum_gradient_intensity", "RHQZ", min_grad_level));
  return out;
}

FeatureList IntensityVolumeHistogram(const std::vector<double>& values,
                                     double grid_min, double grid_max,
                                     double step) {
  FeatureList out;
  if (values.empty() || step <= 0) return out;
  const double n = static_cast<double>(values.size());
  const long num = std::max<long>(1, std::lround((grid_max - grid_min) / step) + 1);
  auto level = [&](long k) { return grid_min + k * step; };
  // at_least[k]: number of voxels with intensity >= level k (a histogram on
  // the level grid, accumulated from the top; no sort needed).
  std::vector<double> at_least(num + 1, 0.0);
  for (double x : values) {
    double pos = std::floor((x - grid_min) / step + 1e-9);
    if (pos < 0) continue;  // below every level
    long k = pos >= num ? num - 1 : static_cast<long>(pos);
    at_least[k] += 1;
  }
  for (long k = num - 1; k >= 0; --k) at_least[k] += at_least[k + 1];
  // nu(i): fraction of voxels with intensity >= level i.
  auto nu = [&](long k) { return at_least[k] / n; };
  const double span = grid_max - grid_min;
  auto gamma = [&](long k) { return span > 0 ? (level(k) - grid_min) / span : 1.0; };
  // V_x (IBSI 3.5.1): the volume fraction at the lowest level whose intensity
  // fraction is at least x.
  auto volume_at = [&](double x) {
    for (long k = 0; k < num; ++k) {
      if (gamma(k) >= x - 1e-12) return nu(k);
    }
    return 0.0;
  };
  // I_x (IBSI 3.5.2): the lowest level whose volume fraction is at most x;
  // grid_max + step when no level qualifies.
  auto intensity_at = [&](double x) {
    for (long k = 0; k < num; ++k) {
      if (nu(k) <= x + 1e-12) return level(k);
    }
    return grid_max + step;
  };
  double v10 = volume_at(0.10), v90 = volume_at(0.90);
  double i10 = intensity_at(0.10), i90 = intensity_at(0.90);
  const char* f = "ivh";
  out.push_back(Make(f, "v10", "BC2M", v10));
  out.push_back(Make(f, "v90", "BC2M", v90));
  out.push_back(Make(f, "i10", "GBPN", i10));
  out.push_back(Make(f, "i90", "GBPN", i90));
  out.push_back(Make(f, "v10_minus_v90", "DDTU", v10 - v90));
  out.push_back(Make(f, "i10_minus_i90", "CNV2", i10 - i90));
  return out;
}

namespace {

// The local-intensity sphere as runs along x: for each (dy, dz), x offsets in
// [-rx, rx] (voxel centres within radius_mm of the centre voxel's centre).
struct Run {
  int dy, dz, rx;
};
struct Sphere {
  std::vector<Run> runs;
  int max_rx = 0;
  int my = 0, mz = 0;  // the largest |dy|, |dz|
};

Sphere SphereRuns(const Geometry& g, double radius_mm) {
  const double sx = g.spacing[0], sy = g.spacing[1], sz = g.spacing[2];
  Sphere sphere;
  const double r2 = radius_mm * radius_mm;
  const int my = static_cast<int>(std::floor(radius_mm / sy));
  const int mz = static_cast<int>(std::floor(radius_mm / sz));
  sphere.my = my;
  sphere.mz = mz;
  for (int dz = -mz; dz <= mz; ++dz) {
    for (int dy = -my; dy <= my; ++dy) {
      double rest = r2 - (dy * sy) * (dy * sy) - (dz * sz) * (dz * sz);
      if (rest < 0) continue;
      int rx = static_cast<int>(std::floor(std::sqrt(rest) / sx + 1e-9));
      while (rx > 0 && (rx * sx) * (rx * sx) > rest * (1 + 1e-12)) --rx;
      sphere.runs.push_back({dy, dz, rx});
      sphere.max_rx = std::max(sphere.max_rx, rx);
    }
  }
  return sphere;
}

// ROI voxels as row segments [x0, x1] of rows (y, z); `first` is the
// position of the segment's first voxel in the per-ROI-voxel arrays.
struct Segment {
  int y, z, x0, x1;
  size_t first;
};
struct RoiRows {
  std::vector<Segment> segments;
  size_t n_roi = 0;
  double max_intensity = -std::numeric_limits<double>::infinity();
};

RoiRows RoiSegments(const ImageVolume& image, const std::vector<uint8_t>& roi) {
  const Geometry& g = image.geometry;
  const int nx = g.size[0], ny = g.size[1], nz = g.size[2];
  RoiRows rows;
  for (int z = 0; z < nz; ++z) {
    for (int y = 0; y < ny; ++y) {
      const uint8_t* m = &roi[g.Index(0, y, z)];
      for (int x = 0; x < nx;) {
        if (!m[x]) {
          ++x;
          continue;
        }
        int x1 = x;
        while (x1 + 1 < nx && m[x1 + 1]) ++x1;
        rows.segments.push_back({y, z, x, x1, rows.n_roi});
        const float* v = &image.voxels[g.Index(0, y, z)];
        float row_max = v[x];
        for (int k = x + 1; k <= x1; ++k) row_max = std::max(row_max, v[k]);
        rows.max_intensity = std::max<double>(rows.max_intensity, row_max);
        rows.n_roi += x1 - x + 1;
        x = x1 + 1;
      }
    }
  }
  return rows;
}

// The sum over the sphere of every ROI voxel, into sum[first + x - x0].
// T is uint32_t (wrapping, exact for |sums| < 2^31) or double.
template <typename T>
void SphereSums(const ImageVolume& image, const Sphere& sphere, const RoiRows& rows,
                std::vector<double>& sum) {
  const Geometry& g = image.geometry;
  const int nx = g.size[0], ny = g.size[1], nz = g.size[2];
  // Row prefix sums P(x) = sum of row[0..x-1], extended by `pad` on both
  // sides with P(x) = 0 for x < 0 and P(x) = P(nx) for x > nx, so a box
  // sum clamped at the row ends is P(x+rx+1) - P(x-rx) with no branches.
  const int pad = sphere.max_rx;
  const size_t stride = static_cast<size_t>(nx) + 1 + 2 * pad;
  std::vector<T> prefix(stride * ny * nz);
  auto row_prefix = [&](int y, int z) {  // points at P(0) of row (y, z)
    return &prefix[(static_cast<size_t>(z) * ny + y) * stride + pad];
  };
  for (int z = 0; z < nz; ++z) {
    for (int y = 0; y < ny; ++y) {
      const float* row = &image.voxels[g.Index(0, y, z)];
      T* p = row_prefix(y, z);
      for (int x = -pad; x <= 0; ++x) p[x] = 0;
      for (int x = 0; x < nx; ++x) {
        if constexpr (std::is_same_v<T, double>) {
          p[x + 1] = p[x] + row[x];
        } else {
          p[x + 1] = p[x] + static_cast<T>(static_cast<int32_t>(row[x]));
        }
      }
      for (int x = nx + 1; x <= nx + pad; ++x) p[x] = p[nx];
    }
  }
  std::vector<T> acc_row(nx + 1);
  std::vector<const T*> hi, lo;  // per run inside the image: P(x0+rx+1), P(x0-rx)
  for (const Segment& s : rows.segments) {
    hi.clear();
    lo.clear();
    for (const Run& r : sphere.runs) {
      int yy = s.y + r.dy, zz = s.z + r.dz;
      if (yy < 0 || yy >= ny || zz < 0 || zz >= nz) continue;
      const T* p = row_prefix(yy, zz);
      hi.push_back(p + s.x0 + r.rx + 1);
      lo.push_back(p + s.x0 - r.rx);
    }
    T* acc = acc_row.data();
    const int len = s.x1 - s.x0 + 1;
    std::fill(acc, acc + len, T(0));
    // Runs four at a time, added in run order (so double sums round as
    // one run after another would).
    size_t k = 0;
    for (; k + 4 <= hi.size(); k += 4) {
      const T *h0 = hi[k], *h1 = hi[k + 1], *h2 = hi[k + 2], *h3 = hi[k + 3];
      const T *l0 = lo[k], *l1 = lo[k + 1], *l2 = lo[k + 2], *l3 = lo[k + 3];
      for (int i = 0; i < len; ++i) {
        T a = acc[i];
        a += h0[i] - l0[i];
        a += h1[i] - l1[i];
        a += h2[i] - l2[i];
        a += h3[i] - l3[i];
        acc[i] = a;
      }
    }
    for (; k < hi.size(); ++k) {
      const T *h = hi[k], *l = lo[k];
      for (int i = 0; i < len; ++i) acc[i] += h[i] - l[i];
    }
    for (int i = 0; i < len; ++i) {
      if constexpr (std::is_same_v<T, double>) {
        sum[s.first + i] = acc[i];
      } else {
        sum[s.first + i] = static_cast<int32_t>(acc[i]);
      }
    }
  }
}

}  // namespace

FeatureList LocalIntensity(const ImageVolume& image,
                           const std::vector<uint8_t>& roi, double radius_mm) {
  FeatureList out;
  const Geometry& g = image.geometry;
  const int nx = g.size[0], ny = g.size[1], nz = g.size[2];
  const Sphere sphere = SphereRuns(g, radius_mm);
  const std::vector<Run>& runs = sphere.runs;
  const int max_rx = sphere.max_rx, my = sphere.my, mz = sphere.mz;
  const RoiRows rows = RoiSegments(image, roi);
  const double max_intensity = rows.max_intensity;
  if (rows.n_roi == 0) return out;
  // Sum over the sphere = sum over runs of the x-box sum of half-width rx in
  // row (y+dy, z+dz), read from per-row prefix sums: each run adds
  // P[x+rx+1] - P[x-rx] (clamped at the row ends) to every ROI segment.
  // Integer-valued images (CT in HU after rounding) use 32-bit integer sums:
  // exact, and twice as many lanes per vector instruction as doubles.
  bool integral = true;
  for (float v : image.voxels) {
    if (!(std::abs(v) <= kMaxIntegralIntensity) ||
        static_cast<float>(static_cast<int32_t>(v)) != v) {
      integral = false;
      break;
    }
  }
  std::vector<double> sum(rows.n_roi, 0.0);
  if (integral && static_cast<double>(kMaxIntegralIntensity) * (2 * max_rx + 1) * runs.size() <
                      2147483647.0) {
    SphereSums<uint32_t>(image, sphere, rows, sum);
  } else {
    SphereSums<double>(image, sphere, rows, sum);
  }
  // Voxel counts: the full sphere away from the image border, else counted.
  long full = 0;
  for (const Run& r : runs) full += 2 * r.rx + 1;
  double local = -std::numeric_limits<double>::infinity();
  double global = -std::numeric_limits<double>::infinity();
  for (const Segment& s : rows.segments) {
    bool row_inside = s.y - my >= 0 && s.y + my < ny && s.z - mz >= 0 && s.z + mz < nz;
    const double* seg_sum = &sum[s.first];  // seg_sum[x - s.x0]
    int a = s.x0, b = s.x0;  // [a, b): the whole sphere is inside the image
    if (row_inside) {
      a = std::max(s.x0, max_rx);
      b = std::max(a, std::min(s.x1 + 1, nx - max_rx));
    }
    // Inside, every count is `full`: dividing by a positive constant is
    // monotone, so the largest mean is the largest sum divided once.
    if (a < b) {
      double best = seg_sum[a - s.x0];
      for (int x = a + 1; x < b; ++x) best = std::max(best, seg_sum[x - s.x0]);
      global = std::max(global, best / full);
    }
    const float* value = &image.voxels[g.Index(0, s.y, s.z)];
    for (int x = s.x0; x <= s.x1; ++x) {
      const bool inside = x >= a && x < b;
      if (inside && value[x] != max_intensity) continue;
      long count = full;
      if (!inside) {
        count = 0;
        for (const Run& r : runs) {
          int yy = s.y + r.dy, zz = s.z + r.dz;
          if (yy < 0 || yy >= ny || zz < 0 || zz >= nz) continue;
          count += std::min(nx - 1, x + r.rx) - std::max(0, x - r.rx) + 1;
        }
      }
      double mean = seg_sum[x - s.x0] / count;
      global = std::max(global, mean);
      if (value[x] == max_intensity) local = std::max(local, mean);
    }
  }
  out.push_back(Make("loc", "peak_local", "VJGA", local));
  out.push_back(Make("loc", "peak_global", "0F91", global));
  return out;
}

}  // namespace fedrad::features
