#include "models/descriptive.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace fedrad::models {

ColumnMoments ComputeMoments(const std::vector<double>& values) {
  ColumnMoments m;
  double sum = 0.0;
  for (double v : values) {
    if (std::isnan(v)) {
      ++m.n_missing;
      continue;
    }
    ++m.n;
    sum += v;
    if (v == 1.0) ++m.count_one;
    if (v != 0.0 && v != 1.0) m.binary = false;
    if (v != std::floor(v)) m.integer = false;
  }
  if (m.n == 0) {
    m.binary = false;
    m.integer = false;
    return m;
  }
  m.mean = sum / static_cast<double>(m.n);
  double m2 = 0.0;
  double correction = 0.0;
  for (double v : values) {
    if (std::isnan(v)) continue;
    double d = v - m.mean;
    m2 += d * d;
    correction += d;
  }
  // Corrected two-pass algorithm (Chan, Golub & LeVeque 1983, eq. 1.7).
  m.m2 = m2 - correction * correction / static_cast<double>(m.n);
  if (m.m2 < 0) m.m2 = 0;
  return m;
}

ColumnMoments CombineMoments(const std::vector<ColumnMoments>& parts) {
  ColumnMoments out;
  bool any_values = false;
  for (const ColumnMoments& p : parts) {
    out.n_missing += p.n_missing;
    if (p.n == 0) continue;
    out.binary = (any_values ? out.binary : true) && p.binary;
    out.integer = (any_values ? out.integer : true) && p.integer;
    any_values = true;
    out.count_one += p.count_one;
    if (out.n == 0) {
      out.n = p.n;
      out.mean = p.mean;
      out.m2 = p.m2;
      continue;
    }
    // Pairwise update (Chan, Golub & LeVeque 1979).
    double na = static_cast<double>(out.n), nb = static_cast<double>(p.n);
    double delta = p.mean - out.mean;
    double n = na + nb;
    out.mean = out.mean + delta * nb / n;
    out.m2 = out.m2 + p.m2 + delta * delta * na * nb / n;
    out.n += p.n;
  }
  if (!any_values) {
    out.binary = false;
    out.integer = false;
  }
  return out;
}

double StandardDeviation(const ColumnMoments& m) {
  if (m.n < 2) return std::numeric_limits<double>::quiet_NaN();
  return std::sqrt(m.m2 / static_cast<double>(m.n - 1));
}

std::vector<int64_t> CountAtOrBelow(const std::vector<double>& values,
                                    const std::vector<double>& thresholds) {
  std::vector<double> sorted;
  sorted.reserve(values.size());
  for (double v : values) {
    if (!std::isnan(v)) sorted.push_back(v);
  }
  std::sort(sorted.begin(), sorted.end());
  std::vector<int64_t> counts;
  counts.reserve(thresholds.size());
  for (double t : thresholds) {
    counts.push_back(std::upper_bound(sorted.begin(), sorted.end(), t) - sorted.begin());
  }
  return counts;
}

QuantileSearch::QuantileSearch(const ColumnMoments& pooled, std::vector<double> probabilities,
                               const Options& options)
    : n_(pooled.n), sd_(StandardDeviation(pooled)), options_(options) {
  if (options_.splits < 2) options_.splits = 2;
  for (double p : probabilities) {
    Target t;
    t.p = p;
    t.estimate.probability = p;
    targets_.push_back(t);
  }
  double nan = std::numeric_limits<double>::quiet_NaN();
  for (Target& t : targets_) {
    if (n_ == 0) {
      Finish(t, nan, nan);
      t.estimate.bracket_low = t.estimate.bracket_high = nan;
    } else if (!(sd_ > 0)) {
      // One value, or a constant column: every quantile is the mean, which is
      // released anyway.
      Finish(t, pooled.mean, 0.0);
      t.estimate.bracket_low = t.estimate.bracket_high = pooled.mean;
    } else {
      t.lo = pooled.mean - 6 * sd_;
      t.hi = pooled.mean + 6 * sd_;
    }
  }
  PlanRound();
}

void QuantileSearch::Finish(Target& t, double value, double rank_error) {
  t.done = true;
  t.estimate.value = value;
  t.estimate.bracket_low = t.lo;
  t.estimate.bracket_high = t.hi;
  t.estimate.rank_error = rank_error;
}

void QuantileSearch::PlanRound() {
  thresholds_.clear();
  for (const Target& t : targets_) {
    if (t.done) continue;
    for (int j = 0; j <= options_.splits; ++j) {
      thresholds_.push_back(t.lo + (t.hi - t.lo) * j / options_.splits);
    }
  }
  std::sort(thresholds_.begin(), thresholds_.end());
  thresholds_.erase(std::unique(thresholds_.begin(), thresholds_.end()), thresholds_.end());
  done_ = thresholds_.empty();
}

void QuantileSearch::Update(const std::vector<int64_t>& counts) {
  if (done_ || counts.size() != thresholds_.size()) return;
  ++rounds_;
  auto count_at = [&](double x) {
    auto it = std::lower_bound(thresholds_.begin(), thresholds_.end(), x);
    return counts[it - thresholds_.begin()];
  };
  const double n = static_cast<double>(n_);
  for (Target& t : targets_) {
    if (t.done) continue;
    const double rank = t.p * n;
    const double width = t.hi - t.lo;
    int64_t c_lo = count_at(t.lo), c_hi = count_at(t.hi);
    // Widen a bracket that does not contain the quantile.
    if (static_cast<double>(c_lo) >= rank && c_lo > 0) {
      t.hi = t.lo;
      t.lo = t.lo - 2 * width;
      if (rounds_ >= options_.max_rounds) Finish(t, 0.5 * (t.lo + t.hi), 1.0);
      continue;
    }
    if (static_cast<double>(c_hi) < rank) {
      t.lo = t.hi;
      t.hi = t.hi + 2 * width;
      if (rounds_ >= options_.max_rounds) Finish(t, 0.5 * (t.lo + t.hi), 1.0);
      continue;
    }
    // The threshold whose rank is closest to the target.
    double best_value = 0, best_error = std::numeric_limits<double>::infinity();
    std::vector<double> grid(options_.splits + 1);
    for (int j = 0; j <= options_.splits; ++j) {
      grid[j] = t.lo + width * j / options_.splits;
      double err = std::abs(static_cast<double>(count_at(grid[j])) - rank);
      if (err < best_error) {
        best_error = err;
        best_value = grid[j];
      }
    }
    if (best_error <= options_.rank_error * n) {
      // Keep the bracket around the estimate for the record.
      Finish(t, best_value, best_error / n);
      continue;
    }
    // Narrow to the first sub-interval whose upper end reaches the rank.
    int j = 1;
    while (j < options_.splits && static_cast<double>(count_at(grid[j])) < rank) ++j;
    t.lo = grid[j - 1];
    t.hi = grid[j];
    double err_lo = std::abs(static_cast<double>(count_at(t.lo)) - rank);
    double err_hi = std::abs(static_cast<double>(count_at(t.hi)) - rank);
    if (t.hi - t.lo < options_.min_width_sd * sd_ || rounds_ >= options_.max_rounds) {
      Finish(t, 0.5 * (t.lo + t.hi), std::max(err_lo, err_hi) / n);
    }
  }
  PlanRound();
}

std::vector<QuantileEstimate> QuantileSearch::Estimates() const {
  std::vector<QuantileEstimate> out;
  for (const Target& t : targets_) out.push_back(t.estimate);
  return out;
}

std::vector<QuantileEstimate> PooledQuantiles(const std::vector<double>& values,
                                              const std::vector<double>& probabilities,
                                              const QuantileSearch::Options& options) {
  QuantileSearch search(ComputeMoments(values), probabilities, options);
  while (!search.done()) {
    search.Update(CountAtOrBelow(values, search.NextThresholds()));
  }
  return search.Estimates();
}

// ---- Site-fixed grids --------------------------------------------------------

namespace {

constexpr int kMinExponent = -101;  // 100e-101 = 1e-99
constexpr int kMaxExponent = 97;    // 999e97 = 9.99e99

// m·10^e, computed the same way everywhere (division by an exact power of
// ten for e < 0, so that 0.123 is the double nearest 0.123).
double LatticePoint(int m, int e) {
  return e >= 0 ? m * std::pow(10.0, e) : m / std::pow(10.0, -e);
}
void Up(int& m, int& e) {
  if (++m == 1000) {
    m = 100;
    ++e;
  }
}
void Down(int& m, int& e) {
  if (--m == 99) {
    m = 999;
    --e;
  }
}

// Smallest positive lattice point >= y (y > 0).
double CeilPositive(double y) {
  if (y > LatticePoint(999, kMaxExponent)) return std::numeric_limits<double>::infinity();
  if (y <= LatticePoint(100, kMinExponent)) return LatticePoint(100, kMinExponent);
  int e = static_cast<int>(std::floor(std::log10(y))) - 2;
  e = std::clamp(e, kMinExponent, kMaxExponent);
  int m = static_cast<int>(std::clamp(std::ceil(y / LatticePoint(1, e)), 100.0, 999.0));
  while (LatticePoint(m, e) < y) Up(m, e);
  while (true) {
    int pm = m, pe = e;
    Down(pm, pe);
    if (pe < kMinExponent || LatticePoint(pm, pe) < y) break;
    m = pm;
    e = pe;
  }
  return LatticePoint(m, e);
}

// Largest positive lattice point <= y (y > 0), or 0 below the lattice.
double FloorPositive(double y) {
  if (y >= LatticePoint(999, kMaxExponent)) return LatticePoint(999, kMaxExponent);
  if (y < LatticePoint(100, kMinExponent)) return 0.0;
  int e = static_cast<int>(std::floor(std::log10(y))) - 2;
  e = std::clamp(e, kMinExponent, kMaxExponent);
  int m = static_cast<int>(std::clamp(std::floor(y / LatticePoint(1, e)), 100.0, 999.0));
  while (LatticePoint(m, e) > y) Down(m, e);
  while (true) {
    int nm = m, ne = e;
    Up(nm, ne);
    if (ne > kMaxExponent || LatticePoint(nm, ne) > y) break;
    m = nm;
    e = ne;
  }
  return LatticePoint(m, e);
}

// A part's CDF as knots (x, count), x non-decreasing; equal x = a jump.
std::vector<std::pair<double, double>> Knots(const GridPart& part) {
  const GridCounts& g = part.grid;
  const double n = static_cast<double>(g.n);
  std::vector<std::pair<double, double>> k;
  if (g.n == 0) return k;
  const size_t m = g.points.size();
  const bool spread = std::isfinite(part.sd) && part.sd > 0 && std::isfinite(part.mean);
  if (m >= 2) {
    const double c1 = static_cast<double>(g.counts[0]), c2 = static_cast<double>(g.counts[1]);
    const double cm = static_cast<double>(g.counts[m - 1]),
                 cm1 = static_cast<double>(g.counts[m - 2]);
    const double a = g.points[0] - (g.points[1] - g.points[0]) * c1 / (c2 - c1);
    const double b = g.points[m - 1] + (g.points[m - 1] - g.points[m - 2]) * (n - cm) / (cm - cm1);
    k.emplace_back(a, 0.0);
    for (size_t i = 0; i < m; ++i) k.emplace_back(g.points[i], static_cast<double>(g.counts[i]));
    k.emplace_back(b, n);
  } else if (m == 1) {
    const double a = spread ? std::min(g.points[0], part.mean - std::sqrt(3.0) * part.sd) : g.points[0];
    const double b = spread ? std::max(g.points[0], part.mean + std::sqrt(3.0) * part.sd) : g.points[0];
    k.emplace_back(a, 0.0);
    k.emplace_back(g.points[0], static_cast<double>(g.counts[0]));
    k.emplace_back(b, n);
  } else if (std::isfinite(part.mean)) {
    const double h = spread ? std::sqrt(3.0) * part.sd : 0.0;
    k.emplace_back(part.mean - h, 0.0);
    k.emplace_back(part.mean + h, n);
  }
  return k;
}

// The interpolated CDF of one part at x (right-continuous).
double KnotCdf(const std::vector<std::pair<double, double>>& k, double x) {
  if (k.empty() || x < k.front().first) return 0.0;
  if (x >= k.back().first) return k.back().second;
  // The last knot at or below x, then the next one strictly above.
  size_t i = 0;
  while (i + 1 < k.size() && k[i + 1].first <= x) ++i;
  const auto& [x0, y0] = k[i];
  const auto& [x1, y1] = k[i + 1];
  return y0 + (y1 - y0) * (x - x0) / (x1 - x0);
}

}  // namespace

double LatticeCeil(double x) {
  if (std::isnan(x)) return x;
  if (x == 0.0) return 0.0;
  if (x > 0) return CeilPositive(x);
  const double f = FloorPositive(-x);
  return f == 0.0 ? 0.0 : -f;
}

int64_t GridStep(int64_t n, int64_t k, double fraction, int64_t max_points) {
  if (!(fraction > 0)) fraction = 0.0;
  fraction = std::min(fraction, 0.25);
  int64_t step = std::max<int64_t>(k, 1);
  step = std::max(step, static_cast<int64_t>(std::ceil(fraction * static_cast<double>(n))));
  if (max_points > 0) step = std::max(step, (n + max_points - 1) / max_points);
  return step;
}

GridCounts SiteGridCounts(const std::vector<double>& values, int64_t step) {
  step = std::max<int64_t>(step, 1);
  std::vector<double> sorted;
  sorted.reserve(values.size());
  for (double v : values) {
    if (!std::isnan(v)) sorted.push_back(v);
  }
  std::sort(sorted.begin(), sorted.end());
  GridCounts out;
  out.n = static_cast<int64_t>(sorted.size());
  if (out.n < 2 * step) return out;
  int64_t last = 0;
  size_t i = 0;
  while (i < sorted.size()) {
    const double cell = LatticeCeil(sorted[i]);  // >= sorted[i]
    size_t j = i;
    while (j < sorted.size() && sorted[j] <= cell) ++j;
    const int64_t count = static_cast<int64_t>(j);
    if (count - last >= step) {
      out.points.push_back(cell);
      out.counts.push_back(count);
      last = count;
    }
    i = j;
  }
  // At least `step` values above the last point: the maximum is never
  // isolated (dropping one point suffices, its step being >= step).
  while (!out.counts.empty() && out.n - out.counts.back() < step) {
    out.points.pop_back();
    out.counts.pop_back();
  }
  return out;
}

std::vector<QuantileEstimate> GridQuantiles(const std::vector<GridPart>& parts,
                                            const std::vector<double>& probabilities) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  double total = 0;
  std::vector<std::vector<std::pair<double, double>>> knots;
  std::vector<double> xs, released;
  bool any = false, integer = true;  // every part with values is integer-valued
  for (const GridPart& p : parts) {
    if (p.grid.n > 0) {
      any = true;
      integer = integer && p.integer;
    }
    knots.push_back(Knots(p));
    if (!knots.back().empty()) total += static_cast<double>(p.grid.n);
    for (const auto& [x, y] : knots.back()) xs.push_back(x);
    released.insert(released.end(), p.grid.points.begin(), p.grid.points.end());
  }
  integer = any && integer;
  std::sort(xs.begin(), xs.end());
  xs.erase(std::unique(xs.begin(), xs.end()), xs.end());
  std::sort(released.begin(), released.end());
  released.erase(std::unique(released.begin(), released.end()), released.end());
  auto cdf = [&](double x) {
    double c = 0;
    for (const auto& k : knots) c += KnotCdf(k, x);
    return c;
  };
  // Certain bounds on the true count at or below x, from released counts only.
  auto bounds = [&](double x, double* lower, double* upper) {
    *lower = *upper = 0;
    for (size_t s = 0; s < parts.size(); ++s) {
      if (knots[s].empty()) continue;
      const GridCounts& g = parts[s].grid;
      auto hi = std::lower_bound(g.points.begin(), g.points.end(), x);  // first >= x
      auto lo = std::upper_bound(g.points.begin(), g.points.end(), x);  // first > x
      *lower += lo == g.points.begin() ? 0.0 : static_cast<double>(g.counts[lo - g.points.begin() - 1]);
      *upper += hi == g.points.end() ? static_cast<double>(g.n)
                                     : static_cast<double>(g.counts[hi - g.points.begin()]);
    }
  };
  std::vector<QuantileEstimate> out;
  for (double p : probabilities) {
    QuantileEstimate e;
    e.probability = p;
    if (total <= 0 || xs.empty()) {
      e.value = e.bracket_low = e.bracket_high = e.rank_error = nan;
      out.push_back(e);
      continue;
    }
    const double r = p * total;
    size_t j = 0;
    while (j < xs.size() && cdf(xs[j]) < r) ++j;
    if (j == xs.size()) j = xs.size() - 1;
    if (j == 0) {
      e.value = xs[0];
    } else {
      const double f0 = cdf(xs[j - 1]);
      const double left = cdf(std::nextafter(xs[j], -std::numeric_limits<double>::infinity()));
      e.value = left >= r && left > f0
                    ? xs[j - 1] + (r - f0) / (left - f0) * (xs[j] - xs[j - 1])
                    : xs[j];  // a jump at xs[j] crosses the rank
    }
    double lower, upper;
    bounds(e.value, &lower, &upper);
    e.rank_error = std::max(std::abs(lower - r), std::abs(upper - r)) / total;
    e.bracket_low = e.bracket_high = nan;
    for (double x : released) {
      bounds(x, &lower, &upper);
      if (upper < r) e.bracket_low = x;
      if (lower >= r && std::isnan(e.bracket_high)) e.bracket_high = x;
    }
    if (integer) {
      // Whole-number data: the interpolation spreads tied values over the
      // step below their point; the quantile is a whole number at or below
      // the first released point that certainly reaches the rank.
      if (std::isnan(e.bracket_low) && std::isfinite(e.bracket_high)) {
        e.value = e.bracket_high;
      } else {
        e.value = std::ceil(e.value - 1e-9);
        if (std::isfinite(e.bracket_high)) e.value = std::min(e.value, e.bracket_high);
      }
      bounds(e.value, &lower, &upper);
      e.rank_error = std::max(std::abs(lower - r), std::abs(upper - r)) / total;
    }
    out.push_back(e);
  }
  return out;
}

}  // namespace fedrad::models
