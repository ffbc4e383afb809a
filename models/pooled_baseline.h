// The pooled Breslow baseline hazard of a Cox model over the development
// sites, from what each released (models.baseline): one implementation for
// the coordinator, which builds H0 for validation, and for each validation
// site and the auditor, who recompute it from the sites' signed
// contributions (issue 12), so all get the same numbers.
//
// Each site releases its own grid (a lattice from the
// approved spec, coarsened so that >= k patients leave the risk set between
// released points), its events per interval and its risk sums sum exp(lp) at
// the released points. The grids differ between sites, so H0 is built on the
// union of the points: within each of a site's intervals its events are
// spread evenly over time and its risk sum is interpolated linearly; each
// union interval adds (summed events) / (logarithmic mean of the summed risk
// sums at its ends) -- the Breslow increment d/R with R falling across the
// interval. A site counts only up to its last released point (after it, the
// hazard comes from the others). H0 at t and tau is added by linear
// interpolation. Equal to Breslow when every interval holds one event time;
// otherwise an approximation (docs/models.md, "Grids the site fixes").
//
//   std::vector<models::SiteBaseline> sites = ...;  // grid, events, risk sums per site
//   FEDRAD_ASSIGN_OR_RETURN(models::PooledBaseline h0, models::PoolBaseline(sites, t, tau));
//
// Thread safety: pure functions.
#ifndef FEDRAD_MODELS_POOLED_BASELINE_H_
#define FEDRAD_MODELS_POOLED_BASELINE_H_

#include <cstddef>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "models/curves.h"

namespace fedrad::models {

// One development site's models.baseline answer.
struct SiteBaseline {
  std::string site;
  std::vector<double> grid;    // released time points, increasing
  std::vector<double> events;  // events in each interval (the first: (0, grid[0]])
  std::vector<double> risk;    // sum exp(lp) at each point
};

struct PooledBaseline {
  std::vector<double> grid, cumhaz;           // H0 on the union of the points, t and tau added
  std::map<std::string, size_t> site_points;  // each site's number of points
};

// DataLoss naming the site when a grid is not increasing or its events and
// risk sums do not match it, or when events fall where no site has anyone
// at risk.
absl::StatusOr<PooledBaseline> PoolBaseline(const std::vector<SiteBaseline>& sites, double t,
                                            double tau);

// The risk-group cut-points of a Cox model's frozen linear predictor: its
// tertiles over the development sites from the cumulative counts each
// released on its own lattice (models.lp_summary), interpolated by
// QuantilesFromCounts. FailedPrecondition when they cannot be found.
absl::StatusOr<std::vector<double>> TertileCuts(const std::vector<SiteCounts>& sites,
                                                std::vector<double>* rank_error = nullptr);

}  // namespace fedrad::models

#endif  // FEDRAD_MODELS_POOLED_BASELINE_H_
