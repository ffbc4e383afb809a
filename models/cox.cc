#include "models/cox.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "absl/strings/str_cat.h"

namespace fedrad::models {

absl::StatusOr<CoxStratum> CoxStratum::Create(const std::vector<double>& time,
                                              const std::vector<int>& status,
                                              const Eigen::MatrixXd& x) {
  const size_t n = time.size();
  if (status.size() != n || static_cast<size_t>(x.rows()) != n) {
    return absl::InvalidArgumentError(absl::StrCat("Cox data: ", n, " times, ", status.size(),
                                                   " statuses and ", x.rows(),
                                                   " covariate rows differ"));
  }
  for (size_t i = 0; i < n; ++i) {
    if (!std::isfinite(time[i]) || time[i] < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("Cox data: row ", i + 1, " has time ", time[i], " (need finite, >= 0)"));
    }
    if (status[i] != 0 && status[i] != 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("Cox data: row ", i + 1, " has status ", status[i], " (need 0 or 1)"));
    }
  }
  if (!x.allFinite()) {
    return absl::InvalidArgumentError("Cox data: a covariate value is not finite");
  }
  std::vector<int> order(n);
  std::iota(order.begin(), order.end(), 0);
  // Decreasing time; at equal times events first (order within a time does
  // not change the result, it only makes the layout deterministic).
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) {
    if (time[a] != time[b]) return time[a] > time[b];
    return status[a] > status[b];
  });
  CoxStratum s;
  const int p = static_cast<int>(x.cols());
  s.time_.resize(n);
  s.status_.resize(n);
  s.xt_.resize(p, static_cast<Eigen::Index>(n));
  s.means_ = n > 0 ? Eigen::VectorXd(x.colwise().mean().transpose()) : Eigen::VectorXd::Zero(p);
  for (size_t k = 0; k < n; ++k) {
    const int i = order[k];
    s.time_[k] = time[i];
    s.status_[k] = status[i];
    s.xt_.col(static_cast<Eigen::Index>(k)) = x.row(i).transpose() - s.means_;
    s.events_ += status[i];
  }
  return s;
}

Derivatives CoxDerivatives(const CoxStratum& s, const Eigen::VectorXd& beta, Ties ties) {
  const int n = s.n();
  const int p = s.p();
  Derivatives d = Derivatives::Zero(p);
  d.n = n;
  d.events = s.events();
  if (n == 0 || s.events() == 0) return d;
  const Eigen::MatrixXd& xt = s.centered_xt();
  const std::vector<double>& time = s.time();
  const std::vector<int>& status = s.status();

  Eigen::VectorXd eta = xt.transpose() * beta;
  const double shift = eta.maxCoeff();  // risk scores relative to the largest
  Eigen::VectorXd r = (eta.array() - shift).exp();

  double s0 = 0.0;
  Eigen::VectorXd s1 = Eigen::VectorXd::Zero(p);
  Eigen::MatrixXd s2 = Eigen::MatrixXd::Zero(p, p);  // lower triangle used
  Eigen::VectorXd e1(p), a(p);
  Eigen::MatrixXd e2;
  const bool efron = ties == Ties::kEfron;
  if (efron) e2 = Eigen::MatrixXd::Zero(p, p);
  Eigen::MatrixXd& info = d.information;  // lower triangle, mirrored at the end

  int i = 0;
  while (i < n) {
    const double t = time[i];
    int deaths = 0;
    double e0 = 0.0;
    e1.setZero();
    if (efron) e2.setZero();
    int j = i;
    for (; j < n && time[j] == t; ++j) {
      auto xj = xt.col(j);
      s0 += r[j];
      s1.noalias() += r[j] * xj;
      s2.selfadjointView<Eigen::Lower>().rankUpdate(xj, r[j]);
      if (status[j] == 1) {
        ++deaths;
        e0 += r[j];
        e1.noalias() += r[j] * xj;
        if (efron) e2.selfadjointView<Eigen::Lower>().rankUpdate(xj, r[j]);
        d.loglik += eta[j] - shift;
        d.gradient += xj;
      }
    }
    if (deaths > 0) {
      if (!efron || deaths == 1) {
        a = s1 / s0;
        d.loglik -= deaths * std::log(s0);
        d.gradient -= deaths * a;
        info.triangularView<Eigen::Lower>() += (deaths / s0) * s2;
        info.selfadjointView<Eigen::Lower>().rankUpdate(a, -static_cast<double>(deaths));
      } else {
        for (int k = 0; k < deaths; ++k) {
          const double f = static_cast<double>(k) / deaths;
          const double d0 = s0 - f * e0;
          a = (s1 - f * e1) / d0;
          d.loglik -= std::log(d0);
          d.gradient -= a;
          info.triangularView<Eigen::Lower>() += (1.0 / d0) * s2 - (f / d0) * e2;
          info.selfadjointView<Eigen::Lower>().rankUpdate(a, -1.0);
        }
      }
    }
    i = j;
  }
  info.triangularView<Eigen::StrictlyUpper>() = info.transpose();
  return d;
}

GridSums CoxGridSums(const CoxStratum& s, const Eigen::VectorXd& beta,
                     const std::vector<double>& grid) {
  const size_t m = grid.size();
  GridSums out;
  out.events.assign(m, 0.0);
  out.risk_sum.assign(m, 0.0);
  if (m == 0) return out;
  // Uncentred linear predictor: risk sums must be on one scale across sites.
  const double offset = s.means().dot(beta);
  Eigen::VectorXd eta = s.centered_xt().transpose() * beta;
  std::vector<double> bucket(m, 0.0);
  for (int i = 0; i < s.n(); ++i) {
    const double t = s.time()[i];
    const double r = std::exp(eta[i] + offset);
    // Risk set at g_j holds T >= g_j: add r to the last grid point <= T.
    auto up = std::upper_bound(grid.begin(), grid.end(), t);
    if (up != grid.begin()) bucket[static_cast<size_t>(up - grid.begin()) - 1] += r;
    if (s.status()[i] == 1) {
      auto lo = std::lower_bound(grid.begin(), grid.end(), t);  // first g_j >= T
      if (lo != grid.end()) out.events[static_cast<size_t>(lo - grid.begin())] += 1.0;
    }
  }
  double acc = 0.0;
  for (size_t j = m; j-- > 0;) {
    acc += bucket[j];
    out.risk_sum[j] = acc;
  }
  return out;
}

absl::StatusOr<std::vector<double>> BreslowFromGridSums(const GridSums& sums) {
  if (sums.events.size() != sums.risk_sum.size()) {
    return absl::InvalidArgumentError("baseline hazard: events and risk sums differ in length");
  }
  std::vector<double> h(sums.events.size());
  double acc = 0.0;
  for (size_t j = 0; j < h.size(); ++j) {
    if (sums.events[j] > 0) {
      if (!(sums.risk_sum[j] > 0)) {
        return absl::InvalidArgumentError(
            absl::StrCat("baseline hazard: ", sums.events[j], " events at grid point ", j,
                         " with an empty risk set"));
      }
      acc += sums.events[j] / sums.risk_sum[j];
    }
    h[j] = acc;
  }
  return h;
}

double CumulativeHazardAt(const std::vector<double>& grid, const std::vector<double>& cumhaz,
                          double t) {
  auto up = std::upper_bound(grid.begin(), grid.end(), t);
  if (up == grid.begin()) return 0.0;
  return cumhaz[static_cast<size_t>(up - grid.begin()) - 1];
}

}  // namespace fedrad::models
