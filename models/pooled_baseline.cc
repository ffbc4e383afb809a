#include "models/pooled_baseline.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"

namespace fedrad::models {
namespace {

double LogMean(double a, double b) {
  if (!(a > 0) || !(b > 0)) return std::max(a, b) / 2;  // one end without risk
  if (std::abs(a - b) <= 1e-12 * std::max(a, b)) return a;
  return (a - b) / std::log(a / b);
}

struct SiteSums {
  std::vector<double> grid, events, risk;
  // Risk sum at x (x <= the last released point): linear between released
  // points, the first one's before it.
  double RiskAt(double x) const {
    if (x <= grid.front()) return risk.front();
    const size_t j =
        static_cast<size_t>(std::lower_bound(grid.begin(), grid.end(), x) - grid.begin());
    if (j >= grid.size()) return risk.back();
    const double f = (x - grid[j - 1]) / (grid[j] - grid[j - 1]);
    return risk[j - 1] + f * (risk[j] - risk[j - 1]);
  }
  // Events in (a, b], spread evenly over each interval (the first: (0, g_0]).
  double EventsIn(double a, double b) const {
    double d = 0;
    for (size_t j = 0; j < grid.size(); ++j) {
      const double lo = j == 0 ? std::min(0.0, grid[0]) : grid[j - 1], hi = grid[j];
      if (events[j] == 0 || hi <= a || lo >= b) continue;
      if (hi == lo) {
        d += (a < hi && hi <= b) ? events[j] : 0.0;
        continue;
      }
      const double overlap = std::min(b, hi) - std::max(a, lo);
      if (overlap > 0) d += events[j] * overlap / (hi - lo);
    }
    return d;
  }
};

}  // namespace

absl::StatusOr<PooledBaseline> PoolBaseline(const std::vector<SiteBaseline>& in, double t,
                                            double tau) {
  std::vector<SiteSums> sites;
  std::vector<double> points;
  PooledBaseline out;
  for (const SiteBaseline& b : in) {
    for (size_t j = 0; j < b.grid.size(); ++j) {
      if (!std::isfinite(b.grid[j]) || (j > 0 && !(b.grid[j] > b.grid[j - 1]))) {
        return absl::DataLossError(absl::StrCat("site ", b.site, ": 'grid' is not increasing"));
      }
    }
    if (b.events.size() != b.grid.size() || b.risk.size() != b.grid.size()) {
      return absl::DataLossError(absl::StrCat("site ", b.site, ": 'grid_events' or 'grid_risk_sum' "
                                              "does not match 'grid'"));
    }
    SiteSums ss;
    ss.grid = b.grid;
    ss.events = b.events;
    ss.risk = b.risk;
    out.site_points[b.site] = ss.grid.size();
    if (ss.grid.empty()) continue;
    points.insert(points.end(), ss.grid.begin(), ss.grid.end());
    sites.push_back(std::move(ss));
  }
  std::sort(points.begin(), points.end());
  points.erase(std::unique(points.begin(), points.end()), points.end());
  double h = 0, prev = std::min(0.0, points.empty() ? 0.0 : points.front());
  for (double u : points) {
    double d = 0, r0 = 0, r1 = 0;
    for (const SiteSums& ss : sites) {
      if (u > ss.grid.back()) continue;  // past its last released point
      d += ss.EventsIn(prev, u);
      r0 += ss.RiskAt(prev);
      r1 += ss.RiskAt(u);
    }
    if (d > 0) {
      const double r = LogMean(r0, r1);
      if (!(r > 0)) {
        return absl::DataLossError("baseline hazard: events where no site has anyone at risk");
      }
      h += d / r;
    }
    out.grid.push_back(u);
    out.cumhaz.push_back(h);
    prev = u;
  }
  // H0 at t and tau, linear between the points around them (flat after the
  // last).
  for (double x : {t, tau}) {
    auto it = std::lower_bound(out.grid.begin(), out.grid.end(), x);
    if (it != out.grid.end() && *it == x) continue;
    const size_t j = static_cast<size_t>(it - out.grid.begin());
    double hx;
    if (j == 0) {
      hx = out.cumhaz.empty() ? 0.0 : out.cumhaz.front() * (x > 0 && out.grid.front() > 0
                                                               ? std::min(1.0, x / out.grid.front())
                                                               : 0.0);
    } else if (j == out.grid.size()) {
      hx = out.cumhaz.back();
    } else {
      const double f = (x - out.grid[j - 1]) / (out.grid[j] - out.grid[j - 1]);
      hx = out.cumhaz[j - 1] + f * (out.cumhaz[j] - out.cumhaz[j - 1]);
    }
    out.grid.insert(out.grid.begin() + static_cast<long>(j), x);
    out.cumhaz.insert(out.cumhaz.begin() + static_cast<long>(j), hx);
  }
  return out;
}

absl::StatusOr<std::vector<double>> TertileCuts(const std::vector<SiteCounts>& sites,
                                                std::vector<double>* rank_error) {
  std::vector<double> errors;
  absl::StatusOr<std::vector<double>> cuts = QuantilesFromCounts(sites, {1.0 / 3, 2.0 / 3}, &errors);
  if (!cuts.ok() || cuts->size() != 2 || !std::isfinite((*cuts)[0]) || !std::isfinite((*cuts)[1])) {
    return absl::FailedPreconditionError("the risk-group cut-points could not be found");
  }
  if (rank_error != nullptr) *rank_error = errors;
  return cuts;
}

}  // namespace fedrad::models
