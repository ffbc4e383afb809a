// ComBat harmonisation (Johnson, Li & Rabinovic, Biostatistics 2007), written
// as the small steps of distributed ComBat (Chen et al., NeuroImage 2022) so
// that the pooled (one-table) path and the federated path call the very same
// functions and agree by construction. The numbers replicate R's
// sva::ComBat 3.46 (checked against fixtures in harmonization/testdata/).
//
// The steps, for sites i = 1..m, features g = 1..G and covariates z (q of them):
//   1. every site:   m_i = ComputeLocalMoments(data_i)        n, sum z, ZᵀZ, sum y, Zᵀy
//   2. coordinator:  reg = PoolMoments(sites, {m_i}, ...)      B-hat = (XᵀX)⁻¹XᵀY
//   3. every site:   rss_i = ResidualSumOfSquares(data_i, SiteIntercept(reg, i), reg.beta)
//   4. coordinator:  pooled = FinishPooled(reg, {rss_i})        grand mean, var_pooled
//   5. every site:   s_i = Standardize(data_i, pooled)
//                    eff_i = EstimateSiteEffects(s_i, ...)     gamma*, delta* (EB priors are per site)
//                    harmonised_i = ApplySiteEffects(data_i, pooled, eff_i)
// Only n, the moments, the residual sums of squares and gamma*/delta* ever
// leave a site; standardised data and patient rows stay local.
//
//   std::vector<SiteData> data = ...;  // one per site, rows = patients
//   FEDRAD_ASSIGN_OR_RETURN(ComBatResult r, FitComBat(names, data, options));
//
// Everything here is pure (no I/O, no globals) and thread compatible.
#ifndef FEDRAD_HARMONIZATION_COMBAT_H_
#define FEDRAD_HARMONIZATION_COMBAT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "Eigen/Dense"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace fedrad::harmonization {

// How the site effects are estimated (sva::ComBat's par.prior / mean.only).
enum class ComBatMethod {
  kParametric,     // par.prior = TRUE: normal / inverse-gamma priors (it.sol)
  kNonParametric,  // par.prior = FALSE: leave-one-feature-out integration (int.eprior)
  kMeanOnly,       // mean.only = TRUE, parametric prior on the location only
};

// "parametric", "nonparametric", "mean-only".
absl::string_view MethodName(ComBatMethod method);
// Parses the names above (also "non-parametric", "mean_only"); InvalidArgument otherwise.
absl::StatusOr<ComBatMethod> ParseMethod(absl::string_view name);

struct ComBatOptions {
  ComBatMethod method = ComBatMethod::kParametric;
  // Empirical Bayes shrinkage of the site effects. false: gamma* = gamma-hat,
  // delta* = delta-hat (the plain location/scale model; not in sva).
  bool empirical_bayes = true;
  // Non-parametric EB with the location only (sva: par.prior = FALSE,
  // mean.only = TRUE). Ignored unless method is kNonParametric.
  bool nonparametric_mean_only = false;
  // The site whose data is left unchanged and whose mean/variance define the
  // target scale (sva's ref.batch). Empty: none.
  std::string reference_site;
  // sva's it.sol stopping rule: stop when the largest relative change of
  // gamma and delta over all features is at most this. Default as sva: 1e-4.
  double convergence = 1e-4;
  // Safety bound on it.sol iterations (sva has none); exceeding it is an error.
  int max_iterations = 10000;
};

// One site's data: rows are patients, in the same order in both matrices.
struct SiteData {
  Eigen::MatrixXd features;    // n x G
  Eigen::MatrixXd covariates;  // n x q (q may be 0)
};

// Step 1: what a site sends first. Sums, so they add across sites.
struct LocalMoments {
  int64_t n = 0;
  Eigen::VectorXd sum_covariates;           // q: Σ z
  Eigen::MatrixXd covariate_cross;          // q x q: ZᵀZ
  Eigen::VectorXd sum_features;             // G: Σ y
  Eigen::MatrixXd covariate_feature_cross;  // q x G: ZᵀY
};

LocalMoments ComputeLocalMoments(const SiteData& data);

// Indices of features that are constant (max == min) within `features`; empty
// when there are fewer than 2 rows. sva leaves such a feature unadjusted at
// every site ("uniform expression within a single batch").
std::vector<int> ConstantFeatures(const Eigen::MatrixXd& features);

// Step 2: the pooled regression of every feature on site indicators and the
// covariates (sva's B.hat), from summed moments only.
struct PooledRegression {
  std::vector<std::string> sites;  // batch levels, in order
  std::vector<int64_t> site_n;
  int reference = -1;              // index into sites, or -1
  Eigen::MatrixXd b_hat;           // (m + q) x G: site rows, then covariate rows
  Eigen::MatrixXd beta;            // q x G: the covariate rows of b_hat
  Eigen::VectorXd grand_mean;      // G
};

// Builds XᵀX and XᵀY from the sites' moments (X = sva's design: site
// indicators, the reference site's column all ones, then the covariates) and
// solves for B-hat. `covariate_names` name the q covariates in messages.
// InvalidArgument when the design is rank deficient (naming the first
// covariate confounded with site or with other covariates), when sizes
// disagree, or when the reference site is not among `sites`.
absl::StatusOr<PooledRegression> PoolMoments(
    const std::vector<std::string>& sites, const std::vector<LocalMoments>& moments,
    const std::vector<std::string>& covariate_names, const std::string& reference_site);

// Site i's row of the design times the site rows of B-hat: its fitted mean
// at z = 0 (b_i, or b_ref + b_i when a reference site is set).
Eigen::VectorXd SiteIntercept(const PooledRegression& regression, int site);

// Step 3: Σ over the site's rows of (y - intercept - zβ)², per feature.
Eigen::VectorXd ResidualSumOfSquares(const SiteData& data, const Eigen::VectorXd& intercept,
                                     const Eigen::MatrixXd& beta);

// The pooled estimates every site needs to standardise and harmonise.
struct PooledEstimates {
  Eigen::VectorXd grand_mean;  // G
  Eigen::MatrixXd beta;        // q x G
  Eigen::VectorXd var_pooled;  // G
};

// Step 4: var_pooled = Σ rss / N (with a reference site: rss_ref / n_ref, as
// sva). `rss` is indexed like regression.sites. InvalidArgument on a size
// mismatch or a zero pooled variance.
absl::StatusOr<PooledEstimates> FinishPooled(const PooledRegression& regression,
                                             const std::vector<Eigen::VectorXd>& rss);

// Step 5a: s = (y - grand_mean - zβ) / sqrt(var_pooled), n x G.
Eigen::MatrixXd Standardize(const SiteData& data, const PooledEstimates& pooled);

// One site's location/scale effects.
struct SiteEffects {
  Eigen::VectorXd gamma_hat, delta_hat;    // the site's L/S estimates
  Eigen::VectorXd gamma_star, delta_star;  // after EB shrinkage
  int iterations = 0;                      // it.sol iterations (parametric only)
};

// Step 5b: the site's effects from its own standardised data `s` (n x G).
// `mean_only` is the study-wide decision (options.method == kMeanOnly, or a
// site with one patient, as sva). The EB priors are the site's own, across
// its features, as in sva. InvalidArgument with fewer than 2 features (the
// priors need a variance across features) or fewer than 2 rows without
// mean_only; Internal if it.sol does not converge in max_iterations.
absl::StatusOr<SiteEffects> EstimateSiteEffects(const Eigen::MatrixXd& s,
                                                const ComBatOptions& options, bool mean_only);

// Step 5c: y* = (s - gamma*) / sqrt(delta*) * sqrt(var_pooled) + grand_mean + zβ.
Eigen::MatrixXd ApplySiteEffects(const SiteData& data, const PooledEstimates& pooled,
                                 const Eigen::VectorXd& gamma_star,
                                 const Eigen::VectorXd& delta_star);

// The decisions taken for all sites together before any aggregate moves.
struct ComBatPlan {
  std::vector<int> adjusted_features;  // indices of the features ComBat adjusts
  std::vector<int> constant_features;  // constant within some site: passed through
  bool mean_only = false;              // options, or forced by a one-patient site
  std::vector<std::string> notes;      // human-readable, e.g. why mean_only was forced
};

// Makes the plan from each site's n and constant-feature list (as sva does:
// a constant feature is left unadjusted everywhere; a one-patient site forces
// the mean-only model). InvalidArgument (naming the site) when a site has no
// rows, or when fewer than 2 features remain to adjust with empirical Bayes.
absl::StatusOr<ComBatPlan> MakePlan(const std::vector<std::string>& sites,
                                    const std::vector<int64_t>& site_n,
                                    const std::vector<std::vector<int>>& constant_by_site,
                                    int num_features, const ComBatOptions& options);

// Selects the columns `features` of `data.features`.
SiteData SelectFeatures(const SiteData& data, const std::vector<int>& features);

// The whole pooled fit, made of the steps above.
struct ComBatResult {
  ComBatPlan plan;
  PooledRegression regression;           // over the adjusted features
  PooledEstimates pooled;                // over the adjusted features
  std::vector<SiteEffects> effects;      // by site, over the adjusted features
  std::vector<Eigen::MatrixXd> harmonized;  // by site, n_i x G (all features)
};

// Fits ComBat to the sites' data (`sites[i]` names `data[i]`; sites in the
// order given are sva's batch levels) and harmonises every site. Errors as
// the steps above; InvalidArgument when the sites disagree on G or q.
absl::StatusOr<ComBatResult> FitComBat(const std::vector<std::string>& sites,
                                       const std::vector<SiteData>& data,
                                       const std::vector<std::string>& covariate_names,
                                       const ComBatOptions& options);

}  // namespace fedrad::harmonization

#endif  // FEDRAD_HARMONIZATION_COMBAT_H_
