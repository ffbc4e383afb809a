#include "synth/internal/outcomes.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace fedrad::synth_internal {
namespace {

double Logistic(double x) { return 1.0 / (1.0 + std::exp(-x)); }

// Inverse-transform draw from S(t) = exp(-rate * t^shape).
double WeibullTime(double rate, double shape, Rng& rng) {
  return std::pow(rng.Exponential() / rate, 1.0 / shape);
}

int WholeDays(double t) { return std::max(1, static_cast<int>(std::ceil(t - 1e-9))); }

}  // namespace

double OutcomeModel::Lambda() const { return std::log(2.0) / std::pow(median_days, shape); }

double OutcomeModel::Lp(const Clinical& c) const {
  return b_hl * c.h_lesion + b_hp * c.h_parenchyma + b_n * (c.n_lesions - 1) +
         b_d * (c.largest_diameter_mm - 20) / 10 + b_chemo * c.chemo +
         b_cea * std::log(c.cea / 5);
}

// The coefficients are documented in docs/synthetic-cohort.md; change both.
const OutcomeModel& LocalModel() {
  static const OutcomeModel m{"local recurrence", 0.50, 0.35, 0.10, 0.15, -0.20, 0.10,
                              0.85, 3000};
  return m;
}
const OutcomeModel& DistantModel() {
  static const OutcomeModel m{"distant recurrence", 0.30, 0.55, 0.20, 0.10, 0.25, 0.25,
                              0.85, 900};
  return m;
}
const OutcomeModel& PostRecurrenceDeathModel() {
  static const OutcomeModel m{"death after recurrence", 0.25, 0.35, 0.10, 0.05, 0.0, 0.20,
                              1.2, 1000};
  return m;
}

Clinical DrawClinical(Rng& rng) {
  Clinical c;
  c.h_lesion = rng.Normal();
  c.h_parenchyma = rng.Normal();
  c.n_lesions = 1 + rng.Categorical({0.36, 0.22, 0.16, 0.12, 0.08, 0.06});
  c.largest_diameter_mm =
      std::clamp(std::exp(std::log(16.0) + 0.12 * c.h_lesion + 0.33 * rng.Normal()), 8.0, 26.0);
  c.chemo = rng.Bernoulli(Logistic(-0.7 + 0.45 * (c.n_lesions - 1))) ? 1 : 0;
  const double cea = std::exp(std::log(6.0) + 0.2 * (c.n_lesions - 1) + 0.25 * c.h_lesion +
                              0.9 * rng.Normal());
  c.cea = std::max(0.5, std::round(cea * 10) / 10);
  c.age = static_cast<int>(std::clamp(std::round(rng.Normal(64, 10)), 32.0, 88.0));
  c.male = rng.Bernoulli(0.62) ? 1 : 0;
  return c;
}

double ProbabilityDssBy(double t, double lp_local, double lp_distant, double lp_post,
                        double center_log_hazard) {
  const OutcomeModel& L = LocalModel();
  const OutcomeModel& D = DistantModel();
  const OutcomeModel& P = PostRecurrenceDeathModel();
  // Both recurrence components share the shape, so their minimum is Weibull.
  const double rate_r = (L.Lambda() * std::exp(lp_local) + D.Lambda() * std::exp(lp_distant)) *
                        std::exp(center_log_hazard);
  const double rate_p = P.Lambda() * std::exp(lp_post);
  auto cdf_r = [&](double u) { return 1 - std::exp(-rate_r * std::pow(u, L.shape)); };
  auto cdf_p = [&](double v) { return v <= 0 ? 0.0 : 1 - std::exp(-rate_p * std::pow(v, P.shape)); };
  constexpr int kSteps = 400;
  double p = 0, prev = 0;
  for (int i = 1; i <= kSteps; ++i) {
    const double u = t * i / kSteps;
    const double f = cdf_r(u);
    p += (f - prev) * cdf_p(t - (u - 0.5 * t / kSteps));
    prev = f;
  }
  return p;
}

Outcomes DrawOutcomes(const Clinical& c, double center_log_hazard, Rng& rng) {
  const OutcomeModel& L = LocalModel();
  const OutcomeModel& D = DistantModel();
  const OutcomeModel& P = PostRecurrenceDeathModel();
  Outcomes o;
  o.lp_local = L.Lp(c);
  o.lp_distant = D.Lp(c);
  o.lp_post = P.Lp(c);
  o.log_risk_recurrence =
      std::log(L.Lambda() * std::exp(o.lp_local) + D.Lambda() * std::exp(o.lp_distant)) -
      std::log(L.Lambda() + D.Lambda());
  o.risk_dss_5y = ProbabilityDssBy(1825, o.lp_local, o.lp_distant, o.lp_post, 0.0);

  o.t_local = WeibullTime(L.Lambda() * std::exp(o.lp_local + center_log_hazard), L.shape, rng);
  o.t_distant = WeibullTime(D.Lambda() * std::exp(o.lp_distant + center_log_hazard), D.shape, rng);
  o.t_recurrence = std::min(o.t_local, o.t_distant);
  o.t_dss = o.t_recurrence + WeibullTime(P.Lambda() * std::exp(o.lp_post), P.shape, rng);
  // Other-cause death: Gompertz hazard exp(logA + B * (age + s)) per year.
  const double h0 = std::exp(kGompertzLogA + kGompertzB * c.age);
  o.t_other_death = std::log1p(rng.Exponential() * kGompertzB / h0) / kGompertzB * 365.25;
  o.t_admin = rng.Uniform(kFollowUpMinDays, kFollowUpMaxDays);
  o.t_loss = rng.Exponential() / kLossRatePerDay;
  o.t_end = std::min({o.t_admin, o.t_loss, o.t_other_death});
  o.died_other_cause = (o.t_other_death <= std::min(o.t_admin, o.t_loss) &&
                        o.t_other_death < o.t_dss) ? 1 : 0;

  auto observe = [&](double t_event, int* time, int* event) {
    *event = t_event <= o.t_end ? 1 : 0;
    *time = WholeDays(std::min(t_event, o.t_end));
  };
  observe(o.t_recurrence, &o.time_recurrence, &o.event_recurrence);
  observe(o.t_local, &o.time_local_recurrence, &o.event_local_recurrence);
  observe(o.t_dss, &o.time_dss, &o.event_dss);
  if (o.event_recurrence && o.time_recurrence <= 730) {
    o.recur2y = 1;
  } else if (o.time_recurrence >= 730) {
    o.recur2y = 0;
  } else {
    o.recur2y = -1;
  }
  return o;
}

double HarrellC(const std::vector<double>& risk, const std::vector<double>& time,
                const std::vector<int>& event, const std::vector<int>& stratum) {
  double concordant = 0;
  double comparable = 0;
  const size_t n = risk.size();
  for (size_t i = 0; i < n; ++i) {
    if (!event[i]) continue;
    for (size_t j = 0; j < n; ++j) {
      if (i == j || stratum[i] != stratum[j]) continue;
      const bool later = time[j] > time[i] || (time[j] == time[i] && !event[j]);
      if (!later) continue;
      comparable += 1;
      if (risk[i] > risk[j]) {
        concordant += 1;
      } else if (risk[i] == risk[j]) {
        concordant += 0.5;
      }
    }
  }
  return comparable > 0 ? concordant / comparable : std::numeric_limits<double>::quiet_NaN();
}

}  // namespace fedrad::synth_internal
