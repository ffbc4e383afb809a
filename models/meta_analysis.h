// Random-effects meta-analysis across sites (DerSimonian & Laird 1986) of a
// metric on a transformed scale (fedrad uses the logit of C and AUC), with
// tau^2, I^2 (Higgins & Thompson 2002) and a prediction interval (Higgins,
// Thompson & Spiegelhalter 2009: mu +- t_{k-2, 0.975} sqrt(tau^2 + se^2)).
//
//   FEDRAD_ASSIGN_OR_RETURN(MetaAnalysis m, DerSimonianLaird(logit_c, se_logit_c_squared));
//   double pooled_c = InverseLogit(m.mu);
//
// Matches metafor::rma(yi, vi, method = "DL") for mu, se, tau2, I2, Q and the
// Wald CI (models/testdata/reference.json).
//
// Thread safety: pure functions.
#ifndef FEDRAD_MODELS_META_ANALYSIS_H_
#define FEDRAD_MODELS_META_ANALYSIS_H_

#include <vector>

#include "absl/status/statusor.h"

namespace fedrad::models {

struct MetaAnalysis {
  int k = 0;
  double mu = 0, se = 0;
  double ci_low = 0, ci_high = 0;  // mu +- z_{0.975} se
  double tau2 = 0, i2 = 0, q = 0;
  double pi_low = 0, pi_high = 0;  // NaN when k < 3
};

// `y` estimates, `v` their variances (> 0). InvalidArgument when sizes
// differ, k < 2, or a variance is not positive and finite.
absl::StatusOr<MetaAnalysis> DerSimonianLaird(const std::vector<double>& y,
                                              const std::vector<double>& v);

// Quantile of Student's t with `df` > 0 degrees of freedom (p in (0, 1));
// NaN outside that domain. Boost.Math (students_t_distribution), equal to R's
// qt to ~1e-15 relative.
double StudentTQuantile(double p, double df);

}  // namespace fedrad::models

#endif  // FEDRAD_MODELS_META_ANALYSIS_H_
