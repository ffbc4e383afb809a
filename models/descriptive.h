// Descriptive statistics for a federated "Table 1": one implementation for
// the pooled path (all rows in one table) and the federated path (each site
// computes the same local pieces; the coordinator combines them).
//
//   // At each site:
//   ColumnMoments m = ComputeMoments(values);            // n, mean, M2, 0/1 count
//   // At the coordinator:
//   ColumnMoments pooled = CombineMoments({m_site1, m_site2});
//   double sd = StandardDeviation(pooled);               // n - 1 denominator
//
//   // Quantiles from counts on a grid the SITE fixes (what cohort.counts and
//   // combat.distributions release; no coordinator-chosen threshold):
//   GridCounts g = SiteGridCounts(values, GridStep(n, k, 0.01));   // at each site
//   std::vector<QuantileEstimate> q =
//       GridQuantiles({{g_site1, mean1, sd1}, {g_site2, mean2, sd2}}, {0.25, 0.5, 0.75});
//
//   // Quantiles by bisection on counts at chosen thresholds (one-table use
//   // and models' tertiles; a site no longer answers free thresholds for the
//   // cohort summary or ComBat):
//   QuantileSearch search(pooled, {0.25, 0.5, 0.75}, QuantileSearch::Options{});
//   while (!search.done()) {
//     std::vector<double> t = search.NextThresholds();
//     std::vector<int64_t> c = sum over sites of CountAtOrBelow(values, t);
//     search.Update(c);
//   }
//
// Quantile method: the coordinator proposes thresholds; sites return how many
// of their values are <= each threshold. The search keeps, for each
// probability p, a bracket [lo, hi] with C(lo) < p*n <= C(hi) (C = pooled
// count at or below) and splits it into equal parts each round. It stops when
// a threshold's count is within `rank_error * n` of p*n (reported as the
// estimate), or when the bracket is narrower than `min_width_sd` pooled
// standard deviations (the bracket midpoint is reported), or after
// `max_rounds`. The estimate is a coordinator-chosen threshold or a bracket
// midpoint, never a data value; each estimate carries its achieved rank error
// and its bracket.
//
// Site grid (docs/results.md, "Quantiles"): the points come from a lattice
// that does not depend on the data — 0 and ±m·10^e, m = 100..999 (three
// significant digits; relative spacing <= 1%). A site counts its values at
// or below each lattice point and releases only the points where the count
// has grown by at least `step` (>= k) since the last released point, the
// first released count being >= step, and drops the last points until at
// least `step` values lie above the last one: every released step holds >= k
// values and neither extreme is ever isolated. The coordinator interpolates
// linearly within a step, so a quantile is approximate to the site's grid
// (within one step of >= k values, plus the lattice's 1%).
//
// Moments are combined with the pairwise update of Chan, Golub & LeVeque
// (1979), so pooled n, mean and SD equal the one-table computation to
// rounding.
//
// Thread safety: free functions are pure; a QuantileSearch is not thread safe.
#ifndef FEDRAD_MODELS_DESCRIPTIVE_H_
#define FEDRAD_MODELS_DESCRIPTIVE_H_

#include <cstdint>
#include <limits>
#include <vector>

namespace fedrad::models {

// Sufficient statistics of one column over the non-missing (non-NaN) values.
struct ColumnMoments {
  int64_t n = 0;          // non-missing values
  int64_t n_missing = 0;  // NaN values
  double mean = 0.0;
  double m2 = 0.0;        // sum of squared deviations from `mean`
  // True when every non-missing value is 0 or 1 (a binary column).
  bool binary = true;
  int64_t count_one = 0;  // values equal to 1
  // True when every non-missing value is a whole number (counts such as the
  // number of lesions): quantiles are then whole numbers too.
  bool integer = true;
};

// Moments of `values` (NaN = missing). Two-pass for accuracy.
ColumnMoments ComputeMoments(const std::vector<double>& values);

// Combines the moments of disjoint parts; equal to ComputeMoments of their
// union up to rounding.
ColumnMoments CombineMoments(const std::vector<ColumnMoments>& parts);

// Sample standard deviation (n - 1 denominator); NaN when n < 2.
double StandardDeviation(const ColumnMoments& m);

// For each threshold t, the number of non-missing values <= t.
std::vector<int64_t> CountAtOrBelow(const std::vector<double>& values,
                                    const std::vector<double>& thresholds);

struct QuantileEstimate {
  double probability = 0.0;
  double value = 0.0;       // the estimate (NaN when n == 0)
  double bracket_low = 0.0; // the true quantile lies in [bracket_low, bracket_high]
  double bracket_high = 0.0;
  // |C(value) - p*n| / n for a threshold estimate; for a bracket midpoint the
  // larger of the two endpoints' rank distances.
  double rank_error = 0.0;
};

class QuantileSearch {
 public:
  struct Options {
    // Stop when a threshold's rank is within this fraction of n. Default 0.01.
    double rank_error = 0.01;
    // Stop narrowing a bracket below this many standard deviations. Default 1e-3.
    double min_width_sd = 1e-3;
    // Thresholds per probability per round. Default 16.
    int splits = 16;
    // Rounds of counts at most (bracket expansion rounds included). Default 12.
    int max_rounds = 12;
  };

  // `pooled` gives n, the mean and the SD used for the first bracket
  // (mean +- 6 SD, widened while it does not contain the quantile).
  QuantileSearch(const ColumnMoments& pooled, std::vector<double> probabilities,
                 const Options& options);

  bool done() const { return done_; }
  // Thresholds to count this round (sorted, deduplicated); empty when done.
  const std::vector<double>& NextThresholds() const { return thresholds_; }
  // `counts[i]` = number of values <= NextThresholds()[i], over all parts.
  void Update(const std::vector<int64_t>& counts);
  std::vector<QuantileEstimate> Estimates() const;
  int rounds() const { return rounds_; }

 private:
  struct Target {
    double p;
    double lo, hi;           // current bracket (C(lo) < rank <= C(hi)) once bracketed
    int64_t count_lo = -1, count_hi = -1;
    bool done = false;
    QuantileEstimate estimate;
  };
  void PlanRound();
  void Finish(Target& t, double value, double rank_error);

  int64_t n_;
  double sd_;
  Options options_;
  std::vector<Target> targets_;
  std::vector<double> thresholds_;
  int rounds_ = 0;
  bool done_ = false;
};

// The one-table path: runs the same search with counts from `values`.
std::vector<QuantileEstimate> PooledQuantiles(const std::vector<double>& values,
                                              const std::vector<double>& probabilities,
                                              const QuantileSearch::Options& options);

// ---- Site-fixed grids (no free thresholds) ----------------------------------

// The smallest lattice point >= x (lattice above: 0 and ±m·10^e, m = 100..999,
// magnitudes 1e-99 .. 9.99e99). Beyond 9.99e99: +inf; below -9.99e99:
// -9.99e99; NaN: NaN. Pure, thread safe.
double LatticeCeil(double x);

// A site's released cumulative counts of one column.
struct GridCounts {
  int64_t n = 0;                 // non-missing values
  std::vector<double> points;    // released lattice points, increasing
  std::vector<int64_t> counts;   // values <= points[i] (increasing)
};

// The smallest step a site releases: max(k, ceil(fraction * n), ceil(n /
// max_points)), and at least 1. `fraction` (e.g. the spec's
// quantile_rank_error, default 0.01) is clamped to [0, 0.25].
int64_t GridStep(int64_t n, int64_t k, double fraction, int64_t max_points = 4096);

// The counts of `values` (NaN = missing) a site releases, merged as described
// above so that the count below the first point, every step and the count
// above the last point are each >= `step` (step < 1 counts as 1). Fewer than
// 2 * step values: no point (only n).
GridCounts SiteGridCounts(const std::vector<double>& values, int64_t step);

// One part (site) of a grid quantile: its released counts and its released
// mean and SD (NaN when withheld), used for its outer steps only when it
// released fewer than 2 points.
struct GridPart {
  GridCounts grid;
  double mean = std::numeric_limits<double>::quiet_NaN();
  double sd = std::numeric_limits<double>::quiet_NaN();
  // Every value is a whole number (ColumnMoments::integer).
  bool integer = false;
};

// Quantiles of the union of the parts from their released counts: each
// part's CDF is taken as linear between its released points; below its first
// point down to a lower anchor (the first step's width extrapolated from the
// density of the second step) and above its last up to an upper anchor (the
// same from the last released step); a part with fewer than 2 points spreads
// its values uniformly over mean ± √3·SD (its own released moments; a point
// mass at the mean or at its one point when the SD is 0 or withheld). The
// pooled CDF is the sum; the estimate is where it crosses p·N. bracket_low /
// bracket_high are released points between which the true sample quantile
// lies for certain (NaN: unbounded on that side); rank_error bounds |C(value)
// − p·N| / N from the released counts. All NaN when N = 0. When every part is
// integer-valued the estimate is a whole number: the interpolated value
// rounded up (the smallest whole x whose interpolated count reaches p·N), or
// bracket_high itself when the quantile lies below every released point
// (values tied at the first point, e.g. one lesion), and never above
// bracket_high.
std::vector<QuantileEstimate> GridQuantiles(const std::vector<GridPart>& parts,
                                            const std::vector<double>& probabilities);

}  // namespace fedrad::models

#endif  // FEDRAD_MODELS_DESCRIPTIVE_H_
