#include "models/metrics.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>

#include "absl/strings/str_cat.h"
#include "core/status.h"
#include "models/cox.h"
#include "models/logistic.h"
#include "models/newton.h"

namespace fedrad::models {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

double PairScore(double a, double b) { return a > b ? 1.0 : (a == b ? 0.5 : 0.0); }

absl::Status CheckSizes(size_t n, size_t a, size_t b, absl::string_view what) {
  if (a != n || b != n) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": input lengths differ"));
  }
  return absl::OkStatus();
}

bool Comparable(double ti, int si, double tj, int sj) {
  return si == 1 && (ti < tj || (ti == tj && sj == 0));
}

double Logit(double p) { return std::log(p / (1.0 - p)); }

}  // namespace

double ConcordanceCounts::c() const {
  const double n = comparable();
  return n > 0 ? (concordant + 0.5 * tied_risk) / n : kNaN;
}

ConcordanceCounts HarrellCounts(const std::vector<double>& time, const std::vector<int>& status,
                                const std::vector<double>& lp) {
  ConcordanceCounts c;
  const size_t n = time.size();
  for (size_t i = 0; i < n; ++i) {
    if (status[i] != 1) continue;
    for (size_t j = 0; j < n; ++j) {
      if (j == i || !Comparable(time[i], status[i], time[j], status[j])) continue;
      if (lp[i] > lp[j]) {
        c.concordant += 1;
      } else if (lp[i] < lp[j]) {
        c.discordant += 1;
      } else {
        c.tied_risk += 1;
      }
    }
  }
  return c;
}

CensoringSurvival::CensoringSurvival(const std::vector<double>& time,
                                     const std::vector<int>& status) {
  std::vector<size_t> order(time.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return time[a] < time[b]; });
  double at_risk = static_cast<double>(time.size());
  double g = 1.0;
  size_t k = 0;
  while (k < order.size()) {
    const double t = time[order[k]];
    double censored = 0, leaving = 0;
    for (; k < order.size() && time[order[k]] == t; ++k) {
      censored += status[order[k]] == 0;
      leaving += 1;
    }
    if (censored > 0) {
      g *= 1.0 - censored / at_risk;
      times_.push_back(t);
      surv_.push_back(g);
    }
    at_risk -= leaving;
  }
}

double CensoringSurvival::At(double t) const {
  auto up = std::upper_bound(times_.begin(), times_.end(), t);
  return up == times_.begin() ? 1.0 : surv_[static_cast<size_t>(up - times_.begin()) - 1];
}

double CensoringSurvival::LeftLimit(double t) const {
  auto lo = std::lower_bound(times_.begin(), times_.end(), t);
  return lo == times_.begin() ? 1.0 : surv_[static_cast<size_t>(lo - times_.begin()) - 1];
}

double KaplanMeierAt(const std::vector<double>& time, const std::vector<int>& status, double t) {
  std::vector<int> reversed(status.size());
  for (size_t i = 0; i < status.size(); ++i) reversed[i] = 1 - status[i];
  return CensoringSurvival(time, reversed).At(t);
}

double UnoC(const std::vector<double>& time, const std::vector<int>& status,
            const std::vector<double>& lp, double tau) {
  CensoringSurvival g(time, status);
  double num = 0, den = 0;
  for (size_t i = 0; i < time.size(); ++i) {
    if (status[i] != 1 || !(time[i] < tau)) continue;
    const double gi = g.LeftLimit(time[i]);
    if (!(gi > 0)) continue;
    const double w = 1.0 / (gi * gi);
    for (size_t j = 0; j < time.size(); ++j) {
      if (j == i || !Comparable(time[i], status[i], time[j], status[j])) continue;
      num += w * PairScore(lp[i], lp[j]);
      den += w;
    }
  }
  return den > 0 ? num / den : kNaN;
}

double CumulativeDynamicAuc(const std::vector<double>& time, const std::vector<int>& status,
                            const std::vector<double>& lp, double t) {
  CensoringSurvival g(time, status);
  std::vector<size_t> controls;
  for (size_t j = 0; j < time.size(); ++j) {
    if (time[j] > t) controls.push_back(j);
  }
  double num = 0, wsum = 0;
  for (size_t i = 0; i < time.size(); ++i) {
    if (!(time[i] <= t && status[i] == 1)) continue;
    const double gi = g.LeftLimit(time[i]);
    if (!(gi > 0)) continue;
    const double w = 1.0 / gi;
    wsum += w;
    double s = 0;
    for (size_t j : controls) s += PairScore(lp[i], lp[j]);
    num += w * s;
  }
  if (controls.empty() || wsum == 0) return kNaN;
  return num / (wsum * static_cast<double>(controls.size()));
}

namespace {

double BrierWith(const CensoringSurvival& g, const std::vector<double>& time,
                 const std::vector<int>& status, const std::vector<double>& surv_at_t,
                 double t) {
  const double g_t = g.At(t);
  double sum = 0;
  for (size_t i = 0; i < time.size(); ++i) {
    const double s = surv_at_t[i];
    if (time[i] <= t && status[i] == 1) {
      const double gi = g.LeftLimit(time[i]);
      if (gi > 0) sum += s * s / gi;
    } else if (time[i] > t && g_t > 0) {
      sum += (1 - s) * (1 - s) / g_t;
    }
  }
  return time.empty() ? kNaN : sum / static_cast<double>(time.size());
}

}  // namespace

double BrierAt(const std::vector<double>& time, const std::vector<int>& status,
               const std::vector<double>& surv_at_t, double t) {
  return BrierWith(CensoringSurvival(time, status), time, status, surv_at_t, t);
}

absl::StatusOr<std::map<std::string, double>> ComputeSurvivalMetrics(
    const SurvivalValidationInput& in) {
  const size_t n = in.time.size();
  FEDRAD_RETURN_IF_ERROR(CheckSizes(n, in.status.size(), in.lp.size(), "survival metrics"));
  if (in.grid.size() != in.cumhaz.size()) {
    return absl::InvalidArgumentError("survival metrics: grid and cumulative hazard differ");
  }
  std::map<std::string, double> m;
  ConcordanceCounts cc = HarrellCounts(in.time, in.status, in.lp);
  m["harrell_c"] = cc.c();
  m["concordant"] = cc.concordant;
  m["discordant"] = cc.discordant;
  m["tied_risk"] = cc.tied_risk;
  m["uno_c"] = UnoC(in.time, in.status, in.lp, in.tau);
  m["auc_t"] = CumulativeDynamicAuc(in.time, in.status, in.lp, in.t);

  std::vector<double> risk(n);
  for (size_t i = 0; i < n; ++i) risk[i] = std::exp(in.lp[i]);
  auto surv_at = [&](double s) {
    const double h0 = CumulativeHazardAt(in.grid, in.cumhaz, s);
    std::vector<double> out(n);
    for (size_t i = 0; i < n; ++i) out[i] = std::exp(-h0 * risk[i]);
    return out;
  };
  std::vector<double> s_t = surv_at(in.t);
  m["brier_t"] = BrierAt(in.time, in.status, s_t, in.t);

  // BS(s) is a step function: it changes only where H0 jumps or at a site
  // time, so its integral is exact over these breakpoints. The IPCW weights
  // 1/G(T_i-) of events do not depend on s: computed once.
  std::vector<double> bp = {0.0, in.tau};
  for (size_t k = 0; k < in.grid.size(); ++k) {
    const bool jumps = k == 0 ? in.cumhaz[0] != 0.0 : in.cumhaz[k] != in.cumhaz[k - 1];
    if (in.grid[k] <= in.tau && jumps) bp.push_back(in.grid[k]);
  }
  for (double t : in.time) {
    if (t <= in.tau) bp.push_back(t);
  }
  std::sort(bp.begin(), bp.end());
  bp.erase(std::unique(bp.begin(), bp.end()), bp.end());
  const CensoringSurvival g(in.time, in.status);
  std::vector<double> event_weight(n, 0.0);
  for (size_t i = 0; i < n; ++i) {
    const double gi = in.status[i] == 1 ? g.LeftLimit(in.time[i]) : 0.0;
    event_weight[i] = gi > 0 ? 1.0 / gi : 0.0;
  }
  double integral = 0;
  for (size_t k = 0; k + 1 < bp.size(); ++k) {
    const double s = bp[k];
    const double h0 = CumulativeHazardAt(in.grid, in.cumhaz, s);
    const double g_s = g.At(s);
    const double alive_weight = g_s > 0 ? 1.0 / g_s : 0.0;
    double sum = 0;
    for (size_t i = 0; i < n; ++i) {
      if (in.time[i] > s) {
        const double risk_s = 1.0 - std::exp(-h0 * risk[i]);
        sum += risk_s * risk_s * alive_weight;
      } else if (event_weight[i] > 0) {
        const double surv = std::exp(-h0 * risk[i]);
        sum += surv * surv * event_weight[i];
      }
    }
    integral += sum / static_cast<double>(n) * (bp[k + 1] - s);
  }
  m["integrated_brier"] = in.tau > 0 ? integral / in.tau : kNaN;

  double expected = 0;
  for (double s : s_t) expected += 1 - s;
  expected /= static_cast<double>(n);
  m["oe_ratio_t"] = (1 - KaplanMeierAt(in.time, in.status, in.t)) / expected;

  Eigen::MatrixXd x(static_cast<Eigen::Index>(n), 1);
  for (size_t i = 0; i < n; ++i) x(static_cast<Eigen::Index>(i), 0) = in.lp[i];
  FEDRAD_ASSIGN_OR_RETURN(CoxStratum stratum, CoxStratum::Create(in.time, in.status, x));
  Evaluator eval = [&](const Eigen::VectorXd& b) -> absl::StatusOr<Derivatives> {
    return CoxDerivatives(stratum, b, Ties::kBreslow);
  };
  // A calibration model that cannot be fitted (e.g. monotone likelihood in a
  // small sample) leaves the slope NaN rather than failing every metric.
  auto fit = FitNewton(eval, {"lp"}, Eigen::VectorXd::Zero(1), CoxphControl());
  m["calibration_slope"] = fit.ok() ? fit->beta[0] : kNaN;
  return m;
}

absl::StatusOr<std::map<std::string, double>> ComputeBinaryMetrics(const std::vector<double>& y,
                                                                  const std::vector<double>& p,
                                                                  double threshold) {
  const size_t n = y.size();
  FEDRAD_RETURN_IF_ERROR(CheckSizes(n, p.size(), p.size(), "binary metrics"));
  std::vector<double> pos, neg;
  for (size_t i = 0; i < n; ++i) {
    if (y[i] != 0.0 && y[i] != 1.0) {
      return absl::InvalidArgumentError("binary metrics: outcome must be 0 or 1");
    }
    if (!(p[i] > 0.0 && p[i] < 1.0)) {
      return absl::InvalidArgumentError(
          absl::StrCat("binary metrics: predicted probability ", p[i], " is not in (0, 1)"));
    }
    (y[i] == 1.0 ? pos : neg).push_back(p[i]);
  }
  if (pos.empty() || neg.empty()) {
    return absl::InvalidArgumentError("binary metrics: need both outcome classes");
  }
  std::map<std::string, double> m;
  double mw = 0;
  for (double a : pos) {
    for (double b : neg) mw += PairScore(a, b);
  }
  const double npos = static_cast<double>(pos.size());
  const double nneg = static_cast<double>(neg.size());
  m["auc"] = mw / (npos * nneg);
  auto sens = [&](double th) {
    return static_cast<double>(std::count_if(pos.begin(), pos.end(),
                                             [th](double v) { return v >= th; })) / npos;
  };
  auto spec = [&](double th) {
    return static_cast<double>(std::count_if(neg.begin(), neg.end(),
                                             [th](double v) { return v < th; })) / nneg;
  };
  m["sensitivity"] = sens(threshold);
  m["specificity"] = spec(threshold);
  std::vector<double> cands = p;
  std::sort(cands.begin(), cands.end());
  cands.erase(std::unique(cands.begin(), cands.end()), cands.end());
  std::vector<double> j(cands.size());
  double best = -2;
  for (size_t k = 0; k < cands.size(); ++k) {
    j[k] = sens(cands[k]) + spec(cands[k]) - 1;
    best = std::max(best, j[k]);
  }
  for (size_t k = 0; k < cands.size(); ++k) {
    if (j[k] >= best - 1e-12) {
      m["youden_threshold"] = cands[k];
      m["sensitivity_youden"] = sens(cands[k]);
      m["specificity_youden"] = spec(cands[k]);
      break;
    }
  }
  double brier = 0;
  for (size_t i = 0; i < n; ++i) brier += (p[i] - y[i]) * (p[i] - y[i]);
  m["brier"] = brier / static_cast<double>(n);

  std::vector<double> lg(n);
  for (size_t i = 0; i < n; ++i) lg[i] = Logit(p[i]);
  NewtonOptions opt = GlmControl();
  opt.eps = 1e-12;
  opt.max_iterations = 50;
  {
    FEDRAD_ASSIGN_OR_RETURN(LogisticData d,
                            LogisticData::Create(y, Eigen::MatrixXd::Ones(static_cast<Eigen::Index>(n), 1), lg));
    Evaluator eval = [&](const Eigen::VectorXd& b) -> absl::StatusOr<Derivatives> {
      return LogisticDerivatives(d, b);
    };
    auto fit = FitNewton(eval, {"intercept"}, Eigen::VectorXd::Zero(1), opt);
    m["calibration_intercept"] = fit.ok() ? fit->beta[0] : kNaN;
  }
  {
    Eigen::MatrixXd design(static_cast<Eigen::Index>(n), 2);
    for (size_t i = 0; i < n; ++i) {
      design(static_cast<Eigen::Index>(i), 0) = 1.0;
      design(static_cast<Eigen::Index>(i), 1) = lg[i];
    }
    FEDRAD_ASSIGN_OR_RETURN(LogisticData d, LogisticData::Create(y, design));
    Evaluator eval = [&](const Eigen::VectorXd& b) -> absl::StatusOr<Derivatives> {
      return LogisticDerivatives(d, b);
    };
    auto fit = FitNewton(eval, {"intercept", "logit_p"}, Eigen::VectorXd::Zero(2), opt);
    m["calibration_slope"] = fit.ok() ? fit->beta[1] : kNaN;
  }
  return m;
}

double Quantile(std::vector<double> values, double prob) {
  if (values.empty()) return kNaN;
  std::sort(values.begin(), values.end());
  const double h = (static_cast<double>(values.size()) - 1) * prob;
  const size_t lo = static_cast<size_t>(std::floor(h));
  const size_t hi = std::min(lo + 1, values.size() - 1);
  return values[lo] + (h - static_cast<double>(lo)) * (values[hi] - values[lo]);
}

absl::StatusOr<std::map<std::string, MetricEstimate>> Bootstrap(const MetricFunction& compute,
                                                                int n,
                                                                const BootstrapOptions& options) {
  std::vector<int> all(static_cast<size_t>(n));
  std::iota(all.begin(), all.end(), 0);
  FEDRAD_ASSIGN_OR_RETURN(auto point, compute(all));
  std::map<std::string, std::vector<double>> reps;
  std::mt19937_64 rng(options.seed);
  std::uniform_int_distribution<int> pick(0, std::max(0, n - 1));
  std::vector<int> rows(static_cast<size_t>(n));
  for (int b = 0; b < options.replicates && n > 0; ++b) {
    if (options.cancelled && options.cancelled()) {
      return absl::CancelledError("bootstrap cancelled");
    }
    for (int& r : rows) r = pick(rng);
    auto m = compute(rows);
    if (!m.ok()) continue;
    for (const auto& [name, v] : *m) {
      if (std::isfinite(v)) reps[name].push_back(v);
    }
  }
  std::map<std::string, MetricEstimate> out;
  const double a = (1 - options.level) / 2;
  for (const auto& [name, v] : point) {
    MetricEstimate e;
    e.value = v;
    const std::vector<double>& r = reps[name];
    e.replicates_used = static_cast<int>(r.size());
    e.ci_low = r.empty() ? kNaN : Quantile(r, a);
    e.ci_high = r.empty() ? kNaN : Quantile(r, 1 - a);
    double s = 0, s2 = 0;
    int k = 0;
    for (double x : r) {
      if (x > 0 && x < 1) {
        const double l = Logit(x);
        s += l;
        s2 += l * l;
        ++k;
      }
    }
    e.se_logit = k > 1 ? std::sqrt(std::max(0.0, (s2 - s * s / k) / (k - 1))) : kNaN;
    out[name] = e;
  }
  return out;
}

}  // namespace fedrad::models
