// The synthetic cohort's clinical data and outcomes: latent variables,
// clinical covariates, and event times drawn from the documented model
// (docs/synthetic-cohort.md, "Outcome model"). No I/O.
//
//   Rng rng(seed);
//   Clinical c = DrawClinical(rng);
//   // ... place the lesions (phantom.h), then, with the diameter drawn:
//   Outcomes o = DrawOutcomes(c, center_log_hazard, rng);
#ifndef FEDRAD_SYNTH_INTERNAL_OUTCOMES_H_
#define FEDRAD_SYNTH_INTERNAL_OUTCOMES_H_

#include <string>
#include <vector>

#include "synth/internal/random.h"

namespace fedrad::synth_internal {

struct Clinical {
  double h_lesion = 0;      // latent lesion heterogeneity, N(0, 1)
  double h_parenchyma = 0;  // latent parenchymal texture, N(0, 1)
  int n_lesions = 1;        // metastases (after placement)
  double largest_diameter_mm = 16;
  int chemo = 0;            // neoadjuvant chemotherapy
  double cea = 5;           // ng/mL, one decimal
  int age = 64;
  int male = 1;
};

// Draws the latents and the clinical covariates. n_lesions and
// largest_diameter_mm are the *requested* values; the caller overwrites
// them with what the phantom could place before DrawOutcomes.
Clinical DrawClinical(Rng& rng);

// One outcome model: coefficients of the linear predictor
//   lp = b_hl h_l + b_hp h_p + b_n (n - 1) + b_d (d - 20)/10 + b_c chemo
//        + b_cea ln(CEA / 5)
// and a Weibull baseline S0(t) = exp(-lambda t^shape), t in days.
struct OutcomeModel {
  std::string name;
  double b_hl, b_hp, b_n, b_d, b_chemo, b_cea;
  double shape;
  double median_days;  // baseline median (lp = 0, center effect 0)
  double Lambda() const;               // ln 2 / median^shape
  double Lp(const Clinical& c) const;  // the linear predictor above
};

// The model's components: local recurrence, distant (non-local)
// recurrence, and disease-specific death after recurrence (time from
// recurrence). Any recurrence is the first of local and distant.
const OutcomeModel& LocalModel();
const OutcomeModel& DistantModel();
const OutcomeModel& PostRecurrenceDeathModel();

// Censoring and other-cause mortality constants (documented).
constexpr double kFollowUpMinDays = 730;     // administrative end: U(2, 8) years
constexpr double kFollowUpMaxDays = 2920;
constexpr double kLossRatePerDay = 0.0000457;  // ~8 % lost to follow-up by 5 years
constexpr double kGompertzLogA = -10.5;       // other-cause death hazard per year:
constexpr double kGompertzB = 0.09;           //   exp(logA + B * age_in_years)

struct Outcomes {
  // Truth (never given to the study).
  double lp_local = 0, lp_distant = 0, lp_post = 0;
  double log_risk_recurrence = 0;  // log(lL e^lpL + lD e^lpD) - log(lL + lD)
  double risk_dss_5y = 0;          // P(disease-specific death by 1825 d), center effect 0
  double t_local = 0, t_distant = 0, t_recurrence = 0;
  double t_dss = 0;                // +inf when never (no recurrence: cannot die of CRLM)
  double t_other_death = 0, t_admin = 0, t_loss = 0, t_end = 0;
  // Observed (whole days, >= 1).
  int time_recurrence = 0, event_recurrence = 0;
  int time_local_recurrence = 0, event_local_recurrence = 0;
  int time_dss = 0, event_dss = 0;
  int recur2y = -1;  // 1 / 0, or -1 when censored before 730 days
  int died_other_cause = 0;
};

Outcomes DrawOutcomes(const Clinical& c, double center_log_hazard, Rng& rng);

// P(T_recurrence + T_post <= t) for the given linear predictors, by a
// Stieltjes sum over the recurrence distribution (400 steps).
double ProbabilityDssBy(double t, double lp_local, double lp_distant, double lp_post,
                        double center_log_hazard);

// Harrell's C of `risk` (higher = earlier event) for right-censored data,
// pairs compared only within the same `stratum`; ties in risk count 1/2.
// Returns NaN when there is no comparable pair.
double HarrellC(const std::vector<double>& risk, const std::vector<double>& time,
                const std::vector<int>& event, const std::vector<int>& stratum);

}  // namespace fedrad::synth_internal

#endif  // FEDRAD_SYNTH_INTERNAL_OUTCOMES_H_
