#include "models/curves.h"

#include <algorithm>
#include <boost/math/distributions/normal.hpp>
#include <cmath>
#include <limits>
#include <numeric>

#include "absl/strings/str_cat.h"
#include "core/status.h"
#include "models/internal/math_policy.h"
#include "models/metrics.h"

namespace fedrad::models {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// The standard normal quantile for a two-sided level: z_{(1 + level) / 2}
// (Boost.Math's normal_distribution quantile, as R's qnorm); +infinity at
// level 1, NaN beyond.
double ZFor(double level) {
  const boost::math::normal_distribution<double, models_internal::NoThrowPolicy> normal;
  return boost::math::quantile(normal, 0.5 + level / 2);
}

}  // namespace

int CalibrationBinCount(int64_t n, int min_cell_count, int max_bins) {
  if (min_cell_count < 1 || max_bins < 1 || n < min_cell_count) return 0;
  return static_cast<int>(std::min<int64_t>(max_bins, n / min_cell_count));
}

std::vector<std::vector<int>> EqualCountBins(const std::vector<double>& risk, int bins) {
  std::vector<std::vector<int>> out;
  const int n = static_cast<int>(risk.size());
  if (bins <= 0 || n == 0) return out;
  bins = std::min(bins, n);
  std::vector<int> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](int a, int b) { return risk[static_cast<size_t>(a)] < risk[static_cast<size_t>(b)]; });
  const int base = n / bins, extra = n % bins;
  int pos = 0;
  for (int b = 0; b < bins; ++b) {
    const int size = base + (b < extra ? 1 : 0);
    out.emplace_back(order.begin() + pos, order.begin() + pos + size);
    pos += size;
  }
  return out;
}

KaplanMeierEstimate KaplanMeierWithGreenwood(const std::vector<double>& time,
                                             const std::vector<int>& status, double t) {
  KaplanMeierEstimate km;
  std::vector<size_t> order(time.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return time[a] < time[b]; });
  size_t i = 0;
  double at_risk = static_cast<double>(time.size());
  while (i < order.size() && time[order[i]] <= t) {
    const double ti = time[order[i]];
    double d = 0, leaving = 0;
    while (i < order.size() && time[order[i]] == ti) {
      d += status[order[i]] != 0;
      leaving += 1;
      ++i;
    }
    if (d > 0) {
      km.survival *= 1 - d / at_risk;
      km.greenwood += at_risk > d ? d / (at_risk * (at_risk - d))
                                  : std::numeric_limits<double>::infinity();
    }
    at_risk -= leaving;
  }
  return km;
}

void WilsonInterval(double x, double n, double z, double* low, double* high) {
  const double p = x / n, z2 = z * z;
  const double center = (p + z2 / (2 * n)) / (1 + z2 / n);
  const double half = z / (1 + z2 / n) * std::sqrt(p * (1 - p) / n + z2 / (4 * n * n));
  *low = std::max(0.0, center - half);
  *high = std::min(1.0, center + half);
}

absl::StatusOr<CalibrationCurve> SurvivalCalibration(const std::vector<double>& time,
                                                     const std::vector<int>& status,
                                                     const std::vector<double>& risk_at_t,
                                                     double t, int min_cell_count, int max_bins,
                                                     double level) {
  if (time.size() != status.size() || time.size() != risk_at_t.size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "calibration: ", time.size(), " times, ", status.size(), " statuses and ",
        risk_at_t.size(), " predicted risks"));
  }
  CalibrationCurve out;
  const int bins = CalibrationBinCount(static_cast<int64_t>(time.size()), min_cell_count, max_bins);
  if (bins == 0) {
    out.suppressed = true;
    return out;
  }
  const double z = ZFor(level);
  for (const std::vector<int>& bin : EqualCountBins(risk_at_t, bins)) {
    std::vector<double> bt;
    std::vector<int> bs;
    double sum = 0;
    for (int i : bin) {
      bt.push_back(time[static_cast<size_t>(i)]);
      bs.push_back(status[static_cast<size_t>(i)]);
      sum += risk_at_t[static_cast<size_t>(i)];
    }
    const KaplanMeierEstimate km = KaplanMeierWithGreenwood(bt, bs, t);
    out.predicted.push_back(sum / static_cast<double>(bin.size()));
    out.observed.push_back(1 - km.survival);
    double s_low = kNaN, s_high = kNaN;
    if (km.survival > 0 && std::isfinite(km.greenwood)) {
      const double se = std::sqrt(km.greenwood);
      s_low = km.survival * std::exp(-z * se);
      s_high = std::min(1.0, km.survival * std::exp(z * se));
    }
    out.ci_low.push_back(1 - s_high);
    out.ci_high.push_back(1 - s_low);
    out.n.push_back(static_cast<int64_t>(bin.size()));
  }
  return out;
}

absl::StatusOr<CalibrationCurve> BinaryCalibration(const std::vector<double>& y,
                                                   const std::vector<double>& p,
                                                   int min_cell_count, int max_bins,
                                                   double level) {
  if (y.size() != p.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("calibration: ", y.size(), " outcomes and ", p.size(), " probabilities"));
  }
  for (double v : y) {
    if (v != 0.0 && v != 1.0) return absl::InvalidArgumentError("calibration: y must be 0 or 1");
  }
  CalibrationCurve out;
  const int bins = CalibrationBinCount(static_cast<int64_t>(y.size()), min_cell_count, max_bins);
  if (bins == 0) {
    out.suppressed = true;
    return out;
  }
  const double z = ZFor(level);
  for (const std::vector<int>& bin : EqualCountBins(p, bins)) {
    double sum_p = 0, events = 0;
    for (int i : bin) {
      sum_p += p[static_cast<size_t>(i)];
      events += y[static_cast<size_t>(i)];
    }
    const double n = static_cast<double>(bin.size());
    double low = 0, high = 0;
    WilsonInterval(events, n, z, &low, &high);
    out.predicted.push_back(sum_p / n);
    out.observed.push_back(events / n);
    out.ci_low.push_back(low);
    out.ci_high.push_back(high);
    out.n.push_back(static_cast<int64_t>(bin.size()));
  }
  return out;
}

absl::StatusOr<std::vector<RiskGroupCurve>> RiskGroupCurves(const std::vector<double>& time,
                                                            const std::vector<int>& status,
                                                            const std::vector<double>& lp,
                                                            const std::vector<double>& cuts,
                                                            const std::vector<double>& grid,
                                                            int min_cell_count) {
  if (time.size() != status.size() || time.size() != lp.size()) {
    return absl::InvalidArgumentError(absl::StrCat("risk groups: ", time.size(), " times, ",
                                                   status.size(), " statuses and ", lp.size(),
                                                   " linear predictors"));
  }
  if (cuts.size() != 2 || !std::isfinite(cuts[0]) || !std::isfinite(cuts[1]) ||
      !(cuts[0] <= cuts[1])) {
    return absl::InvalidArgumentError("risk groups need two finite cut-points c1 <= c2");
  }
  const char* const labels[] = {"low risk", "intermediate risk", "high risk"};
  std::vector<RiskGroupCurve> out(3);
  std::vector<std::vector<int>> rows(3);
  for (size_t i = 0; i < lp.size(); ++i) {
    const int g = lp[i] <= cuts[0] ? 0 : lp[i] <= cuts[1] ? 1 : 2;
    rows[static_cast<size_t>(g)].push_back(static_cast<int>(i));
  }
  // A group of 1..k-1 patients suppresses all three: with n released, the
  // other groups' sizes would give its size away.
  bool any_small = false;
  for (const auto& r : rows) {
    if (!r.empty() && static_cast<int64_t>(r.size()) < min_cell_count) any_small = true;
  }
  for (size_t g = 0; g < 3; ++g) {
    RiskGroupCurve& c = out[g];
    c.label = labels[g];
    c.n = static_cast<int64_t>(rows[g].size());
    if (any_small || c.n == 0 || c.n < min_cell_count) {
      c.suppressed = true;
      continue;
    }
    c.rows = rows[g];
    std::vector<double> gt;
    std::vector<int> gs;
    for (int i : rows[g]) {
      gt.push_back(time[static_cast<size_t>(i)]);
      gs.push_back(status[static_cast<size_t>(i)]);
    }
    int64_t events = 0;
    for (int s : gs) events += s != 0;
    if (events >= min_cell_count && c.n - events >= min_cell_count) c.events = events;
    for (double point : ReleasedTimePoints(gt, grid, min_cell_count)) {
      int64_t at_risk = 0;
      for (double t : gt) at_risk += t >= point;
      c.time.push_back(point);
      c.survival.push_back(KaplanMeierWithGreenwood(gt, gs, point).survival);
      c.n_at_risk.push_back(static_cast<double>(at_risk));
    }
  }
  return out;
}

absl::StatusOr<RocCurve> RocAtThresholds(const std::vector<double>& y,
                                         const std::vector<double>& p,
                                         const std::vector<double>& thresholds,
                                         int min_cell_count) {
  if (y.size() != p.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("ROC: ", y.size(), " outcomes and ", p.size(), " probabilities"));
  }
  RocCurve roc;
  for (double v : y) {
    if (v != 0.0 && v != 1.0) return absl::InvalidArgumentError("ROC: y must be 0 or 1");
    (v == 1.0 ? roc.n_pos : roc.n_neg) += 1;
  }
  if (roc.n_pos < min_cell_count || roc.n_neg < min_cell_count) {
    roc.suppressed = true;
    return roc;
  }
  std::vector<double> sorted = thresholds;
  std::sort(sorted.begin(), sorted.end(), std::greater<double>());
  sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
  roc.fpr.push_back(0);
  roc.tpr.push_back(0);
  roc.threshold.push_back(kNaN);
  for (double c : sorted) {
    double tp = 0, fp = 0;
    for (size_t i = 0; i < y.size(); ++i) {
      if (p[i] >= c) (y[i] == 1.0 ? tp : fp) += 1;
    }
    roc.fpr.push_back(fp / static_cast<double>(roc.n_neg));
    roc.tpr.push_back(tp / static_cast<double>(roc.n_pos));
    roc.threshold.push_back(c);
  }
  if (roc.fpr.back() != 1.0 || roc.tpr.back() != 1.0) {
    roc.fpr.push_back(1);
    roc.tpr.push_back(1);
    roc.threshold.push_back(kNaN);
  }
  return roc;
}

namespace {

// ROC vertices from weighted positives and negatives (weights > 0).
RocCurve WeightedRoc(const std::vector<double>& pos_score, const std::vector<double>& pos_weight,
                     const std::vector<double>& neg_score, const std::vector<double>& thresholds) {
  RocCurve roc;
  double pos_total = 0;
  for (double w : pos_weight) pos_total += w;
  std::vector<double> sorted = thresholds;
  std::sort(sorted.begin(), sorted.end(), std::greater<double>());
  sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
  roc.fpr.push_back(0);
  roc.tpr.push_back(0);
  roc.threshold.push_back(kNaN);
  for (double c : sorted) {
    double tp = 0, fp = 0;
    for (size_t i = 0; i < pos_score.size(); ++i) tp += pos_score[i] >= c ? pos_weight[i] : 0.0;
    for (double r : neg_score) fp += r >= c;
    roc.fpr.push_back(fp / static_cast<double>(neg_score.size()));
    roc.tpr.push_back(tp / pos_total);
    roc.threshold.push_back(c);
  }
  if (roc.fpr.back() != 1.0 || roc.tpr.back() != 1.0) {
    roc.fpr.push_back(1);
    roc.tpr.push_back(1);
    roc.threshold.push_back(kNaN);
  }
  return roc;
}

}  // namespace

absl::StatusOr<RocCurve> TimeDependentRoc(const std::vector<double>& time,
                                          const std::vector<int>& status,
                                          const std::vector<double>& risk_at_t, double t,
                                          const std::vector<double>& thresholds,
                                          int min_cell_count) {
  if (time.size() != status.size() || time.size() != risk_at_t.size()) {
    return absl::InvalidArgumentError(absl::StrCat("time-dependent ROC: ", time.size(),
                                                   " times, ", status.size(), " statuses and ",
                                                   risk_at_t.size(), " predicted risks"));
  }
  CensoringSurvival g(time, status);
  std::vector<double> pos, pos_w, neg;
  for (size_t i = 0; i < time.size(); ++i) {
    if (time[i] <= t && status[i] != 0) {
      const double gi = g.LeftLimit(time[i]);
      if (!(gi > 0)) continue;
      pos.push_back(risk_at_t[i]);
      pos_w.push_back(1.0 / gi);
    } else if (time[i] > t) {
      neg.push_back(risk_at_t[i]);
    }
  }
  const int64_t n_pos = static_cast<int64_t>(pos.size()), n_neg = static_cast<int64_t>(neg.size());
  RocCurve roc;
  if (n_pos < min_cell_count || n_neg < min_cell_count) {
    roc.suppressed = true;
  } else {
    roc = WeightedRoc(pos, pos_w, neg, thresholds);
  }
  roc.n_pos = n_pos;
  roc.n_neg = n_neg;
  return roc;
}

std::vector<double> GridEvery(double step, double end, double start, size_t max_points) {
  std::vector<double> g;
  if (!(step > 0) || !std::isfinite(step) || !std::isfinite(start)) return g;
  for (size_t i = 0; g.size() < max_points; ++i) {
    const double x = start + step * static_cast<double>(i);
    if (x > end + 1e-9 * step) break;
    g.push_back(x);
  }
  return g;
}


// ---- Grids the site fixes ---------------------------------------------------

std::vector<double> ReleasedTimePoints(const std::vector<double>& time,
                                       const std::vector<double>& lattice, int min_cell_count,
                                       const std::vector<double>* weights,
                                       double max_weight_share) {
  const int64_t k = std::max(1, min_cell_count);
  std::vector<double> released;
  std::vector<size_t> order(time.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return time[a] < time[b]; });
  std::vector<double> sorted(time.size());
  for (size_t i = 0; i < order.size(); ++i) sorted[i] = time[order[i]];
  // Suffix sums and maxima of the weights over the sorted times: the risk set
  // at g is the suffix starting at the first T >= g.
  std::vector<double> suffix_sum(sorted.size() + 1, 0.0), suffix_max(sorted.size() + 1, 0.0);
  if (weights != nullptr) {
    for (size_t i = sorted.size(); i-- > 0;) {
      const double w = (*weights)[order[i]];
      suffix_sum[i] = suffix_sum[i + 1] + w;
      suffix_max[i] = std::max(suffix_max[i + 1], w);
    }
  }
  auto below = [&](double x) {  // #{T < x}
    return static_cast<int64_t>(std::lower_bound(sorted.begin(), sorted.end(), x) - sorted.begin());
  };
  auto at_or_below = [&](double x) {  // #{T <= x}
    return static_cast<int64_t>(std::upper_bound(sorted.begin(), sorted.end(), x) - sorted.begin());
  };
  const int64_t n = static_cast<int64_t>(sorted.size());
  auto zero_or_k = [&](int64_t c) { return c == 0 || c >= k; };
  bool have_prev = false;
  double prev = 0;
  for (double g : lattice) {
    if (!std::isfinite(g) || (have_prev && !(g > prev))) continue;
    const int64_t at_risk = n - below(g);
    if (at_risk < k) break;
    const int64_t left = below(g) - (have_prev ? below(prev) : 0);
    const int64_t counted = at_or_below(g) - (have_prev ? at_or_below(prev) : 0);
    if (!zero_or_k(left) || !zero_or_k(counted)) continue;
    if (weights != nullptr) {
      const size_t first = static_cast<size_t>(below(g));
      if (!(suffix_max[first] <= max_weight_share * suffix_sum[first])) continue;
    }
    released.push_back(g);
    prev = g;
    have_prev = true;
  }
  return released;
}

std::vector<double> CountSafeThresholds(const std::vector<double>& case_score,
                                        const std::vector<double>& control_score,
                                        const std::vector<double>& lattice, int min_cell_count) {
  const int64_t k = std::max(1, min_cell_count);
  const int64_t n_pos = static_cast<int64_t>(case_score.size());
  const int64_t n_neg = static_cast<int64_t>(control_score.size());
  if (n_pos < k || n_neg < k) return {};
  std::vector<double> pos = case_score, neg = control_score;
  std::sort(pos.begin(), pos.end());
  std::sort(neg.begin(), neg.end());
  auto at_or_above = [](const std::vector<double>& v, double c) {
    return static_cast<int64_t>(v.end() - std::lower_bound(v.begin(), v.end(), c));
  };
  auto zero_or_k = [&](int64_t c) { return c == 0 || c >= k; };
  std::vector<double> desc = lattice;
  std::sort(desc.begin(), desc.end(), std::greater<double>());
  desc.erase(std::unique(desc.begin(), desc.end()), desc.end());
  struct Vertex {
    double c;
    int64_t tp, fp;
  };
  std::vector<Vertex> kept;
  int64_t tp0 = 0, fp0 = 0;
  for (double c : desc) {
    if (!std::isfinite(c)) continue;
    const int64_t tp = at_or_above(pos, c), fp = at_or_above(neg, c);
    if (tp == n_pos && fp == n_neg) break;  // the corner (1, 1) is added anyway
    const int64_t dtp = tp - tp0, dfp = fp - fp0;
    if (dtp + dfp == 0 || !zero_or_k(dtp) || !zero_or_k(dfp)) continue;
    kept.push_back({c, tp, fp});
    tp0 = tp;
    fp0 = fp;
  }
  while (!kept.empty() &&
         (!zero_or_k(n_pos - kept.back().tp) || !zero_or_k(n_neg - kept.back().fp))) {
    kept.pop_back();
  }
  std::vector<double> out;
  for (const Vertex& v : kept) out.push_back(v.c);
  return out;
}

std::vector<double> RiskThresholdLattice() {
  std::vector<double> g;
  for (int i = 0; i <= 100; ++i) g.push_back(i / 100.0);
  return g;
}

namespace {

std::vector<std::vector<int>> VertexRows(const std::vector<double>& score,
                                         const std::vector<int>& counted,
                                         const std::vector<double>& thresholds) {
  std::vector<std::vector<int>> out;
  for (double c : thresholds) {
    if (!std::isfinite(c)) continue;
    std::vector<int> rows;
    for (int i : counted) {
      if (score[static_cast<size_t>(i)] >= c) rows.push_back(i);
    }
    out.push_back(std::move(rows));
  }
  return out;
}

}  // namespace

absl::StatusOr<SiteRoc> SiteBinaryRoc(const std::vector<double>& y, const std::vector<double>& p,
                                      int min_cell_count) {
  if (y.size() != p.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("ROC: ", y.size(), " outcomes and ", p.size(), " probabilities"));
  }
  std::vector<double> pos, neg;
  std::vector<int> all;
  for (size_t i = 0; i < y.size(); ++i) {
    (y[i] == 1.0 ? pos : neg).push_back(p[i]);
    all.push_back(static_cast<int>(i));
  }
  SiteRoc out;
  FEDRAD_ASSIGN_OR_RETURN(
      out.curve,
      RocAtThresholds(y, p, CountSafeThresholds(pos, neg, RiskThresholdLattice(), min_cell_count),
                      min_cell_count));
  if (!out.curve.suppressed) out.vertex_rows = VertexRows(p, all, out.curve.threshold);
  return out;
}

absl::StatusOr<SiteRoc> SiteTimeDependentRoc(const std::vector<double>& time,
                                             const std::vector<int>& status,
                                             const std::vector<double>& risk_at_t, double t,
                                             int min_cell_count) {
  if (time.size() != status.size() || time.size() != risk_at_t.size()) {
    return absl::InvalidArgumentError(absl::StrCat("time-dependent ROC: ", time.size(),
                                                   " times, ", status.size(), " statuses and ",
                                                   risk_at_t.size(), " predicted risks"));
  }
  // The same cases and controls as TimeDependentRoc.
  CensoringSurvival g(time, status);
  std::vector<double> pos, neg;
  std::vector<int> counted;
  for (size_t i = 0; i < time.size(); ++i) {
    if (time[i] <= t && status[i] != 0) {
      if (!(g.LeftLimit(time[i]) > 0)) continue;
      pos.push_back(risk_at_t[i]);
      counted.push_back(static_cast<int>(i));
    } else if (time[i] > t) {
      neg.push_back(risk_at_t[i]);
      counted.push_back(static_cast<int>(i));
    }
  }
  SiteRoc out;
  FEDRAD_ASSIGN_OR_RETURN(
      out.curve, TimeDependentRoc(time, status, risk_at_t, t,
                                  CountSafeThresholds(pos, neg, RiskThresholdLattice(),
                                                      min_cell_count),
                                  min_cell_count));
  if (!out.curve.suppressed) out.vertex_rows = VertexRows(risk_at_t, counted, out.curve.threshold);
  return out;
}

double NiceStepAtMost(double x) {
  if (!(x > 0) || !std::isfinite(x)) return 1.0;
  const double e = std::pow(10.0, std::floor(std::log10(x)));
  for (double m : {5.0, 2.0, 1.0}) {
    if (m * e <= x * (1 + 1e-12)) return m * e;
  }
  return e;
}

LatticeCounts CountsOnLattice(const std::vector<double>& values, double step, int min_cell_count,
                              size_t max_points) {
  LatticeCounts out;
  std::vector<double> v;
  for (double x : values) {
    if (std::isfinite(x)) v.push_back(x);
  }
  if (v.empty() || !(step > 0) || !std::isfinite(step)) return out;
  std::sort(v.begin(), v.end());
  const int64_t k = std::max(1, min_cell_count);
  const int64_t n = static_cast<int64_t>(v.size());
  max_points = std::max<size_t>(max_points, 2);
  double lo = std::floor(v.front() / step), hi = std::ceil(v.back() / step);
  while (hi - lo + 1 > static_cast<double>(max_points)) {
    step *= 2;
    lo = std::floor(v.front() / step);
    hi = std::ceil(v.back() / step);
  }
  out.step = step;
  int64_t prev = 0;
  for (double j = lo; j <= hi; j += 1) {
    const double g = j * step;
    const int64_t c =
        static_cast<int64_t>(std::upper_bound(v.begin(), v.end(), g) - v.begin());
    const int64_t above = n - c;
    if (c - prev >= k && (above == 0 || above >= k)) {
      out.grid.push_back(g);
      out.counts.push_back(static_cast<double>(c));
      prev = c;
    }
  }
  return out;
}

absl::StatusOr<std::vector<double>> QuantilesFromCounts(const std::vector<SiteCounts>& sites,
                                                        const std::vector<double>& probs,
                                                        std::vector<double>* rank_error) {
  std::vector<double> knots;
  double total = 0;
  for (const SiteCounts& s : sites) {
    if (s.grid.size() != s.counts.size()) {
      return absl::InvalidArgumentError("linear predictor counts: grid and counts differ in size");
    }
    for (size_t j = 1; j < s.grid.size(); ++j) {
      if (!(s.grid[j] > s.grid[j - 1]) || s.counts[j] < s.counts[j - 1]) {
        return absl::InvalidArgumentError("linear predictor counts: grid or counts not increasing");
      }
    }
    knots.insert(knots.end(), s.grid.begin(), s.grid.end());
    total += s.n;
  }
  if (knots.empty() || !(total > 0)) {
    return absl::InvalidArgumentError("linear predictor counts: no site released a point");
  }
  std::sort(knots.begin(), knots.end());
  knots.erase(std::unique(knots.begin(), knots.end()), knots.end());
  // A site's count at x: linear between its released points; its first
  // count below them, n above its last.
  auto site_count = [](const SiteCounts& s, double x) {
    if (s.grid.empty()) return 0.0;
    if (x <= s.grid.front()) return s.counts.front();
    if (x > s.grid.back()) return s.n;
    const size_t j = static_cast<size_t>(std::lower_bound(s.grid.begin(), s.grid.end(), x) -
                                         s.grid.begin());
    const double f = (x - s.grid[j - 1]) / (s.grid[j] - s.grid[j - 1]);
    return s.counts[j - 1] + f * (s.counts[j] - s.counts[j - 1]);
  };
  std::vector<double> pooled;
  for (double x : knots) {
    double c = 0;
    for (const SiteCounts& s : sites) c += site_count(s, x);
    pooled.push_back(c);
  }
  std::vector<double> out;
  if (rank_error != nullptr) rank_error->clear();
  for (double q : probs) {
    const double target = q * total;
    size_t j = 0;
    while (j < pooled.size() && pooled[j] < target) ++j;
    double x, width;
    if (j == 0) {
      x = knots.front();
      width = pooled.front();
    } else if (j == pooled.size()) {
      x = knots.back();
      width = total - pooled.back();
    } else {
      const double f = (target - pooled[j - 1]) / (pooled[j] - pooled[j - 1]);
      x = knots[j - 1] + f * (knots[j] - knots[j - 1]);
      width = pooled[j] - pooled[j - 1];
    }
    out.push_back(x);
    if (rank_error != nullptr) rank_error->push_back(width / total / 2);
  }
  return out;
}

}  // namespace fedrad::models
