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
  }
  if (m.n == 0) {
    m.binary = false;
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
  if (!any_values) out.binary = false;
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

}  // namespace fedrad::models
