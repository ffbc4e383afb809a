// Models a site fitted itself (task models.fit: the approved spec develops
// the model on this site only, so the site runs the whole fit and no
// coordinator-chosen coefficients ever reach its patients). Kept in the
// study's per-site state (TaskContext::state, saved with the study's working
// snapshot), so that later tasks at the same site (baseline hazard, risk-group
// cut-points) accept only these coefficients.
//
//   StoreSiteFit(ctx.state, "cox_bkg", {covariates, beta});
//   if (auto fit = FindSiteFit(*ctx.state, "cox_bkg")) { ... fit->beta ... }
#ifndef FEDRAD_SITE_NODE_SITE_FITS_H_
#define FEDRAD_SITE_NODE_SITE_FITS_H_

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace fedrad::site {

struct SiteFit {
  // The covariates the final model uses, in order.
  std::vector<std::string> covariates;
  // Coefficients on the original covariate scale (logistic: the intercept
  // first), exactly as released.
  std::vector<double> beta;
};

// Records `fit` for `model` (a model name of the approved spec), replacing an
// earlier one.
void StoreSiteFit(std::map<std::string, std::string>* state, const std::string& model,
                  const SiteFit& fit);
// The fit recorded for `model`, or nullopt.
std::optional<SiteFit> FindSiteFit(const std::map<std::string, std::string>& state,
                                   const std::string& model);
// True if `beta` equals `fit.beta` (same length; each value equal to 1e-12
// relative), i.e. the coordinator relayed the site's own coefficients.
bool SameCoefficients(const SiteFit& fit, const std::vector<double>& beta);

}  // namespace fedrad::site

#endif  // FEDRAD_SITE_NODE_SITE_FITS_H_
