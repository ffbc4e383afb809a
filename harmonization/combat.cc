#include "harmonization/combat.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/status.h"

namespace fedrad::harmonization {
namespace {

// Sample variance (denominator n - 1), as R's var / rowVars.
double SampleVariance(const Eigen::Ref<const Eigen::VectorXd>& x) {
  const double mean = x.mean();
  return (x.array() - mean).square().sum() / static_cast<double>(x.size() - 1);
}

// The design row of site `i` restricted to the site columns: e_i, plus a one
// in the reference column for every site (sva sets batchmod[, ref] <- 1).
Eigen::VectorXd SiteDesignRow(int num_sites, int site, int reference) {
  Eigen::VectorXd row = Eigen::VectorXd::Zero(num_sites);
  row(site) = 1.0;
  if (reference >= 0) row(reference) = 1.0;
  return row;
}

// True when the symmetric positive semi-definite matrix `a` is numerically
// singular. The matrix is scaled to unit diagonal first so that covariates
// on large scales (age in years) do not look singular.
bool IsRankDeficient(const Eigen::MatrixXd& a) {
  if (a.rows() == 0) return false;
  Eigen::VectorXd d = a.diagonal();
  if ((d.array() <= 0.0).any()) return true;
  Eigen::VectorXd inv_sqrt = d.array().rsqrt();
  Eigen::MatrixXd scaled = inv_sqrt.asDiagonal() * a * inv_sqrt.asDiagonal();
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(scaled, Eigen::EigenvaluesOnly);
  return eig.eigenvalues().minCoeff() < 1e-10 * eig.eigenvalues().maxCoeff();
}

// sva:::aprior and sva:::bprior: method-of-moments inverse-gamma prior from
// the site's delta-hat across features.
double APrior(const Eigen::VectorXd& delta_hat) {
  const double m = delta_hat.mean();
  const double s2 = SampleVariance(delta_hat);
  return (2.0 * s2 + m * m) / s2;
}
double BPrior(const Eigen::VectorXd& delta_hat) {
  const double m = delta_hat.mean();
  const double s2 = SampleVariance(delta_hat);
  return (m * s2 + m * m * m) / s2;
}

// sva:::postmean, elementwise.
Eigen::ArrayXd PostMean(const Eigen::ArrayXd& g_hat, double g_bar, double n,
                        const Eigen::ArrayXd& d_star, double t2) {
  return (t2 * n * g_hat + d_star * g_bar) / (t2 * n + d_star);
}

// sva:::it.sol, replicated step for step: the location update uses the
// previous delta, then the scale update uses the new gamma; the loop stops
// when max(|Δg|/g_old, |Δd|/d_old) <= conv over ALL features of the site
// together. Note that sva divides by the signed old value (no abs in the
// denominator), so a negative gamma never holds the loop; we do the same,
// because the stopping point moves the result at the 1e-6 level.
absl::Status IterativeSolution(const Eigen::MatrixXd& s, const Eigen::ArrayXd& g_hat,
                               const Eigen::ArrayXd& d_hat, double g_bar, double t2,
                               double a, double b, const ComBatOptions& options,
                               SiteEffects* out) {
  const double n = static_cast<double>(s.rows());
  Eigen::ArrayXd g_old = g_hat, d_old = d_hat;
  Eigen::ArrayXd g_new, d_new;
  double change = 1.0;
  int count = 0;
  while (change > options.convergence) {
    if (count >= options.max_iterations) {
      return absl::InternalError(absl::StrCat(
          "ComBat's empirical Bayes iteration did not converge in ", options.max_iterations,
          " iterations (largest relative change ", change, ")"));
    }
    g_new = PostMean(g_hat, g_bar, n, d_old, t2);
    Eigen::ArrayXd sum2 = (s.rowwise() - g_new.matrix().transpose()).array().square()
                              .colwise().sum().transpose();
    // sva:::postvar
    d_new = (0.5 * sum2 + b) / (n / 2.0 + a - 1.0);
    change = -std::numeric_limits<double>::infinity();
    for (Eigen::Index g = 0; g < g_new.size(); ++g) {
      // R's max() would propagate a NaN (0/0) into an error; we skip it.
      const double cg = std::abs(g_new(g) - g_old(g)) / g_old(g);
      const double cd = std::abs(d_new(g) - d_old(g)) / d_old(g);
      if (!std::isnan(cg)) change = std::max(change, cg);
      if (!std::isnan(cd)) change = std::max(change, cd);
    }
    g_old = g_new;
    d_old = d_new;
    ++count;
  }
  out->gamma_star = g_new.matrix();
  out->delta_star = d_new.matrix();
  out->iterations = count;
  return absl::OkStatus();
}

// sva:::int.eprior: for each feature g, the posterior means of gamma and
// delta under the empirical distribution of the site's (gamma-hat, delta-hat)
// over the OTHER features (leave-one-out), weighted by the likelihood of
// feature g's standardised data under each. Computed in log space (the
// weights are shifted by their maximum before exp), which gives the same
// ratio as sva's direct product but cannot underflow to 0/0. The sum of
// squares uses Σ(x - g_k)² = Σ(x - x̄)² + n(x̄ - g_k)² (exact identity), so a
// site costs O(G² + nG) rather than O(nG²).
void IntegralPrior(const Eigen::MatrixXd& s, const Eigen::VectorXd& g_hat,
                   const Eigen::VectorXd& d_hat, SiteEffects* out) {
  const Eigen::Index num_features = s.cols();
  const double n = static_cast<double>(s.rows());
  constexpr double kTwoPi = 6.283185307179586476925286766559;
  Eigen::VectorXd log_norm(num_features);
  for (Eigen::Index k = 0; k < num_features; ++k) {
    log_norm(k) = -0.5 * n * std::log(kTwoPi * d_hat(k));
  }
  out->gamma_star.resize(num_features);
  out->delta_star.resize(num_features);
  std::vector<double> log_lh(num_features);
  for (Eigen::Index i = 0; i < num_features; ++i) {
    const double mean = s.col(i).mean();
    const double ss = (s.col(i).array() - mean).square().sum();
    double max_log = -std::numeric_limits<double>::infinity();
    for (Eigen::Index k = 0; k < num_features; ++k) {
      if (k == i || !(d_hat(k) > 0.0)) {  // sva: LH[LH == "NaN"] = 0
        log_lh[k] = -std::numeric_limits<double>::infinity();
        continue;
      }
      const double dev = mean - g_hat(k);
      const double sum2 = ss + n * dev * dev;
      log_lh[k] = log_norm(k) - sum2 / (2.0 * d_hat(k));
      max_log = std::max(max_log, log_lh[k]);
    }
    double w_sum = 0.0, g_sum = 0.0, d_sum = 0.0;
    for (Eigen::Index k = 0; k < num_features; ++k) {
      if (k == i || std::isinf(log_lh[k])) continue;
      const double w = std::exp(log_lh[k] - max_log);
      w_sum += w;
      g_sum += w * g_hat(k);
      d_sum += w * d_hat(k);
    }
    out->gamma_star(i) = g_sum / w_sum;
    out->delta_star(i) = d_sum / w_sum;
  }
}

}  // namespace

absl::string_view MethodName(ComBatMethod method) {
  switch (method) {
    case ComBatMethod::kParametric:
      return "parametric";
    case ComBatMethod::kNonParametric:
      return "nonparametric";
    case ComBatMethod::kMeanOnly:
      return "mean-only";
  }
  return "unknown";
}

absl::StatusOr<ComBatMethod> ParseMethod(absl::string_view name) {
  const std::string lower = absl::AsciiStrToLower(name);
  if (lower.empty() || lower == "parametric") return ComBatMethod::kParametric;
  if (lower == "nonparametric" || lower == "non-parametric") {
    return ComBatMethod::kNonParametric;
  }
  if (lower == "mean-only" || lower == "mean_only" || lower == "meanonly") {
    return ComBatMethod::kMeanOnly;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown ComBat method '", name, "' (expected parametric, nonparametric or mean-only)"));
}

LocalMoments ComputeLocalMoments(const SiteData& data) {
  LocalMoments m;
  m.n = data.features.rows();
  m.sum_covariates = data.covariates.colwise().sum().transpose();
  m.covariate_cross = data.covariates.transpose() * data.covariates;
  m.sum_features = data.features.colwise().sum().transpose();
  m.covariate_feature_cross = data.covariates.transpose() * data.features;
  return m;
}

std::vector<int> ConstantFeatures(const Eigen::MatrixXd& features) {
  std::vector<int> out;
  if (features.rows() < 2) return out;
  for (Eigen::Index g = 0; g < features.cols(); ++g) {
    if (features.col(g).maxCoeff() == features.col(g).minCoeff()) {
      out.push_back(static_cast<int>(g));
    }
  }
  return out;
}

absl::StatusOr<PooledRegression> PoolMoments(const std::vector<std::string>& sites,
                                             const std::vector<LocalMoments>& moments,
                                             const std::vector<std::string>& covariate_names,
                                             const std::string& reference_site) {
  const int m = static_cast<int>(sites.size());
  if (m == 0 || moments.size() != sites.size()) {
    return absl::InvalidArgumentError("PoolMoments: need one set of moments per site");
  }
  const Eigen::Index q = moments[0].sum_covariates.size();
  const Eigen::Index num_features = moments[0].sum_features.size();
  if (static_cast<size_t>(q) != covariate_names.size()) {
    return absl::InvalidArgumentError("PoolMoments: covariate names do not match the moments");
  }
  for (int i = 0; i < m; ++i) {
    if (moments[i].sum_covariates.size() != q || moments[i].sum_features.size() != num_features ||
        moments[i].covariate_cross.rows() != q ||
        moments[i].covariate_feature_cross.cols() != num_features) {
      return absl::InvalidArgumentError(absl::StrCat(
          "site ", sites[i], " sent moments of the wrong size (", moments[i].sum_features.size(),
          " features, ", moments[i].sum_covariates.size(), " covariates; expected ",
          num_features, " and ", q, ")"));
    }
    if (moments[i].n <= 0) {
      return absl::InvalidArgumentError(absl::StrCat("site ", sites[i], " has no patients"));
    }
  }
  PooledRegression reg;
  reg.sites = sites;
  if (!reference_site.empty()) {
    auto it = std::find(sites.begin(), sites.end(), reference_site);
    if (it == sites.end()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "reference site '", reference_site, "' is not one of the sites (",
          absl::StrJoin(sites, ", "), ")"));
    }
    reg.reference = static_cast<int>(it - sites.begin());
  }
  // XᵀX and XᵀY from the sums: a site's rows share the site part b_i of
  // their design row, so Σ x xᵀ = Σ_i [n_i b_i b_iᵀ, b_i (Σz)ᵀ; (Σz) b_iᵀ, ZᵀZ].
  const Eigen::Index p = m + q;
  Eigen::MatrixXd xtx = Eigen::MatrixXd::Zero(p, p);
  Eigen::MatrixXd xty = Eigen::MatrixXd::Zero(p, num_features);
  int64_t total_n = 0;
  for (int i = 0; i < m; ++i) {
    const LocalMoments& mi = moments[i];
    const Eigen::VectorXd b = SiteDesignRow(m, i, reg.reference);
    const double n = static_cast<double>(mi.n);
    xtx.topLeftCorner(m, m) += n * b * b.transpose();
    xtx.topRightCorner(m, q) += b * mi.sum_covariates.transpose();
    xtx.bottomRightCorner(q, q) += mi.covariate_cross;
    xty.topRows(m) += b * mi.sum_features.transpose();
    xty.bottomRows(q) += mi.covariate_feature_cross;
    reg.site_n.push_back(mi.n);
    total_n += mi.n;
  }
  xtx.bottomLeftCorner(q, m) = xtx.topRightCorner(m, q).transpose();

  if (total_n <= p) {
    return absl::InvalidArgumentError(absl::StrCat(
        "ComBat needs more patients than parameters: ", total_n, " patients for ", m,
        " site effects and ", q, " covariates"));
  }
  if (IsRankDeficient(xtx)) {
    // Name the cause, in the order sva tests it.
    for (Eigen::Index j = 0; j < q; ++j) {
      double sz = 0, szz = 0;
      for (int i = 0; i < m; ++i) {
        sz += moments[i].sum_covariates(j);
        szz += moments[i].covariate_cross(j, j);
      }
      const double var = szz - sz * sz / static_cast<double>(total_n);
      if (var <= 1e-12 * std::max(1.0, szz)) {
        return absl::InvalidArgumentError(absl::StrCat(
            "covariate '", covariate_names[j],
            "' has the same value for every patient; remove it from the covariates"));
      }
    }
    if (q > 0 && IsRankDeficient(xtx.bottomRightCorner(q, q))) {
      for (Eigen::Index j = 1; j < q; ++j) {
        if (IsRankDeficient(xtx.block(m, m, j + 1, j + 1))) {
          return absl::InvalidArgumentError(absl::StrCat(
              "the covariates are confounded: '", covariate_names[j],
              "' is a linear combination of the covariates before it; remove one of them"));
        }
      }
    }
    for (Eigen::Index j = 0; j < q; ++j) {
      if (IsRankDeficient(xtx.topLeftCorner(m + j + 1, m + j + 1))) {
        return absl::InvalidArgumentError(absl::StrCat(
            "covariate '", covariate_names[j],
            "' is confounded with site (the design matrix is rank deficient): it is "
            "determined by the site and the covariates before it; remove it"));
      }
    }
    return absl::InvalidArgumentError("the ComBat design matrix is rank deficient");
  }
  reg.b_hat = xtx.partialPivLu().solve(xty);
  reg.beta = reg.b_hat.bottomRows(q);
  if (reg.reference >= 0) {
    reg.grand_mean = reg.b_hat.row(reg.reference).transpose();
  } else {
    // sva: crossprod(n.batches / n.array, B.hat[1:n.batch, ])
    reg.grand_mean = Eigen::VectorXd::Zero(num_features);
    for (int i = 0; i < m; ++i) {
      reg.grand_mean += (static_cast<double>(reg.site_n[i]) / static_cast<double>(total_n)) *
                        reg.b_hat.row(i).transpose();
    }
  }
  return reg;
}

Eigen::VectorXd SiteIntercept(const PooledRegression& regression, int site) {
  const int m = static_cast<int>(regression.sites.size());
  const Eigen::VectorXd b = SiteDesignRow(m, site, regression.reference);
  return regression.b_hat.topRows(m).transpose() * b;
}

Eigen::VectorXd ResidualSumOfSquares(const SiteData& data, const Eigen::VectorXd& intercept,
                                     const Eigen::MatrixXd& beta) {
  Eigen::MatrixXd resid = data.features - data.covariates * beta;
  resid.rowwise() -= intercept.transpose();
  return resid.array().square().colwise().sum().transpose();
}

absl::StatusOr<PooledEstimates> FinishPooled(const PooledRegression& regression,
                                             const std::vector<Eigen::VectorXd>& rss) {
  if (rss.size() != regression.sites.size()) {
    return absl::InvalidArgumentError("FinishPooled: need one residual vector per site");
  }
  const Eigen::Index num_features = regression.b_hat.cols();
  PooledEstimates out;
  out.grand_mean = regression.grand_mean;
  out.beta = regression.beta;
  Eigen::VectorXd total = Eigen::VectorXd::Zero(num_features);
  double n = 0;
  for (size_t i = 0; i < rss.size(); ++i) {
    if (rss[i].size() != num_features) {
      return absl::InvalidArgumentError(absl::StrCat(
          "site ", regression.sites[i], " sent ", rss[i].size(),
          " residual sums of squares; expected ", num_features));
    }
    if (regression.reference >= 0 && static_cast<int>(i) != regression.reference) continue;
    total += rss[i];
    n += static_cast<double>(regression.site_n[i]);
  }
  out.var_pooled = total / n;
  for (Eigen::Index g = 0; g < num_features; ++g) {
    if (!(out.var_pooled(g) > 0.0)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "feature ", g, " has zero residual variance", regression.reference >= 0 ?
          " at the reference site" : "", "; it cannot be standardised"));
    }
  }
  return out;
}

Eigen::MatrixXd Standardize(const SiteData& data, const PooledEstimates& pooled) {
  Eigen::MatrixXd s = data.features - data.covariates * pooled.beta;
  s.rowwise() -= pooled.grand_mean.transpose();
  const Eigen::RowVectorXd inv_sd = pooled.var_pooled.array().sqrt().inverse().matrix().transpose();
  return s.array().rowwise() * inv_sd.array();
}

absl::StatusOr<SiteEffects> EstimateSiteEffects(const Eigen::MatrixXd& s,
                                                const ComBatOptions& options, bool mean_only) {
  const Eigen::Index n = s.rows();
  const Eigen::Index num_features = s.cols();
  if (n < 1) return absl::InvalidArgumentError("a site with no patients has no site effect");
  mean_only = mean_only || options.method == ComBatMethod::kMeanOnly ||
              (options.method == ComBatMethod::kNonParametric && options.nonparametric_mean_only);
  if (!mean_only && n < 2) {
    return absl::InvalidArgumentError(
        "a site with one patient has no variance; use the mean-only model");
  }
  if (options.empirical_bayes && num_features < 2) {
    return absl::InvalidArgumentError(absl::StrCat(
        "empirical Bayes needs at least 2 features to set its priors (got ", num_features,
        "); harmonise more features together or turn empirical Bayes off"));
  }
  SiteEffects eff;
  // sva: gamma.hat from the least-squares fit on the site indicators (the
  // site mean of s; with a reference site, sva's estimate is mean_i - mean_ref,
  // and mean_ref is zero by the normal equations, to rounding), delta.hat the
  // sample variance (rowVars), or 1 for the mean-only model.
  eff.gamma_hat = s.colwise().mean().transpose();
  eff.delta_hat = Eigen::VectorXd::Ones(num_features);
  if (!mean_only) {
    for (Eigen::Index g = 0; g < num_features; ++g) eff.delta_hat(g) = SampleVariance(s.col(g));
  }
  if (!options.empirical_bayes) {
    eff.gamma_star = eff.gamma_hat;
    eff.delta_star = eff.delta_hat;
    return eff;
  }
  const double g_bar = eff.gamma_hat.mean();
  const double t2 = SampleVariance(eff.gamma_hat);
  if (options.method == ComBatMethod::kNonParametric) {
    IntegralPrior(s, eff.gamma_hat, eff.delta_hat, &eff);
    return eff;
  }
  if (mean_only) {
    // sva: postmean(gamma.hat, gamma.bar, 1, 1, t2), i.e. n = 1 and d = 1
    // whatever the site's size.
    eff.gamma_star =
        PostMean(eff.gamma_hat.array(), g_bar, 1.0, Eigen::ArrayXd::Ones(num_features), t2)
            .matrix();
    eff.delta_star = Eigen::VectorXd::Ones(num_features);
    return eff;
  }
  const double a = APrior(eff.delta_hat);
  const double b = BPrior(eff.delta_hat);
  FEDRAD_RETURN_IF_ERROR(IterativeSolution(s, eff.gamma_hat.array(), eff.delta_hat.array(), g_bar,
                                           t2, a, b, options, &eff));
  return eff;
}

Eigen::MatrixXd ApplySiteEffects(const SiteData& data, const PooledEstimates& pooled,
                                 const Eigen::VectorXd& gamma_star,
                                 const Eigen::VectorXd& delta_star) {
  Eigen::MatrixXd s = Standardize(data, pooled);
  s.rowwise() -= gamma_star.transpose();
  const Eigen::ArrayXd scale = pooled.var_pooled.array().sqrt() / delta_star.array().sqrt();
  s = s.array().rowwise() * scale.transpose();
  s += data.covariates * pooled.beta;
  s.rowwise() += pooled.grand_mean.transpose();
  return s;
}

absl::StatusOr<ComBatPlan> MakePlan(const std::vector<std::string>& sites,
                                    const std::vector<int64_t>& site_n,
                                    const std::vector<std::vector<int>>& constant_by_site,
                                    int num_features, const ComBatOptions& options) {
  ComBatPlan plan;
  plan.mean_only = options.method == ComBatMethod::kMeanOnly;
  std::vector<bool> constant(num_features, false);
  for (size_t i = 0; i < sites.size(); ++i) {
    if (site_n[i] < 1) {
      return absl::InvalidArgumentError(absl::StrCat("site ", sites[i], " has no patients"));
    }
    if (site_n[i] == 1 && !plan.mean_only) {
      plan.mean_only = true;
      plan.notes.push_back(absl::StrCat(
          "site ", sites[i], " has one patient: every site uses the mean-only model (as sva)"));
    }
    for (int g : constant_by_site[i]) {
      if (g >= 0 && g < num_features) constant[g] = true;
    }
  }
  for (int g = 0; g < num_features; ++g) {
    (constant[g] ? plan.constant_features : plan.adjusted_features).push_back(g);
  }
  if (!plan.constant_features.empty()) {
    plan.notes.push_back(absl::StrCat(
        plan.constant_features.size(),
        " feature(s) constant within a site are left unadjusted at every site (as sva)"));
  }
  if (plan.adjusted_features.empty()) {
    return absl::InvalidArgumentError("no feature left to harmonise");
  }
  if (options.empirical_bayes && plan.adjusted_features.size() < 2) {
    return absl::InvalidArgumentError(
        "empirical Bayes needs at least 2 features to harmonise; add features or turn "
        "empirical Bayes off");
  }
  return plan;
}

SiteData SelectFeatures(const SiteData& data, const std::vector<int>& features) {
  SiteData out;
  out.covariates = data.covariates;
  out.features.resize(data.features.rows(), static_cast<Eigen::Index>(features.size()));
  for (size_t j = 0; j < features.size(); ++j) out.features.col(j) = data.features.col(features[j]);
  return out;
}

absl::StatusOr<ComBatResult> FitComBat(const std::vector<std::string>& sites,
                                       const std::vector<SiteData>& data,
                                       const std::vector<std::string>& covariate_names,
                                       const ComBatOptions& options) {
  if (sites.size() != data.size() || sites.empty()) {
    return absl::InvalidArgumentError("FitComBat: need one data block per site");
  }
  const Eigen::Index num_features = data[0].features.cols();
  const Eigen::Index q = static_cast<Eigen::Index>(covariate_names.size());
  std::vector<int64_t> site_n;
  std::vector<std::vector<int>> constant;
  for (size_t i = 0; i < data.size(); ++i) {
    if (data[i].features.cols() != num_features || data[i].covariates.cols() != q ||
        data[i].covariates.rows() != data[i].features.rows()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "site ", sites[i], ": expected ", num_features, " features and ", q,
          " covariates per patient"));
    }
    site_n.push_back(data[i].features.rows());
    constant.push_back(ConstantFeatures(data[i].features));
  }
  ComBatResult result;
  FEDRAD_ASSIGN_OR_RETURN(result.plan, MakePlan(sites, site_n, constant,
                                                static_cast<int>(num_features), options));
  std::vector<SiteData> adjusted;
  std::vector<LocalMoments> moments;
  for (const SiteData& d : data) {
    adjusted.push_back(SelectFeatures(d, result.plan.adjusted_features));
    moments.push_back(ComputeLocalMoments(adjusted.back()));
  }
  FEDRAD_ASSIGN_OR_RETURN(result.regression,
                          PoolMoments(sites, moments, covariate_names, options.reference_site));
  std::vector<Eigen::VectorXd> rss;
  for (size_t i = 0; i < adjusted.size(); ++i) {
    rss.push_back(ResidualSumOfSquares(adjusted[i], SiteIntercept(result.regression, i),
                                       result.regression.beta));
  }
  FEDRAD_ASSIGN_OR_RETURN(result.pooled, FinishPooled(result.regression, rss));
  for (size_t i = 0; i < adjusted.size(); ++i) {
    const Eigen::MatrixXd s = Standardize(adjusted[i], result.pooled);
    absl::StatusOr<SiteEffects> eff = EstimateSiteEffects(s, options, result.plan.mean_only);
    if (!eff.ok()) return Annotate(eff.status(), absl::StrCat("site ", sites[i]));
    Eigen::MatrixXd out = data[i].features;
    if (static_cast<int>(i) == result.regression.reference) {
      // sva: gamma.star[ref, ] <- 0, delta.star[ref, ] <- 1; data unchanged.
      eff->gamma_star.setZero();
      eff->delta_star.setOnes();
    } else {
      const Eigen::MatrixXd h =
          ApplySiteEffects(adjusted[i], result.pooled, eff->gamma_star, eff->delta_star);
      for (size_t j = 0; j < result.plan.adjusted_features.size(); ++j) {
        out.col(result.plan.adjusted_features[j]) = h.col(j);
      }
    }
    result.effects.push_back(*std::move(eff));
    result.harmonized.push_back(std::move(out));
  }
  return result;
}

}  // namespace fedrad::harmonization
